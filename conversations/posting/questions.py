"""/new's questions, one per step (registered with the conversation by `@POSTING.question`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from babel.dates import format_date
from telegram import InlineKeyboardMarkup

from bot.i18n import N_
from bot.skills import skill_label
from conversations.base import (
    CANCEL_LABEL,
    SKIP_LABEL,
    Conversation,
    Turn,
    back,
    choices,
    chunks,
)
from conversations.places import location
from conversations.posting.draft import (
    EDIT_BUTTONS,
    POSTING,
    PostingDraft,
    PostingTurn,
    Step,
)
from conversations.posting.preview import preview_text

MAX_DESCRIPTION_LENGTH = 500
PLACES_CHOICES = (1, 2, 3)
DAYS_AHEAD = 7
# Parts of the day a slot can start at, in the town's time zone.
# A slot is a part of the day, never a time nobody set: it is kept as such ("in the morning"),
# and its start is what reminders and the expiry count from.
PARTS: dict[str, tuple[time, str]] = {
    "morning": (time(9, 0), N_("In the morning")),
    "afternoon": (time(14, 0), N_("In the afternoon")),
    "evening": (time(18, 0), N_("In the evening")),
}
SEND_A_LOCATION = N_("📍 Send a location")
# When the help is needed, and the pickers of a slot (also used to change a posted request).
WHEN_NEEDED = N_("When is the help needed?")
WHEN_CHOICES: tuple[tuple[str | int, str], ...] = (
    ("asap", N_("As soon as possible")),
    ("today", N_("Today")),
    ("day", N_("📅 Choose a day")),
)
WHICH_DAY = N_("Which day?")
WHAT_TIME = N_("At what time of day, {day}?")
PART_CHOICES: tuple[tuple[str | int, str], ...] = tuple(
    (key, label) for key, (_start, label) in PARTS.items()
)
PLACES_NEEDED = N_("How many volunteers are needed?")


def days_offered(turn: Turn[Any]) -> list[date]:
    """Today and the next days, in the town's time zone."""
    services = turn.services
    today = services.clock().astimezone(services.settings.tz).date()
    return [today + timedelta(days=offset) for offset in range(DAYS_AHEAD)]


SKIP_AND_BACK = choices("skip", [("x", SKIP_LABEL)])
YES_NO_PLACE = (("yes", N_("Yes, that's the place")), ("no", N_("No, try again")))


def person(turn: PostingTurn) -> str:
    """The beneficiary's name, or "the person"."""
    return turn.draft.person(turn._)


def _back_or_cancel_request(turn: PostingTurn) -> InlineKeyboardMarkup:
    """⬅, or cancel the request."""
    cancel = POSTING.button(turn._("✖ Cancel the request"), "cancel")
    return InlineKeyboardMarkup([[*POSTING.back_row(turn._), cancel]])


POSTING.prompt(
    Step.B_NAME,
    N_(
        "What are the person's name and phone number? In one message, e.g. “{example}”. "
        "Only the volunteer who takes the request will see them. No phone? Type the name "
        "alone."
    ),
    back,
    example=lambda turn: turn._("Odette Martin 06 12 34 56 78"),
)
POSTING.prompt(
    Step.B_PHONE,
    N_(
        "What is {name}'s phone number? The volunteer may call before coming. Type it, or "
        "share their contact (📎 → Contact). Tap “Skip” if they have no phone."
    ),
    SKIP_AND_BACK,
    name=person,
)
POSTING.prompt(
    Step.B_PLACE,
    N_(
        "Where does {name} live? Type the address (number, street, town). On the next lines, "
        "if it helps to get in: floor, door code, name on the intercom…\n\n"
        "You can also send a pin: the “Send a location” button sends YOUR current position "
        "(use it if you are at their place now); to send any other point, use 📎 → Location "
        "and move the map.\n\n"
        "Volunteers only see the street and the neighbourhood until one of them takes "
        "the request."
    ),
    location(SEND_A_LOCATION),
    name=person,
)
POSTING.prompt(
    Step.B_CONSENT,
    N_(
        "Does the person agree that their name, phone and address are shared with the "
        "volunteer who takes the request?"
    ),
    choices("consent", [("yes", N_("Yes, they agree")), ("no", N_("No"))], per_row=2),
)
POSTING.prompt(
    Step.NO_CONSENT,
    N_(
        "Without the person's agreement the request cannot be posted: the volunteer who "
        "takes it needs their name, phone and address to help them. If they agree after "
        "all, go back and change the answer; otherwise cancel the request."
    ),
    _back_or_cancel_request,
)
POSTING.prompt(
    Step.W_PLACE,
    N_(
        "Where will it take place? Type the address, or send a pin (📎 → Location for any "
        "point; “Send a location” sends your own position). Volunteers see the street and "
        "the neighbourhood."
    ),
    location(SEND_A_LOCATION),
)
POSTING.prompt(
    Step.PLACES,
    PLACES_NEEDED,
    choices("places", [(count, str(count)) for count in PLACES_CHOICES], per_row=3),
)


async def _beneficiaries(turn: PostingTurn) -> InlineKeyboardMarkup:
    """The referent's own beneficiaries (most recent first), someone new, ✖."""
    known = await turn.services.requests.beneficiaries_of(turn.user_id)
    rows = [[POSTING.button("👤 " + name, "benef", row_id)] for row_id, name in known]
    rows.append([POSTING.button(turn._("➕ Someone new"), "benef", "new")])
    rows.append([POSTING.button(turn._(CANCEL_LABEL), "cancel")])
    return InlineKeyboardMarkup(rows)


async def _skills(turn: PostingTurn) -> InlineKeyboardMarkup:
    """The active skills, two a row."""
    buttons = [
        turn.flow.button(skill_label(skill.label, turn._), "skill", skill.id)
        for skill in await turn.services.skills.active()
    ]
    return InlineKeyboardMarkup([*chunks(buttons, 2), turn.flow.back_row(turn._)])


def _where(turn: PostingTurn) -> InlineKeyboardMarkup:
    """At the person's home, or somewhere else."""
    home = turn._("🏠 At {name}'s place", name=person(turn))
    rows = [[POSTING.button(home, "where", "home")]]
    rows.append([POSTING.button(turn._("📍 Somewhere else"), "where", "else")])
    return InlineKeyboardMarkup([*rows, POSTING.back_row(turn._)])


def day_buttons(turn: Turn[Any]) -> InlineKeyboardMarkup:
    """The days offered, spelled in the reader's language, two a row (any conversation's)."""
    flow = turn.flow
    buttons = [
        flow.button(spelled(day, turn), "day", day.isoformat()) for day in days_offered(turn)
    ]
    return InlineKeyboardMarkup([*chunks(buttons, 2), flow.back_row(turn._)])


def offered_day(turn: Turn[Any], value: str) -> str | None:
    """The ISO day tapped, if it is one of those offered now."""
    return value if value in {day.isoformat() for day in days_offered(turn)} else None


def slot_start(turn: Turn[Any], day: str, part: str) -> datetime | None:
    """The start (UTC) of a part of a day in the town's time zone; None once it has passed."""
    services = turn.services
    local = datetime.combine(date.fromisoformat(day), PARTS[part][0], tzinfo=services.settings.tz)
    if local <= services.clock():
        return None
    return local.astimezone(UTC)


def spelled(day: date, turn: Turn[Any]) -> str:
    """A day as "Monday 7 December", in the reader's language."""
    return str(format_date(day, "EEEE d MMMM", locale=turn._.language))


def _chosen_day(turn: Turn[Any]) -> str:
    """The day chosen (the draft's `day`), spelled."""
    chosen = turn.draft.day
    return spelled(date.fromisoformat(chosen), turn) if chosen else ""


def when_questions(flow: Conversation[Any]) -> None:
    """Register when the help is needed and the pickers of a slot — which day, then which part
    of it — with a conversation whose draft keeps the day chosen in `day` (/new, /ask, and
    changing a posted request)."""
    flow.prompt(Step.WHEN, WHEN_NEEDED, choices("when", WHEN_CHOICES))
    flow.prompt(Step.DAY, WHICH_DAY, day_buttons)
    flow.prompt(Step.PART, WHAT_TIME, choices("part", PART_CHOICES), day=_chosen_day)


POSTING.prompt(
    Step.BENEFICIARY,
    N_(
        "Who is the request for? You can go back at every step, or stop with /cancel.\n\n"
        "Their name, phone and address are only shown to the volunteer who takes the request."
    ),
    _beneficiaries,
)
POSTING.prompt(Step.WHERE, N_("Where will the help take place?"), _where)


async def ask_description(turn: PostingTurn) -> None:
    """A short description, shown to volunteers (the current one under it, when editing)."""
    _ = turn._
    text = _(
        "Describe the request in a few words (at most {max} characters), e.g. “The kitchen tap "
        "is leaking”. Volunteers will read it: no name, phone number or address here.",
        max=MAX_DESCRIPTION_LENGTH,
    )
    if turn.draft.description:
        text += "\n\n" + _("Now: {value}", value=turn.draft.description)
    await turn.say(text, back(turn))


def request_questions(flow: Conversation[PostingDraft]) -> None:
    """Register the questions about the request itself — the place found for a typed address,
    the access notes, the need, the description, when — with a conversation whose draft is a
    `PostingDraft` (/new, and /ask, where the person asks for themselves)."""
    # (The address found was just said: it is not repeated under the question.)
    flow.prompt(
        Step.B_CONFIRM,
        N_("Is this the right place?"),
        choices("place", YES_NO_PLACE, per_row=2, with_back=False),
    )
    flow.prompt(
        Step.B_NOTES,
        N_(
            "Anything that helps to get in: floor, door code, name on the intercom… Only the "
            "volunteer who takes the request will see it. Type it, or tap “Skip”."
        ),
        SKIP_AND_BACK,
    )
    flow.prompt(Step.NEED, N_("What kind of help is needed?"), _skills)
    flow.question(Step.DESCRIPTION)(ask_description)
    when_questions(flow)


request_questions(POSTING)


@POSTING.question(Step.PREVIEW)
async def ask_preview(turn: PostingTurn) -> None:
    """The request as volunteers will see it, the private part apart, where, when and how many
    (their defaults) with the buttons that change them, Post."""
    _ = turn._
    turn.draft.editing = False
    edits = [POSTING.button(_(label), "edit", step) for step, label in EDIT_BUTTONS]
    keyboard = InlineKeyboardMarkup(
        [
            edits[:2],
            edits[2:],
            [POSTING.button(_("✅ Post the request"), "post")],
            POSTING.back_row(_, cancel=True),
        ]
    )
    await turn.say(await preview_text(turn), keyboard, html=True)
