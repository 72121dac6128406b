"""A coordinator acts on a member card, and searches the directory.

Standing (`st:`): ⛔ Suspend, ✅ Reinstate or "Withdraw the … role" on a card asks the reason
(a text, or /skip), then the card itself becomes the question with the reason — ✅ Yes / ✖ No —
and Yes acts (bot/services/standing.py) and shows the card as it now stands, with who did it.
No, ✖ or /cancel change nothing and give the card back.

Search (`mb:search`): "🔎 Search" asks for a part of a name or a phone, then lists who matches.

Both persistent and per person (the card may be in any private chat of the coordinator).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram.error import TelegramError
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_
from bot.messages import directory as screens
from bot.messages.base import Rendered, Town
from bot.services.directory import MAX_SEARCH_LENGTH
from bot.services.outcomes import Outcome
from bot.services.standing import Standing, StandingResult
from bot.text import one_line, several_lines
from conversations.base import END, Conversation, State, Texts, Turn
from handlers.directory import card_screen, listing_screen

log = logging.getLogger(__name__)

REASON, CONFIRM, QUERY = "reason", "confirm", "query"
MAX_REASON_LENGTH = 500


@dataclass
class StandingDraft:
    """The member acted on, the action (a verb of the card), the reason, the card tapped."""

    member_id: int = 0
    verb: str = ""
    reason: str | None = None
    card: tuple[int, int] | None = None


STANDING = Conversation(
    "standing",
    Action.STANDING,
    StandingDraft,
    Texts(
        cancelled=N_("Nothing changed."),
        not_understood=N_("Please write the reason in a text message, or send /skip or /cancel."),
    ),
    role=Role.COORDINATOR,
    per_chat=False,
    allow_reentry=True,
)
Turn_ = Turn[StandingDraft]


async def _edit_card(turn: Turn_, screen: Rendered) -> None:
    """Show `screen` in place of the card tapped."""
    card = turn.draft.card
    if card is None:
        await turn.say(screen.text, screen.keyboard, html=screen.html)
        return
    try:
        await turn.context.bot.edit_message_text(
            screen.text,
            chat_id=card[0],
            message_id=card[1],
            reply_markup=screen.keyboard,
            parse_mode=screen.parse_mode,
        )
    except TelegramError as error:  # an old card, or "not modified": the answer says it all
        log.debug("card not edited: %s", error)


async def on_action(turn: Turn_, button: Callback) -> State:
    """An action on a card: ask for its reason, unless the card no longer offers it."""
    _, verb, member_id = turn._, button.str_arg(0), button.int_arg(1)
    card = await turn.services.directory.card(turn.user_id, member_id)
    if isinstance(card, Outcome) or verb not in screens.card_actions(card):
        await turn.answer(_("This no longer applies to this member."))
        return END
    message = turn.update.effective_message
    turn.draft = StandingDraft(
        member_id, verb, None, (message.chat.id, message.message_id) if message else None
    )
    await turn.answer()
    await turn.say(_(screens.STANDING_WORDS[verb].ask_reason, name=card.display_name))
    return REASON


async def on_reason(turn: Turn_) -> State:
    """The reason typed: the card becomes the question."""
    reason = several_lines(turn.message.text or "")[:MAX_REASON_LENGTH]
    return await _confirm(turn, reason or None)


async def on_skip(turn: Turn_) -> State:
    """/skip: no reason."""
    return await _confirm(turn, None)


async def _confirm(turn: Turn_, reason: str | None) -> State:
    draft = turn.draft
    card = await turn.services.directory.card(turn.user_id, draft.member_id)
    if isinstance(card, Outcome) or draft.verb not in screens.card_actions(card):
        await turn.say(turn._("This no longer applies to this member."))
        return END
    draft.reason = reason
    town = Town.of(turn.services.settings)
    screen = screens.confirmation(draft.verb, card, reason, turn._, town)
    if draft.card is None:
        await turn.say(screen.text, screen.keyboard, html=True)
    else:
        await _edit_card(turn, screen)
        await turn.say(turn._("Please confirm on the card above."))
    return CONFIRM


async def on_yes(turn: Turn_, button: Callback) -> State:
    """✅ Yes: act, then show the card as it now stands."""
    draft, _ = turn.draft, turn._
    if button.int_arg(1) != draft.member_id:
        return await turn.stale()
    standing = turn.services.standing
    if draft.verb == screens.SUSPEND:
        result = await standing.suspend(turn.user_id, draft.member_id, draft.reason)
    elif draft.verb == screens.REINSTATE:
        result = await standing.reinstate(turn.user_id, draft.member_id, draft.reason)
    else:
        role = Role.REFERENT if draft.verb == screens.UNREF else Role.COORDINATOR
        result = await standing.revoke(turn.user_id, draft.member_id, role, draft.reason)
    await turn.answer(_answer(result, turn))
    note = (
        _(screens.STANDING_WORDS[draft.verb].done, name=turn.who.member.display_name)
        if result.outcome is Standing.DONE
        else _answer(result, turn)
    )
    await _edit_card(turn, await card_screen(turn.context, turn.who, draft.member_id, note))
    return END


def _answer(result: StandingResult, turn: Turn_) -> str:
    if result.outcome is Standing.DONE:
        return turn._("Done.")
    if result.outcome is Standing.NOT_ALLOWED:
        return turn._(STANDING.refusal)
    return turn._(screens.ANSWERS[result.outcome])


async def on_no(turn: Turn_, button: Callback) -> State:
    """✖ No: nothing changes, the card comes back."""
    await turn.answer(turn._("Nothing changed."))
    await _edit_card(turn, await card_screen(turn.context, turn.who, turn.draft.member_id))
    return END


def build_standing_conversation() -> ConversationHandler[BrigadeContext]:
    """A card's action, its reason, its confirmation; persisted across restarts."""
    return STANDING.build(
        entry_points=[STANDING.start_tap(on_action, verb=verb) for verb in screens.STANDING_WORDS],
        states={
            REASON: [STANDING.command("skip", on_skip), STANDING.text(on_reason)],
            CONFIRM: [STANDING.on("yes", on_yes), STANDING.on("no", on_no)],
        },
    )


# --- searching the directory -------------------------------------------------------------------


@dataclass
class SearchDraft:
    """Nothing to keep: the text typed is the search."""


SEARCH = Conversation(
    "member_search",
    Action.MEMBERS,
    SearchDraft,
    Texts(
        cancelled=N_("Search cancelled."),
        not_understood=N_("Please send a part of a name or a phone number as text, or /cancel."),
    ),
    role=Role.COORDINATOR,
    # The list's pages and cards are buttons of their own (handlers/directory.py).
    owns_action=False,
    per_chat=False,
    allow_reentry=True,
)


async def on_search(turn: Turn[SearchDraft], button: Callback) -> State:
    """🔎 Search: ask for the fragment."""
    await turn.answer()
    await turn.say(
        turn._("Send a part of the name or of the phone number of the member you are looking for.")
    )
    return QUERY


async def on_query(turn: Turn[SearchDraft]) -> State:
    """The fragment typed: who matches."""
    text = one_line(turn.message.text or "")[:MAX_SEARCH_LENGTH]
    if not text:
        return None
    screen = await listing_screen(turn.context, turn.who, screens.EVERYONE, text)
    await turn.say(screen.text, screen.keyboard, html=screen.html)
    return END


def build_search_conversation() -> ConversationHandler[BrigadeContext]:
    """🔎 Search, then the fragment."""
    return SEARCH.build(
        entry_points=[SEARCH.start_tap(on_search, verb="search")],
        states={QUERY: [SEARCH.text(on_query)]},
    )
