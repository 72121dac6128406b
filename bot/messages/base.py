"""What every message is made of: a notice (what happened), a reader, and its rendering.

A notice is a frozen value a use case emits: ids, names and numbers, never an ORM object. Its
`render` says how it reads in one language — text, buttons, parse mode — and is the only place
that knows. The `Messenger` turns a notice and its readers into outbox rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import ClassVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.callbacks import Action
from bot.i18n import Translator
from bot.settings import Settings
from storage import outbox
from storage.models import Member

# A keyboard described by rows of (label msgid, verb): every button about one target.
Layout = Sequence[Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class Town:
    """What renderers need of the settings: the town's name and time zone."""

    # "" while the town has no name of its own: the texts then leave it out (`with_town`).
    name: str
    tz: tzinfo
    currency: str = "EUR"

    @classmethod
    def of(cls, settings: Settings) -> Town:
        """The town the settings describe."""
        return cls(settings.town, settings.tz, settings.currency)


@dataclass(frozen=True)
class Reader:
    """Who reads a message: the chat it goes to and the language to write it in.

    A member's private chat, or a neighbourhood group (no member: the town's language).
    """

    chat_id: int
    member_id: int | None = None
    language: str | None = None
    telegram_language: str | None = None

    @classmethod
    def of(cls, member: Member | None) -> Reader | None:
        """A member in their private chat, if Brigade can write to them (not once forgotten)."""
        if member is None or member.telegram_id is None:
            return None
        return cls.in_chat(member.telegram_id, member)

    @classmethod
    def in_chat(cls, chat_id: int, member: Member | None) -> Reader:
        """A member reading in a given chat (an offer copy's); None: the group, in the town's
        language."""
        if member is None:
            return cls(chat_id)
        return cls(chat_id, member.id, member.language, member.telegram_language)


@dataclass(frozen=True)
class Rendered:
    """A message as one reader sees it."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    html: bool = False

    @property
    def parse_mode(self) -> str | None:
        """What Telegram must parse the text as."""
        return "HTML" if self.html else None


@dataclass(frozen=True)
class Delivery:
    """How a notice travels besides its text: the offer copy or message it edits, silence, or
    the message it copies (`copy_from`: the chat it was written in; `message_id`: its id there)."""

    offer_id: int | None = None
    message_id: int | None = None
    silent: bool = False
    copy_from: int | None = None


PLAIN = Delivery()


class Notice(ABC):
    """Something a use case tells people; rendered per reader, queued in its transaction."""

    method: ClassVar[str] = "send_message"
    priority: ClassVar[int] = outbox.INTERACTIVE
    # Where the rendered text goes in the call: a photo carries it as its caption.
    text_field: ClassVar[str] = "text"

    @abstractmethod
    def render(self, _: Translator, town: Town) -> Rendered:
        """The message in the reader's language."""

    def delivery(self) -> Delivery:
        """Which message it edits, or how it is sent (a new, audible message by default)."""
        return PLAIN

    def media(self) -> dict[str, str]:
        """What the call carries besides its text (a photo's file id); nothing by default."""
        return {}


def keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    """Inline buttons, or none at all."""
    return InlineKeyboardMarkup(rows) if rows else None


def button(label: str, action: Action, *args: int | str) -> InlineKeyboardButton:
    """One inline button (its label already translated)."""
    return InlineKeyboardButton(label, callback_data=callbacks.encode(action, *args))


def buttons(
    _: Translator, action: Action, target_id: int, layout: Layout
) -> list[list[InlineKeyboardButton]]:
    """Inline buttons from a layout of (label msgid, verb) rows, all about one target."""
    return [[button(_(label), action, verb, target_id) for label, verb in row] for row in layout]
