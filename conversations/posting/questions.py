"""/new's questions, one per step (registered with the conversation by `@POSTING.question`)."""

from __future__ import annotations

from datetime import date, time, timedelta

from babel.dates import format_date
from telegram import InlineKeyboardMarkup

from bot.i18n import N_
from bot.skills import skill_label
from conversations.base import CANCEL_LABEL, SKIP_LABEL, State, back, choices, chunks
from conversations.places import location
from conversations.posting.draft import (
    EDIT_BUTTONS,
    POSTING,
    PostingTurn,
    Step,
)
from conversations.posting.preview import preview_text

MAX_DESCRIPTION_LENGTH = 500
PLACES_CHOICES = (1, 2, 3)
DAYS_AHEAD = 7
# Parts of the day a slot can start at, in the town's time zone.
PARTS: dict[str, tuple[time, str]] = {
    "morning": (time(9, 0), N_("Morning (9:00)")),
    "afternoon": (time(14, 0), N_("Afternoon (14:00)")),
    "evening": (time(18, 0), N_("Evening (18:00)")),
}
SEND_A_LOCATION = N_("📍 Send a location")


def days_offered(turn: PostingTurn) -> list[date]:
    """Today and the next days, in the town's time zone."""
    services = turn.services
    today = services.clock().astimezone(services.settings.tz).date()
    return [today + timedelta(days=offset) for offset in range(DAYS_AHEAD)]


SKIP_AND_BACK = choices("skip", [("x", SKIP_LABEL)])
YES_NO_PLACE = (("yes", N_("Yes, that's the place")), ("no", N_("No, try again")))


def person(turn: PostingTurn) -> str:
    """The beneficiary's name, or "the person"."""
    return turn.draft.person(turn._)


def found(turn: PostingTurn) -> str:
    """The address found for the one typed."""
    return (turn.draft.found.label if turn.draft.found else None) or ""


def _back_or_cancel_request(turn: PostingTurn) -> InlineKeyboardMarkup:
    cancel = POSTING.button(turn._("✖ Cancel the request"), "cancel")
    return InlineKeyboardMarkup([[*POSTING.back_row(turn._), cancel]])


POSTING.prompt(
    Step.B_NAME,
    N_(
        "What is the person's first name, or their initials? Only the volunteer who takes "
        "the request will see it."
    ),
    back,
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
        "Where does {name} live? Type the address (number, street, town).\n\n"
        "You can also send a pin: the “Send a location” button sends YOUR current position "
        "(use it if you are at their place now); to send any other point, use 📎 → Location "
        "and move the map.\n\n"
        "Volunteers only see the street and the neighbourhood until one of them takes "
        "the request."
    ),
    location(SEND_A_LOCATION),
    name=person,
)
for confirm in (Step.B_CONFIRM, Step.W_CONFIRM):
    POSTING.prompt(
        confirm,
        N_("Is this the right place?\n{address}"),
        choices("place", YES_NO_PLACE, per_row=2, with_back=False),
        address=found,
    )
POSTING.prompt(
    Step.B_NOTES,
    N_(
        "Anything that helps to get in: floor, door code, name on the intercom… Only the "
        "volunteer who takes the request will see it. Type it, or tap “Skip”."
    ),
    SKIP_AND_BACK,
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
    Step.WHEN,
    N_("When is the help needed?"),
    choices(
        "when",
        [
            ("asap", N_("As soon as possible")),
            ("today", N_("Today")),
            ("day", N_("📅 Choose a day")),
        ],
    ),
)
POSTING.prompt(
    Step.PLACES,
    N_("How many volunteers are needed?"),
    choices("places", [(count, str(count)) for count in PLACES_CHOICES], per_row=3),
)


@POSTING.question(Step.BENEFICIARY)
async def ask_beneficiary(turn: PostingTurn) -> State:
    """The referent's own beneficiaries (most recent first), or someone new."""
    _ = turn._
    known = await turn.services.requests.beneficiaries_of(turn.user_id)
    rows = [[POSTING.button("👤 " + name, "benef", row_id)] for row_id, name in known]
    rows.append([POSTING.button(_("➕ Someone new"), "benef", "new")])
    rows.append([POSTING.button(_(CANCEL_LABEL), "cancel")])
    await turn.say(
        _(
            "Who is the request for? You can go back at every step, or stop with /cancel.\n\n"
            "Their name, phone and address are only shown to the volunteer who takes the request."
        ),
        InlineKeyboardMarkup(rows),
    )
    return None


@POSTING.question(Step.NEED)
async def ask_need(turn: PostingTurn) -> State:
    """The skill needed."""
    _ = turn._
    buttons = [
        POSTING.button(skill_label(skill.label, _), "skill", skill.id)
        for skill in await turn.services.skills.active()
    ]
    rows = [*chunks(buttons, 2), POSTING.back_row(_)]
    await turn.say(_("What kind of help is needed?"), InlineKeyboardMarkup(rows))
    return None


@POSTING.question(Step.DESCRIPTION)
async def ask_description(turn: PostingTurn) -> State:
    """A short description, shown to volunteers."""
    _ = turn._
    text = _(
        "Describe the request in a few words (at most {max} characters), e.g. “The kitchen tap "
        "is leaking”. Volunteers will read it: no name, phone number or address here.",
        max=MAX_DESCRIPTION_LENGTH,
    )
    if turn.draft.description:
        text += "\n\n" + _("Now: {value}", value=turn.draft.description)
    await turn.say(text, InlineKeyboardMarkup([POSTING.back_row(_)]))
    return None


@POSTING.question(Step.WHERE)
async def ask_where(turn: PostingTurn) -> State:
    """At the beneficiary's place, or somewhere else."""
    _ = turn._
    home = _("🏠 At {name}'s place", name=turn.draft.person(_))
    keyboard = InlineKeyboardMarkup(
        [
            [POSTING.button(home, "where", "home")],
            [POSTING.button(_("📍 Somewhere else"), "where", "else")],
            POSTING.back_row(_),
        ]
    )
    await turn.say(_("Where will the help take place?"), keyboard)
    return None


@POSTING.question(Step.DAY)
async def ask_day(turn: PostingTurn) -> State:
    """The next seven days, with localised weekday names."""
    _ = turn._
    buttons = [
        POSTING.button(format_date(day, "EEEE d MMMM", locale=_.language), "day", day.isoformat())
        for day in days_offered(turn)
    ]
    rows = [*chunks(buttons, 2), POSTING.back_row(_)]
    await turn.say(_("Which day?"), InlineKeyboardMarkup(rows))
    return None


@POSTING.question(Step.PART)
async def ask_part(turn: PostingTurn) -> State:
    """Morning, afternoon or evening of the chosen day."""
    _ = turn._
    rows = [[POSTING.button(_(label), "part", key)] for key, (_start, label) in PARTS.items()]
    rows.append(POSTING.back_row(_))
    chosen = turn.draft.day
    day = (
        format_date(date.fromisoformat(chosen), "EEEE d MMMM", locale=_.language) if chosen else ""
    )
    await turn.say(_("At what time of day, {day}?", day=day), InlineKeyboardMarkup(rows))
    return None


@POSTING.question(Step.PREVIEW)
async def ask_preview(turn: PostingTurn) -> State:
    """The request as volunteers will see it, the private part apart, edit buttons, Post."""
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
    return None
