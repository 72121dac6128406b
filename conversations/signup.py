"""Volunteer sign-up: name, phone, place, neighbourhood, radius, skills, availability, charter.

Entry: the "Become a volunteer" button, /join, or a neighbourhood's link (`/start n-<id>`, which
pre-selects that neighbourhood). Every step can go back (⬅) or be left with /cancel; anything
unexpected is answered by asking the same step again (conversations/base.py). The answers are a
`SignupDraft`, persisted with the step after every update: a restart continues where the person
was. Sending the application notifies the coordinators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from babel.dates import format_date
from telegram import ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram.ext import ConversationHandler

from bot import deeplinks
from bot.callbacks import Action, Callback
from bot.charter import CHARTER_VERSION, charter_for
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import N_
from bot.services.outcomes import Outcome
from bot.services.profile import MAX_NAME_LENGTH
from bot.services.volunteers import VolunteerApplication
from bot.skills import skill_label
from conversations import pickers
from conversations.base import (
    BACK_LABEL,
    END,
    SKIP_LABEL,
    Conversation,
    State,
    Texts,
    Turn,
    choices,
)
from conversations.places import (
    Spot,
    neighbourhood_named,
    offer_neighbourhoods,
    own_place_questions,
    pin_of,
)
from handlers.common import StartLink
from handlers.vetting import send_card_to_coordinators

SUSPENDED_CANNOT_APPLY = N_(
    "Your participation in the brigade is suspended: you cannot apply again. To talk about it, "
    "contact a coordinator."
)


class Step(StrEnum):
    """The sign-up's steps (stored between updates: keep the values)."""

    NAME = "name"
    PHONE = "phone"
    LOCATION = "location"
    CONFIRM_PLACE = "place"
    NEIGHBOURHOOD = "nb"
    RADIUS = "radius"
    SKILLS = "skills"
    AVAILABILITY = "avail"
    CHARTER = "charter"
    SUMMARY = "summary"


DEFAULT_RADIUS_KM = 2.0
BAD_NAME = N_("Please send a name of 1 to {max} characters, e.g. your first name.")


@dataclass
class SignupDraft:
    """The answers given so far."""

    SLOTS_CLEARABLE: ClassVar[bool] = False

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

# Where ⬅ leads: each step to the one listed before it, except the neighbourhood, which goes
# back to the place question (the address found was confirmed); the name asks itself again.
PREVIOUS = dict(zip(list(Step)[1:], list(Step), strict=False))
PREVIOUS[Step.NEIGHBOURHOOD] = Step.LOCATION


@SIGNUP.previous
def _previous(turn: Turn_) -> str:
    """Where ⬅ leads from the turn's step."""
    return PREVIOUS.get(Step(turn.state or Step.NAME), Step.NAME)


def _place_label(turn: Turn_) -> str:
    """The address of the place given ("" for a pin the geocoder could not name)."""
    return (turn.draft.place.label if turn.draft.place else None) or ""


# --- the questions -----------------------------------------------------------------------------

SIGNUP.prompt(
    Step.PHONE, pickers.OWN_PHONE_QUESTION, pickers.share_number([SKIP_LABEL, BACK_LABEL])
)
on_location_text = own_place_questions(
    SIGNUP, Step.LOCATION, Step.CONFIRM_PLACE, back_on_confirm=False
)
SIGNUP.prompt(
    Step.RADIUS,
    N_("How far from you are you ready to go?"),
    choices("radius", pickers.RADII, per_row=4),
)
SIGNUP.question(Step.SKILLS)(pickers.ask_skills)
SIGNUP.question(Step.AVAILABILITY)(pickers.ask_availability)


def _telegram_name(turn: Turn_) -> ReplyKeyboardMarkup:
    """The person's Telegram name, offered as the answer."""
    suggestion = turn.who.member.display_name[:MAX_NAME_LENGTH] or "/cancel"
    return ReplyKeyboardMarkup([[suggestion]], resize_keyboard=True, one_time_keyboard=True)


SIGNUP.prompt(
    Step.NAME,
    N_(
        "Welcome to the brigade! A few questions, about three minutes. "
        "You can go back at every step, or stop with /cancel.\n\n"
        "What name should the coordinators and referents see?"
    ),
    _telegram_name,
)


@SIGNUP.question(Step.NEIGHBOURHOOD)
async def ask_neighbourhood(turn: Turn_) -> State:
    """The neighbourhoods, nearest first; skipped when the town has none."""
    if await offer_neighbourhoods(turn, turn.draft.place):
        return None
    turn.draft.neighbourhood_id = None
    return await turn.ask(Step.RADIUS)


@SIGNUP.question(Step.CHARTER)
async def ask_charter(turn: Turn_) -> State:
    """The whole charter, and an explicit acceptance."""
    _ = turn._
    keyboard = choices(
        "charter",
        [("accept", N_("I accept the charter")), ("decline", N_("I do not accept"))],
    )
    # The town's own text in the reader's language once it published one; the catalogs' before.
    charter = await turn.services.charters.current()
    text = charter_for(_, turn.services.settings.town, charter.by_language)
    await turn.say(text + "\n\n" + _("Do you accept this charter?"), keyboard(turn))
    return None


@SIGNUP.question(Step.SUMMARY)
async def ask_summary(turn: Turn_) -> State:
    """Every answer, and a final confirmation."""
    _, draft = turn._, turn.draft
    skills = {s.id: skill_label(s.label, _) for s in await turn.services.skills.active()}
    lines = [
        _("Please check your answers:"),
        _("Name: {value}", value=draft.name),
        _("Phone: {value}", value=draft.phone or _("not given")),
        _("Place: {value}", value=_place_label(turn) or _("location pin")),
        _("Neighbourhood: {value}", value=draft.neighbourhood_name or _("none")),
        _("Distance: up to {value} km", value=f"{draft.radius_km:g}"),
        _("Skills: {value}", value=", ".join(skills[s] for s in draft.skill_ids if s in skills)),
        _(
            "Availability: {value}",
            value=pickers.slots_text(draft.slots, _) or _("to be agreed each time"),
        ),
        _("Charter: accepted"),
    ]
    keyboard = choices(
        "confirm", [("yes", N_("✅ Send my application")), ("restart", N_("Start again"))]
    )
    await turn.say("\n".join(lines), keyboard(turn))
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
    # Remove the location keyboard: the next steps use buttons under the messages.
    await turn.say(turn._("Location received."), ReplyKeyboardRemove())
    return await _after_place(turn)


async def on_place_confirmed(turn: Turn_, button: Callback) -> State:
    """Yes: on to the neighbourhood."""
    return await _after_place(turn)


async def on_place_refused(turn: Turn_, button: Callback) -> State:
    """No: the place again."""
    return await turn.ask(Step.LOCATION)


async def _after_place(turn: Turn_) -> State:
    """The neighbourhood step, unless a neighbourhood link already chose it."""
    linked = turn.draft.linked_neighbourhood_id
    named = await neighbourhood_named(turn, str(linked)) if linked is not None else None
    if named is None:
        return await turn.ask(Step.NEIGHBOURHOOD)
    turn.draft.neighbourhood_id, turn.draft.neighbourhood_name = named
    return await turn.ask(Step.RADIUS)


async def on_neighbourhood(turn: Turn_, button: Callback) -> State:
    """Keep the neighbourhood tapped (if it still exists)."""
    named = await neighbourhood_named(turn, button.str_arg(1))
    if named is None:
        return await turn.stale()
    turn.draft.neighbourhood_id, turn.draft.neighbourhood_name = named
    return await turn.ask(Step.RADIUS)


async def on_radius(turn: Turn_, button: Callback) -> State:
    """Keep the distance."""
    turn.draft.radius_km = float(button.str_arg(1))
    return await turn.ask(Step.SKILLS)


async def on_skills_done(turn: Turn_, button: Callback) -> State:
    """Skills chosen (at least one): on to the availability."""
    return await turn.ask(Step.AVAILABILITY) if await pickers.some_skill(turn) else None


async def on_availability_done(turn: Turn_, button: Callback) -> State:
    """Availability chosen (none means "to be agreed each time"): on to the charter."""
    return await turn.ask(Step.CHARTER)


async def on_charter_accepted(turn: Turn_, button: Callback) -> State:
    """Accepted: the summary."""
    turn.draft.charter_version = (await turn.services.charters.current()).label
    return await turn.ask(Step.SUMMARY)


async def on_charter_declined(turn: Turn_, button: Callback) -> State:
    """Declined: why it is needed, and the charter again."""
    await turn.answer()
    await turn.say(
        turn._(
            "Accepting the charter is needed to join the brigade. You can read it again "
            "and accept it, or stop with /cancel."
        )
    )
    return await turn.ask(Step.CHARTER)


async def on_restart(turn: Turn_, button: Callback) -> State:
    """Start again from the name."""
    turn.draft = SignupDraft()
    return await turn.ask(Step.NAME)


async def on_send(turn: Turn_, button: Callback) -> State:
    """Send the application; the coordinators are told."""
    draft, _ = turn.draft, turn._
    await turn.answer()
    if draft.place is None:
        await turn.say(_("Some answers are missing or no longer valid. Let's check them."))
        return await turn.ask(Step.SUMMARY)
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
        charter_version=draft.charter_version or CHARTER_VERSION,
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
        await turn.say(_("Some answers are missing or no longer valid. Let's check them."))
        return await turn.ask(Step.SUMMARY)
    await turn.say(
        _(
            "Thank you! Your application has been sent to the coordinators. "
            "You will receive requests once a coordinator has approved it."
        )
    )
    await send_card_to_coordinators(
        turn.context,
        result.member_id,
        result.coordinator_telegram_ids,
        N_("New volunteer application."),
    )
    return END


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
            Step.NAME: [SIGNUP.keep_text("name", MAX_NAME_LENGTH, BAD_NAME, then=Step.PHONE)],
            Step.PHONE: [SIGNUP.contact(on_phone), SIGNUP.text(on_phone)],
            Step.LOCATION: [SIGNUP.pin(on_location_pin), SIGNUP.text(on_location_text)],
            Step.CONFIRM_PLACE: [
                SIGNUP.on("place", on_place_confirmed, values=["yes"]),
                SIGNUP.on("place", on_place_refused),
            ],
            Step.NEIGHBOURHOOD: [SIGNUP.on("nb", on_neighbourhood)],
            Step.RADIUS: pickers.radius_handlers(SIGNUP, on_radius),
            Step.SKILLS: pickers.skills_handlers(SIGNUP, on_skills_done),
            Step.AVAILABILITY: pickers.availability_handlers(SIGNUP, on_availability_done),
            Step.CHARTER: [
                SIGNUP.on("charter", on_charter_accepted, values=["accept"]),
                SIGNUP.on("charter", on_charter_declined),
            ],
            Step.SUMMARY: [
                SIGNUP.on("confirm", on_send, values=["yes"]),
                SIGNUP.on("confirm", on_restart, values=["restart"]),
            ],
        },
    )
