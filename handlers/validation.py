"""Approve as is: a validator's tap on a request waiting for validation (the service checks who
may, and that nobody decided before; edit and decline are conversations/validation.py)."""

from __future__ import annotations

from telegram import Update

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.messages.validation import decision_answer
from handlers.buttons import query_of
from handlers.common import Speaker


async def on_approve(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Approve the request as it is: it is offered; every validator's card says so."""
    decision = await context.services.requests.approve_request(
        who.member.telegram_id, button.int_arg(1)
    )
    await query_of(update).answer(decision_answer(decision, who._, approved=True), show_alert=True)
