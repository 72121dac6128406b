"""/announce: a coordinator writes to the volunteers (all of them, or one neighbourhood's).

Steps: the audience (buttons `an:to:all` / `an:to:<neighbourhood id>`), the text (at most 3500
characters), a preview exactly as volunteers will read it, then Send (`an:send:yes`), Rewrite
(`an:edit:text`), another audience (`an:edit:to`) or Cancel (`an:send:no`). Only coordinators get
through (the route checks the role at every step); commands sent mid-way go to their handlers,
/announce starts over. Sending ends the conversation, so that a second tap on Send finds nothing
to send: one announcement, never two.

After sending, "Refresh" (`an:count:<announcement id>`, outside the conversation: `on_refresh`)
counts the batch's outbox rows: how many were delivered so far.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ConversationHandler, filters

from bot import callbacks
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.messages.announcements import announcement_header
from bot.services.announcements import MAX_ANNOUNCEMENT_LENGTH, Announced, Audience, Delivery
from bot.services.outcomes import Outcome
from bot.text import several_lines
from conversations.base import END, PRIVATE, Conversation, State, Texts, Turn
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR, Speaker


class Step(StrEnum):
    """/announce's steps (stored between updates: keep the values)."""

    AUDIENCE = "an_audience"
    TEXT = "an_text"
    PREVIEW = "an_preview"


TEXT_EXPECTED = N_("Please send the announcement as a text message, or /cancel.")


@dataclass
class AnnounceDraft:
    """The audience (None: all volunteers) once chosen, and the text once written."""

    audience_chosen: bool = False
    neighbourhood_id: int | None = None
    text: str | None = None


ANNOUNCE = Conversation(
    "announce",
    Action.ANNOUNCE,
    AnnounceDraft,
    Texts(
        cancelled=N_("Cancelled: nothing was sent."),
        not_understood=N_("Please use the buttons above, or send /cancel to stop."),
        ended=(NO_LONGER_VALID, N_("Send /announce to write an announcement.")),
    ),
    role=Role.COORDINATOR,
    # "Refresh" (an:count) works after the conversation, through its own handler.
    owns_action=False,
    allow_reentry=True,
)
Turn_ = Turn[AnnounceDraft]


def audience_name(audience: Audience, _: Translator) -> str:
    """ "all volunteers" or "the volunteers of <neighbourhood>"."""
    if audience.neighbourhood_id is None:
        return _("all volunteers")
    return _("the volunteers of {name}", name=audience.name or "?")


async def _ask_audience(turn: Turn_, question: str) -> State:
    """Audience buttons, each with how many volunteers it reaches now."""
    _ = turn._
    audiences = await turn.services.announcements.audiences(turn.user_id)
    if isinstance(audiences, Outcome):
        await turn.say(_(NOT_A_COORDINATOR))
        return END
    rows = [
        [
            ANNOUNCE.button(
                _("All volunteers ({count})", count=a.volunteers)
                if a.neighbourhood_id is None
                else _("{name} ({count})", name=a.name or "?", count=a.volunteers),
                "to",
                "all" if a.neighbourhood_id is None else a.neighbourhood_id,
            )
        ]
        for a in audiences
    ]
    rows.append([ANNOUNCE.button(_("✖ Cancel"), "send", "no")])
    await turn.say(question, InlineKeyboardMarkup(rows))
    return Step.AUDIENCE


async def _ask_text(turn: Turn_, question: str) -> State:
    """Ask for the announcement's text."""
    await turn.say(turn._(question, limit=MAX_ANNOUNCEMENT_LENGTH))
    return Step.TEXT


async def _preview(turn: Turn_) -> State:
    """The announcement exactly as volunteers will read it (in the coordinator's language)."""
    _, draft = turn._, turn.draft
    service = turn.services.announcements
    audience = await service.audience(turn.user_id, draft.neighbourhood_id)
    if isinstance(audience, Outcome):
        await turn.say(_("This neighbourhood no longer exists. Send /announce to start again."))
        return END
    keyboard = InlineKeyboardMarkup(
        [
            [ANNOUNCE.button(_("📣 Send to {count}", count=audience.volunteers), "send", "yes")],
            [
                ANNOUNCE.button(_("✏️ Rewrite"), "edit", "text"),
                ANNOUNCE.button(_("👥 Audience"), "edit", "to"),
            ],
            [ANNOUNCE.button(_("✖ Cancel"), "send", "no")],
        ]
    )
    heading = _(
        "Preview — to {audience} ({count}):",
        audience=audience_name(audience, _),
        count=audience.volunteers,
    )
    header = announcement_header(_, turn.services.settings.town)
    await turn.say(f"{heading}\n\n{header}\n\n{draft.text or ''}", keyboard)
    return Step.PREVIEW


async def start(turn: Turn_) -> State:
    """/announce: coordinators choose who receives the announcement."""
    return await _ask_audience(
        turn,
        turn._(
            "Who should receive the announcement? (In brackets: the approved volunteers Brigade "
            "can write to.) /cancel to stop."
        ),
    )


async def on_audience(turn: Turn_, button: Callback) -> State:
    """Keep the audience; ask for the text (or show the preview again if there is one)."""
    _, word = turn._, button.str_arg(1)
    if word != "all" and not word.isdigit():
        return await turn.stale()
    neighbourhood_id = None if word == "all" else int(word)
    audience = await turn.services.announcements.audience(turn.user_id, neighbourhood_id)
    if isinstance(audience, Outcome):
        await turn.answer(_("This neighbourhood no longer exists."), alert=True)
        return None
    if audience.volunteers == 0:
        await turn.answer(_("Nobody to write to in this audience yet."), alert=True)
        return None
    await turn.answer()
    turn.draft.audience_chosen, turn.draft.neighbourhood_id = True, neighbourhood_id
    query = turn.update.callback_query
    assert query is not None
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            _(
                "To: {audience} ({count}).",
                audience=audience_name(audience, _),
                count=audience.volunteers,
            )
        )
    if turn.draft.text is not None:
        return await _preview(turn)
    return await _ask_text(
        turn,
        N_(
            "Now send the text of the announcement, in one message of at most {limit} "
            "characters. /cancel to stop."
        ),
    )


async def on_text(turn: Turn_) -> State:
    """Keep the text if it is short enough; show the preview."""
    _ = turn._
    text = several_lines(turn.message.text or "")
    if len(text) > MAX_ANNOUNCEMENT_LENGTH:
        await turn.say(
            _(
                "This text is too long ({length}/{limit} characters). Please send a shorter one.",
                length=len(text),
                limit=MAX_ANNOUNCEMENT_LENGTH,
            )
        )
        return None
    if not text:
        return await not_text(turn)
    turn.draft.text = text
    return await _preview(turn)


async def not_text(turn: Turn_) -> State:
    """Something other than text where the announcement's text is expected."""
    await turn.say(turn._(TEXT_EXPECTED))
    return None


async def rewrite(turn: Turn_, button: Callback) -> State:
    """✏️ Rewrite: the text again."""
    await turn.drop_buttons()
    return await _ask_text(turn, N_("Send the new text (at most {limit} characters)."))


async def change_audience(turn: Turn_, button: Callback) -> State:
    """👥 Audience: another one."""
    await turn.drop_buttons()
    return await _ask_audience(turn, turn._("Who should receive the announcement?"))


async def cancel(turn: Turn_, button: Callback) -> State:
    """✖ Cancel: nothing is sent."""
    return await turn.cancel()


async def on_send(turn: Turn_, button: Callback) -> State:
    """📣 Send: queued for every recipient."""
    _, draft = turn._, turn.draft
    if not draft.audience_chosen or draft.text is None:
        await turn.answer(_("This announcement was already sent or cancelled."))
        return END
    # Nothing is committed if this raises: the answers stay, Send can be tapped again.
    result = await turn.services.announcements.send(
        turn.user_id, draft.neighbourhood_id, draft.text
    )
    await turn.answer()
    await turn.drop_buttons()
    if not isinstance(result, Announced):
        texts = {
            Outcome.NOT_ALLOWED: _(NOT_A_COORDINATOR),
            Outcome.NOT_FOUND: _("This neighbourhood no longer exists. Nothing was sent."),
        }
        await turn.say(
            texts.get(result, _("The announcement could not be sent. Nothing was sent."))
        )
        return END
    await turn.say(
        _.ngettext(
            "📣 Queued for {count} volunteer. They receive it over the next minutes.",
            "📣 Queued for {count} volunteers. They receive it over the next minutes.",
            result.recipients,
        ),
        _refresh_keyboard(result.announcement_id, _),
    )
    return END


def _refresh_keyboard(announcement_id: int, _: Translator) -> InlineKeyboardMarkup:
    data = callbacks.encode(Action.ANNOUNCE, "count", str(announcement_id))
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("🔄 Refresh"), callback_data=data)]])


def delivery_text(announcement_id: int, delivery: Delivery, _: Translator) -> str:
    """How far an announcement went."""
    text = _(
        "📣 Announcement #{id}: delivered: {sent}/{total} · waiting: {pending}.",
        id=announcement_id,
        sent=delivery.sent,
        total=delivery.total,
        pending=delivery.pending,
    )
    undelivered = delivery.failed + delivery.skipped
    if undelivered:
        text += "\n" + _(
            "Unreachable: {count} (they blocked the bot or left Telegram).",
            count=undelivered,
        )
    return text


async def on_refresh(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """🔄 Refresh: how far the announcement went (coordinators: see the registry)."""
    query = query_of(update)
    _, word = who._, button.str_arg(1)
    delivery = (
        await context.services.announcements.delivery(who.member.telegram_id, int(word))
        if word.isdigit()
        else Outcome.NOT_FOUND
    )
    if isinstance(delivery, Outcome):
        await query.answer(_(NO_LONGER_VALID))
        return
    await query.answer()
    with contextlib.suppress(BadRequest):  # unchanged counts: "message is not modified"
        await query.edit_message_text(
            delivery_text(int(word), delivery, _), reply_markup=_refresh_keyboard(int(word), _)
        )


def build_announce_conversation() -> ConversationHandler[BrigadeContext]:
    """/announce, persistent across restarts."""
    audience = ANNOUNCE.on("to", on_audience)
    # ✖ under the audience buttons and the preview.
    cancelled = ANNOUNCE.on("send", cancel, values=["no"])
    return ANNOUNCE.build(
        entry_points=[ANNOUNCE.start_command("announce", start)],
        states={
            Step.AUDIENCE: [audience, cancelled],
            Step.TEXT: [
                ANNOUNCE.text(on_text),
                audience,
                cancelled,
                ANNOUNCE.message(PRIVATE & ~filters.COMMAND, not_text),
            ],
            Step.PREVIEW: [
                ANNOUNCE.on("send", on_send, values=["yes"]),
                ANNOUNCE.on("edit", rewrite, values=["text"]),
                ANNOUNCE.on("edit", change_audience, values=["to"]),
                audience,
                cancelled,
            ],
        },
    )
