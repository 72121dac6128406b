"""/signal: anyone reports a person who seems isolated; referents and coordinators follow up.

Steps: who (a first name or a description, no name required), where (an address or description
typed, or a pin), which neighbourhood (the nearest first; "I don't know" lets the place decide),
what worries the reporter, how to reach them back (their Telegram is enough; a phone is
optional), then a summary and Send. The relay link `t.me/<bot>?start=relay` (posters in shops)
starts here too; /signal or the link mid-way starts over. ⬅ and /cancel work at every step,
anything unexpected is asked again (conversations/base.py). What referents and coordinators do
with a report is in handlers/cases.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardMarkup, ReplyKeyboardRemove
from telegram.ext import ConversationHandler

from bot import deeplinks
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.geo import distance_km
from bot.i18n import N_
from bot.services.geocoding import GeocoderUnavailable
from bot.services.neighbourhoods import NeighbourhoodView
from bot.services.signals import (
    MAX_DESCRIPTION_LENGTH,
    MAX_PLACE_LENGTH,
    MAX_WORRY_LENGTH,
    Reported,
    ReportRefusal,
    SignalDraft,
)
from conversations.base import (
    BACK_LABEL,
    CANCEL_LABEL,
    END,
    Conversation,
    State,
    Texts,
    Turn,
    back_or_cancel,
    choices,
)
from conversations.pickers import Again, PhoneTexts, phone_reply, share_number
from conversations.places import SEND_MY_LOCATION, Spot, location, neighbourhood_rows, pin_of
from handlers.common import NO_LONGER_VALID, StartLink


class Step(StrEnum):
    """The report's steps (stored between updates: keep the values)."""

    WHO = "sg_who"
    WHERE = "sg_where"
    NEIGHBOURHOOD = "sg_nb"
    WORRY = "sg_worry"
    CONTACT = "sg_contact"
    CONFIRM = "sg_confirm"


TELEGRAM_IS_ENOUGH = N_("Telegram is enough")
DESCRIBE_WHO = N_("Please describe the person in a few words ({max} characters at most).")
DESCRIBE_WORRY = N_("Please tell what worries you in one message ({max} characters at most).")


@dataclass
class ReportDraft:
    """The answers given so far."""

    who: str = ""
    # The address or description typed, or the pin's address.
    place: str | None = None
    located: Spot | None = None
    neighbourhood_id: int | None = None
    neighbourhood_name: str | None = None
    # The town has no neighbourhood: the step was skipped (⬅ from the worry skips it too).
    neighbourhood_skipped: bool = False
    worry: str = ""
    phone: str | None = None


SIGNAL = Conversation(
    "signal",
    Action.SIGNAL,
    ReportDraft,
    Texts(
        cancelled=N_(
            "Report cancelled: nothing was sent, nothing was kept. Send /signal to start again."
        ),
        busy=N_("You are reporting someone. Answer the question above, or send /cancel to stop."),
        ended=(NO_LONGER_VALID, N_("Send /signal to report someone.")),
        finished={"send": N_("This report has already been sent.")},
    ),
)
Turn_ = Turn[ReportDraft]
PHONE_TEXTS = PhoneTexts(
    none=TELEGRAM_IS_ENOUGH,
    not_a_number=N_(
        "That does not look like a phone number. Tap “Telegram is enough” or share it."
    ),
)

_PREVIOUS = {
    Step.WHERE: Step.WHO,
    Step.NEIGHBOURHOOD: Step.WHERE,
    Step.CONTACT: Step.WORRY,
    Step.CONFIRM: Step.CONTACT,
}


@SIGNAL.previous
def _previous(turn: Turn_) -> str:
    """Where ⬅ leads: the worry skips the neighbourhood when the town has none."""
    if turn.state == Step.WORRY:
        return Step.WHERE if turn.draft.neighbourhood_skipped else Step.NEIGHBOURHOOD
    return _PREVIOUS.get(Step(turn.state or Step.WHO), Step.WHO)


# --- the questions -----------------------------------------------------------------------------

SIGNAL.prompt(
    Step.WHO,
    N_(
        "Who seems isolated? A first name or a few words are enough, e.g. “the elderly "
        "lady on the 2nd floor”: you do not have to give a name."
    ),
    choices("cancel", [("x", CANCEL_LABEL)], with_back=False),
)
SIGNAL.prompt(
    Step.WHERE,
    N_(
        "Where can the brigade find them? Type the address, or describe the place (street, "
        "building, shop). You can also send a pin: “Send my location” sends where you are "
        "now; 📎 → Location sends any point."
    ),
    location(SEND_MY_LOCATION),
)
SIGNAL.prompt(
    Step.WORRY,
    N_(
        "What worries you? E.g. “I have not seen her for a week”, “he seems to eat very "
        "little”, “nobody visits him”.\n\nIf someone is in danger now, call 112."
    ),
    back_or_cancel,
)
SIGNAL.prompt(
    Step.CONTACT,
    N_(
        "How can the brigade reach you back if needed? Your Telegram is enough; you can "
        "also share your phone number (or type it)."
    ),
    share_number([TELEGRAM_IS_ENOUGH], [BACK_LABEL]),
)


@SIGNAL.question(Step.NEIGHBOURHOOD)
async def ask_neighbourhood(turn: Turn_) -> State:
    """The neighbourhood: the nearest first when the place is known; skipped when there is none."""
    _, draft = turn._, turn.draft
    rows = await neighbourhood_rows(turn, draft.located)
    draft.neighbourhood_skipped = not rows
    if not rows:
        draft.neighbourhood_id = draft.neighbourhood_name = None
        return await turn.ask(Step.WORRY)
    if draft.located is not None:
        text = _("Which neighbourhood is it in? The nearest one is suggested first.")
    else:
        text = _("Which neighbourhood is it in?")
    rows.append([SIGNAL.button(_("I don't know"), "nb", "none")])
    rows.append(SIGNAL.back_row(_, cancel=True))
    await turn.say(text, InlineKeyboardMarkup(rows))
    return None


@SIGNAL.question(Step.CONFIRM)
async def ask_confirm(turn: Turn_) -> State:
    """The summary and Send."""
    _, draft = turn._, turn.draft
    if draft.place:
        place = draft.place
    elif draft.located is not None:
        place = _("location pin")
    else:
        place = _("not given")
    contact = _("Telegram") + (", " + draft.phone if draft.phone else "")
    summary = [
        _("Please check your report:"),
        _("Who: {value}", value=draft.who),
        _("Where: {value}", value=place),
        _("Neighbourhood: {value}", value=draft.neighbourhood_name or _("not known")),
        _("What worries you: {value}", value=draft.worry),
        _("How to reach you: {value}", value=contact),
        "",
        _(
            "It will be passed on to the brigade's referents and coordinators only — never "
            "to volunteers."
        ),
    ]
    keyboard = InlineKeyboardMarkup(
        [[SIGNAL.button(_("✅ Send the report"), "send")], SIGNAL.back_row(_, cancel=True)]
    )
    await turn.say("\n".join(summary), keyboard)
    return None


# --- the answers -------------------------------------------------------------------------------


async def start_signal(turn: Turn_) -> State:
    """/signal, or the relay link: anyone may report someone who seems isolated."""
    await turn.say(
        turn._(
            "Thank you for looking out for someone. A few short questions (you can go back at "
            "every step, or stop with /cancel); then a referent of the brigade will follow up."
        )
    )
    return await turn.ask(Step.WHO)


async def on_where_text(turn: Turn_) -> State:
    """A typed address or description; located when the geocoder knows it."""
    _, text = turn._, turn.text
    if len(text) < 3 or len(text) > MAX_PLACE_LENGTH:
        await turn.say(
            _(
                "Please type an address or describe the place in a few words ({max} characters "
                "at most), or send a pin.",
                max=MAX_PLACE_LENGTH,
            )
        )
        return None
    try:
        place = await turn.services.geocoder.search(text, language=_.language)
    except GeocoderUnavailable:
        place = None  # a description is enough: the referents read it
    turn.draft.place, turn.draft.located = text, Spot.of(place) if place is not None else None
    # A text message, so that it can take the location keyboard away.
    await turn.say(_("Noted: {place}", place=text), ReplyKeyboardRemove())
    return await turn.ask(Step.NEIGHBOURHOOD)


async def on_where_pin(turn: Turn_) -> State:
    """A pin; its street named if the geocoder can."""
    latitude, longitude, place = await pin_of(turn)
    turn.draft.located = Spot(latitude, longitude)
    turn.draft.place = place.label[:MAX_PLACE_LENGTH] if place is not None else None
    await turn.say(turn._("Location received."), ReplyKeyboardRemove())
    return await turn.ask(Step.NEIGHBOURHOOD)


def _nearest_name(located: Spot | None, views: list[NeighbourhoodView]) -> str | None:
    """The neighbourhood the service will choose for a located place (within twice its radius)."""
    if located is None:
        return None
    best: tuple[float, str] | None = None
    for view in views:
        distance = distance_km(located.latitude, located.longitude, view.latitude, view.longitude)
        if distance <= view.radius_km * 2 and (best is None or distance < best[0]):
            best = (distance, view.name)
    return best[1] if best else None


async def on_neighbourhood(turn: Turn_, button: Callback) -> State:
    """The neighbourhood tapped, or "I don't know" (the place decides)."""
    value, draft = button.str_arg(1), turn.draft
    views = {view.id: view for view in await turn.services.neighbourhoods.all()}
    if value == "none":
        draft.neighbourhood_id = None
        draft.neighbourhood_name = _nearest_name(draft.located, list(views.values()))
    elif value.isdigit() and int(value) in views:
        draft.neighbourhood_id, draft.neighbourhood_name = int(value), views[int(value)].name
    else:
        return await turn.stale()
    return await turn.ask(Step.WORRY)


async def on_contact(turn: Turn_) -> State:
    """Telegram only, a shared number, or a typed one."""
    phone = await phone_reply(turn, PHONE_TEXTS)
    if phone is Again.ASKED:
        return None
    turn.draft.phone = phone
    await turn.say(turn._("Thank you."), ReplyKeyboardRemove())
    return await turn.ask(Step.CONFIRM)


async def on_send(turn: Turn_, button: Callback) -> State:
    """Send the report, once."""
    _, draft = turn._, turn.draft
    report = SignalDraft(
        description=draft.who,
        worry=draft.worry,
        place=draft.place,
        latitude=draft.located.latitude if draft.located else None,
        longitude=draft.located.longitude if draft.located else None,
        neighbourhood_id=draft.neighbourhood_id,
        reporter_phone=draft.phone,
    )
    # Nothing is committed if this raises: the stored answers stay, Send can be tapped again.
    result = await turn.services.signals.report(turn.user_id, report)
    if result is ReportRefusal.INVALID:
        await turn.answer(_("Some answers are missing. Let's check them."), alert=True)
        return await turn.ask(Step.WHO)
    await turn.answer()
    await turn.drop_buttons()
    if result is ReportRefusal.TOO_MANY:
        await turn.say(
            _(
                "You have already sent several reports today. Thank you! For this one, please "
                "call the town's social services or a coordinator directly."
            )
        )
        return END
    assert isinstance(result, Reported)
    lines = [_("Thank you! Your report #{id} is recorded.", id=result.signal_id)]
    if result.notified:
        lines.append(
            _.ngettext(
                "It was passed on to {count} member of the brigade (referent or coordinator), "
                "who will follow it up and may contact you.",
                "It was passed on to {count} members of the brigade (referents and "
                "coordinators); one of them will follow it up and may contact you.",
                result.notified,
            )
        )
    else:
        lines.append(_("A coordinator will see it and follow it up."))
    lines.append(_("If someone is in danger, call 112."))
    await turn.say("\n".join(lines))
    return END


# --- the conversation --------------------------------------------------------------------------


def build_signal_conversation() -> ConversationHandler[BrigadeContext]:
    """/signal and the relay link, persistent across restarts."""
    relay = StartLink(deeplinks.RelayReport)
    return SIGNAL.build(
        entry_points=[
            SIGNAL.start_command("signal", start_signal),
            # The relay link: t.me/<bot>?start=relay (before the generic /start).
            SIGNAL.start_command("start", start_signal, accepted=relay),
        ],
        states={
            Step.WHO: [
                SIGNAL.keep_text("who", MAX_DESCRIPTION_LENGTH, DESCRIBE_WHO, then=Step.WHERE)
            ],
            Step.WHERE: [SIGNAL.pin(on_where_pin), SIGNAL.text(on_where_text)],
            Step.NEIGHBOURHOOD: [SIGNAL.on("nb", on_neighbourhood)],
            Step.WORRY: [
                SIGNAL.keep_text(
                    "worry", MAX_WORRY_LENGTH, DESCRIBE_WORRY, then=Step.CONTACT, lines=True
                )
            ],
            Step.CONTACT: [SIGNAL.contact(on_contact), SIGNAL.text(on_contact)],
            Step.CONFIRM: [SIGNAL.on("send", on_send)],
        },
        # /signal, or the relay link, mid-way starts over.
        fallbacks=[
            SIGNAL.command("signal", start_signal, restart=True),
            SIGNAL.command("start", start_signal, restart=True, accepted=relay),
        ],
    )
