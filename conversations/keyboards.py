"""Keyboards of the questions declared with `Conversation.prompt` (and of a few others)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup

from bot.callbacks import Action
from bot.i18n import Translator
from conversations.turn import Markup, Turn


def chunks(buttons: list[InlineKeyboardButton], size: int) -> list[list[InlineKeyboardButton]]:
    """Buttons in rows of `size`."""
    return [buttons[index : index + size] for index in range(0, len(buttons), size)]


# A keyboard made for a turn; a prompt's may also be read from the services (a coroutine).
Buttons = Callable[[Turn[Any]], Markup]
Keyboard = Callable[[Turn[Any]], Markup | Awaitable[Markup]]


def back(turn: Turn[Any]) -> InlineKeyboardMarkup:
    """⬅ alone."""
    return InlineKeyboardMarkup([turn.flow.back_row(turn._)])


def back_or_cancel(turn: Turn[Any]) -> InlineKeyboardMarkup:
    """⬅ and ✖."""
    return InlineKeyboardMarkup([turn.flow.back_row(turn._, cancel=True)])


def choices(
    verb: str,
    options: Sequence[tuple[str | int, str | Callable[[Translator], str]]],
    *,
    per_row: int | tuple[int, ...] = 1,
    with_back: bool = True,
    ticked: Callable[[Turn[Any]], object] | None = None,
    action: Action | None = None,
) -> Buttons:
    """One button per (value, label) of `verb`, then ⬅; ✅ on the `ticked` one.

    A label is a msgid, or a function of the reader's translator (a number in their format).

    `per_row`: buttons a row, or the sizes of the rows in turn (the last size repeats).
    """

    def keyboard(turn: Turn[Any]) -> InlineKeyboardMarkup:
        _, current = turn._, ticked(turn) if ticked else None
        buttons = [
            turn.flow.button(
                ("✅ " if value == current else "") + (label(_) if callable(label) else _(label)),
                verb,
                value,
                action=action,
            )
            for value, label in options
        ]
        sizes = per_row if isinstance(per_row, tuple) else (per_row,)
        rows: list[list[InlineKeyboardButton]] = []
        while buttons:
            size = sizes[min(len(rows), len(sizes) - 1)]
            rows.append(buttons[:size])
            buttons = buttons[size:]
        return InlineKeyboardMarkup([*rows, turn.flow.back_row(_)] if with_back else rows)

    return keyboard


def reply_keyboard(*rows: list[str]) -> Buttons:
    """A reply keyboard of labels (message ids), under the text field, gone once pressed."""

    def keyboard(turn: Turn[Any]) -> ReplyKeyboardMarkup:
        return ReplyKeyboardMarkup(
            [[turn._(label) for label in row] for row in rows],
            resize_keyboard=True,
            one_time_keyboard=True,
        )

    return keyboard
