"""The one route every inline button takes: parse, identify, refuse a stale tap, check the role.

`tap(handler)` makes a PTB callback of a handler with this signature:

    async def on_x(update: Update, context: BrigadeContext, who: Speaker, button: Callback) -> R

Register it with the pattern of the buttons it serves:

    CallbackQueryHandler(tap(on_x, role=Role.COORDINATOR), pattern=callbacks.pattern(action, verb))

Before the handler runs, the route parses the callback data (bot/callbacks.py), identifies the
person once (`identify`: `handlers.common.speaker` by default, `known_speaker` where nothing may be
stored), answers data this version of the bot did not make with `stale` and stops, and answers
someone without `role` (when one is given) with `refusal`, as an alert, and stops. The handler
receives the parsed `Callback` (typed arguments), answers the tap itself, once, and returns what
PTB expects of it: None, or a conversation's next state. The route returns None wherever it
answered in the handler's stead (a conversation then stays where it was).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from telegram import CallbackQuery, Update

from bot import callbacks
from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.messages.base import button
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR, Identify, Speaker, may, speaker

R = TypeVar("R")

TapHandler = Callable[[Update, BrigadeContext, Speaker, Callback], Awaitable[R]]


def tap(
    handler: TapHandler[R],
    *,
    role: Role | None = None,
    refusal: str = NOT_A_COORDINATOR,
    stale: str = NO_LONGER_VALID,
    identify: Identify = speaker,
) -> Callable[[Update, BrigadeContext], Coroutine[Any, Any, R | None]]:
    """Wrap a button handler: see the module's docstring."""

    @functools.wraps(handler)
    async def route(update: Update, context: BrigadeContext) -> R | None:
        query = update.callback_query
        who = await identify(update, context) if query is not None else None
        if query is None or who is None:
            return None
        button = callbacks.parse(query.data)
        if button is None or not may(who, role):
            refused = button is not None
            await query.answer(who._(refusal if refused else stale), show_alert=refused)
            return None
        return await handler(update, context, who, button)

    return route


def query_of(update: Update) -> CallbackQuery:
    """The tap a button handler serves (the route calls handlers for taps only)."""
    assert update.callback_query is not None
    return update.callback_query


# A button from its label and callback arguments: the renderers' own, under the edge's name.
inline_button = button
