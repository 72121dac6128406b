"""The pickers the sign-up and the profile share: skills and availability toggles, phone answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Protocol, TypeVar

from babel.dates import get_day_names
from telegram import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.availability import PERIOD_LABELS, PICKER_LABELS, availability_text
from bot.callbacks import Callback
from bot.domain.availability import PICKER_PRESETS
from bot.domain.reach import RADIUS_CHOICES_KM, SUGGESTED_RADII_KM
from bot.i18n import N_, Translator
from bot.services.profile import PHONE_PATTERN
from bot.services.volunteers import PERIODS
from bot.skills import skill_label
from bot.text import one_line
from conversations.base import Buttons, Conversation, Spec, State, Turn
from conversations.turn import TapStep

# Quick availability presets: (weekdays, periods), defined once in bot/domain/availability.py.
PRESETS = {preset.key: (preset.days, preset.periods) for preset in PICKER_PRESETS}
PRESET_LABELS = PICKER_LABELS
SKILLS_QUESTION = N_(
    "What can you help with? Tap every skill that fits, then “Done”. Some skills (electricity) "
    "are checked by a coordinator before you receive such requests."
)
AVAILABILITY_QUESTION = N_(
    "When are you usually free? Pick a preset or tap the slots, then “Done”. You will still "
    "choose each request yourself."
)
RADIUS_QUESTION = N_("How far from you are you ready to go?")
_SLOT = re.compile(r"([0-6])-(morning|afternoon|evening)")

Slot = tuple[int, str]


class Picks(Protocol):
    """A draft with skills and availability slots."""

    skill_ids: list[int]
    slots: list[Slot]
    # Whether "Clear" is offered with the presets (a profile may end with no slot at all).
    SLOTS_CLEARABLE: ClassVar[bool]


P = TypeVar("P", bound=Picks)


def slots_text(slots: list[Slot], _: Translator) -> str:
    """Slots as presets, "weekday evenings, weekends", then "Wed morning" ("" for none)."""
    return availability_text(slots, _)


async def skills_keyboard(turn: Turn[P]) -> InlineKeyboardMarkup:
    """The catalogue as toggles, then Done and Back."""
    _, flow = turn._, turn.flow
    rows = [
        [
            flow.button(
                ("✅ " if skill.id in turn.draft.skill_ids else "▫️ ") + skill_label(skill.label, _),
                "skill",
                skill.id,
            )
        ]
        for skill in await turn.services.skills.active()
    ]
    rows.append([flow.button(_("Done"), "skills", "done")])
    rows.append(flow.back_row(_))
    return InlineKeyboardMarkup(rows)


def availability_keyboard(turn: Turn[P]) -> InlineKeyboardMarkup:
    """Presets, a week grid (days × parts of day), then Done and Back."""
    _, flow = turn._, turn.flow
    chosen = set(turn.draft.slots)
    day_names = get_day_names("abbreviated", locale=_.language)
    rows = [[flow.button(_(PRESET_LABELS[key]), "preset", key) for key in PRESETS]]
    for day in range(7):
        rows.append(
            [
                flow.button(
                    ("✅ " if (day, period) in chosen else "")
                    + f"{day_names[day]} · {_(PERIOD_LABELS[period])}",
                    "slot",
                    f"{day}-{period}",
                )
                for period in PERIODS
            ]
        )
    last = [flow.button(_("Done"), "avail", "done")]
    if turn.draft.SLOTS_CLEARABLE:
        last.insert(0, flow.button(_("Clear"), "preset", "clear"))
    rows.append(last)
    rows.append(flow.back_row(_))
    return InlineKeyboardMarkup(rows)


async def ask_skills(turn: Turn[P]) -> State:
    """Offer the catalogue as toggles, the skills chosen so far ticked."""
    await turn.say(turn._(SKILLS_QUESTION), await skills_keyboard(turn))
    return None


async def ask_availability(turn: Turn[P]) -> State:
    """Offer presets and the week grid, the slots chosen so far ticked."""
    await turn.say(turn._(AVAILABILITY_QUESTION), availability_keyboard(turn))
    return None


async def on_skill(turn: Turn[P], button: Callback) -> State:
    """Tick or untick a skill; the keyboard is redrawn."""
    value = button.str_arg(1)
    if value.isdigit():
        turn.draft.skill_ids = sorted(set(turn.draft.skill_ids) ^ {int(value)})
        await turn.answer()
        await turn.edit_buttons(await skills_keyboard(turn))
    return None


async def some_skill(turn: Turn[P]) -> bool:
    """Whether a skill is chosen; if not, the tap is answered with an alert."""
    if not turn.draft.skill_ids:
        await turn.answer(turn._("Choose at least one skill."), alert=True)
    return bool(turn.draft.skill_ids)


async def on_slots(turn: Turn[P], button: Callback) -> State:
    """A preset, "clear" or one slot: the chosen slots change and the keyboard is redrawn."""
    verb, value = button.str_arg(0), button.str_arg(1)
    before = set(turn.draft.slots)
    slots = set(before)
    slot = _SLOT.fullmatch(value)
    if verb == "preset" and value in PRESETS:
        days, periods = PRESETS[value]
        slots = {(day, period) for day in days for period in periods}
    elif verb == "preset" and value == "clear" and turn.draft.SLOTS_CLEARABLE:
        slots = set()
    elif verb == "slot" and slot is not None:
        slots ^= {(int(slot.group(1)), slot.group(2))}
    turn.draft.slots = sorted(slots)
    await turn.answer()
    if slots != before:  # Telegram refuses an edit that changes nothing
        await turn.edit_buttons(availability_keyboard(turn))
    return None


SHARE_MY_NUMBER = N_("📱 Share my number")
OWN_PHONE_QUESTION = N_(
    "Your phone number lets the referent reach you when you take a request. "
    "It is optional and only shown to the referent of a request you take."
)


def share_number(*rows: list[str]) -> Buttons:
    """A reply keyboard: share one's own number, then rows of labels (message ids)."""

    def keyboard(turn: Turn[Any]) -> ReplyKeyboardMarkup:
        _ = turn._
        return ReplyKeyboardMarkup(
            [
                [KeyboardButton(_(SHARE_MY_NUMBER), request_contact=True)],
                *[[_(label) for label in row] for row in rows],
            ],
            resize_keyboard=True,
            one_time_keyboard=True,
        )

    return keyboard


@dataclass(frozen=True)
class PhoneTexts:
    """A phone step's words (message ids): the label that means "no number", and what is said
    when the contact shared is not the one asked for, or the text is not a number."""

    none: str | None
    not_a_number: str
    wrong_contact: str = N_("Please share your own number, with the button below.")


class Again(Enum):
    """A phone answer that could not be used: said so, the step stays."""

    ASKED = "asked again"


async def phone_reply(
    turn: Turn[Any], texts: PhoneTexts, *, own: bool = True, **values: object
) -> str | Again | None:
    """The number shared (the person's own, or with `own=False` someone else's) or typed; None
    for `texts.none`; Again.ASKED once what is wrong has been said (filled with `values`)."""
    _ = turn._
    if texts.none is not None and turn.text == _(texts.none):
        return None
    contact = turn.message.contact
    if contact is not None and (contact.user_id == turn.user_id) == own:
        return one_line(contact.phone_number)
    if contact is None and PHONE_PATTERN.match(turn.text):
        return turn.text
    await turn.say(_(texts.wrong_contact if contact else texts.not_a_number, **values))
    return Again.ASKED


def radii(*more: float | None) -> list[tuple[str | int, str]]:
    """The radius buttons: the usual choices, and `more` (a suggested one, the current one)."""
    offered = sorted({*RADIUS_CHOICES_KM, *(km for km in more if km in SUGGESTED_RADII_KM)})
    return [(int(km), f"{km:g} km") for km in offered]


def radius_handlers(conversation: Conversation[Any], on_radius: TapStep[Any]) -> list[Spec]:
    """The radius buttons (a suggested one included; any other is answered as no longer valid)."""
    return [conversation.on("radius", on_radius, values=[int(km) for km in SUGGESTED_RADII_KM])]


def skills_handlers(conversation: Conversation[Any], done: TapStep[Any]) -> list[Spec]:
    """The skills step's buttons: a skill toggled, then Done."""
    return [conversation.on("skill", on_skill), conversation.on("skills", done)]


def availability_handlers(conversation: Conversation[Any], done: TapStep[Any]) -> list[Spec]:
    """The availability step's buttons: a slot or a preset toggled, then Done."""
    return [
        conversation.on("slot", on_slots),
        conversation.on("preset", on_slots),
        conversation.on("avail", done),
    ]
