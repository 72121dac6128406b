"""/mydata and /forget: anyone receives a copy of their data, or has it erased for good.

These handlers look the person up with `known_speaker` (registered so in handlers/registry.py)
instead of `speaker`: identifying would create a member row, and asking what is stored (or
erasing it) must not store anything new. A stranger is a guest: a profile whose id is None.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from telegram import (
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import TelegramError

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.services.members import MemberProfile
from bot.services.outcomes import Outcome
from bot.services.privacy import PrivacyService
from handlers.buttons import inline_button, query_of
from handlers.common import Speaker
from handlers.drafts import forget_in_memory

log = logging.getLogger(__name__)

EXPORT_FILENAME = "brigade-my-data.json"
# When /forget was asked, in user_data: only the person who asked, and lately, can confirm.
PENDING_FORGET = "forget_asked_at"
CONFIRMATION_TTL = timedelta(minutes=15)
ERASE, KEEP = "yes", "no"
STALE_CONFIRMATION = N_("This button is no longer valid. Send /forget to start again.")


def _privacy(context: BrigadeContext) -> PrivacyService:
    """The application's privacy use cases."""
    return context.services.privacy


async def my_data(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """Send everything Brigade stores about the person, as a JSON file."""
    _ = who._
    data: dict[str, Any] | None = await _privacy(context).export(who.member.telegram_id)
    if data is None:
        await message.reply_text(_("Brigade stores nothing about you."))
        return
    content = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await message.reply_document(
        document=content,
        filename=EXPORT_FILENAME,
        caption=_("Here is everything Brigade stores about you, as a JSON file."),
    )


def _forget_explanation(member: MemberProfile, _: Translator) -> str:
    """Exactly what /forget erases and what stays, for this member's roles."""
    erased = [
        _("• Your name, Telegram username and phone number."),
        _("• Your address, location, neighbourhood and distance."),
        _("• Your roles, skills, availability, language and settings."),
        _("• Your answers in progress."),
        _(
            "• What was written about you, such as the reason for a decision on your "
            "application, and your notes on the services you did."
        ),
    ]
    also = []
    if Role.COORDINATOR in member.roles:
        also.append(_("• The invitations you created that nobody used yet stop working."))
    if Role.VOLUNTEER in member.roles:
        also.append(
            _(
                "• The requests you have taken and not done yet are handed back, so that "
                "another volunteer can take them."
            )
        )
    kept = [
        _(
            "• The services you took part in (dates, status, time spent), for the town's "
            "statistics."
        ),
        _("• The history of what was done in the brigade, without your name or your words."),
    ]
    if Role.REFERENT in member.roles:
        kept.append(
            _(
                "• The requests you posted and the people you registered: they belong to the "
                "town's scheme and stay with the brigade."
            )
        )
    return "\n".join(
        [
            _("Erase your personal data from Brigade?"),
            "",
            _("Erased for good:"),
            *erased,
            "",
            *([_("Also:"), *also, ""] if also else []),
            _("What stays, with nothing linking it to you any more:"),
            *kept,
            "",
            _(
                "This cannot be undone. To keep a copy first, send /mydata. If you write to the "
                "bot again later, you will start as a new member."
            ),
        ]
    )


async def ask_forget(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """Explain what erasure does and ask for an explicit confirmation."""
    _, member = who._, who.member
    if context.user_data is None:
        return
    if member.id is None:
        await message.reply_text(_("Brigade stores nothing about you: there is nothing to erase."))
        return
    context.user_data[PENDING_FORGET] = context.services.clock().isoformat()
    await message.reply_text(
        _forget_explanation(member, _),
        reply_markup=InlineKeyboardMarkup(
            [
                [inline_button(_("🗑 Erase my data"), Action.FORGET, ERASE)],
                [inline_button(_("Keep my data"), Action.FORGET, KEEP)],
            ]
        ),
    )


def _is_fresh(asked_at: object, now: datetime) -> bool:
    """Whether a pending confirmation was asked recently enough to be acted on."""
    if not isinstance(asked_at, str):
        return False
    try:
        when = datetime.fromisoformat(asked_at)
    except ValueError:
        return False
    age = now - when
    return timedelta(0) <= age <= CONFIRMATION_TTL


async def _show(query: CallbackQuery, text: str) -> None:
    """Replace the question with the outcome; without a markup the buttons disappear."""
    try:
        await query.edit_message_text(text)
    except TelegramError as error:
        # The answer to the tap already said what happened; an old message may not be editable.
        log.debug("forget prompt not edited: %s", error)


async def on_forget_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Erase or keep the presser's data, if they asked for it themselves a moment ago."""
    query = query_of(update)
    if context.user_data is None:
        return
    user = query.from_user
    # The translator was resolved before erasing: afterwards nothing says which language it is.
    _ = who._
    choice = button.str_arg(0)
    # The tap acts on whoever pressed it; a forged or stale tap finds no pending confirmation.
    asked_at = context.user_data.pop(PENDING_FORGET, None)
    if (
        choice not in {ERASE, KEEP}
        or who.member.id is None
        or not _is_fresh(asked_at, context.services.clock())
    ):
        await query.answer(_(STALE_CONFIRMATION), show_alert=True)
        return
    if choice == KEEP:
        await query.answer()
        await _show(query, _("Nothing was erased: Brigade keeps your data."))
        return
    # Give back their places first, through the lifecycle: the referent is told, the copies are
    # offered again and the person's details are removed from their chat.
    requests = context.services.requests
    for claim_id in await requests.active_claims_of(user.id):
        await requests.release(user.id, claim_id)
    outcome = await _privacy(context).forget(user.id)
    forget_in_memory(context.application, user.id)
    await query.answer()
    if outcome is not Outcome.DONE:
        await _show(query, _("Brigade stores nothing about you any more."))
        return
    await _show(
        query,
        _(
            "Your personal data has been erased. If you write to the bot again, you will start "
            "as a new member."
        ),
    )
    try:
        # The personal command menu was chosen by role: a newcomer gets the default one.
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(user.id))
    except TelegramError as error:
        log.warning("could not remove a forgotten member's command menu: %s", error)
