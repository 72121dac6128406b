"""/announce: a coordinator writes to the volunteers (all of them, or one neighbourhood's).

Steps: the audience (buttons `an:to:all` / `an:to:<neighbourhood id>`), the text (at most 3500
characters), a preview exactly as volunteers will read it, then Send (`an:send:yes`), Rewrite
(`an:edit:text`) or Cancel (`an:send:no`). The answers live in `user_data["announce"]` and the
step in the persistent conversation state. Sending pops the draft *before* calling the service,
so a second tap on Send finds nothing to send: one announcement, never two.

After sending, "Refresh" (`an:count:<announcement id>`, handled outside the conversation by
`on_announce_button`) counts the batch's outbox rows: how many were delivered so far.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
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
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.messages.announcements import announcement_header
from bot.services.announcements import (
    MAX_ANNOUNCEMENT_LENGTH,
    Announced,
    AnnouncementService,
    Audience,
    Delivery,
)
from bot.services.outcomes import Outcome
from bot.text import several_lines
from handlers.common import Speaker, speaker
from handlers.vetting import NOT_A_COORDINATOR

DRAFT = "announce"
# Conversation states: strings, because they are stored in the database between updates.
AUDIENCE, TEXT, PREVIEW = "an_audience", "an_text", "an_preview"
NO_LONGER_VALID = N_("This button is no longer valid.")


def announcement_service(context: BrigadeContext) -> AnnouncementService:
    """The application's AnnouncementService."""
    return context.services.announcements


def _draft(context: BrigadeContext) -> dict[str, Any]:
    assert context.user_data is not None
    draft = context.user_data.setdefault(DRAFT, {})
    assert isinstance(draft, dict)
    return draft


def _drop_draft(context: BrigadeContext) -> dict[str, Any] | None:
    if context.user_data is None:
        return None
    draft = context.user_data.pop(DRAFT, None)
    return draft if isinstance(draft, dict) else None


async def _coordinator(update: Update, context: BrigadeContext) -> Speaker | None:
    """The speaker if they are a coordinator; otherwise answer politely and return None."""
    who = await speaker(update, context)
    if who is None:
        return None
    if Role.COORDINATOR in who.member.roles:
        return who
    if update.callback_query is not None:
        await update.callback_query.answer(who._(NOT_A_COORDINATOR), show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(who._(NOT_A_COORDINATOR))
    return None


async def _say(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    message = update.effective_message
    assert message is not None
    await message.get_bot().send_message(message.chat.id, text, reply_markup=markup)


def _button(text: str, *args: int | str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=callbacks.encode(Action.ANNOUNCE, *args))


def audience_name(audience: Audience, _: Translator) -> str:
    """ "all volunteers" or "the volunteers of <neighbourhood>"."""
    if audience.neighbourhood_id is None:
        return _("all volunteers")
    return _("the volunteers of {name}", name=audience.name or "?")


def _cancel_row(_: Translator) -> list[InlineKeyboardButton]:
    return [_button(_("✖ Cancel"), "send", "no")]


async def start(update: Update, context: BrigadeContext) -> str | int:
    """/announce: coordinators choose who receives the announcement."""
    who = await _coordinator(update, context)
    if who is None:
        return ConversationHandler.END
    _drop_draft(context)
    _draft(context)
    return await _ask_audience(
        update,
        context,
        who,
        who._(
            "Who should receive the announcement? (In brackets: the approved volunteers Brigade "
            "can write to.) /cancel to stop."
        ),
    )


async def on_audience(update: Update, context: BrigadeContext) -> str | int:
    """Keep the audience; ask for the text (or show the preview again if there is one)."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return ConversationHandler.END
    _ = who._
    parsed = callbacks.parse(query.data)
    word = parsed.str_arg(1) if parsed is not None and parsed.action is Action.ANNOUNCE else ""
    if word != "all" and not word.isdigit():
        await query.answer(_(NO_LONGER_VALID))
        return AUDIENCE
    neighbourhood_id = None if word == "all" else int(word)
    audience = await announcement_service(context).audience(
        who.member.telegram_id, neighbourhood_id
    )
    if isinstance(audience, Outcome):
        await query.answer(_("This neighbourhood no longer exists."), show_alert=True)
        return AUDIENCE
    if audience.volunteers == 0:
        await query.answer(_("Nobody to write to in this audience yet."), show_alert=True)
        return AUDIENCE
    await query.answer()
    draft = _draft(context)
    draft["to"] = neighbourhood_id
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            _(
                "To: {audience} ({count}).",
                audience=audience_name(audience, _),
                count=audience.volunteers,
            )
        )
    if isinstance(draft.get("text"), str):
        return await _preview(update, context, who)
    await _say(
        update,
        _(
            "Now send the text of the announcement, in one message of at most {limit} "
            "characters. /cancel to stop.",
            limit=MAX_ANNOUNCEMENT_LENGTH,
        ),
    )
    return TEXT


async def on_text(update: Update, context: BrigadeContext) -> str | int:
    """Keep the text if it is short enough; show the preview."""
    who = await _coordinator(update, context)
    message = update.effective_message
    if who is None or message is None:
        return ConversationHandler.END
    _ = who._
    text = several_lines(message.text or "")
    if len(text) > MAX_ANNOUNCEMENT_LENGTH:
        await _say(
            update,
            _(
                "This text is {length} characters long; the limit is {limit}. Please send a "
                "shorter one.",
                length=len(text),
                limit=MAX_ANNOUNCEMENT_LENGTH,
            ),
        )
        return TEXT
    if not text:
        await _say(update, _("Please send the announcement as a text message, or /cancel."))
        return TEXT
    _draft(context)["text"] = text
    return await _preview(update, context, who)


async def _preview(update: Update, context: BrigadeContext, who: Speaker) -> str | int:
    """The announcement exactly as volunteers will read it (in the coordinator's language)."""
    _ = who._
    draft = _draft(context)
    service = announcement_service(context)
    audience = await service.audience(who.member.telegram_id, draft.get("to"))
    if isinstance(audience, Outcome):
        draft.pop("to", None)
        await _say(update, _("This neighbourhood no longer exists. Send /announce to start again."))
        _drop_draft(context)
        return ConversationHandler.END
    text = str(draft.get("text", ""))
    keyboard = InlineKeyboardMarkup(
        [
            [_button(_("📣 Send to {count}", count=audience.volunteers), "send", "yes")],
            [_button(_("✏️ Rewrite"), "edit", "text"), _button(_("👥 Audience"), "edit", "to")],
            _cancel_row(_),
        ]
    )
    await _say(
        update,
        _(
            "Preview — to {audience} ({count}):",
            audience=audience_name(audience, _),
            count=audience.volunteers,
        )
        + "\n\n"
        + announcement_header(_, context.services.settings.town_name)
        + "\n\n"
        + text,
        keyboard,
    )
    return PREVIEW


async def on_edit(update: Update, context: BrigadeContext) -> str | int:
    """Rewrite the text, or choose another audience."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return ConversationHandler.END
    _ = who._
    parsed = callbacks.parse(query.data)
    what = parsed.str_arg(1) if parsed is not None and parsed.action is Action.ANNOUNCE else ""
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)
    if what == "to":
        return await _ask_audience(update, context, who, _("Who should receive the announcement?"))
    await _say(
        update,
        _("Send the new text (at most {limit} characters).", limit=MAX_ANNOUNCEMENT_LENGTH),
    )
    return TEXT


async def _ask_audience(
    update: Update, context: BrigadeContext, who: Speaker, question: str
) -> str | int:
    """Audience buttons, each with how many volunteers it reaches now."""
    _ = who._
    audiences = await announcement_service(context).audiences(who.member.telegram_id)
    if isinstance(audiences, Outcome):
        await _say(update, _(NOT_A_COORDINATOR))
        _drop_draft(context)
        return ConversationHandler.END
    rows = [
        [
            _button(
                _("All volunteers ({count})", count=a.volunteers)
                if a.neighbourhood_id is None
                else _("{name} ({count})", name=a.name or "?", count=a.volunteers),
                "to",
                "all" if a.neighbourhood_id is None else str(a.neighbourhood_id),
            )
        ]
        for a in audiences
    ]
    rows.append(_cancel_row(_))
    await _say(update, question, InlineKeyboardMarkup(rows))
    return AUDIENCE


async def on_send(update: Update, context: BrigadeContext) -> str | int:
    """Send (queue for every recipient) or cancel."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return ConversationHandler.END
    _ = who._
    parsed = callbacks.parse(query.data)
    verb = parsed.str_arg(1) if parsed is not None and parsed.action is Action.ANNOUNCE else ""
    if verb != "yes":
        return await cancel(update, context)
    draft = _drop_draft(context)  # before sending: a second tap finds nothing
    if not draft or not isinstance(draft.get("text"), str) or "to" not in draft:
        await query.answer(_("This announcement was already sent or cancelled."))
        return ConversationHandler.END
    result = await announcement_service(context).send(
        who.member.telegram_id, draft["to"], draft["text"]
    )
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)
    if not isinstance(result, Announced):
        texts = {
            Outcome.NOT_ALLOWED: _(NOT_A_COORDINATOR),
            Outcome.NOT_FOUND: _("This neighbourhood no longer exists. Nothing was sent."),
        }
        await _say(
            update, texts.get(result, _("The announcement could not be sent. Nothing was sent."))
        )
        return ConversationHandler.END
    await _say(
        update,
        _(
            "📣 Queued for {count} volunteer(s). They receive it over the next minutes.",
            count=result.recipients,
        ),
        _refresh_keyboard(result.announcement_id, _),
    )
    return ConversationHandler.END


def _refresh_keyboard(announcement_id: int, _: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(_("🔄 Refresh"), "count", str(announcement_id))]])


def delivery_text(announcement_id: int, delivery: Delivery, _: Translator) -> str:
    """How far an announcement went."""
    text = _(
        "📣 Announcement #{id}: delivered to {sent} of {total} volunteer(s); {pending} waiting.",
        id=announcement_id,
        sent=delivery.sent,
        total=delivery.total,
        pending=delivery.pending,
    )
    undelivered = delivery.failed + delivery.skipped
    if undelivered:
        text += "\n" + _(
            "{count} could not be reached (they blocked the bot or left Telegram).",
            count=undelivered,
        )
    return text


async def cancel(update: Update, context: BrigadeContext) -> int:
    """Stop: nothing is sent, nothing is kept."""
    who = await speaker(update, context)
    _drop_draft(context)
    query = update.callback_query
    if query is not None:
        await query.answer()
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(None)
    if who is not None:
        await _say(update, who._("Cancelled: nothing was sent."))
    return ConversationHandler.END


async def reask(update: Update, context: BrigadeContext) -> str | None:
    """Unexpected input: say what is expected, stay in the same step."""
    who = await speaker(update, context)
    if who is None:
        return None
    await _say(
        update,
        who._("Please use the buttons above, or send /cancel to stop."),
    )
    return None


async def reask_text(update: Update, context: BrigadeContext) -> str:
    """Something other than text where the announcement's text is expected."""
    who = await speaker(update, context)
    if who is not None:
        await _say(update, who._("Please send the announcement as a text message, or /cancel."))
    return TEXT


async def on_announce_button(update: Update, context: BrigadeContext) -> None:
    """An `an:` button outside the conversation: Refresh a delivery count, or a stale step."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return
    _ = who._
    parsed = callbacks.parse(query.data)
    if (
        parsed is None
        or parsed.action is not Action.ANNOUNCE
        or parsed.str_arg(0) != "count"
        or not parsed.str_arg(1).isdigit()
    ):
        await query.answer(_(NO_LONGER_VALID) + " " + _("Send /announce to write an announcement."))
        return
    announcement_id = int(parsed.str_arg(1))
    delivery = await announcement_service(context).delivery(who.member.telegram_id, announcement_id)
    if isinstance(delivery, Outcome):
        await query.answer(_(NO_LONGER_VALID))
        return
    await query.answer()
    with contextlib.suppress(BadRequest):  # unchanged counts: "message is not modified"
        await query.edit_message_text(
            delivery_text(announcement_id, delivery, _),
            reply_markup=_refresh_keyboard(announcement_id, _),
        )


def build_announce_conversation() -> ConversationHandler[BrigadeContext]:
    """/announce, persistent across restarts."""
    private = filters.ChatType.PRIVATE
    prefix = Action.ANNOUNCE.value
    Handler = BaseHandler[Update, BrigadeContext, Any]
    audience: Handler = CallbackQueryHandler(on_audience, pattern=rf"^{prefix}:to:")
    edit: Handler = CallbackQueryHandler(on_edit, pattern=rf"^{prefix}:edit:")
    send: Handler = CallbackQueryHandler(on_send, pattern=rf"^{prefix}:send:yes$")
    other_messages: Handler = MessageHandler(private & ~filters.COMMAND, reask)
    with warnings.catch_warnings():
        # per_message=False with button steps: intended, the state is per person.
        warnings.simplefilter("ignore")
        return ConversationHandler(
            entry_points=[CommandHandler("announce", start, filters=private)],
            states={
                AUDIENCE: [audience, other_messages],
                TEXT: [
                    MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_text),
                    audience,
                    MessageHandler(private & ~filters.COMMAND, reask_text),
                ],
                PREVIEW: [send, edit, audience, other_messages],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=rf"^{prefix}:send:no$"),
            ],
            name="announce",
            persistent=True,
            allow_reentry=True,
        )
