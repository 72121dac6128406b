"""Bot API parameter decoding and validation shared by every fake method.

Parameters arrive either as Python values (tests calling the fake directly, JSON bodies) or as
strings (form-encoded and multipart bodies, where nested objects are JSON strings), so every
getter accepts both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from testkit.telegram.formatting import EntityParseError, apply_parse_mode, strip_text, utf16_len
from testkit.telegram.models import UploadedFile

JSONDict = dict[str, Any]

_STATUS_PREFIX = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
}


class ApiError(Exception):
    """An error answer of the Bot API; raised inside fake methods, turned into a JSON body."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        return error_body(self.status, self.description, parameters=self.parameters)


def bad_request(detail: str) -> ApiError:
    """A 400 error with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}")


def error_body(
    status: int, description: str | None = None, *, parameters: JSONDict | None = None
) -> JSONDict:
    """A Bot API error body; `description` defaults to Telegram's wording for the status."""
    if description is None:
        description = _default_description(status, parameters)
    body: JSONDict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def too_many_requests_body(retry_after: int) -> JSONDict:
    """The body of a 429 answer asking to wait `retry_after` seconds."""
    return error_body(
        429,
        f"Too Many Requests: retry after {retry_after}",
        parameters={"retry_after": retry_after},
    )


def _default_description(status: int, parameters: JSONDict | None) -> str:
    if status == 429:
        retry_after = (parameters or {}).get("retry_after", 1)
        return f"Too Many Requests: retry after {retry_after}"
    if status == 403:
        return "Forbidden: bot was blocked by the user"
    if status == 500:
        return "Internal Server Error"
    if status == 502:
        return "Bad Gateway"
    if status == 504:
        return "Gateway Timeout"
    return _STATUS_PREFIX.get(status, f"Error {status}")


@dataclass(frozen=True)
class Params:
    """Typed access to the parameters of one call."""

    raw: Mapping[str, Any]

    def has(self, name: str) -> bool:
        """Whether the parameter is present and not null."""
        return self.raw.get(name) is not None

    def req_int(self, name: str) -> int:
        """A required integer parameter."""
        value = self.opt_int(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def opt_int(self, name: str) -> int | None:
        """An optional integer parameter."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def opt_float(self, name: str) -> float | None:
        """An optional number parameter."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def req_float(self, name: str) -> float:
        """A required number parameter."""
        value = self.opt_float(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def opt_str(self, name: str) -> str | None:
        """An optional string parameter."""
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, UploadedFile):
            raise bad_request(f"{name} must be a string")
        return value if isinstance(value, str) else str(value)

    def req_str(self, name: str) -> str:
        """A required string parameter."""
        value = self.opt_str(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean parameter ("true"/"false"/"1"/"0" in forms)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise bad_request(f"invalid {name} specified")

    def json_value(self, name: str, *, what: str | None = None) -> Any:
        """A nested object: decoded from a JSON string, or taken as it is."""
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def file(self, name: str) -> UploadedFile | str | None:
        """A file parameter: an upload, or a file_id / URL string."""
        value = self.raw.get(name)
        if value is None or isinstance(value, UploadedFile):
            return value
        return str(value)

    def chat_id(self) -> int | str:
        """The chat_id parameter: an int, or an @username string."""
        value = self.raw.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None


TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
_PARSE_MODES = {"html", "markdown", "markdownv2"}
_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def formatted_text(
    params: Params, text_field: str, entities_field: str, *, limit: int, kind: str
) -> tuple[str, list[JSONDict]] | None:
    """Text (or caption) with entities after the parse mode, trimmed and length-checked."""
    raw = params.opt_str(text_field)
    if raw is None:
        return None
    parse_mode = params.opt_str("parse_mode")
    entities: list[JSONDict]
    if parse_mode:
        if parse_mode.lower() not in _PARSE_MODES:
            raise bad_request("unsupported parse_mode")
        try:
            text, entities = apply_parse_mode(raw, parse_mode)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    else:
        text = raw
        given = params.json_value(entities_field)
        entities = [dict(e) for e in given] if isinstance(given, list) else []
    text, entities = strip_text(text, entities)
    if len(text) > limit:
        raise bad_request(f"{kind} is too long")
    return text, entities


def validate_inline_keyboard(markup: Any) -> JSONDict:
    """Check an InlineKeyboardMarkup the way Telegram does and return it normalised."""
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    count = 0
    normalised: list[list[JSONDict]] = []
    for row in rows:
        out_row: list[JSONDict] = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text must be a String")
            if not button["text"].strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            if not any(button.get(action) is not None for action in _INLINE_ACTIONS):
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None:
                size = len(str(data).encode("utf-8"))
                if not 1 <= size <= CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
            count += 1
            out_row.append(dict(button))
        if out_row:
            normalised.append(out_row)
    if count > 100:
        raise bad_request("reply markup is too long")
    return {"inline_keyboard": normalised}


@dataclass(frozen=True)
class ReplyMarkup:
    """A decoded reply_markup: an inline keyboard for the message, or a change of chat keyboard."""

    inline: JSONDict | None = None
    keyboard: JSONDict | None = None
    remove_keyboard: bool = False
    force_reply: bool = False


def reply_markup(params: Params) -> ReplyMarkup:
    """Decode and check the reply_markup parameter."""
    markup = params.json_value("reply_markup", what="reply keyboard markup")
    if markup is None:
        return ReplyMarkup()
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return ReplyMarkup(inline=validate_inline_keyboard(markup))
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
        normalised = [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows]
        return ReplyMarkup(keyboard={**markup, "keyboard": normalised})
    if markup.get("remove_keyboard"):
        return ReplyMarkup(remove_keyboard=True)
    if markup.get("force_reply"):
        return ReplyMarkup(force_reply=True)
    raise bad_request('can\'t find field "inline_keyboard"')


def check_callback_answer_text(text: str | None) -> None:
    """answerCallbackQuery refuses notification texts over 200 characters."""
    if text is not None and utf16_len(text) > CALLBACK_ANSWER_LIMIT:
        raise bad_request("MESSAGE_TOO_LONG")
