"""The directory (/members) and its buttons (`mb:`): a page of members, a member card.

`/members <fragment>` searches a name or a phone; `mb:list:<filter word>` pages and filters;
`mb:card:<member id>` shows a card with its actions (`st:`, conversations/standing.py). The
search button is a conversation of its own (conversations/standing.py, too). Every service call
checks the coordinator's role in the database and ends before these handlers talk to Telegram.
"""

from __future__ import annotations

import contextlib

from telegram import Message, Update
from telegram.error import BadRequest

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.messages import directory as screens
from bot.messages.base import Rendered, Town
from bot.services.directory import MAX_SEARCH_LENGTH, MemberFilter
from bot.services.outcomes import Outcome
from bot.text import one_line
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR, Speaker

PAGE_SIZE = 8


async def show(update: Update, screen: Rendered, *, edit: bool) -> None:
    """Edit the tapped message, or answer with a new one."""
    query = update.callback_query
    if edit and query is not None:
        with contextlib.suppress(BadRequest):  # "message is not modified": the same page again
            await query.edit_message_text(
                screen.text, reply_markup=screen.keyboard, parse_mode=screen.parse_mode
            )
        return
    message = update.effective_message
    if message is not None:
        await message.get_bot().send_message(
            message.chat.id, screen.text, reply_markup=screen.keyboard, parse_mode=screen.parse_mode
        )


async def listing_screen(
    context: BrigadeContext, who: Speaker, listing: screens.Listing, searched: str | None = None
) -> Rendered:
    """A page of the directory (or a search's results) as the coordinator reads it."""
    services = context.services
    wanted = MemberFilter(text=searched) if searched is not None else listing.wanted
    page = await services.directory.page(
        who.member.telegram_id,
        wanted,
        offset=listing.number * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    if isinstance(page, Outcome):
        return Rendered(who._(NOT_A_COORDINATOR))
    choices = await services.directory.choices()
    town = Town.of(services.settings)
    return screens.members_page(page, listing, choices, who._, town, searched=searched)


async def card_screen(
    context: BrigadeContext, who: Speaker, member_id: int, note: str = ""
) -> Rendered:
    """A member's card, with the actions it offers."""
    card = await context.services.directory.card(who.member.telegram_id, member_id)
    if card is Outcome.NOT_ALLOWED:
        return Rendered(who._(NOT_A_COORDINATOR))
    if isinstance(card, Outcome):
        return Rendered(who._("This member no longer exists."))
    return screens.member_card(card, who._, Town.of(context.services.settings), note)


async def members(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """/members [name or phone]: the brigade's members, or those matching a fragment."""
    searched = one_line(" ".join(context.args or []))[:MAX_SEARCH_LENGTH] or None
    screen = await listing_screen(context, who, screens.EVERYONE, searched)
    await show(update, screen, edit=False)


async def on_members_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """`mb:list:<filter word>` (a page, a filter changed) and `mb:card:<member id>`."""
    query = query_of(update)
    verb, value = button.str_arg(0), button.str_arg(1)
    if verb == "list" and (listing := screens.parse_filter_word(value)) is not None:
        await query.answer()
        await show(update, await listing_screen(context, who, listing), edit=True)
    elif verb == "card" and value.isdigit() and len(value) <= 12:
        await query.answer()
        await show(update, await card_screen(context, who, int(value)), edit=True)
    else:
        await query.answer(who._(NO_LONGER_VALID))
