"""The watch register (/register) and its buttons (`wg:`): pages, a record, its removal.

`wg:page:<n>` a page, `wg:card:<id>` a person's record (each reading is audited by the
service), `wg:remove:<id>` asks first in the card, `wg:removeyes:<id>` removes. ➕ Add and
✏️ Change are the conversation in conversations/register.py. Every service call checks, in the
database, that the person tapping is a coordinator or the person's referent.
"""

from __future__ import annotations

from telegram import Message, Update

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.messages import watch as screens
from bot.messages.base import Rendered
from bot.services.outcomes import Outcome
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker
from handlers.directory import show

PAGE_SIZE = 10


async def page_screen(context: BrigadeContext, who: Speaker, page: int) -> Rendered:
    """A page of the register as this referent or coordinator may see it."""
    found = await context.services.register.page(who.member.telegram_id, page, PAGE_SIZE)
    if isinstance(found, Outcome):
        return Rendered(who._(screens.NOT_REFERENT_OR_COORDINATOR))
    return screens.register_page(found, who._)


async def card_screen(
    context: BrigadeContext, who: Speaker, person_id: int, note: str = ""
) -> Rendered:
    """A person's record (the service writes the reading in the audit log)."""
    record = await context.services.register.record(who.member.telegram_id, person_id)
    if record is Outcome.NOT_ALLOWED:
        return Rendered(who._(screens.NOT_REFERENT_OR_COORDINATOR))
    if isinstance(record, Outcome):
        return Rendered(who._(screens.PERSON_GONE))
    return screens.record_card(record, who._, note)


async def register_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/register: the first page of the watch register."""
    await show(update, await page_screen(context, who, 0), edit=False)


async def on_register_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """`wg:page|card|remove|removeyes:<n>`: a page, a record, the removal asked, then done."""
    query = query_of(update)
    verb, value = button.str_arg(0), button.int_arg(1)
    services = context.services
    _ = who._
    if verb == "page":
        await query.answer()
        await show(update, await page_screen(context, who, value), edit=True)
    elif verb == "card":
        await query.answer()
        await show(update, await card_screen(context, who, value), edit=True)
    elif verb == "remove":
        record = await services.register.record(who.member.telegram_id, value)
        if isinstance(record, Outcome):
            await query.answer(_(_refusal(record)), show_alert=True)
            return
        await query.answer()
        await show(update, screens.removal_question(record, _), edit=True)
    elif verb == "removeyes":
        outcome = await services.register.remove(who.member.telegram_id, value)
        if outcome is not Outcome.DONE:
            await query.answer(_(_refusal(outcome)), show_alert=True)
            return
        await query.answer()
        await show(update, screens.removed(_), edit=True)
    else:
        await query.answer(_(NO_LONGER_VALID))


def _refusal(outcome: Outcome) -> str:
    """What a refused tap is answered (a message id)."""
    if outcome is Outcome.NOT_ALLOWED:
        return screens.NOT_REFERENT_OR_COORDINATOR
    return screens.PERSON_GONE
