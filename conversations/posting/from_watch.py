"""✏️ Edit first, on a watch call's request draft: /new opens at its preview with the draft's
answers (the person, their home, the need, as soon as possible, one volunteer), so that every
✏️ button of the preview works and ✅ Post the request posts as /new does."""

from __future__ import annotations

from bot.callbacks import Callback
from bot.domain.watch import DraftDecision
from bot.messages.watch_calls import draft_decided
from bot.services.outcomes import Outcome
from conversations.base import END, State
from conversations.places import Spot
from conversations.posting.draft import Beneficiary, PostingDraft, PostingTurn, Step
from handlers.buttons import query_of
from handlers.watch_calls import edit, refuse_draft


async def from_watch_draft(turn: PostingTurn, button: Callback) -> State:
    """✏️ Edit first: the draft decided (every other copy says who edits it), then /new's
    preview with its answers; the person's consent is the referent's, as ✅'s."""
    query = query_of(turn.update)
    message = query.message
    tapped = None if message is None else (message.chat.id, message.message_id)
    call_id = button.int_arg(1)
    watch = turn.services.watch
    result = await watch.decide_draft(turn.user_id, call_id, DraftDecision.EDIT, tapped=tapped)
    if isinstance(result, Outcome) or result.prefill is None:
        outcome = result if isinstance(result, Outcome) else Outcome.INVALID
        await refuse_draft(query, watch, call_id, outcome, turn._)
        turn.answered_elsewhere()
        return END
    await turn.answer()
    done, answers = result.done, result.prefill
    await edit(query, draft_decided(done.name, done.who, done.decision, turn._))
    home = None
    if answers.latitude is not None and answers.longitude is not None:
        home = Spot(answers.latitude, answers.longitude, answers.address, answers.area)
    turn.draft = PostingDraft(
        beneficiary=Beneficiary(
            id=answers.beneficiary_id,
            name=answers.name,
            phone=answers.phone,
            home=home,
            consent=True,
        ),
        skill_id=answers.skill_id,
        description=answers.description,
    )
    # Without a place on the map, the address is asked first (then the steps that follow it).
    return await turn.ask(Step.PREVIEW if home is not None else Step.B_PLACE)
