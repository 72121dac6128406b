"""/new: a referent posts a request on behalf of someone they support.

Steps: who it is for (one of the referent's own beneficiaries, or someone new: name, phone,
place, access notes, consent), the need, a description, where, when, how many volunteers, then a
preview of what volunteers will see (and, apart, what only the claimer will see) with one edit
button per field, and Post.

The sign-up's conventions hold: ⬅ Back and /cancel at every step, unexpected input answered by
asking the same step again, each tap answered once, the answers in `user_data["posting"]` and the
step in the (persistent) conversation state. Posting clears the draft *before* calling the
service, so a second tap on Post finds nothing to post and is told so: one request, never two.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from babel.dates import format_date
from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks
from bot.callbacks import Action
from bot.context import BrigadeContext
from bot.domain.vocabulary import RequestStatus, Role
from bot.i18n import N_, Translator
from bot.messages.offers import RequestView, offer_text
from bot.services.geocoding import GeocoderUnavailable, Place
from bot.services.requests import BeneficiaryDetails, Posted, RequestDraft
from bot.skills import skill_label
from bot.text import escaped, one_line, several_lines
from conversations.common import Flow, say
from conversations.signup import PHONE_PATTERN
from handlers.common import Speaker, speaker
from handlers.drafts import expired_notice

DRAFT = "posting"
MAX_NAME_LENGTH = 64
MAX_NOTES_LENGTH = 300
MAX_DESCRIPTION_LENGTH = 500
PLACES_CHOICES = (1, 2, 3)
DAYS_AHEAD = 7

# Conversation states: strings, because they are stored in the database between updates.
BENEFICIARY, B_NAME, B_PHONE, B_PLACE, B_CONFIRM = "benef", "bname", "bphone", "bplace", "bconf"
B_NOTES, B_CONSENT, NO_CONSENT = "bnotes", "consent", "noconsent"
NEED, DESCRIPTION, WHERE, W_PLACE, W_CONFIRM = "need", "desc", "where", "wplace", "wconf"
WHEN, DAY, PART, PLACES, PREVIEW = "when", "day", "part", "places", "preview"

# Parts of the day a slot can start at, in the town's time zone.
PARTS: dict[str, tuple[time, str]] = {
    "morning": (time(9, 0), N_("Morning (9:00)")),
    "afternoon": (time(14, 0), N_("Afternoon (14:00)")),
    "evening": (time(18, 0), N_("Evening (18:00)")),
}
# The preview's edit buttons: (step to jump to, label).
EDIT_BUTTONS: tuple[tuple[str, str], ...] = (
    (NEED, N_("✏️ Need")),
    (DESCRIPTION, N_("✏️ Description")),
    (WHERE, N_("✏️ Where")),
    (WHEN, N_("✏️ When")),
    (PLACES, N_("✏️ Volunteers")),
)
BACK_LABEL = N_("⬅ Back")
SKIP_LABEL = N_("Skip")
CANCEL_LABEL = N_("✖ Cancel")
NO_LONGER_VALID = N_("This button is no longer valid.")
ALREADY_POSTED = N_("This request has already been posted.")
NOT_A_REFERENT = N_(
    "Only the brigade's referents — social workers, nurses and other professionals invited by "
    "a coordinator — can post requests. If you know someone who needs help, please tell their "
    "referent or a coordinator of the brigade."
)

Ask = Callable[[Update, BrigadeContext, Speaker], Awaitable[str | int]]


# --- small helpers -----------------------------------------------------------------------------


FLOW = Flow(DRAFT, Action.POST)
_draft = FLOW.draft
_drop_draft = FLOW.drop
_button = FLOW.button
_back_row = FLOW.back_row
_tracking = FLOW.tracking
_say = say


async def _who(update: Update, context: BrigadeContext) -> Speaker:
    who = await speaker(update, context)
    assert who is not None  # conversations only run in private chats with people
    return who


def _text_of(message: Message | None) -> str:
    return one_line(message.text or "") if message is not None else ""


def _is_back(message: Message | None, _: Translator) -> bool:
    return _text_of(message) == _(BACK_LABEL)


async def _back_if_asked(update: Update, context: BrigadeContext, who: Speaker) -> str | int | None:
    """The ⬅ of a place step's reply keyboard, pressed again later: go back from this step."""
    if not _is_back(update.effective_message, who._):
        return None
    return await ASK[_previous(_current_state(context), _draft(context))](update, context, who)


def _now_local(context: BrigadeContext) -> datetime:
    return context.services.clock().astimezone(context.services.settings.tz)


def _person(draft: dict[str, Any], _: Translator) -> str:
    name = draft.get("b_name")
    return name if isinstance(name, str) and name else _("the person")


def _place_keyboard(_: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(_("📍 Send a location"), request_location=True)], [_(BACK_LABEL)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


# --- the prompts of each step ------------------------------------------------------------------


async def ask_beneficiary(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """The referent's own beneficiaries (most recent first), or someone new."""
    _ = who._
    known = await context.services.requests.beneficiaries_of(who.member.telegram_id)
    rows = [[_button("👤 " + name, "benef", row_id)] for row_id, name in known]
    rows.append([_button(_("➕ Someone new"), "benef", "new")])
    rows.append([_button(_(CANCEL_LABEL), "cancel")])
    await _say(
        update,
        _(
            "Who is the request for? You can go back at every step, or stop with /cancel.\n\n"
            "Their name, phone and address are only shown to the volunteer who takes the request."
        ),
        InlineKeyboardMarkup(rows),
    )
    return BENEFICIARY


async def ask_b_name(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """The new beneficiary's first name or initials."""
    _ = who._
    await _say(
        update,
        _(
            "What is the person's first name, or their initials? Only the volunteer who takes "
            "the request will see it."
        ),
        InlineKeyboardMarkup([_back_row(_)]),
    )
    return B_NAME


async def ask_b_phone(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Their phone: a shared contact, a typed number, or nothing."""
    _ = who._
    await _say(
        update,
        _(
            "What is {name}'s phone number? The volunteer may call before coming. Type it, or "
            "share their contact (📎 → Contact). Tap “Skip” if they have no phone.",
            name=_person(_draft(context), _),
        ),
        InlineKeyboardMarkup([[_button(_(SKIP_LABEL), "skip")], _back_row(_)]),
    )
    return B_PHONE


async def ask_b_place(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Where they live: a typed address (geocoded, then confirmed) or any pin."""
    _ = who._
    await _say(
        update,
        _(
            "Where does {name} live? Type the address (number, street, town).\n\n"
            "You can also send a pin: the “Send a location” button sends YOUR current position "
            "(use it if you are at their place now); to send any other point, use 📎 → Location "
            "and move the map.\n\n"
            "Volunteers only see the street and the neighbourhood until one of them takes "
            "the request.",
            name=_person(_draft(context), _),
        ),
        _place_keyboard(_),
    )
    return B_PLACE


async def _ask_confirm(update: Update, context: BrigadeContext, who: Speaker, state: str) -> str:
    _ = who._
    found = _draft(context).get("found") or {}
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(_("Yes, that's the place"), "place", "yes"),
                _button(_("No, try again"), "place", "no"),
            ]
        ]
    )
    await _say(
        update,
        _("Is this the right place?\n{address}", address=found.get("label", "")),
        keyboard,
    )
    return state


async def ask_b_confirm(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Confirm the address found for the beneficiary."""
    return await _ask_confirm(update, context, who, B_CONFIRM)


async def ask_w_confirm(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Confirm the address found for the place of the service."""
    return await _ask_confirm(update, context, who, W_CONFIRM)


async def ask_b_notes(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Access notes: floor, door code… (optional)."""
    _ = who._
    await _say(
        update,
        _(
            "Anything that helps to get in: floor, door code, name on the intercom… Only the "
            "volunteer who takes the request will see it. Type it, or tap “Skip”."
        ),
        InlineKeyboardMarkup([[_button(_(SKIP_LABEL), "skip")], _back_row(_)]),
    )
    return B_NOTES


async def ask_consent(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Their agreement to share name, phone and address with the claimer."""
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(_("Yes, they agree"), "consent", "yes"),
                _button(_("No"), "consent", "no"),
            ],
            _back_row(_),
        ]
    )
    await _say(
        update,
        _(
            "Does the person agree that their name, phone and address are shared with the "
            "volunteer who takes the request?"
        ),
        keyboard,
    )
    return B_CONSENT


async def ask_no_consent(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Without consent nothing can be posted: go back or cancel."""
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [[_button(_(BACK_LABEL), "back"), _button(_("✖ Cancel the request"), "cancel")]]
    )
    await _say(
        update,
        _(
            "Without the person's agreement the request cannot be posted: the volunteer who "
            "takes it needs their name, phone and address to help them. If they agree after "
            "all, go back and change the answer; otherwise cancel the request."
        ),
        keyboard,
    )
    return NO_CONSENT


async def ask_need(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """The skill needed."""
    _ = who._
    buttons = [
        _button(skill_label(skill.label, _), "skill", skill.id)
        for skill in await context.services.skills.active()
    ]
    rows = [buttons[index : index + 2] for index in range(0, len(buttons), 2)]
    rows.append(_back_row(_))
    await _say(update, _("What kind of help is needed?"), InlineKeyboardMarkup(rows))
    return NEED


async def ask_description(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """A short description, shown to volunteers."""
    _ = who._
    text = _(
        "Describe the request in a few words (at most {max} characters), e.g. “The kitchen tap "
        "is leaking”. Volunteers will read it: no name, phone number or address here.",
        max=MAX_DESCRIPTION_LENGTH,
    )
    current = _draft(context).get("description")
    if current:
        text += "\n\n" + _("Now: {value}", value=current)
    await _say(update, text, InlineKeyboardMarkup([_back_row(_)]))
    return DESCRIPTION


async def ask_where(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """At the beneficiary's place, or somewhere else."""
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [
            [_button(_("🏠 At {name}'s place", name=_person(_draft(context), _)), "where", "home")],
            [_button(_("📍 Somewhere else"), "where", "else")],
            _back_row(_),
        ]
    )
    await _say(update, _("Where will the help take place?"), keyboard)
    return WHERE


async def ask_w_place(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Another place: a typed address or a pin."""
    _ = who._
    await _say(
        update,
        _(
            "Where will it take place? Type the address, or send a pin (📎 → Location for any "
            "point; “Send a location” sends your own position). Volunteers see the street and "
            "the neighbourhood."
        ),
        _place_keyboard(_),
    )
    return W_PLACE


async def ask_when(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """As soon as possible, today, or a chosen day."""
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [
            [_button(_("As soon as possible"), "when", "asap")],
            [_button(_("Today"), "when", "today")],
            [_button(_("📅 Choose a day"), "when", "day")],
            _back_row(_),
        ]
    )
    await _say(update, _("When is the help needed?"), keyboard)
    return WHEN


def _days(context: BrigadeContext) -> list[date]:
    today = _now_local(context).date()
    return [today + timedelta(days=offset) for offset in range(DAYS_AHEAD)]


async def ask_day(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """The next seven days, with localised weekday names."""
    _ = who._
    buttons = [
        _button(format_date(day, "EEEE d MMMM", locale=_.language), "day", day.isoformat())
        for day in _days(context)
    ]
    rows = [buttons[index : index + 2] for index in range(0, len(buttons), 2)]
    rows.append(_back_row(_))
    await _say(update, _("Which day?"), InlineKeyboardMarkup(rows))
    return DAY


async def ask_part(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Morning, afternoon or evening of the chosen day."""
    _ = who._
    rows = [[_button(_(label), "part", key)] for key, (_start, label) in PARTS.items()]
    rows.append(_back_row(_))
    chosen = _draft(context).get("day")
    day_text = (
        format_date(date.fromisoformat(chosen), "EEEE d MMMM", locale=_.language)
        if isinstance(chosen, str)
        else ""
    )
    await _say(update, _("At what time of day, {day}?", day=day_text), InlineKeyboardMarkup(rows))
    return PART


async def ask_places(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """How many volunteers."""
    _ = who._
    rows = [[_button(str(count), "places", count) for count in PLACES_CHOICES], _back_row(_)]
    await _say(update, _("How many volunteers are needed?"), InlineKeyboardMarkup(rows))
    return PLACES


async def ask_preview(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """The request as volunteers will see it, the private part apart, edit buttons, Post."""
    _ = who._
    draft = _draft(context)
    draft.pop("editing", None)
    edits = [_button(_(label), "edit", step) for step, label in EDIT_BUTTONS]
    keyboard = InlineKeyboardMarkup(
        [
            edits[:2],
            edits[2:],
            [_button(_("✅ Post the request"), "post")],
            [_button(_(BACK_LABEL), "back"), _button(_(CANCEL_LABEL), "cancel")],
        ]
    )
    await _say(update, await _preview_text(context, _), keyboard, html=True)
    return PREVIEW


ASK: dict[str, Ask] = {
    BENEFICIARY: ask_beneficiary,
    B_NAME: ask_b_name,
    B_PHONE: ask_b_phone,
    B_PLACE: ask_b_place,
    B_CONFIRM: ask_b_confirm,
    B_NOTES: ask_b_notes,
    B_CONSENT: ask_consent,
    NO_CONSENT: ask_no_consent,
    NEED: ask_need,
    DESCRIPTION: ask_description,
    WHERE: ask_where,
    W_PLACE: ask_w_place,
    W_CONFIRM: ask_w_confirm,
    WHEN: ask_when,
    DAY: ask_day,
    PART: ask_part,
    PLACES: ask_places,
    PREVIEW: ask_preview,
}
STATES = tuple(ASK)

# Where ⬅ leads; the steps a preview edit jumps to go back to the preview instead.
_PREVIOUS = {
    B_NAME: BENEFICIARY,
    B_PHONE: B_NAME,
    B_PLACE: B_PHONE,
    B_CONFIRM: B_PLACE,
    B_NOTES: B_PLACE,
    NO_CONSENT: B_CONSENT,
    DESCRIPTION: NEED,
    WHERE: DESCRIPTION,
    W_PLACE: WHERE,
    W_CONFIRM: W_PLACE,
    WHEN: WHERE,
    DAY: WHEN,
    PART: DAY,
    PLACES: WHEN,
    PREVIEW: PLACES,
}
_EDITABLE = {step for step, _label in EDIT_BUTTONS}


def _previous(state: str, draft: dict[str, Any]) -> str:
    if draft.get("editing") and state in _EDITABLE:
        return PREVIEW
    if state == B_CONSENT:
        return BENEFICIARY if draft.get("benef_id") is not None else B_NOTES
    if state == NEED:
        if draft.get("benef_id") is None:
            return B_CONSENT
        return B_CONSENT if draft.get("asked_consent") else BENEFICIARY
    return _PREVIOUS.get(state, BENEFICIARY)


async def _next(update: Update, context: BrigadeContext, who: Speaker, ask: Ask) -> str | int:
    """The following step, or the preview when the step was reached from its edit button."""
    if _draft(context).get("editing"):
        return await ask_preview(update, context, who)
    return await ask(update, context, who)


def _current_state(context: BrigadeContext) -> str:
    state = _draft(context).get("_state")
    return state if isinstance(state, str) and state in ASK else BENEFICIARY


# --- the preview -------------------------------------------------------------------------------


def _request_place(draft: dict[str, Any]) -> tuple[float, float, str]:
    """Coordinates and public label of where the help takes place."""
    if draft.get("where") == "else":
        return float(draft["w_lat"]), float(draft["w_lon"]), str(draft.get("w_area") or "")
    return float(draft["b_lat"]), float(draft["b_lon"]), str(draft.get("b_area") or "")


def _starts_at(draft: dict[str, Any]) -> datetime | None:
    raw = draft.get("starts_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


async def _neighbourhood_name(context: BrigadeContext, latitude: float, longitude: float) -> str:
    """The neighbourhood the service will file the request under (same rule: within 2 radii)."""
    for view, distance in await context.services.neighbourhoods.nearest(latitude, longitude):
        if distance <= view.radius_km * 2:
            return view.name
    return ""


async def _preview_text(context: BrigadeContext, _: Translator) -> str:
    """The preview, in HTML (the offer's part quotes the description)."""
    draft = _draft(context)
    services = context.services
    skills = {skill.id: skill.label for skill in await services.skills.active()}
    latitude, longitude = (0.0, 0.0)
    area = ""
    if "w_lat" in draft or "b_lat" in draft:
        latitude, longitude, area = _request_place(draft)
    when_kind = str(draft.get("when") or "asap")
    starts_at = _starts_at(draft)
    if when_kind == "today":
        starts_at = services.clock()  # what Post will send, so that volunteers read "today"
    view = RequestView(
        id=0,
        skill_label=skills.get(int(draft.get("skill_id") or 0), ""),
        description=str(draft.get("description") or ""),
        area_label=area,
        neighbourhood=await _neighbourhood_name(context, latitude, longitude) or None,
        when_kind=when_kind,
        starts_at=starts_at,
        places_needed=int(draft.get("places") or 1),
        places_taken=0,
        status=RequestStatus.OPEN,
        latitude=latitude,
        longitude=longitude,
        referent_id=None,
    )
    public = offer_text(view, _, services.settings.tz).split("\n")
    # The first line names the request by its number, which it only gets once posted.
    public[0] = escaped(_("🙋 Request: {skill}", skill=skill_label(view.skill_label, _)))
    private = [
        _("Person: {name}", name=_person(draft, _)),
        _("Phone: {value}", value=draft.get("b_phone") or _("not given")),
        _("Address: {value}", value=draft.get("b_address") or _("not given")),
    ]
    if draft.get("b_notes"):
        private.append(_("Access: {notes}", notes=draft["b_notes"]))
    return "\n".join(
        [
            escaped(_("Please check the request before posting it.")),
            "",
            escaped(_("What the volunteers will see:")),
            *public,
            "",
            escaped(_("🔒 What only the volunteer who takes it will see:")),
            *[escaped(line) for line in private],
        ]
    )


# --- entry and exit ----------------------------------------------------------------------------


async def start_posting(update: Update, context: BrigadeContext) -> str | int:
    """/new: referents begin a request; anyone else is told who can post."""
    who = await _who(update, context)
    if Role.REFERENT not in who.member.roles:
        await _say(update, who._(NOT_A_REFERENT))
        return ConversationHandler.END
    user_data = context.user_data
    assert user_data is not None
    user_data[DRAFT] = {}
    return await ask_beneficiary(update, context, who)


async def stale_button(update: Update, context: BrigadeContext) -> int:
    """A posting button tapped outside the conversation: a finished or abandoned request."""
    who = await _who(update, context)
    query = update.callback_query
    assert query is not None
    parsed = callbacks.parse(query.data)
    expired = expired_notice(context, who.member.telegram_id, who._)
    if expired is not None:
        await query.answer(expired, show_alert=True)
    elif parsed is not None and parsed.str_arg(0) == "post":
        await query.answer(who._(ALREADY_POSTED))
    else:
        await query.answer(
            who._(NO_LONGER_VALID) + " " + who._("Send /new to post a request."),
        )
    return ConversationHandler.END


async def cancel(update: Update, context: BrigadeContext) -> int:
    """Leave the posting; nothing is kept."""
    who = await _who(update, context)
    _drop_draft(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await _say(
        update,
        who._("Request cancelled: nothing was posted, nothing was kept. Send /new to start again."),
        ReplyKeyboardRemove(),
    )
    return ConversationHandler.END


async def reask(update: Update, context: BrigadeContext) -> str | int:
    """Anything unexpected (sticker, photo, wrong text): ask the same step again."""
    who = await _who(update, context)
    state = _current_state(context)
    if _is_back(update.effective_message, who._):
        # The ⬅ of a reply keyboard still on screen.
        return await ASK[_previous(state, _draft(context))](update, context, who)
    await _say(update, who._("Sorry, I did not understand that answer."))
    return await ASK[state](update, context, who)


async def _command_during_posting(update: Update, context: BrigadeContext) -> str | int:
    """/new starts over; other commands wait until the request is posted or cancelled."""
    who = await _who(update, context)
    words = _text_of(update.effective_message).split()
    if words and words[0].split("@", 1)[0] == "/new":
        _drop_draft(context)
        return await start_posting(update, context)
    await _say(
        update,
        who._("You are posting a request. Answer the question above, or send /cancel to stop."),
    )
    return await ASK[_current_state(context)](update, context, who)


# --- answers to text steps ---------------------------------------------------------------------


async def on_b_name(update: Update, context: BrigadeContext) -> str | int:
    """Store the first name or initials."""
    who = await _who(update, context)
    if (back := await _back_if_asked(update, context, who)) is not None:
        return back
    text = _text_of(update.effective_message)
    if not text or len(text) > MAX_NAME_LENGTH:
        await _say(
            update,
            who._(
                "Please send a first name or initials, 1 to {max} characters.", max=MAX_NAME_LENGTH
            ),
        )
        return B_NAME
    _draft(context)["b_name"] = text
    return await ask_b_phone(update, context, who)


async def on_b_phone(update: Update, context: BrigadeContext) -> str | int:
    """Store a shared contact's or a typed number."""
    who = await _who(update, context)
    if (back := await _back_if_asked(update, context, who)) is not None:
        return back
    _ = who._
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    if message.contact is not None:
        if message.contact.user_id == who.member.telegram_id:
            await _say(
                update,
                _(
                    "This is your own number. Share {name}'s contact, type their number, or tap "
                    "“Skip”.",
                    name=_person(draft, _),
                ),
            )
            return B_PHONE
        draft["b_phone"] = one_line(message.contact.phone_number)
    elif PHONE_PATTERN.match(_text_of(message)):
        draft["b_phone"] = _text_of(message)
    else:
        await _say(
            update,
            _("That does not look like a phone number. Type it again, or tap “Skip” above."),
        )
        return B_PHONE
    return await ask_b_place(update, context, who)


async def _place_found(update: Update, context: BrigadeContext, who: Speaker, place: Place) -> None:
    _draft(context)["found"] = {
        "lat": place.latitude,
        "lon": place.longitude,
        "label": place.label,
        "area": place.area_label,
    }
    # A text message, so that it can take the location keyboard away.
    await _say(update, who._("I found: {address}", address=place.label), ReplyKeyboardRemove())


async def on_place_text(update: Update, context: BrigadeContext) -> str | int:
    """Geocode a typed address (the beneficiary's or another place) and ask to confirm it."""
    who = await _who(update, context)
    _ = who._
    state = _current_state(context)
    message = update.effective_message
    if _is_back(message, _):
        return await ASK[_previous(state, _draft(context))](update, context, who)
    query = _text_of(message)
    if len(query) < 4:
        await _say(update, _("Please type a number, a street and a town, or send a location."))
        return state
    try:
        place = await context.services.geocoder.search(query, language=_.language)
    except GeocoderUnavailable:
        await _say(
            update,
            _(
                "Address search is not available right now. Please send a location instead "
                "(📎 → Location lets you send any point)."
            ),
        )
        return state
    if place is None:
        await _say(
            update,
            _(
                "I could not find this address. Try with the number, the street and the town "
                "(e.g. “12 rue de la Gare, Chambéry”), or send a location."
            ),
        )
        return state
    await _place_found(update, context, who, place)
    if state == W_PLACE:
        return await ask_w_confirm(update, context, who)
    return await ask_b_confirm(update, context, who)


async def on_place_pin(update: Update, context: BrigadeContext) -> str | int:
    """Store a pin (the beneficiary's or another place); name its street if the geocoder can."""
    who = await _who(update, context)
    message = update.effective_message
    assert message is not None
    assert message.location is not None
    latitude, longitude = message.location.latitude, message.location.longitude
    try:
        place = await context.services.geocoder.reverse(
            latitude, longitude, language=who._.language
        )
    except GeocoderUnavailable:
        place = None  # the coordinates are what matching uses; the label is a nicety
    area = place.area_label if place is not None else ""
    draft = _draft(context)
    draft.pop("found", None)
    if _current_state(context) in {W_PLACE, W_CONFIRM}:
        draft.update(where="else", w_lat=latitude, w_lon=longitude, w_area=area)
        await _say(update, who._("Location received."), ReplyKeyboardRemove())
        return await _next(update, context, who, ask_when)
    draft.update(
        b_lat=latitude,
        b_lon=longitude,
        b_area=area,
        b_address=place.label if place is not None else None,
    )
    await _say(update, who._("Location received."), ReplyKeyboardRemove())
    return await ask_b_notes(update, context, who)


async def on_b_notes(update: Update, context: BrigadeContext) -> str | int:
    """Store the access notes."""
    who = await _who(update, context)
    if (back := await _back_if_asked(update, context, who)) is not None:
        return back
    text = _text_of(update.effective_message)
    if not text or len(text) > MAX_NOTES_LENGTH:
        await _say(
            update,
            who._("Please keep it under {max} characters, or tap “Skip”.", max=MAX_NOTES_LENGTH),
        )
        return B_NOTES
    _draft(context)["b_notes"] = text
    return await ask_consent(update, context, who)


async def on_description(update: Update, context: BrigadeContext) -> str | int:
    """Store the description, or ask for a shorter one."""
    who = await _who(update, context)
    if (back := await _back_if_asked(update, context, who)) is not None:
        return back
    message = update.effective_message
    text = several_lines(message.text or "") if message is not None else ""
    if not text:
        return await ask_description(update, context, who)
    if len(text) > MAX_DESCRIPTION_LENGTH:
        await _say(
            update,
            who._(
                "This is {length} characters long. Please shorten it to {max} at most.",
                length=len(text),
                max=MAX_DESCRIPTION_LENGTH,
            ),
        )
        return DESCRIPTION
    _draft(context)["description"] = text
    return await _next(update, context, who, ask_where)


# --- answers to button steps -------------------------------------------------------------------


async def _choose_beneficiary(
    update: Update, context: BrigadeContext, who: Speaker, beneficiary_id: int
) -> str | int:
    """Reuse one of the referent's beneficiaries: their place, phone and notes."""
    query = update.callback_query
    assert query is not None
    _ = who._
    details = await context.services.requests.beneficiary_place(
        who.member.telegram_id, beneficiary_id
    )
    if details is None:
        await query.answer(_("This person is no longer in your list."))
        return await ask_beneficiary(update, context, who)
    await query.answer()
    try:
        place = await context.services.geocoder.reverse(
            details.latitude, details.longitude, language=_.language
        )
    except GeocoderUnavailable:
        place = None
    draft = _draft(context)
    draft.update(
        benef_id=beneficiary_id,
        b_name=details.name,
        b_phone=details.phone,
        b_address=details.address,
        b_lat=details.latitude,
        b_lon=details.longitude,
        b_area=place.area_label if place is not None else "",
        b_notes=details.access_notes,
        b_consent=details.consent,
        asked_consent=not details.consent,
    )
    if not details.consent:
        return await ask_consent(update, context, who)
    return await ask_need(update, context, who)


async def on_button(update: Update, context: BrigadeContext) -> str | int:
    """Route a posting button to its step; buttons of earlier steps are answered as stale."""
    who = await _who(update, context)
    _ = who._
    query = update.callback_query
    assert query is not None
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not Action.POST:
        await query.answer(_(NO_LONGER_VALID))
        return _current_state(context)
    step, value = parsed.str_arg(0), parsed.str_arg(1)
    if step == "post" and (context.user_data is None or not context.user_data.get(DRAFT)):
        # The draft is cleared before posting: a second tap finds nothing.
        await query.answer(_(ALREADY_POSTED))
        return ConversationHandler.END
    state = _current_state(context)
    draft = _draft(context)

    async def go(ask: Ask) -> str | int:
        """Answer the tap, then ask the next step."""
        await query.answer()
        return await ask(update, context, who)

    async def then(ask: Ask) -> str | int:
        """Answer the tap, then the next step or, when editing, the preview."""
        await query.answer()
        return await _next(update, context, who, ask)

    if step == "cancel":
        return await cancel(update, context)
    if step == "back":
        return await go(ASK[_previous(state, draft)])
    if state == BENEFICIARY and step == "benef":
        if value == "new":
            for key in [key for key in draft if key.startswith("b_") or key == "benef_id"]:
                draft.pop(key)
            draft.pop("asked_consent", None)
            return await go(ask_b_name)
        if value.isdigit():
            return await _choose_beneficiary(update, context, who, int(value))
    if state == B_PHONE and step == "skip":
        draft["b_phone"] = None
        return await go(ask_b_place)
    if state in {B_CONFIRM, W_CONFIRM} and step == "place":
        found = draft.pop("found", None)
        if value != "yes" or not isinstance(found, dict):
            return await go(ask_b_place if state == B_CONFIRM else ask_w_place)
        if state == B_CONFIRM:
            draft.update(
                b_lat=found["lat"],
                b_lon=found["lon"],
                b_address=found["label"],
                b_area=found["area"],
            )
            return await go(ask_b_notes)
        draft.update(where="else", w_lat=found["lat"], w_lon=found["lon"], w_area=found["area"])
        return await then(ask_when)
    if state == B_NOTES and step == "skip":
        draft["b_notes"] = None
        return await go(ask_consent)
    if state == B_CONSENT and step == "consent":
        draft["b_consent"] = value == "yes"
        return await go(ask_need if value == "yes" else ask_no_consent)
    if (
        state == NEED
        and step == "skill"
        and value.isdigit()
        and int(value) in {skill.id for skill in await context.services.skills.active()}
    ):
        draft["skill_id"] = int(value)
        return await then(ask_description)
    if state == WHERE and step == "where":
        if value == "home":
            draft["where"] = "home"
            for key in ("w_lat", "w_lon", "w_area"):
                draft.pop(key, None)
            return await then(ask_when)
        if value == "else":
            return await go(ask_w_place)
    if state == WHEN and step == "when":
        if value in {"asap", "today"}:
            draft.update(when=value, starts_at=None)
            draft.pop("day", None)
            return await then(ask_places)
        if value == "day":
            return await go(ask_day)
    if state == DAY and step == "day":
        if value in {day.isoformat() for day in _days(context)}:
            draft["day"] = value
            return await go(ask_part)
        await query.answer(_(NO_LONGER_VALID))
        return await ask_day(update, context, who)
    if state == PART and step == "part" and value in PARTS and isinstance(draft.get("day"), str):
        tz = context.services.settings.tz
        local = datetime.combine(date.fromisoformat(draft["day"]), PARTS[value][0], tzinfo=tz)
        if local <= context.services.clock():
            await query.answer(_("This time has already passed. Choose a later one."))
            return PART
        draft.update(when="slot", starts_at=local.astimezone(UTC).isoformat())
        return await then(ask_places)
    if state == PLACES and step == "places" and value.isdigit() and int(value) in PLACES_CHOICES:
        draft["places"] = int(value)
        return await go(ask_preview)
    if state == PREVIEW and step == "edit" and value in _EDITABLE:
        draft["editing"] = True
        return await go(ASK[value])
    if state == PREVIEW and step == "post":
        return await _post(update, context, who)
    await query.answer(_(NO_LONGER_VALID))
    return state


# --- posting -----------------------------------------------------------------------------------


def _request_draft(draft: dict[str, Any], now: datetime) -> RequestDraft:
    """The service's draft from the conversation's answers; KeyError if one is missing."""
    latitude, longitude, area = _request_place(draft)
    when_kind = str(draft.get("when") or "asap")
    starts_at = _starts_at(draft) if when_kind == "slot" else None
    if when_kind == "today":
        starts_at = now  # volunteers then read "today" (no start time is shown for it)
    beneficiary_id = draft.get("benef_id")
    details = None
    if beneficiary_id is None:
        details = BeneficiaryDetails(
            name=str(draft["b_name"]),
            phone=draft.get("b_phone"),
            address=draft.get("b_address"),
            latitude=float(draft["b_lat"]),
            longitude=float(draft["b_lon"]),
            access_notes=draft.get("b_notes"),
            consent=bool(draft.get("b_consent")),
        )
    return RequestDraft(
        skill_id=int(draft["skill_id"]),
        description=str(draft["description"]),
        latitude=latitude,
        longitude=longitude,
        area_label=area,
        places_needed=int(draft.get("places") or 1),
        when_kind=when_kind,
        starts_at=starts_at,
        beneficiary_id=int(beneficiary_id) if beneficiary_id is not None else None,
        beneficiary=details,
    )


def _posted_text(posted: Posted, context: BrigadeContext, _: Translator) -> str:
    lines = [_("✅ Request #{id} is posted.", id=posted.request_id)]
    if posted.offered == 0 and posted.remaining_candidates == 0:
        lines.append(
            _(
                "No volunteer fits this request right now. If nobody takes it, the coordinators "
                "will be alerted."
            )
        )
    else:
        lines.append(
            _.ngettext(
                "{count} volunteer received it now.",
                "{count} volunteers received it now.",
                posted.offered,
            )
        )
        if posted.remaining_candidates:
            lines.append(
                _.ngettext(
                    "If nobody takes it within {minutes} minutes, {count} more volunteer will "
                    "receive it.",
                    "If nobody takes it within {minutes} minutes, {count} more volunteers will "
                    "receive it.",
                    posted.remaining_candidates,
                    minutes=f"{context.services.settings.wave_delay_minutes:g}",
                )
            )
    lines.append(
        _("It was also posted in the neighbourhood group.")
        if posted.group_posted
        else _("No neighbourhood group received it.")
    )
    lines.append(_("You will get a message when a volunteer takes it."))
    return "\n".join(lines)


async def _post(update: Update, context: BrigadeContext, who: Speaker) -> str | int:
    """Post once: the draft is taken away first, so that a second tap finds nothing."""
    _ = who._
    query = update.callback_query
    assert query is not None
    user_data = context.user_data
    assert user_data is not None
    draft = _drop_draft(context) or {}
    now = context.services.clock()
    try:
        request = _request_draft(draft, now)
    except (KeyError, TypeError, ValueError):
        user_data[DRAFT] = draft
        await query.answer(_("Some answers are missing. Let's check them."), show_alert=True)
        return await ask_preview(update, context, who)
    if request.beneficiary is not None and not request.beneficiary.consent:
        user_data[DRAFT] = draft
        await query.answer()
        return await ask_no_consent(update, context, who)
    if request.when_kind == "slot" and (request.starts_at is None or request.starts_at <= now):
        user_data[DRAFT] = draft
        draft["editing"] = True
        await query.answer(_("The chosen time has passed. Please choose another."), show_alert=True)
        return await ask_when(update, context, who)
    await query.answer()
    try:
        posted = await context.services.requests.post(who.member.telegram_id, request)
    except Exception:
        # Nothing was committed: keep the answers so that Post can be tapped again.
        user_data[DRAFT] = draft
        raise
    # The preview's buttons are spent (an old or unchanged message may refuse the edit).
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    if posted is None:
        await _say(
            update,
            _(
                "The request could not be posted: only referents can post, for the people they "
                "support. Nothing was kept."
            ),
        )
        return ConversationHandler.END
    await _say(update, _posted_text(posted, context, _))
    return ConversationHandler.END


# --- the conversation --------------------------------------------------------------------------


def build_posting_conversation() -> ConversationHandler[BrigadeContext]:
    """/new, persistent across restarts."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    pin = MessageHandler(private & filters.LOCATION, _tracking(on_place_pin))
    # Only this conversation's buttons: any other (a volunteer's "I'll do it", a coordinator's
    # card…) keeps working during a posting, through its own handler.
    buttons = CallbackQueryHandler(_tracking(on_button), pattern=rf"^{Action.POST.value}:")
    anything_else: list[BaseHandler[Update, BrigadeContext, Any]] = [
        MessageHandler(private & ~filters.COMMAND, _tracking(reask)),
    ]
    states: dict[object, list[BaseHandler[Update, BrigadeContext, Any]]] = {
        B_NAME: [MessageHandler(text, _tracking(on_b_name))],
        B_PHONE: [
            MessageHandler(private & filters.CONTACT, _tracking(on_b_phone)),
            MessageHandler(text, _tracking(on_b_phone)),
        ],
        B_PLACE: [pin, MessageHandler(text, _tracking(on_place_text))],
        # A pin sent with 📎 while the address found is being confirmed replaces it.
        B_CONFIRM: [pin],
        B_NOTES: [MessageHandler(text, _tracking(on_b_notes))],
        DESCRIPTION: [MessageHandler(text, _tracking(on_description))],
        W_PLACE: [pin, MessageHandler(text, _tracking(on_place_text))],
        W_CONFIRM: [pin],
    }
    for state in STATES:
        states.setdefault(state, []).append(buttons)
        states[state].extend(anything_else)
    with warnings.catch_warnings():
        # PTB warns that per_message=False does not track buttons per message: intended, the
        # state is per person and stale buttons are re-checked against the stored state.
        warnings.simplefilter("ignore")
        return ConversationHandler(
            entry_points=[
                CommandHandler("new", _tracking(start_posting), filters=private),
                # A posting button outside the conversation: already posted, or abandoned.
                CallbackQueryHandler(stale_button, pattern=rf"^{Action.POST.value}:"),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel),
                MessageHandler(private & filters.COMMAND, _tracking(_command_during_posting)),
            ],
            name="posting",
            persistent=True,
            allow_reentry=False,
        )
