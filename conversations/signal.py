"""/signal: anyone reports a person who seems isolated; referents and coordinators follow up.

Steps: who (a first name or a description, no name required), where (an address or description
typed, or a pin), which neighbourhood (the nearest first; "I don't know" lets the place decide),
what worries the reporter, how to reach them back (their Telegram is enough; a phone is
optional), then a summary and Send. Relays arriving by the link `t.me/<bot>?start=relay` start
here too.

The sign-up's conventions hold: ⬅ Back and /cancel at every step, unexpected input answered by
asking the same step again, each tap answered once, the answers in `user_data["signal"]` and the
step in the (persistent) conversation state. Send clears the draft before calling the service:
a second tap finds nothing to send.

The case buttons (Action.CASE) and /cases, for referents and coordinators, are here too.
"""

from __future__ import annotations

import contextlib
import html
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    InlineKeyboardButton,
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
from bot.domain.vocabulary import Role, SignalStatus
from bot.geo import distance_km
from bot.i18n import N_, Translator
from bot.messages.cases import OUTCOME_WORDS, CaseView, case_buttons, case_text, outcome_buttons
from bot.services.geocoding import GeocoderUnavailable
from bot.services.neighbourhoods import NeighbourhoodView
from bot.services.signals import (
    MAX_DESCRIPTION_LENGTH,
    MAX_PLACE_LENGTH,
    MAX_WORRY_LENGTH,
    CaseOutcome,
    Reported,
    ReportRefusal,
    SignalDraft,
    SignalService,
)
from bot.text import one_line, several_lines
from conversations.signup import PHONE_PATTERN
from handlers.common import Speaker, speaker
from handlers.drafts import expired_notice

DRAFT = "signal"
RELAY_PAYLOAD = "relay"
MAX_NEIGHBOURHOOD_BUTTONS = 12
MAX_CASES_LISTED = 10

# Conversation states: strings, because they are stored in the database between updates.
WHO, WHERE, NEIGHBOURHOOD, WORRY = "sg_who", "sg_where", "sg_nb", "sg_worry"
CONTACT, CONFIRM = "sg_contact", "sg_confirm"

BACK_LABEL = N_("⬅ Back")
CANCEL_LABEL = N_("✖ Cancel")
TELEGRAM_IS_ENOUGH = N_("Telegram is enough")
NO_LONGER_VALID = N_("This button is no longer valid.")
NOT_STAFF = N_("Reported cases are followed up by the brigade's referents and coordinators.")

Ask = Callable[[Update, BrigadeContext, Speaker], Awaitable[str | int]]


def signal_service(context: BrigadeContext) -> SignalService:
    """The application's SignalService."""
    return context.services.signals


# --- small helpers -----------------------------------------------------------------------------


def _draft(context: BrigadeContext) -> dict[str, Any]:
    user_data = context.user_data
    assert user_data is not None
    draft = user_data.setdefault(DRAFT, {})
    assert isinstance(draft, dict)
    return draft


def _drop_draft(context: BrigadeContext) -> dict[str, Any] | None:
    if context.user_data is None:
        return None
    dropped = context.user_data.pop(DRAFT, None)
    return dropped if isinstance(dropped, dict) else None


def _button(label: str, step: str, value: str | int = "x") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        label, callback_data=callbacks.encode(Action.SIGNAL, step, str(value))
    )


def _back_row(_: Translator) -> list[InlineKeyboardButton]:
    return [_button(_(BACK_LABEL), "back"), _button(_(CANCEL_LABEL), "cancel")]


async def _say(
    update: Update,
    text: str,
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None,
) -> None:
    """Send the next prompt as a new message (a tap is answered by its handler, once)."""
    message = update.effective_message
    assert message is not None
    await message.get_bot().send_message(message.chat.id, text, reply_markup=markup)


async def _who(update: Update, context: BrigadeContext) -> Speaker:
    who = await speaker(update, context)
    assert who is not None  # conversations only run in private chats with people
    return who


def _text_of(message: Message | None) -> str:
    return one_line(message.text or "") if message is not None else ""


def _is_back(message: Message | None, _: Translator) -> bool:
    return _text_of(message) == _(BACK_LABEL)


# --- the prompts of each step ------------------------------------------------------------------


async def ask_who(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Who seems isolated: a first name or a description."""
    _ = who._
    await _say(
        update,
        _(
            "Who seems isolated? A first name or a few words are enough, e.g. “the elderly "
            "lady on the 2nd floor”: you do not have to give a name."
        ),
        InlineKeyboardMarkup([[_button(_(CANCEL_LABEL), "cancel")]]),
    )
    return WHO


async def ask_where(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Where to find them: typed address or description, or a pin."""
    _ = who._
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(_("📍 Send my location"), request_location=True)], [_(BACK_LABEL)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await _say(
        update,
        _(
            "Where can the brigade find them? Type the address, or describe the place (street, "
            "building, shop). You can also send a pin: “Send my location” sends where you are "
            "now; 📎 → Location sends any point."
        ),
        keyboard,
    )
    return WHERE


async def ask_neighbourhood(update: Update, context: BrigadeContext, who: Speaker) -> str | int:
    """The neighbourhood: the nearest first when the place is known; skipped when there is none."""
    _ = who._
    draft = _draft(context)
    views = await context.services.neighbourhoods.all()
    if not views:
        draft.update(nb=None, nb_name=None, nb_skipped=True)
        return await ask_worry(update, context, who)
    draft.pop("nb_skipped", None)
    rows: list[list[InlineKeyboardButton]] = []
    if draft.get("lat") is not None and draft.get("lon") is not None:
        ranked = await context.services.neighbourhoods.nearest(draft["lat"], draft["lon"])
        for index, (view, distance) in enumerate(ranked[:MAX_NEIGHBOURHOOD_BUTTONS]):
            label = _("{name} ({distance} km)", name=view.name, distance=f"{distance:.1f}")
            rows.append([_button(("⭐ " if index == 0 else "") + label, "nb", view.id)])
        text = _("Which neighbourhood is it in? The nearest one is suggested first.")
    else:
        for view in views[:MAX_NEIGHBOURHOOD_BUTTONS]:
            rows.append([_button(view.name, "nb", view.id)])
        text = _("Which neighbourhood is it in?")
    rows.append([_button(_("I don't know"), "nb", "none")])
    rows.append(_back_row(_))
    await _say(update, text, InlineKeyboardMarkup(rows))
    return NEIGHBOURHOOD


async def ask_worry(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """What worries the reporter."""
    _ = who._
    await _say(
        update,
        _(
            "What worries you? E.g. “I have not seen her for a week”, “he seems to eat very "
            "little”, “nobody visits him”.\n\nIf someone is in danger now, call 112."
        ),
        InlineKeyboardMarkup([_back_row(_)]),
    )
    return WORRY


async def ask_contact(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """How to reach the reporter back: Telegram, and a phone if they wish."""
    _ = who._
    keyboard = ReplyKeyboardMarkup(
        [
            [KeyboardButton(_("📱 Share my number"), request_contact=True)],
            [_(TELEGRAM_IS_ENOUGH)],
            [_(BACK_LABEL)],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await _say(
        update,
        _(
            "How can the brigade reach you back if needed? Your Telegram is enough; you can "
            "also share your phone number (or type it)."
        ),
        keyboard,
    )
    return CONTACT


def _summary(context: BrigadeContext, _: Translator) -> str:
    draft = _draft(context)
    if draft.get("place"):
        place = str(draft["place"])
    elif draft.get("lat") is not None:
        place = _("location pin")
    else:
        place = _("not given")
    contact = _("Telegram")
    if draft.get("phone"):
        contact += ", " + str(draft["phone"])
    return "\n".join(
        [
            _("Please check your report:"),
            _("Who: {value}", value=draft.get("who", "")),
            _("Where: {value}", value=place),
            _("Neighbourhood: {value}", value=draft.get("nb_name") or _("not known")),
            _("What worries you: {value}", value=draft.get("worry", "")),
            _("How to reach you: {value}", value=contact),
            "",
            _(
                "It will be passed on to the brigade's referents and coordinators only — never "
                "to volunteers."
            ),
        ]
    )


async def ask_confirm(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """The summary and Send."""
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [[_button(_("✅ Send the report"), "send")], _back_row(_)],
    )
    await _say(update, _summary(context, _), keyboard)
    return CONFIRM


ASK: dict[str, Ask] = {
    WHO: ask_who,
    WHERE: ask_where,
    NEIGHBOURHOOD: ask_neighbourhood,
    WORRY: ask_worry,
    CONTACT: ask_contact,
    CONFIRM: ask_confirm,
}
STATES = tuple(ASK)


def _previous(state: str, draft: dict[str, Any]) -> str:
    if state == WORRY:
        return WHERE if draft.get("nb_skipped") else NEIGHBOURHOOD
    return {WHERE: WHO, NEIGHBOURHOOD: WHERE, CONTACT: WORRY, CONFIRM: CONTACT}.get(state, WHO)


def _current_state(context: BrigadeContext) -> str:
    state = _draft(context).get("_state")
    return state if isinstance(state, str) and state in ASK else WHO


# --- entry and exit ----------------------------------------------------------------------------


async def start_signal(update: Update, context: BrigadeContext) -> str | int:
    """/signal, or the relay link: anyone may report someone who seems isolated."""
    who = await _who(update, context)
    user_data = context.user_data
    assert user_data is not None
    user_data[DRAFT] = {}
    await _say(
        update,
        who._(
            "Thank you for looking out for someone. A few short questions (you can go back at "
            "every step, or stop with /cancel); then a referent of the brigade will follow up."
        ),
    )
    return await ask_who(update, context, who)


async def stale_button(update: Update, context: BrigadeContext) -> int:
    """A report's button tapped outside the conversation: sent already, or abandoned."""
    who = await _who(update, context)
    query = update.callback_query
    assert query is not None
    expired = expired_notice(context, who.member.telegram_id, who._)
    await query.answer(
        expired or who._(NO_LONGER_VALID) + " " + who._("Send /signal to report someone."),
        show_alert=expired is not None,
    )
    return ConversationHandler.END


async def cancel(update: Update, context: BrigadeContext) -> int:
    """Leave the report; nothing is kept."""
    who = await _who(update, context)
    _drop_draft(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await _say(
        update,
        who._("Report cancelled: nothing was sent, nothing was kept. Send /signal to start again."),
        ReplyKeyboardRemove(),
    )
    return ConversationHandler.END


async def reask(update: Update, context: BrigadeContext) -> str | int:
    """Anything unexpected (sticker, photo, wrong text): ask the same step again."""
    who = await _who(update, context)
    state = _current_state(context)
    if _is_back(update.effective_message, who._):
        return await ASK[_previous(state, _draft(context))](update, context, who)
    await _say(update, who._("Sorry, I did not understand that answer."))
    return await ASK[state](update, context, who)


async def _command_during_signal(update: Update, context: BrigadeContext) -> str | int:
    """/signal (or the relay link) starts over; other commands wait until the report is done."""
    who = await _who(update, context)
    text = _text_of(update.effective_message)
    words = text.split()
    if words and (words[0].split("@", 1)[0] == "/signal" or text == f"/start {RELAY_PAYLOAD}"):
        return await start_signal(update, context)
    await _say(
        update,
        who._("You are reporting someone. Answer the question above, or send /cancel to stop."),
    )
    return await ASK[_current_state(context)](update, context, who)


# --- answers to text steps ---------------------------------------------------------------------


async def on_who(update: Update, context: BrigadeContext) -> str | int:
    """Store who seems isolated."""
    who = await _who(update, context)
    text = _text_of(update.effective_message)
    if not text or len(text) > MAX_DESCRIPTION_LENGTH:
        await _say(
            update,
            who._(
                "Please describe the person in a few words ({max} characters at most).",
                max=MAX_DESCRIPTION_LENGTH,
            ),
        )
        return WHO
    _draft(context)["who"] = text
    return await ask_where(update, context, who)


async def on_where_text(update: Update, context: BrigadeContext) -> str | int:
    """A typed address or description; located when the geocoder knows it."""
    who = await _who(update, context)
    _ = who._
    message = update.effective_message
    if _is_back(message, _):
        return await ask_who(update, context, who)
    text = _text_of(message)
    if len(text) < 3 or len(text) > MAX_PLACE_LENGTH:
        await _say(
            update,
            _(
                "Please type an address or describe the place in a few words ({max} characters "
                "at most), or send a pin.",
                max=MAX_PLACE_LENGTH,
            ),
        )
        return WHERE
    draft = _draft(context)
    draft.update(place=text, lat=None, lon=None)
    try:
        place = await context.services.geocoder.search(text, language=_.language)
    except GeocoderUnavailable:
        place = None  # a description is enough: the referents read it
    if place is not None:
        draft.update(lat=place.latitude, lon=place.longitude)
    # A text message, so that it can take the location keyboard away.
    await _say(update, _("Noted: {place}", place=text), ReplyKeyboardRemove())
    return await ask_neighbourhood(update, context, who)


async def on_where_pin(update: Update, context: BrigadeContext) -> str | int:
    """A pin; its street named if the geocoder can."""
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
        place = None
    _draft(context).update(
        lat=latitude, lon=longitude, place=place.label[:MAX_PLACE_LENGTH] if place else None
    )
    await _say(update, who._("Location received."), ReplyKeyboardRemove())
    return await ask_neighbourhood(update, context, who)


async def on_worry(update: Update, context: BrigadeContext) -> str | int:
    """Store what worries the reporter."""
    who = await _who(update, context)
    message = update.effective_message
    text = several_lines(message.text or "") if message is not None else ""
    if not text or len(text) > MAX_WORRY_LENGTH:
        await _say(
            update,
            who._(
                "Please tell what worries you in one message ({max} characters at most).",
                max=MAX_WORRY_LENGTH,
            ),
        )
        return WORRY
    _draft(context)["worry"] = text
    return await ask_contact(update, context, who)


async def on_contact(update: Update, context: BrigadeContext) -> str | int:
    """Telegram only, a shared number, or a typed one."""
    who = await _who(update, context)
    _ = who._
    message = update.effective_message
    assert message is not None
    if _is_back(message, _):
        await _say(update, _("Back to the previous question."), ReplyKeyboardRemove())
        return await ask_worry(update, context, who)
    draft = _draft(context)
    if message.contact is not None:
        if message.contact.user_id != who.member.telegram_id:
            await _say(update, _("Please share your own number, with the button below."))
            return CONTACT
        draft["phone"] = message.contact.phone_number
    elif _text_of(message) == _(TELEGRAM_IS_ENOUGH):
        draft["phone"] = None
    elif PHONE_PATTERN.match(_text_of(message)):
        draft["phone"] = _text_of(message)
    else:
        await _say(
            update,
            _("That does not look like a phone number. Tap “Telegram is enough” or share it."),
        )
        return CONTACT
    await _say(update, _("Thank you."), ReplyKeyboardRemove())
    return await ask_confirm(update, context, who)


# --- answers to button steps -------------------------------------------------------------------


async def on_button(update: Update, context: BrigadeContext) -> str | int:
    """Route a report button to its step; buttons of earlier steps are answered as stale."""
    who = await _who(update, context)
    _ = who._
    query = update.callback_query
    assert query is not None
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not Action.SIGNAL:
        await query.answer(_(NO_LONGER_VALID))
        return _current_state(context)
    step, value = parsed.str_arg(0), parsed.str_arg(1)
    if step == "send" and (context.user_data is None or not context.user_data.get(DRAFT)):
        await query.answer(_("This report has already been sent."))
        return ConversationHandler.END
    state = _current_state(context)
    draft = _draft(context)

    async def go(ask: Ask) -> str | int:
        """Answer the tap, then ask the next step."""
        await query.answer()
        return await ask(update, context, who)

    if step == "cancel":
        return await cancel(update, context)
    if step == "back":
        return await go(ASK[_previous(state, draft)])
    if state == NEIGHBOURHOOD and step == "nb":
        if value == "none":
            draft.update(
                nb=None, nb_name=_nearest_name(draft, await context.services.neighbourhoods.all())
            )
            return await go(ask_worry)
        views = {view.id: view for view in await context.services.neighbourhoods.all()}
        if value.isdigit() and int(value) in views:
            draft.update(nb=int(value), nb_name=views[int(value)].name)
            return await go(ask_worry)
    if state == CONFIRM and step == "send":
        return await _send(update, context, who)
    await query.answer(_(NO_LONGER_VALID))
    return state


def _nearest_name(draft: dict[str, Any], views: list[NeighbourhoodView]) -> str | None:
    """The neighbourhood the service will choose for a located place (within twice its radius)."""
    lat, lon = draft.get("lat"), draft.get("lon")
    if lat is None or lon is None:
        return None
    best: tuple[float, str] | None = None
    for view in views:
        distance = distance_km(lat, lon, view.latitude, view.longitude)
        if distance <= view.radius_km * 2 and (best is None or distance < best[0]):
            best = (distance, view.name)
    return best[1] if best else None


async def _send(update: Update, context: BrigadeContext, who: Speaker) -> str | int:
    """Send once: the draft is taken away first, so that a second tap finds nothing."""
    _ = who._
    query = update.callback_query
    assert query is not None
    user_data = context.user_data
    assert user_data is not None
    draft = _drop_draft(context) or {}
    report = SignalDraft(
        description=str(draft.get("who") or ""),
        worry=str(draft.get("worry") or ""),
        place=draft.get("place"),
        latitude=draft.get("lat"),
        longitude=draft.get("lon"),
        neighbourhood_id=draft.get("nb"),
        reporter_phone=draft.get("phone"),
    )
    try:
        result = await signal_service(context).report(who.member.telegram_id, report)
    except Exception:
        user_data[DRAFT] = draft  # nothing was committed: Send can be tapped again
        raise
    if result is ReportRefusal.INVALID:
        user_data[DRAFT] = draft
        await query.answer(_("Some answers are missing. Let's check them."), show_alert=True)
        return await ask_who(update, context, who)
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    if result is ReportRefusal.TOO_MANY:
        await _say(
            update,
            _(
                "You have already sent several reports today. Thank you! For this one, please "
                "call the town's social services or a coordinator directly."
            ),
        )
        return ConversationHandler.END
    assert isinstance(result, Reported)
    await _say(update, _sent_text(result, _))
    return ConversationHandler.END


def _sent_text(result: Reported, _: Translator) -> str:
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
    return "\n".join(lines)


# --- the conversation --------------------------------------------------------------------------


def _tracking(callback: Any) -> Any:
    """Wrap a step handler so the draft remembers the state it returned (for re-asks and back)."""

    async def wrapper(update: Update, context: BrigadeContext) -> str | int:
        state = await callback(update, context)
        if isinstance(state, str) and context.user_data is not None and DRAFT in context.user_data:
            context.user_data[DRAFT]["_state"] = state
        return state  # type: ignore[no-any-return]

    wrapper.__doc__ = callback.__doc__
    return wrapper


def build_signal_conversation() -> ConversationHandler[BrigadeContext]:
    """/signal and the relay link, persistent across restarts."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    buttons = CallbackQueryHandler(_tracking(on_button), pattern=rf"^{Action.SIGNAL.value}:")
    anything_else: list[BaseHandler[Update, BrigadeContext, Any]] = [
        MessageHandler(private & ~filters.COMMAND, _tracking(reask)),
    ]
    states: dict[object, list[BaseHandler[Update, BrigadeContext, Any]]] = {
        WHO: [MessageHandler(text, _tracking(on_who))],
        WHERE: [
            MessageHandler(private & filters.LOCATION, _tracking(on_where_pin)),
            MessageHandler(text, _tracking(on_where_text)),
        ],
        WORRY: [MessageHandler(text, _tracking(on_worry))],
        CONTACT: [
            MessageHandler(private & filters.CONTACT, _tracking(on_contact)),
            MessageHandler(text, _tracking(on_contact)),
        ],
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
                CommandHandler("signal", _tracking(start_signal), filters=private),
                # The relay link: t.me/<bot>?start=relay (before the generic /start).
                CommandHandler(
                    "start",
                    _tracking(start_signal),
                    filters=private & filters.Regex(rf"^/start {RELAY_PAYLOAD}$"),
                ),
                CallbackQueryHandler(stale_button, pattern=rf"^{Action.SIGNAL.value}:"),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel),
                MessageHandler(private & filters.COMMAND, _tracking(_command_during_signal)),
            ],
            name="signal",
            persistent=True,
            allow_reentry=False,
        )


# --- cases: what referents and coordinators do with a report -----------------------------------

CASE_ANSWERS = {
    CaseOutcome.ALREADY_YOURS: N_("You already follow this case up."),
    CaseOutcome.TAKEN: N_("{name} already follows this case up."),
    CaseOutcome.CLOSED: N_("This case is closed."),
    CaseOutcome.NOT_ALLOWED: NOT_STAFF,
    CaseOutcome.NOT_FOUND: NO_LONGER_VALID,
}


def _viewer_buttons(
    view: CaseView, who: Speaker, _: Translator
) -> list[list[InlineKeyboardButton]]:
    """The case's buttons, without "Close" for a referent when someone else follows it up."""
    others = view.assignee_id is not None and view.assignee_id != who.member.id
    return case_buttons(view, _, may_close=not others or Role.COORDINATOR in who.member.roles)


async def _show_case(update: Update, view: CaseView, who: Speaker, note: str = "") -> None:
    """Refresh the tapped case message (HTML), with a note under it."""
    query = update.callback_query
    assert query is not None
    _ = who._
    rows = _viewer_buttons(view, who, _)
    text = case_text(view, _) + (("\n\n" + html.escape(note)) if note else "")
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(
            text, parse_mode="HTML", reply_markup=InlineKeyboardMarkup(rows) if rows else None
        )


async def on_case_button(update: Update, context: BrigadeContext) -> None:
    """I'll follow up / Close / the outcome chosen."""
    query = update.callback_query
    who = await speaker(update, context)
    if query is None or who is None:
        return
    _ = who._
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not Action.CASE:
        await query.answer(_(NO_LONGER_VALID))
        return
    verb, case_id = parsed.str_arg(0), parsed.int_arg(1)
    service = signal_service(context)
    telegram_id = who.member.telegram_id
    if verb == "assign":
        result = await service.assign(telegram_id, case_id)
        if result.outcome is CaseOutcome.DONE:
            await query.answer(_("It's yours: thank you for following it up."))
        else:
            await query.answer(
                _(CASE_ANSWERS[result.outcome], name=result.assignee or "—"),
                show_alert=result.outcome is CaseOutcome.NOT_ALLOWED,
            )
    elif verb == "close":
        view = await service.view(telegram_id, case_id)
        if isinstance(view, CaseOutcome):
            await query.answer(_(CASE_ANSWERS[view], name="—"), show_alert=True)
            return
        if view.status is SignalStatus.CLOSED:
            await query.answer(_(CASE_ANSWERS[CaseOutcome.CLOSED]))
        else:
            await query.answer()
            with contextlib.suppress(TelegramError):
                await query.edit_message_reply_markup(
                    InlineKeyboardMarkup(outcome_buttons(case_id, _))
                )
            return
    elif verb in OUTCOME_WORDS:
        result = await service.close(telegram_id, case_id, OUTCOME_WORDS[verb])
        if result.outcome is CaseOutcome.DONE:
            await query.answer(_("Case closed. Thank you!"))
        elif result.outcome is CaseOutcome.NOT_ALLOWED and result.assignee:
            await query.answer(
                _(
                    "{name} follows this case up: only they or a coordinator can close it.",
                    name=result.assignee,
                ),
                show_alert=True,
            )
        else:
            await query.answer(
                _(CASE_ANSWERS.get(result.outcome, NO_LONGER_VALID), name=result.assignee or "—")
            )
    else:
        await query.answer(_(NO_LONGER_VALID))
        return
    view = await service.view(telegram_id, case_id)
    if not isinstance(view, CaseOutcome):
        await _show_case(update, view, who)


async def cases_command(update: Update, context: BrigadeContext) -> None:
    """/cases: the reported cases not yet closed, each with its buttons."""
    who = await speaker(update, context)
    message = update.effective_message
    if who is None or message is None:
        return
    _ = who._
    views = await signal_service(context).open_cases(who.member.telegram_id)
    if isinstance(views, CaseOutcome):
        await message.reply_text(_(NOT_STAFF))
        return
    if not views:
        await message.reply_text(_("No reported case is waiting. 🎉"))
        return
    await message.reply_text(
        _.ngettext(
            "{count} case not yet closed, oldest first:",
            "{count} cases not yet closed, oldest first:",
            len(views),
        )
    )
    for view in views[:MAX_CASES_LISTED]:
        rows = _viewer_buttons(view, who, _)
        await message.reply_text(
            case_text(view, _),
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )
