"""Adding a person to the watch register (➕ Add), or changing one part of a record (✏️ Change).

Adding: from one of the referent's beneficiaries (name, phone and address taken from their
request) or someone new; then the name, phone, address, who asked for the registration and how
the person consented, the best time to call, their language, notes ("hard of hearing"), an
emergency contact, and a summary with Save. Changing: which part, then its new value, saved at
once and the record shown again. ⬅ and /cancel work at every step (conversations/base.py); the
service checks in the database that the person is a referent or a coordinator, and that a record
they change is theirs (a coordinator's: any).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from telegram import InlineKeyboardMarkup
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.watch import (
    MAX_ADDRESS,
    MAX_BEST_TIME,
    MAX_EMERGENCY,
    MAX_NAME,
    MAX_NOTES,
    Consent,
    RegisteredBy,
    WatchField,
)
from bot.i18n import N_
from bot.messages import watch as screens
from bot.services.geocoding import GeocoderUnavailable
from bot.services.outcomes import Outcome
from bot.services.profile import PHONE_PATTERN
from bot.services.watch.register import COLUMNS, LANGUAGES, Entry
from conversations.base import (
    END,
    SKIP_LABEL,
    Conversation,
    State,
    Texts,
    Turn,
    back_or_cancel,
    choices,
)
from handlers.common import NO_LONGER_VALID
from handlers.watch import card_screen


class Step(StrEnum):
    """The steps (stored between updates: keep the values)."""

    SOURCE = "wg_source"
    NAME = "wg_name"
    PHONE = "wg_phone"
    ADDRESS = "wg_address"
    BY = "wg_by"
    CONSENT = "wg_consent"
    TIME = "wg_time"
    LANGUAGE = "wg_lang"
    NOTES = "wg_notes"
    EMERGENCY = "wg_sos"
    CONFIRM = "wg_confirm"
    FIELD = "wg_field"


# The step that asks for each part of a record.
STEP_OF = {
    WatchField.NAME: Step.NAME,
    WatchField.PHONE: Step.PHONE,
    WatchField.ADDRESS: Step.ADDRESS,
    WatchField.REGISTERED_BY: Step.BY,
    WatchField.CONSENT: Step.CONSENT,
    WatchField.BEST_TIME: Step.TIME,
    WatchField.LANGUAGE: Step.LANGUAGE,
    WatchField.NOTES: Step.NOTES,
    WatchField.EMERGENCY: Step.EMERGENCY,
}
FIELD_LABELS = {
    WatchField.NAME: N_("Name"),
    WatchField.PHONE: N_("Phone"),
    WatchField.ADDRESS: N_("Address"),
    WatchField.REGISTERED_BY: N_("Registered by"),
    WatchField.CONSENT: N_("Consent"),
    WatchField.BEST_TIME: N_("Best time to call"),
    WatchField.LANGUAGE: N_("Language"),
    WatchField.NOTES: N_("Notes"),
    WatchField.EMERGENCY: N_("Emergency contact"),
}
TOO_LONG = N_("Please answer in one message of at most {max} characters.")
NOT_A_PHONE = N_("That does not look like a phone number. Please type it, e.g. 06 12 34 56 78.")


@dataclass
class RegisterDraft:
    """The answers so far; `person_id` and `field` when one part of a record is changed."""

    person_id: int | None = None
    field: str | None = None
    beneficiary_id: int | None = None
    name: str = ""
    phone: str = ""
    address: str = ""
    registered_by: str = ""
    consent: str = ""
    best_time: str | None = None
    language: str = ""
    notes: str | None = None
    emergency_contact: str | None = None


REGISTER = Conversation(
    "register",
    Action.REGISTER_STEP,
    RegisterDraft,
    Texts(
        cancelled=N_("Nothing was changed in the watch register."),
        busy=N_("You are filling in the watch register. Answer the question above, or /cancel."),
        ended=(NO_LONGER_VALID, N_("Send /register to see the watch register.")),
    ),
)
Turn_ = Turn[RegisterDraft]
# The order of the steps when a person is added.
ORDER = [
    Step.NAME,
    Step.PHONE,
    Step.ADDRESS,
    Step.BY,
    Step.CONSENT,
    Step.TIME,
    Step.LANGUAGE,
    Step.NOTES,
    Step.EMERGENCY,
    Step.CONFIRM,
]


@REGISTER.previous
def _previous(turn: Turn_) -> str | None:
    """Where ⬅ leads: the step before when adding; the choice of a part when changing."""
    state = Step(turn.state or Step.NAME)
    if turn.draft.person_id is not None:
        return None if state is Step.FIELD else Step.FIELD
    if state in (Step.SOURCE, Step.NAME):
        return None
    return ORDER[ORDER.index(state) - 1]


@REGISTER.leaving
async def _leave(turn: Turn_) -> State:
    """⬅ from the first question: nothing is kept."""
    return await turn.cancel()


def _skip_or_back(turn: Turn_) -> InlineKeyboardMarkup:
    """Skip, then ⬅ and ✖ (an optional answer)."""
    _ = turn._
    return InlineKeyboardMarkup(
        [[REGISTER.button(_(SKIP_LABEL), "skip")], REGISTER.back_row(_, cancel=True)]
    )


# --- the questions -----------------------------------------------------------------------------

REGISTER.prompt(
    Step.NAME, N_("What is the person's name (first name and surname)?"), back_or_cancel
)
REGISTER.prompt(Step.PHONE, N_("Which phone number will the callers ring?"), back_or_cancel)
REGISTER.prompt(
    Step.ADDRESS,
    N_("What is their address (number, street, floor, door code if any)?"),
    back_or_cancel,
)
REGISTER.prompt(
    Step.BY,
    N_("Who asked for the registration?"),
    choices("by", [(value, label) for value, label in screens.REGISTERED_BY.items()]),
)
REGISTER.prompt(
    Step.CONSENT,
    N_("How did the person agree to be on the register?"),
    choices("consent", [(value, label) for value, label in screens.CONSENT.items()]),
)
REGISTER.prompt(
    Step.TIME,
    N_("When is the best time to call them? E.g. “mornings, not before 10”."),
    _skip_or_back,
)
REGISTER.prompt(
    Step.LANGUAGE,
    N_("Which language do they speak?"),
    choices("lang", [(code, screens.LANGUAGE_NAMES[code]) for code in LANGUAGES], per_row=3),
)
REGISTER.prompt(
    Step.NOTES,
    N_("Anything the caller should know? E.g. “hard of hearing: let it ring long”."),
    _skip_or_back,
)
REGISTER.prompt(
    Step.EMERGENCY,
    N_("Someone to call if they cannot be reached: a name and a phone number."),
    _skip_or_back,
)


@REGISTER.question(Step.SOURCE)
async def ask_source(turn: Turn_) -> State:
    """One of the referent's beneficiaries, or someone new (straight to the name if none)."""
    _ = turn._
    known = await turn.services.register.known(turn.user_id)
    if not known:
        return await turn.ask(Step.NAME)
    rows = [[REGISTER.button(person.name, "src", person.id)] for person in known]
    rows.append([REGISTER.button(_("➕ Someone new"), "src", "new")])
    rows.append(REGISTER.back_row(_, cancel=True))
    await turn.say(
        _("Is it someone you already post requests for, or someone new?"),
        InlineKeyboardMarkup(rows),
    )
    return None


@REGISTER.question(Step.CONFIRM)
async def ask_confirm(turn: Turn_) -> State:
    """The summary and Save."""
    _ = turn._
    entry = _entry(turn.draft)
    if entry is None:
        return await turn.ask(Step.NAME)
    text = "\n".join([_("Please check before saving:"), *screens.entry_lines(entry, _)])
    keyboard = InlineKeyboardMarkup(
        [[REGISTER.button(_("✅ Save"), "save")], REGISTER.back_row(_, cancel=True)]
    )
    await turn.say(text, keyboard)
    return None


@REGISTER.question(Step.FIELD)
async def ask_field(turn: Turn_) -> State:
    """Which part of the record to change."""
    _ = turn._
    buttons = [
        REGISTER.button(_(label), "field", field.value) for field, label in FIELD_LABELS.items()
    ]
    rows = [buttons[index : index + 2] for index in range(0, len(buttons), 2)]
    rows.append(REGISTER.back_row(_, cancel=True))
    await turn.say(_("Which part do you want to change?"), InlineKeyboardMarkup(rows))
    return None


# --- the answers -------------------------------------------------------------------------------


def _entry(draft: RegisterDraft) -> Entry | None:
    """The draft as an entry, once every required answer is there."""
    if not (draft.name and draft.phone and draft.address and draft.language):
        return None
    if draft.registered_by not in set(RegisteredBy) or draft.consent not in set(Consent):
        return None
    return Entry(
        name=draft.name,
        phone=draft.phone,
        address=draft.address,
        registered_by=RegisteredBy(draft.registered_by),
        consent=Consent(draft.consent),
        language=draft.language,
        best_time=draft.best_time,
        notes=draft.notes,
        emergency_contact=draft.emergency_contact,
        beneficiary_id=draft.beneficiary_id,
    )


async def _place(turn: Turn_, address: str) -> tuple[float, float] | None:
    """Where the address is, for the counts by neighbourhood and the nearest caller (None: not
    found, or the geocoder is away: the entry is saved all the same, counted without one)."""
    try:
        found = await turn.services.geocoder.search(address, language=turn._.language)
    except GeocoderUnavailable:
        return None
    return None if found is None else (found.latitude, found.longitude)


async def _next(turn: Turn_, field: WatchField, value: str | None) -> State:
    """Keep an answer: saved at once when changing a record, else the next question."""
    draft = turn.draft
    if draft.person_id is None:
        setattr(draft, _ATTRIBUTE[field], value)
        return await turn.ask(ORDER[ORDER.index(STEP_OF[field]) + 1])
    place = await _place(turn, value) if field is WatchField.ADDRESS and value else None
    outcome = await turn.services.register.edit(
        turn.user_id, draft.person_id, field, value, place=place
    )
    if outcome is Outcome.INVALID:
        await turn.say(turn._(TOO_LONG, max=COLUMNS[field][1] or MAX_NAME))
        return None
    await turn.answer()
    await turn.drop_buttons()
    if outcome is Outcome.DONE:
        screen = await card_screen(turn.context, turn.who, draft.person_id, turn._("Changed."))
        await turn.say(screen.text, screen.keyboard)
    else:
        await turn.say(turn._(_refusal(outcome)))
    return END


_ATTRIBUTE = {
    WatchField.NAME: "name",
    WatchField.PHONE: "phone",
    WatchField.ADDRESS: "address",
    WatchField.REGISTERED_BY: "registered_by",
    WatchField.CONSENT: "consent",
    WatchField.BEST_TIME: "best_time",
    WatchField.LANGUAGE: "language",
    WatchField.NOTES: "notes",
    WatchField.EMERGENCY: "emergency_contact",
}
_TYPED = {
    Step.NAME: (WatchField.NAME, MAX_NAME),
    Step.ADDRESS: (WatchField.ADDRESS, MAX_ADDRESS),
    Step.TIME: (WatchField.BEST_TIME, MAX_BEST_TIME),
    Step.NOTES: (WatchField.NOTES, MAX_NOTES),
    Step.EMERGENCY: (WatchField.EMERGENCY, MAX_EMERGENCY),
}


def _refusal(outcome: Outcome) -> str:
    """What a refused change is answered (a message id)."""
    if outcome is Outcome.NOT_ALLOWED:
        return screens.NOT_REFERENT_OR_COORDINATOR
    return screens.PERSON_GONE


async def start_add(turn: Turn_, button: Callback) -> State:
    """➕ Add a person (referents and coordinators only)."""
    if not await turn.services.register.may_register(turn.user_id):
        await turn.answer(turn._(screens.NOT_REFERENT_OR_COORDINATOR), alert=True)
        return END
    return await turn.ask(Step.SOURCE)


async def start_edit(turn: Turn_, button: Callback) -> State:
    """✏️ Change on a record: which part (only its referent or a coordinator)."""
    person_id = button.int_arg(1)
    outcome = await turn.services.register.may_edit(turn.user_id, person_id)
    if outcome is not Outcome.DONE:
        await turn.answer(turn._(_refusal(outcome)), alert=True)
        return END
    turn.draft.person_id = person_id
    return await turn.ask(Step.FIELD)


async def on_source(turn: Turn_, button: Callback) -> State:
    """A beneficiary (their details taken from their request), or someone new."""
    value, draft = button.str_arg(1), turn.draft
    if value == "new":
        draft.beneficiary_id = None
        draft.name = draft.phone = draft.address = ""
        return await turn.ask(Step.NAME)
    known = {str(person.id): person for person in await turn.services.register.known(turn.user_id)}
    person = known.get(value)
    if person is None:
        return await turn.stale()
    draft.beneficiary_id = person.id
    draft.name = person.name[:MAX_NAME]
    draft.phone = person.phone or ""
    draft.address = (person.address or "")[:MAX_ADDRESS]
    if not draft.phone:
        return await turn.ask(Step.PHONE)
    return await turn.ask(Step.BY if draft.address else Step.ADDRESS)


async def on_typed(turn: Turn_) -> State:
    """A typed answer: the name, address, best time, notes or emergency contact."""
    field, width = _TYPED[Step(str(turn.state))]
    text = await turn.typed(width, TOO_LONG, lines=field is WatchField.NOTES)
    if text is None:
        return None
    return await _next(turn, field, text)


async def on_phone(turn: Turn_) -> State:
    """The phone number the callers ring."""
    if not PHONE_PATTERN.match(turn.text):
        await turn.say(turn._(NOT_A_PHONE))
        return None
    return await _next(turn, WatchField.PHONE, turn.text)


async def on_skip(turn: Turn_, button: Callback) -> State:
    """Skip an optional answer (when changing a record: clear it)."""
    field, _width = _TYPED[Step(str(turn.state))]
    return await _next(turn, field, None)


async def on_choice(turn: Turn_, button: Callback) -> State:
    """Who asked, how they consented, or their language."""
    verb, value = button.str_arg(0), button.str_arg(1)
    field = {"by": WatchField.REGISTERED_BY, "consent": WatchField.CONSENT}.get(
        verb, WatchField.LANGUAGE
    )
    return await _next(turn, field, value)


async def on_field(turn: Turn_, button: Callback) -> State:
    """The part of the record to change: its question."""
    return await turn.ask(STEP_OF[WatchField(button.str_arg(1))])


async def on_save(turn: Turn_, button: Callback) -> State:
    """Save the new person, once."""
    _ = turn._
    entry = _entry(turn.draft)
    if entry is None:
        return await turn.ask(Step.NAME)
    if entry.beneficiary_id is None:  # a beneficiary's place is known already
        place = await _place(turn, entry.address)
        if place is not None:
            entry = replace(entry, latitude=place[0], longitude=place[1])
    added = await turn.services.register.add(turn.user_id, entry)
    await turn.answer()
    await turn.drop_buttons()
    if isinstance(added, Outcome):
        await turn.say(_(_refusal(added)))
        return END
    screen = await card_screen(turn.context, turn.who, added, _("Added to the watch register."))
    await turn.say(screen.text, screen.keyboard)
    return END


# --- the conversation --------------------------------------------------------------------------


def build_register_conversation() -> ConversationHandler[BrigadeContext]:
    """➕ Add and ✏️ Change, persistent across restarts."""
    typed = [REGISTER.text(on_typed)]
    optional = [REGISTER.text(on_typed), REGISTER.on("skip", on_skip)]
    return REGISTER.build(
        entry_points=[
            REGISTER.start_tap(start_add, action=Action.REGISTER, verb="add"),
            REGISTER.start_tap(start_edit, action=Action.REGISTER, verb="edit"),
        ],
        states={
            Step.SOURCE: [REGISTER.on("src", on_source)],
            Step.NAME: typed,
            Step.PHONE: [REGISTER.text(on_phone)],
            Step.ADDRESS: typed,
            Step.BY: [REGISTER.on("by", on_choice, values=list(RegisteredBy))],
            Step.CONSENT: [REGISTER.on("consent", on_choice, values=list(Consent))],
            Step.TIME: optional,
            Step.LANGUAGE: [REGISTER.on("lang", on_choice, values=list(LANGUAGES))],
            Step.NOTES: optional,
            Step.EMERGENCY: optional,
            Step.CONFIRM: [REGISTER.on("save", on_save)],
            Step.FIELD: [REGISTER.on("field", on_field, values=list(WatchField))],
        },
    )
