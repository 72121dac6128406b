"""What every guided conversation shares: its draft, its buttons, its prompts, its state tracking.

Each conversation (sign-up, profile editing, posting a request) declares one `Flow` with its
draft key and its callback action; the skills and availability pickers are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from babel.dates import get_day_names
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode

from bot import callbacks
from bot.callbacks import Action
from bot.context import BrigadeContext
from bot.i18n import N_, Translator
from bot.services.skills import SkillView
from bot.services.volunteers import PERIODS
from bot.skills import skill_label
from handlers.common import Speaker, speaker

BACK_LABEL = N_("⬅ Back")
SKIP_LABEL = N_("Skip")
STATE_KEY = "_state"

PERIOD_LABELS = {
    "morning": N_("Morning"),
    "afternoon": N_("Afternoon"),
    "evening": N_("Evening"),
}
# Quick availability presets: (weekdays, periods).
PRESETS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "weekdays": ((0, 1, 2, 3, 4), PERIODS),
    "weekends": ((5, 6), PERIODS),
    "evenings": (tuple(range(7)), ("evening",)),
    "anytime": (tuple(range(7)), PERIODS),
}
PRESET_LABELS = {
    "weekdays": N_("Weekdays"),
    "weekends": N_("Weekends"),
    "evenings": N_("Evenings"),
    "anytime": N_("Any time"),
}
SKILLS_QUESTION = N_(
    "What can you help with? Tap every skill that fits, then “Done”. Some skills (electricity) "
    "are checked by a coordinator before you receive such requests."
)
AVAILABILITY_QUESTION = N_(
    "When are you usually free? Pick a preset or tap the slots, then “Done”. You will still "
    "choose each request yourself."
)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
StepHandler = Callable[[Update, BrigadeContext], Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class Flow:
    """One guided conversation's draft (in user_data) and button action."""

    draft_key: str
    action: Action

    def draft(self, context: BrigadeContext) -> dict[str, Any]:
        """The answers given so far (created empty on first use)."""
        user_data = context.user_data
        assert user_data is not None
        draft = user_data.setdefault(self.draft_key, {})
        assert isinstance(draft, dict)
        return draft

    def drop(self, context: BrigadeContext) -> dict[str, Any] | None:
        """Forget the draft; returns what it held."""
        if context.user_data is None:
            return None
        dropped = context.user_data.pop(self.draft_key, None)
        return dropped if isinstance(dropped, dict) else None

    def button(self, label: str, step: str, value: str | int = "x") -> InlineKeyboardButton:
        """An inline button of this conversation: (step, value) in its callback data."""
        return InlineKeyboardButton(
            label, callback_data=callbacks.encode(self.action, step, str(value))
        )

    def back_row(self, _: Translator) -> list[InlineKeyboardButton]:
        """The ⬅ Back button row every step shows."""
        return [self.button(_(BACK_LABEL), "back")]

    def current_state(self, context: BrigadeContext) -> str | None:
        """The step the person is at, as recorded by `tracking`."""
        user_data = context.user_data or {}
        draft = user_data.get(self.draft_key)
        state = draft.get(STATE_KEY) if isinstance(draft, dict) else None
        return state if isinstance(state, str) else None

    def tracking(self, callback: StepHandler) -> StepHandler:
        """Wrap a step handler so the draft remembers the state it returned (re-asks, back)."""

        async def wrapper(update: Update, context: BrigadeContext) -> Any:
            state = await callback(update, context)
            user_data = context.user_data
            if isinstance(state, str) and user_data is not None and self.draft_key in user_data:
                user_data[self.draft_key][STATE_KEY] = state
            return state

        wrapper.__doc__ = callback.__doc__
        return wrapper

    def skills_keyboard(
        self, skills: Iterable[SkillView], chosen: set[int], _: Translator
    ) -> InlineKeyboardMarkup:
        """The catalogue as toggles, then Done and Back."""
        rows = [
            [
                self.button(
                    ("✅ " if skill.id in chosen else "▫️ ") + skill_label(skill.label, _),
                    "skill",
                    skill.id,
                )
            ]
            for skill in skills
        ]
        rows.append([self.button(_("Done"), "skills", "done")])
        rows.append(self.back_row(_))
        return InlineKeyboardMarkup(rows)

    def availability_keyboard(
        self, chosen: set[tuple[int, str]], _: Translator, *, with_clear: bool = False
    ) -> InlineKeyboardMarkup:
        """Presets, a week grid (days × parts of day), then Done and Back."""
        day_names = get_day_names("abbreviated", locale=_.language)
        rows = [[self.button(_(PRESET_LABELS[key]), "preset", key) for key in PRESETS]]
        for day in range(7):
            rows.append(
                [
                    self.button(
                        ("✅ " if (day, period) in chosen else "")
                        + f"{day_names[day]} · {_(PERIOD_LABELS[period])}",
                        "slot",
                        f"{day}-{period}",
                    )
                    for period in PERIODS
                ]
            )
        last = [self.button(_("Done"), "avail", "done")]
        if with_clear:
            last.insert(0, self.button(_("Clear"), "preset", "clear"))
        rows.append(last)
        rows.append(self.back_row(_))
        return InlineKeyboardMarkup(rows)


def chosen_slots(draft: dict[str, Any]) -> set[tuple[int, str]]:
    """The availability slots in a draft (stored as JSON lists)."""
    return {(int(day), str(period)) for day, period in draft.get("slots", [])}


async def say(
    update: Update, text: str, markup: Markup | None = None, *, html: bool = False
) -> None:
    """Send the next prompt as a new message (a tap is answered by its handler, once)."""
    message = update.effective_message
    assert message is not None
    await message.get_bot().send_message(
        message.chat.id, text, reply_markup=markup, parse_mode=ParseMode.HTML if html else None
    )


def is_back(message: Message | None, _: Translator) -> bool:
    """Whether a text answer is the reply keyboard's ⬅ Back."""
    return message is not None and (message.text or "").strip() == _(BACK_LABEL)


async def who_is(update: Update, context: BrigadeContext) -> Speaker:
    """The person in a private conversation (conversations run only with people)."""
    who = await speaker(update, context)
    assert who is not None
    return who
