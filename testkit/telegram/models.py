"""Records kept by the simulated Telegram: messages, files, calls and statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]


@dataclass
class UploadedFile:
    """A file part of a multipart request, as the bot uploaded it."""

    filename: str
    content: bytes
    mime_type: str | None = None


@dataclass
class StoredFile:
    """A file known to the fake server, reachable by file_id and by download path."""

    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.content)


@dataclass(frozen=True)
class InlineButton:
    """One inline keyboard button of a message."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    raw: JSONDict = field(default_factory=dict, compare=False)


def inline_rows(markup: JSONDict | None) -> list[list[InlineButton]]:
    """Turn an InlineKeyboardMarkup dict into rows of buttons."""
    if not markup:
        return []
    rows: list[list[InlineButton]] = []
    for row in markup.get("inline_keyboard", []):
        rows.append(
            [
                InlineButton(
                    text=str(button.get("text", "")),
                    callback_data=button.get("callback_data"),
                    url=button.get("url"),
                    raw=dict(button),
                )
                for button in row
            ]
        )
    return rows


@dataclass(frozen=True)
class MessageVersion:
    """The content a message had before one of its edits."""

    text: str | None
    entities: tuple[JSONDict, ...]
    caption: str | None
    reply_markup: JSONDict | None
    date: int


@dataclass
class StoredMessage:
    """A message in a chat, as the server keeps it (current state plus edit history)."""

    chat_id: int
    message_id: int
    date: int
    chat: JSONDict
    sender: JSONDict
    from_bot: bool
    text: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JSONDict] = field(default_factory=list)
    content: JSONDict = field(default_factory=dict)
    reply_markup: JSONDict | None = None
    reply_to: StoredMessage | None = None
    params: JSONDict = field(default_factory=dict)
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    edit_date: int | None = None
    file: StoredFile | None = None

    @property
    def rows(self) -> list[list[InlineButton]]:
        """Inline keyboard rows currently attached to the message."""
        return inline_rows(self.reply_markup)

    @property
    def buttons(self) -> list[InlineButton]:
        """All inline buttons, row by row."""
        return [button for row in self.rows for button in row]

    @property
    def labels(self) -> list[str]:
        """Labels of all inline buttons, row by row."""
        return [button.text for button in self.buttons]

    def find_button(self, label: str) -> InlineButton | None:
        """Button whose label is exactly `label`, else the first whose label contains it."""
        buttons = self.buttons
        for button in buttons:
            if button.text == label:
                return button
        for button in buttons:
            if label in button.text:
                return button
        return None

    def button(self, label: str) -> InlineButton:
        """Like find_button, but fail the test with the available labels when missing."""
        found = self.find_button(label)
        if found is None:
            raise AssertionError(
                f"no button {label!r} in message #{self.message_id} of chat {self.chat_id}; "
                f"buttons: {self.labels}"
            )
        return found

    def to_api(self, *, with_reply: bool = True) -> JSONDict:
        """The Bot API Message object for this message."""
        data: JSONDict = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": dict(self.chat),
            "from": dict(self.sender),
        }
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = [dict(e) for e in self.entities]
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = [dict(e) for e in self.caption_entities]
        data.update(self.content)
        if self.reply_markup is not None:
            data["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            # Telegram does not nest replies further than one level.
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        return data

    def summary(self) -> str:
        """One line describing the message, for failure reports."""
        who = "bot" if self.from_bot else str(self.sender.get("first_name", "?"))
        if self.text is not None:
            body = repr(self.text)
        elif self.caption is not None:
            body = f"caption={self.caption!r}"
        else:
            body = ""
        kinds = ",".join(sorted(self.content))
        parts = [f"#{self.message_id} {who}:"]
        if kinds:
            parts.append(f"<{kinds}>")
        if body:
            parts.append(body)
        if self.buttons:
            parts.append(f"buttons={self.labels}")
        if self.history:
            parts.append(f"(edited {len(self.history)}x)")
        if self.deleted:
            parts.append("[deleted]")
        return " ".join(parts)


@dataclass
class CallRecord:
    """One Bot API call the bot made, with its outcome."""

    method: str
    params: JSONDict
    started_at: float
    status: int = 0
    response: JSONDict = field(default_factory=dict)
    finished_at: float | None = None
    fault: str | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """Whether Telegram answered ok=true."""
        return bool(self.response.get("ok")) and not self.cancelled

    @property
    def result(self) -> Any:
        """The `result` field of a successful answer."""
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        """The error description of a failed answer."""
        value = self.response.get("description")
        return None if value is None else str(value)

    @property
    def chat_id(self) -> int | str | None:
        """The chat_id parameter, as an int when it is numeric."""
        value = self.params.get("chat_id")
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return value
        if isinstance(value, int):
            return value
        return None


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a tap on an inline button."""

    query_id: str
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None = None


@dataclass
class ChatStats:
    """Counters for one chat."""

    sends: int = 0
    edits: int = 0
    deletes: int = 0
    too_many_requests: int = 0
    forbidden: int = 0


@dataclass
class Stats:
    """Counters over the whole fake: what the bot did and what it was refused."""

    calls: int = 0
    sends: int = 0
    edits: int = 0
    deletes: int = 0
    too_many_requests: int = 0
    limit_429s: int = 0
    server_errors: int = 0
    forbidden: int = 0
    timeouts: int = 0
    per_chat: dict[int, ChatStats] = field(default_factory=dict)

    def chat(self, chat_id: int) -> ChatStats:
        """Counters of one chat (created on first use)."""
        return self.per_chat.setdefault(chat_id, ChatStats())
