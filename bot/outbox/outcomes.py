"""What became of one Telegram call: sent, retry later, back off, skip, or give up.

The sender calls Telegram, classifies the answer here, then records the verdict on the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message, MessageId
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)


class Verdict(StrEnum):
    """What to do with a row after its call."""

    SENT = "sent"
    RETRY_AFTER = "retry_after"  # 429: wait what Telegram says, not counted as a failure
    TRANSIENT = "transient"  # timeout, network, 5xx: back off and retry, up to max_attempts
    UNREACHABLE = "unreachable"  # 403: the person blocked the bot (or the bot left the group)
    SKIPPED = "skipped"  # the message to edit or delete is gone
    FAILED = "failed"  # permanent error: retrying cannot help
    MIGRATED = "migrated"  # the group became a supergroup with another id
    HALT = "halt"  # the token is refused: nothing can be sent at all


@dataclass(frozen=True)
class Outcome:
    """The classified result of one call."""

    verdict: Verdict
    message_id: int | None = None
    retry_after: float = 0.0
    new_chat_id: int | None = None
    error: str | None = None


_NOT_MODIFIED = "message is not modified"
_TARGET_GONE = (
    "message to edit not found",
    "message can't be edited",
    "message to delete not found",
    "message can't be deleted",
    "message_id_invalid",
)


def retry_after_seconds(exc: RetryAfter) -> float:
    """The seconds a 429 asks to wait."""
    # The private timedelta avoids PTB 22's deprecation warning on the public int property.
    value = getattr(exc, "_retry_after", None)
    if not isinstance(value, timedelta):
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def classify_result(result: object) -> Outcome:
    """A successful call: remember the id of the message it created, if any."""
    if isinstance(result, Message | MessageId):
        return Outcome(Verdict.SENT, message_id=result.message_id)
    return Outcome(Verdict.SENT)


def classify_error(exc: BaseException) -> Outcome:
    """Sort a failed call into retry later, retry with backoff, skip, or give up."""
    error = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RetryAfter):
        return Outcome(Verdict.RETRY_AFTER, retry_after=retry_after_seconds(exc), error=error)
    if isinstance(exc, Forbidden):
        return Outcome(Verdict.UNREACHABLE, error=error)
    if isinstance(exc, ChatMigrated):
        return Outcome(Verdict.MIGRATED, new_chat_id=exc.new_chat_id, error=error)
    if isinstance(exc, BadRequest):
        # Checked before NetworkError, of which PTB makes BadRequest a subclass.
        text = exc.message.lower()
        if _NOT_MODIFIED in text:
            return Outcome(Verdict.SENT, error=error)
        if any(gone in text for gone in _TARGET_GONE):
            return Outcome(Verdict.SKIPPED, error=error)
        return Outcome(Verdict.FAILED, error=error)
    if isinstance(exc, InvalidToken):
        return Outcome(Verdict.HALT, error=error)
    if isinstance(exc, NetworkError):
        # TimedOut, connection errors and 5xx answers: the call may or may not have gone through.
        return Outcome(Verdict.TRANSIENT, error=error)
    return Outcome(Verdict.FAILED, error=error)


def call_arguments(
    payload: Mapping[str, Any], *, message_id: int | None = None, bot: Bot | None = None
) -> dict[str, Any]:
    """The keyword arguments of the PTB call for a stored payload."""
    kwargs = dict(payload)
    markup = kwargs.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        # Rebuilt as an object so that ExtBot's callback-data handling sees a real keyboard;
        # other values (reply keyboards, entities…) go to Telegram as the JSON they are.
        kwargs["reply_markup"] = InlineKeyboardMarkup.de_json(markup, bot)
    if message_id is not None and "message_id" not in kwargs:
        kwargs["message_id"] = message_id
    return kwargs
