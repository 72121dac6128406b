"""Volunteer sign-up in eight actions: name, phone, place, skills, then one summary to accept.

/join (1); the Telegram name offered as a button, or another typed (2); the number shared or
typed, or skipped (3); a pin or a typed address (4): the neighbourhood is chosen from it — the
nearest whose centre is within the distance, asked only when two are about as near or none is;
skills ticked, then Done (5–7); the summary (8): every answer, what the distance reaches (with a
distance that would reach the nearest neighbourhood when none is within it), buttons to change
the distance, an optional availability (also editable later in /profile), the charter in a few
lines with "Read the whole charter", and "I accept the charter and send my application".

Entry: the "Become a volunteer" button, /join, or a neighbourhood's link (`/start n-<id>`, which
pre-selects that neighbourhood). Every step can go back (⬅) or be left with /cancel; anything
unexpected is answered by asking the same step again (conversations/base.py). A reply keyboard
(the name, the number, the location) is replaced by the next step's, or removed when the place
is given, pinned or typed. The answers are a `SignupDraft`, persisted with the step after every
update: a restart continues where the person was. Sending the application notifies the
coordinators.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from babel.dates import format_date
from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram.error import TelegramError
from telegram.ext import ConversationHandler, filters

from bot import deeplinks, formats
from bot.callbacks import Action, Callback
from bot.charter import CHARTER_VERSION, charter_for, charter_summary
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import N_
from bot.messages.reach import reach_line, reach_warning
from bot.services.outcomes import Outcome
from bot.services.profile import MAX_NAME_LENGTH
from bot.services.volunteers import VolunteerApplication
from bot.skills import skill_label
from conversations import pickers
from conversations.base import (
    BACK_LABEL,
    END,
    PRIVATE,
    SKIP_LABEL,
    Conversation,
    State,
    Texts,
    Turn,
    chunks,
)
from conversations.places import (
    OWN_ADDRESS,
    OWN_PLACE_QUESTION,
    SEND_MY_LOCATION,
    Spot,
    address_said,
    location,
    neighbourhood_named,
    offer_neighbourhoods,
    pin_of,
)
from handlers.buttons import query_of
from handlers.common import StartLink

SUSPENDED_CANNOT_APPLY = N_(
    "Your participation in the brigade is suspended: you cannot apply again. To talk about it, "
    "contact a coordinator."
)


class Step(StrEnum):
    """The sign-up's steps (stored between updates: keep the values)."""

    NAME = "name"
    PHONE = "phone"
    LOCATION = "location"
    NEIGHBOURHOOD = "nb"
    SKILLS = "skills"
    SUMMARY = "summary"
    AVAILABILITY = "avail"
    # Steps of older versions (the place found, the radius, the charter): a person stored there
    # when the bot was upgraded goes on to the first question still to answer.
    CONFIRM_PLACE = "place"
    RADIUS = "radius"
    CHARTER = "charter"


RETIRED = (Step.CONFIRM_PLACE, Step.RADIUS, Step.CHARTER)
DEFAULT_RADIUS_KM = 2.0
# Two neighbourhoods whose centres are about as near as each other (within this margin) are both
# plausible: the person chooses. Otherwise the nearest within their distance is taken for them.
PLAUSIBLE_MARGIN_KM = 0.5
BAD_NAME = N_("Please send a name of 1 to {max} characters, e.g. your first name.")
USE_NAME = N_("Use «{name}»")
SEND_LABEL = N_("✅ I accept the charter and send my application")


@dataclass
class SignupDraft:
    """The answers given so far."""

    SLOTS_CLEARABLE: ClassVar[bool] = True

    name: str = ""
    phone: str | None = None
    place: Spot | None = None
    neighbourhood_id: int | None = None
    neighbourhood_name: str | None = None
    # From a neighbourhood's link: chosen for the person once their place is known.
    linked_neighbourhood_id: int | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    skill_ids: list[int] = field(default_factory=list)
    slots: list[pickers.Slot] = field(default_factory=list)
    charter_version: str | None = None


SIGNUP = Conversation(
    "signup",
    Action.SIGNUP,
    SignupDraft,
    Texts(
        cancelled=N_("Sign-up cancelled. Nothing was kept. You can start again with /join."),
        busy=N_(
            "You are in the middle of your sign-up. Answer the question above, or send /cancel."
        ),
    ),
)
Turn_ = Turn[SignupDraft]
PHONE_TEXTS = pickers.PhoneTexts(
    none=SKIP_LABEL,
    not_a_number=N_(
        "That does not look like a phone number. Share it with the button, or tap “Skip”."
    ),
)

# Where ⬅ leads: each step to the one asked before it; the name asks itself again.
PREVIOUS: dict[Step, Step] = {
    Step.PHONE: Step.NAME,
    Step.LOCATION: Step.PHONE,
    Step.NEIGHBOURHOOD: Step.LOCATION,
    Step.SKILLS: Step.LOCATION,
    Step.SUMMARY: Step.SKILLS,
    Step.AVAILABILITY: Step.SUMMARY,
}


@SIGNUP.previous
def _previous(turn: Turn_) -> str:
    """Where ⬅ leads from the turn's step."""
    return PREVIOUS.get(Step(turn.state or Step.NAME), Step.NAME)


def _place_label(turn: Turn_) -> str:
    """The address of the place given ("" for a pin the geocoder could not name)."""
    return (turn.draft.place.label if turn.draft.place else None) or ""


def _telegram_name(turn: Turn_) -> str:
    """The person's Telegram name, as far as a name may go."""
    return turn.who.member.display_name.strip()[:MAX_NAME_LENGTH]


# --- the questions -----------------------------------------------------------------------------

SIGNUP.prompt(
    Step.PHONE, pickers.OWN_PHONE_QUESTION, pickers.share_number([SKIP_LABEL, BACK_LABEL])
)
SIGNUP.prompt(Step.LOCATION, OWN_PLACE_QUESTION, location(SEND_MY_LOCATION))
SIGNUP.question(Step.SKILLS)(pickers.ask_skills)
SIGNUP.question(Step.AVAILABILITY)(pickers.ask_availability)


@SIGNUP.question(Step.NAME)
async def ask_name(turn: Turn_) -> State:
    """The name, with the person's Telegram name offered as a button."""
    _, name = turn._, _telegram_name(turn)
    markup = (
        ReplyKeyboardMarkup(
            [[_(USE_NAME, name=name)]], resize_keyboard=True, one_time_keyboard=True
        )
        if name
        else None
    )
    await turn.say(
        _(
            "Welcome to the brigade! A few questions, about two minutes. You can go back at "
            "every step, or stop with /cancel.\n\n"
            "What name should the coordinators and referents see? Tap the button below to use "
            "your Telegram name, or type another one."
        ),
        markup,
    )
    return None


@SIGNUP.question(Step.NEIGHBOURHOOD)
async def ask_neighbourhood(turn: Turn_) -> State:
    """The neighbourhoods, nearest first; skipped when the town has none."""
    if await offer_neighbourhoods(turn, turn.draft.place):
        return None
    turn.draft.neighbourhood_id = None
    return await _after_neighbourhood(turn)


async def _summary(turn: Turn_) -> tuple[str, InlineKeyboardMarkup]:
    """Every answer, what the distance reaches, the charter in short, and the buttons to change
    the distance, add the availability, read the whole charter, accept it and send."""
    _, draft, services = turn._, turn.draft, turn.services
    skills = {s.id: skill_label(s.label, _) for s in await services.skills.active()}
    reach = (
        await services.neighbourhoods.reach(
            draft.place.latitude, draft.place.longitude, draft.radius_km
        )
        if draft.place is not None
        else None
    )
    charter = await services.charters.current()
    availability = pickers.slots_text(draft.slots, _) or _(
        "not given (optional: add it below, or later with /profile)"
    )
    lines = [
        _("Please check your answers:"),
        _("Name: {value}", value=draft.name),
        _("Phone: {value}", value=draft.phone or _("not given")),
        _("Place: {value}", value=_place_label(turn) or _("location pin")),
        _("Neighbourhood: {value}", value=draft.neighbourhood_name or _("none")),
        _("Distance: up to {value} km", value=formats.number(draft.radius_km, _)),
        *filter(None, [reach_line(reach, _)]),
        _("Skills: {value}", value=", ".join(skills[s] for s in draft.skill_ids if s in skills)),
        _("Availability: {value}", value=availability),
        "",
        _("The volunteers' charter, in short:"),
        charter_summary(_, charter.by_language),
    ]
    flow = turn.flow
    distances = [
        flow.button(("✅ " if km == draft.radius_km else "") + label, "radius", km)
        for km, label in pickers.radii(reach.suggested_km if reach else None, draft.radius_km)
    ]
    slots_label = _("🗓 Change my availability") if draft.slots else _("🗓 Add my availability")
    rows = [
        *chunks(distances, 5),
        [flow.button(slots_label, "slots", "open")],
        [flow.button(_("📖 Read the whole charter"), "charter", "all")],
        [flow.button(_(SEND_LABEL), "confirm", "yes")],
        flow.back_row(_),
    ]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


@SIGNUP.question(Step.SUMMARY)
async def ask_summary(turn: Turn_) -> State:
    """Every answer, the charter in short, and the acceptance that sends the application."""
    await turn.say(*await _summary(turn))
    return None


# --- entry -------------------------------------------------------------------------------------


async def start_signup(turn: Turn_) -> State:
    """Begin the sign-up (the Join button, /join, or a neighbourhood link)."""
    member = turn.who.member
    if Role.VOLUNTEER in member.roles and member.volunteer_status in {
        VolunteerStatus.APPROVED,
        VolunteerStatus.PENDING,
    }:
        await turn.say(
            turn._(
                "You are already a volunteer of the brigade. Use /profile to change your answers."
            )
            if member.volunteer_status is VolunteerStatus.APPROVED
            else turn._("Your volunteer application is waiting for a coordinator's approval.")
        )
        return END
    if member.volunteer_status is VolunteerStatus.SUSPENDED:
        await turn.say(turn._(SUSPENDED_CANNOT_APPLY))
        return END
    if await _refused_too_recently(turn):
        return END
    args = turn.context.args
    link = deeplinks.parse(args[0]) if args else None
    if isinstance(link, deeplinks.NeighbourhoodSignup):
        # Arrived by a neighbourhood link: remember it to pre-select it.
        if await neighbourhood_named(turn, str(link.neighbourhood_id)):
            turn.draft.linked_neighbourhood_id = link.neighbourhood_id
        else:
            await turn.say(
                turn._(
                    "This neighbourhood link is no longer valid. You can still sign up and "
                    "choose your neighbourhood."
                )
            )
    return await turn.ask(Step.NAME)


async def start_from_button(turn: Turn_, button: Callback) -> State:
    """The "Become a volunteer" button."""
    await turn.answer()
    return await start_signup(turn)


async def _refused_too_recently(turn: Turn_) -> bool:
    """Say when someone whose application was not accepted may apply again, if not yet."""
    until = await turn.services.volunteers.reapply_from(turn.user_id)
    if until is None:
        return False
    local = until.astimezone(turn.services.settings.tz)
    await turn.say(
        turn._(
            "Your last application was not accepted. You may apply again from {date}; "
            "a coordinator can allow it sooner.",
            date=format_date(local, "long", locale=turn._.language),
        )
    )
    return True


# --- the answers -------------------------------------------------------------------------------


async def on_name(turn: Turn_) -> State:
    """Keep the Telegram name (its button) or the name typed."""
    name = _telegram_name(turn)
    if name and turn.text == turn._(USE_NAME, name=name):
        turn.draft.name = name
    else:
        typed = await turn.typed(MAX_NAME_LENGTH, BAD_NAME)
        if typed is None:
            return None
        turn.draft.name = typed
    return await turn.ask(Step.PHONE)


async def on_phone(turn: Turn_) -> State:
    """Keep the shared or typed number, or none ("Skip")."""
    phone = await pickers.phone_reply(turn, PHONE_TEXTS)
    if phone is pickers.Again.ASKED:
        return None
    turn.draft.phone = phone
    return await turn.ask(Step.LOCATION)


async def on_location_pin(turn: Turn_) -> State:
    """Keep a shared location, named by its street if the geocoder can."""
    latitude, longitude, place = await pin_of(turn)
    label = (place.area_label or place.label) if place is not None else None
    turn.draft.place = Spot(latitude, longitude, label)
    # The location keyboard goes: the next steps use buttons under the messages.
    await turn.say(turn._("Location received."), ReplyKeyboardRemove())
    return await _after_place(turn)


async def on_location_text(turn: Turn_) -> State:
    """Geocode a typed address and go on; the summary shows what was found (⬅ to change it)."""
    # A typed address ends the step too: the location keyboard goes.
    found = await address_said(turn, OWN_ADDRESS, N_("Address found: {address}"))
    if found is None:
        return None
    turn.draft.place = Spot.of(found)
    return await _after_place(turn)


async def _after_place(turn: Turn_) -> State:
    """The neighbourhood of a link, else the nearest within reach, else the question."""
    draft = turn.draft
    linked = draft.linked_neighbourhood_id
    named = await neighbourhood_named(turn, str(linked)) if linked is not None else None
    if named is None and draft.place is not None:
        ranked = await turn.services.neighbourhoods.nearest(
            draft.place.latitude, draft.place.longitude
        )
        within = [(view, km) for view, km in ranked if km <= draft.radius_km]
        if not ranked:
            draft.neighbourhood_id = draft.neighbourhood_name = None
            return await _after_neighbourhood(turn)
        clear = len(within) == 1 or (
            len(within) > 1 and within[1][1] - within[0][1] >= PLAUSIBLE_MARGIN_KM
        )
        if not clear:
            return await turn.ask(Step.NEIGHBOURHOOD)
        named = within[0][0].id, within[0][0].name
    if named is None:
        return await turn.ask(Step.NEIGHBOURHOOD)
    draft.neighbourhood_id, draft.neighbourhood_name = named
    return await _after_neighbourhood(turn)


async def _after_neighbourhood(turn: Turn_) -> State:
    """The skills, or the summary when they were chosen already (coming back to the place)."""
    return await turn.ask(Step.SUMMARY if turn.draft.skill_ids else Step.SKILLS)


async def on_neighbourhood(turn: Turn_, button: Callback) -> State:
    """Keep the neighbourhood tapped (if it still exists)."""
    named = await neighbourhood_named(turn, button.str_arg(1))
    if named is None:
        return await turn.stale()
    turn.draft.neighbourhood_id, turn.draft.neighbourhood_name = named
    return await _after_neighbourhood(turn)


async def on_skills_done(turn: Turn_, button: Callback) -> State:
    """Skills chosen (at least one): the summary."""
    return await turn.ask(Step.SUMMARY) if await pickers.some_skill(turn) else None


async def on_radius(turn: Turn_, button: Callback) -> State:
    """Another distance: the summary it was tapped on shows it (and what it reaches)."""
    radius = float(button.str_arg(1))
    if radius == turn.draft.radius_km:
        return None  # Telegram refuses an edit that changes nothing
    turn.draft.radius_km = radius
    text, markup = await _summary(turn)
    await turn.answer()
    with contextlib.suppress(TelegramError):  # an old summary may no longer be editable
        await query_of(turn.update).edit_message_text(text, reply_markup=markup)
    return None


async def on_open_availability(turn: Turn_, button: Callback) -> State:
    """The optional availability, from the summary."""
    return await turn.ask(Step.AVAILABILITY)


async def on_availability_done(turn: Turn_, button: Callback) -> State:
    """Availability chosen (none means "to be agreed each time"): the summary again."""
    return await turn.ask(Step.SUMMARY)


async def on_read_charter(turn: Turn_, button: Callback) -> State:
    """The whole charter, with the acceptance under it."""
    _ = turn._
    await turn.answer()
    # The town's own text in the reader's language once it published one; the catalogs' before.
    charter = await turn.services.charters.current()
    text = charter_for(_, turn.services.settings.town, charter.by_language)
    keyboard = InlineKeyboardMarkup([[turn.flow.button(_(SEND_LABEL), "confirm", "yes")]])
    await turn.say(text, keyboard)
    return None


async def on_retired_step(turn: Turn_) -> State:
    """An update in a step of an older version: on to the first question still to answer."""
    draft = turn.draft
    if draft.place is None:
        return await turn.ask(Step.LOCATION)
    return await turn.ask(Step.SUMMARY if draft.skill_ids else Step.SKILLS)


async def on_retired_tap(turn: Turn_, button: Callback) -> State:
    """A button of a step of an older version."""
    return await on_retired_step(turn)


async def on_send(turn: Turn_, button: Callback) -> State:
    """The charter accepted and the application sent; the coordinators are told."""
    draft, _ = turn.draft, turn._
    await turn.answer()
    if draft.place is None or not draft.name:
        await turn.say(_("Some answers are missing or no longer valid. Let's check them."))
        return await on_retired_step(turn) if draft.place is None else await turn.ask(Step.NAME)
    charter = await turn.services.charters.current()
    application = VolunteerApplication(
        display_name=draft.name,
        phone=draft.phone,
        latitude=draft.place.latitude,
        longitude=draft.place.longitude,
        address=draft.place.label,
        neighbourhood_id=draft.neighbourhood_id,
        radius_km=draft.radius_km,
        skill_ids=tuple(draft.skill_ids),
        availability=tuple(draft.slots),
        charter_version=charter.label or CHARTER_VERSION,
    )
    result = await turn.services.volunteers.submit(turn.user_id, application)
    if result is Outcome.ALREADY_DONE:
        await turn.say(_("You are already a volunteer of the brigade."))
        return END
    if result is Outcome.TOO_SOON and await _refused_too_recently(turn):
        return END
    if result is Outcome.NOT_ALLOWED:
        # Suspended while the sign-up was under way.
        await turn.say(_(SUSPENDED_CANNOT_APPLY))
        return END
    if isinstance(result, Outcome):
        # A skill retired meanwhile, most likely: the skills again, then the summary.
        await turn.say(_("Some answers are missing or no longer valid. Let's check them."))
        turn.draft.skill_ids = []
        return await turn.ask(Step.SKILLS)
    await _show_sent(turn)
    await turn.services.volunteers.send_card(result.member_id)
    reach = await turn.services.neighbourhoods.reach(
        draft.place.latitude, draft.place.longitude, draft.radius_km
    )
    warning = reach_warning(reach, _)
    await turn.say(
        _("Thank you! Your application has been sent to the coordinators.")
        + "\n\n"
        + warning
        + "\n"
        + _("You can change your distance with /profile.")
        if warning
        else _(
            "Thank you! Your application has been sent to the coordinators. "
            "You will receive requests once a coordinator has approved it."
        )
    )
    return END


async def _show_sent(turn: Turn_) -> None:
    """The message tapped says what was done, without its buttons."""
    message = turn.message
    note = turn._("✅ Charter accepted, application sent.")
    with contextlib.suppress(TelegramError):  # too old to edit: the answer below says it too
        await message.edit_text(f"{message.text or ''}\n\n{note}", reply_markup=None)


# --- the conversation --------------------------------------------------------------------------


def build_signup_conversation() -> ConversationHandler[BrigadeContext]:
    """The sign-up conversation, persistent across restarts."""
    return SIGNUP.build(
        entry_points=[
            SIGNUP.start_tap(start_from_button, action=Action.JOIN),
            SIGNUP.start_command("join", start_signup),
            SIGNUP.start_command(
                "start", start_signup, accepted=StartLink(deeplinks.NeighbourhoodSignup)
            ),
        ],
        states={
            Step.NAME: [SIGNUP.text(on_name)],
            Step.PHONE: [SIGNUP.contact(on_phone), SIGNUP.text(on_phone)],
            Step.LOCATION: [SIGNUP.pin(on_location_pin), SIGNUP.text(on_location_text)],
            Step.NEIGHBOURHOOD: [SIGNUP.on("nb", on_neighbourhood)],
            Step.SKILLS: pickers.skills_handlers(SIGNUP, on_skills_done),
            Step.SUMMARY: [
                *pickers.radius_handlers(SIGNUP, on_radius),
                SIGNUP.on("slots", on_open_availability, values=["open"]),
                SIGNUP.on("charter", on_read_charter, values=["all"]),
                SIGNUP.on("confirm", on_send, values=["yes"]),
            ],
            Step.AVAILABILITY: pickers.availability_handlers(SIGNUP, on_availability_done),
            **{
                step: [
                    *(SIGNUP.on(verb, on_retired_tap) for verb in ("place", "radius", "charter")),
                    SIGNUP.message(PRIVATE & ~filters.COMMAND, on_retired_step),
                ]
                for step in RETIRED
            },
        },
    )
