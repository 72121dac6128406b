"""Everyone's own commitments: /mine (a referent's requests), /tasks (a volunteer's claims),
/nearby (open requests a volunteer may take now) and their buttons (`mi:`, `tk:`, `nb:`).

Each handler calls one RequestService method — which checks who asks, and the current state, in
the database, and has ended its transaction when it returns — then shows what
`bot.messages.commitments` renders, in the message tapped (edited) or as the command's answer.
Claims from /nearby use the offer buttons (`cl:`): the one claim path. The ✏️ buttons of a card
start the edit conversation (conversations/request_edit.py), registered before these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.i18n import Translator
from bot.messages import commitments as screens
from bot.messages.base import Rendered, Town
from bot.messages.claims import STEP_ANSWERS
from bot.services.outcomes import Outcome, StepOutcome
from bot.services.requests import Directions, MineVerb, RequestService, TaskVerb
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker

PAGE_SIZE = 5
P = TypeVar("P")
V = TypeVar("V", bound=StrEnum)


def _town(context: BrigadeContext) -> Town:
    return Town.of(context.services.settings)


async def _show(update: Update, screen: Rendered, *, edit: bool) -> None:
    """Edit the tapped message, or answer the command with a new one."""
    mode = ParseMode.HTML if screen.html else None
    query = update.callback_query
    if edit and query is not None:
        with contextlib.suppress(BadRequest):  # "message is not modified": the same again
            await query.edit_message_text(
                screen.text, reply_markup=screen.keyboard, parse_mode=mode
            )
        return
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            screen.text, reply_markup=screen.keyboard, parse_mode=mode
        )


@dataclass(frozen=True)
class _Listing(Generic[P]):
    """One of the three lists: the service method that looks a page up, what answers someone who
    has none (not a referent, not a volunteer), and how a page looks."""

    found: Callable[[RequestService], Callable[..., Awaitable[P | Outcome]]]
    refusal: str
    render: Callable[[P, int, Translator, Town], Rendered]


MINE = _Listing(lambda requests: requests.my_requests, screens.NOT_A_REFERENT, screens.mine_page)
TASKS = _Listing(lambda requests: requests.my_tasks, screens.NOT_A_VOLUNTEER, screens.tasks_page)
NEARBY = _Listing(lambda requests: requests.nearby, screens.NOT_A_VOLUNTEER, screens.nearby_page)


async def _page(
    context: BrigadeContext, who: Speaker, listing: _Listing[P], number: int
) -> Rendered:
    """Page `number` of one of the three lists, or why the caller has none."""
    found = listing.found(context.services.requests)
    page = await found(who.member.telegram_id, offset=number * PAGE_SIZE, limit=PAGE_SIZE)
    if isinstance(page, Outcome):
        return Rendered(who._(listing.refusal))
    return listing.render(page, number, who._, _town(context))


async def _list(
    update: Update, context: BrigadeContext, who: Speaker, listing: _Listing[P]
) -> None:
    """The command's answer: the first page, in a new message."""
    await _show(update, await _page(context, who, listing, 0), edit=False)


async def _turn_page(
    update: Update, context: BrigadeContext, who: Speaker, listing: _Listing[P], number: int
) -> None:
    """◀ / ▶: the page asked for (looked up again: it may have changed), in the message tapped."""
    await query_of(update).answer()
    await _show(update, await _page(context, who, listing, number), edit=True)


async def _card_tap(
    update: Update,
    context: BrigadeContext,
    who: Speaker,
    button: Callback,
    listing: _Listing[P],
    verbs: type[V],
    *,
    asked_first: str,
) -> tuple[V, int, bool] | None:
    """A button of a list's page or card: a page is shown here (None), an unknown verb answered
    (None); else the step, its target and whether it is the one asked first — that one only
    shows the card (SHOW), where the question is then asked."""
    verb, target = button.str_arg(0), button.int_arg(1)
    if verb == "page":
        await _turn_page(update, context, who, listing, target)
        return None
    asking = verb == asked_first
    try:
        step = verbs("show" if asking else verb)
    except ValueError:
        await query_of(update).answer(who._(NO_LONGER_VALID))
        return None
    return step, target, asking


# --- /mine -------------------------------------------------------------------------------------


async def mine(update: Update, context: BrigadeContext, who: Speaker, _message: Message) -> None:
    """/mine: the requests you posted, by state."""
    await _list(update, context, who, MINE)


async def on_mine_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """A button of /mine: a page, a card, cancel (asked first), then the step confirmed."""
    query, _ = query_of(update), who._
    tapped = await _card_tap(update, context, who, button, MINE, MineVerb, asked_first="cancel")
    if tapped is None:
        return
    step, target, asking = tapped
    answer = await context.services.requests.my_request(who.member.telegram_id, target, step)
    if answer.card is None:
        await query.answer(_(STEP_ANSWERS[answer.outcome]), show_alert=True)
        return
    if asking and answer.card.may_cancel:
        await query.answer()
        await _show(update, screens.mine_cancel_question(answer.card, _), edit=True)
        return
    outcome = StepOutcome.STALE if asking else answer.outcome
    note = screens.mine_step_note("cancelyes" if asking else step.value, outcome, _)
    await query.answer(note)
    await _show(update, screens.mine_card(answer.card, _, _town(context), note), edit=True)


# --- /tasks ------------------------------------------------------------------------------------


async def tasks(update: Update, context: BrigadeContext, who: Speaker, _message: Message) -> None:
    """/tasks: the requests you took, by state."""
    await _list(update, context, who, TASKS)


async def _directions(update: Update, context: BrigadeContext, who: Speaker, claim_id: int) -> None:
    """📍: the place as a map pin, to the claimer only, while the claim is active."""
    query, _ = query_of(update), who._
    place = await context.services.requests.directions(who.member.telegram_id, claim_id)
    if not isinstance(place, Directions):
        stale = place is StepOutcome.STALE
        await query.answer(_(screens.DIRECTIONS_STALE if stale else STEP_ANSWERS[place]))
        return
    await query.answer()
    # The tap gate keeps `tk:` buttons to private chats: this is the claimer's own chat.
    await context.bot.send_location(who.member.telegram_id, place.latitude, place.longitude)


async def on_task_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """A button of /tasks: a page, a card, Done, Release (asked first), Directions."""
    if button.str_arg(0) == "where":
        await _directions(update, context, who, button.int_arg(1))
        return
    tapped = await _card_tap(update, context, who, button, TASKS, TaskVerb, asked_first="release")
    if tapped is not None:
        step, claim_id, asking = tapped
        await task_step(update, context, who, claim_id, step, asking=asking)


async def task_step(
    update: Update,
    context: BrigadeContext,
    who: Speaker,
    claim_id: int,
    step: TaskVerb,
    *,
    asking: bool = False,
) -> StepOutcome:
    """Take a step on a /tasks card, then show it on the card (also the visit report's start)."""
    query, _ = query_of(update), who._
    answer = await context.services.requests.my_task(who.member.telegram_id, claim_id, step)
    if answer.card is None:
        await query.answer(_(STEP_ANSWERS[answer.outcome]), show_alert=True)
        return answer.outcome
    if asking and answer.card.active:
        await query.answer()
        await _show(update, screens.task_release_question(answer.card, _), edit=True)
        return StepOutcome.STALE
    outcome = StepOutcome.STALE if asking else answer.outcome
    verb = "release" if asking else step.value
    note = screens.task_step_note(verb, outcome, _)
    await query.answer(note)
    await _show(update, screens.task_card(answer.card, _, _town(context), note), edit=True)
    return outcome


# --- /nearby -----------------------------------------------------------------------------------


async def nearby(update: Update, context: BrigadeContext, who: Speaker, _message: Message) -> None:
    """/nearby: open requests you may take now, nearest first."""
    await _list(update, context, who, NEARBY)


async def on_nearby_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """A page of /nearby."""
    if button.str_arg(0) != "page":
        await query_of(update).answer(who._(NO_LONGER_VALID))
        return
    await _turn_page(update, context, who, NEARBY, button.int_arg(1))
