"""/new's questions, one per step (registered with the conversation by `@POSTING.question`)."""

from __future__ import annotations

from datetime import date, time, timedelta

from babel.dates import format_date
from telegram import InlineKeyboardMarkup

from bot.i18n import N_
from bot.skills import skill_label
from conversations.base import CANCEL_LABEL, SKIP_LABEL, State, chunks
from conversations.places import location_keyboard
from conversations.posting.draft import (
    B_CONFIRM,
    B_CONSENT,
    B_NAME,
    B_NOTES,
    B_PHONE,
    B_PLACE,
    BENEFICIARY,
    DAY,
    DESCRIPTION,
    EDIT_BUTTONS,
    NEED,
    NO_CONSENT,
    PART,
    PLACES,
    POSTING,
    PREVIEW,
    W_CONFIRM,
    W_PLACE,
    WHEN,
    WHERE,
    PostingTurn,
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


def _skip_and_back(turn: PostingTurn) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[POSTING.button(turn._(SKIP_LABEL), "skip")], POSTING.back_row(turn._)]
    )


@POSTING.question(BENEFICIARY)
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


@POSTING.question(B_NAME)
async def ask_b_name(turn: PostingTurn) -> State:
    """The new beneficiary's first name or initials."""
    _ = turn._
    await turn.say(
        _(
            "What is the person's first name, or their initials? Only the volunteer who takes "
            "the request will see it."
        ),
        InlineKeyboardMarkup([POSTING.back_row(_)]),
    )
    return None


@POSTING.question(B_PHONE)
async def ask_b_phone(turn: PostingTurn) -> State:
    """Their phone: a shared contact, a typed number, or nothing."""
    _ = turn._
    await turn.say(
        _(
            "What is {name}'s phone number? The volunteer may call before coming. Type it, or "
            "share their contact (📎 → Contact). Tap “Skip” if they have no phone.",
            name=turn.draft.person(_),
        ),
        _skip_and_back(turn),
    )
    return None


@POSTING.question(B_PLACE)
async def ask_b_place(turn: PostingTurn) -> State:
    """Where they live: a typed address (geocoded, then confirmed) or any pin."""
    _ = turn._
    await turn.say(
        _(
            "Where does {name} live? Type the address (number, street, town).\n\n"
            "You can also send a pin: the “Send a location” button sends YOUR current position "
            "(use it if you are at their place now); to send any other point, use 📎 → Location "
            "and move the map.\n\n"
            "Volunteers only see the street and the neighbourhood until one of them takes "
            "the request.",
            name=turn.draft.person(_),
        ),
        location_keyboard(turn, SEND_A_LOCATION),
    )
    return None


@POSTING.question(B_CONFIRM)
@POSTING.question(W_CONFIRM)
async def ask_confirm(turn: PostingTurn) -> State:
    """The address found for a typed one (the person's or the service's): is it the place?"""
    _ = turn._
    keyboard = InlineKeyboardMarkup(
        [
            [
                POSTING.button(_("Yes, that's the place"), "place", "yes"),
                POSTING.button(_("No, try again"), "place", "no"),
            ]
        ]
    )
    found = turn.draft.found
    address = (found.label if found else None) or ""
    await turn.say(_("Is this the right place?\n{address}", address=address), keyboard)
    return None


@POSTING.question(B_NOTES)
async def ask_b_notes(turn: PostingTurn) -> State:
    """Access notes: floor, door code… (optional)."""
    await turn.say(
        turn._(
            "Anything that helps to get in: floor, door code, name on the intercom… Only the "
            "volunteer who takes the request will see it. Type it, or tap “Skip”."
        ),
        _skip_and_back(turn),
    )
    return None


@POSTING.question(B_CONSENT)
async def ask_consent(turn: PostingTurn) -> State:
    """Their agreement to share name, phone and address with the claimer."""
    _ = turn._
    keyboard = InlineKeyboardMarkup(
        [
            [
                POSTING.button(_("Yes, they agree"), "consent", "yes"),
                POSTING.button(_("No"), "consent", "no"),
            ],
            POSTING.back_row(_),
        ]
    )
    await turn.say(
        _(
            "Does the person agree that their name, phone and address are shared with the "
            "volunteer who takes the request?"
        ),
        keyboard,
    )
    return None


@POSTING.question(NO_CONSENT)
async def ask_no_consent(turn: PostingTurn) -> State:
    """Without consent nothing can be posted: go back or cancel."""
    _ = turn._
    keyboard = InlineKeyboardMarkup(
        [[*POSTING.back_row(_)[:1], POSTING.button(_("✖ Cancel the request"), "cancel")]]
    )
    await turn.say(
        _(
            "Without the person's agreement the request cannot be posted: the volunteer who "
            "takes it needs their name, phone and address to help them. If they agree after "
            "all, go back and change the answer; otherwise cancel the request."
        ),
        keyboard,
    )
    return None


@POSTING.question(NEED)
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


@POSTING.question(DESCRIPTION)
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


@POSTING.question(WHERE)
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


@POSTING.question(W_PLACE)
async def ask_w_place(turn: PostingTurn) -> State:
    """Another place: a typed address or a pin."""
    await turn.say(
        turn._(
            "Where will it take place? Type the address, or send a pin (📎 → Location for any "
            "point; “Send a location” sends your own position). Volunteers see the street and "
            "the neighbourhood."
        ),
        location_keyboard(turn, SEND_A_LOCATION),
    )
    return None


@POSTING.question(WHEN)
async def ask_when(turn: PostingTurn) -> State:
    """As soon as possible, today, or a chosen day."""
    _ = turn._
    keyboard = InlineKeyboardMarkup(
        [
            [POSTING.button(_("As soon as possible"), "when", "asap")],
            [POSTING.button(_("Today"), "when", "today")],
            [POSTING.button(_("📅 Choose a day"), "when", "day")],
            POSTING.back_row(_),
        ]
    )
    await turn.say(_("When is the help needed?"), keyboard)
    return None


@POSTING.question(DAY)
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


@POSTING.question(PART)
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


@POSTING.question(PLACES)
async def ask_places(turn: PostingTurn) -> State:
    """How many volunteers."""
    _ = turn._
    row = [POSTING.button(str(count), "places", count) for count in PLACES_CHOICES]
    await turn.say(
        _("How many volunteers are needed?"), InlineKeyboardMarkup([row, POSTING.back_row(_)])
    )
    return None


@POSTING.question(PREVIEW)
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
