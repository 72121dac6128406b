"""✅ Post it, on the request draft a watch call's 🙋 made: the same posting as /new's, in the
transaction that records the decision (first decision wins: two coordinators tapping at once
post one request)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from bot.domain.watch import DraftDecision
from bot.messages.base import Reader
from bot.services.outcomes import Outcome
from bot.services.requests.drafts import BeneficiaryDetails, Posted, RequestDraft
from bot.services.requests.posting import Posting
from bot.services.watch.needs import (
    DraftOutcome,
    DraftPrefill,
    check_draft,
    claim_draft,
    edit_copies,
    prefill,
)
from storage.models import Beneficiary
from storage.watch_models import WatchCall


@dataclass(frozen=True)
class DraftPosted:
    """The draft became a request: who decided (the tapped copy's text) and its first wave."""

    done: DraftOutcome
    posted: Posted


def watch_request(answers: DraftPrefill) -> RequestDraft | None:
    """The request /new would post with these answers (as soon as possible, one volunteer, at
    the person's home); None when the register entry has no place (✏️ Edit first asks it).

    A person new to the poster is recorded as agreeing to be helped: ✅ says so in the draft,
    as /new's consent step does before any detail is kept.
    """
    if answers.latitude is None or answers.longitude is None:
        return None
    details = None
    if answers.beneficiary_id is None:
        details = BeneficiaryDetails(
            name=answers.name,
            phone=answers.phone,
            address=answers.address,
            latitude=answers.latitude,
            longitude=answers.longitude,
            access_notes=None,
            consent=True,
        )
    return RequestDraft(
        skill_id=answers.skill_id,
        description=answers.description,
        latitude=answers.latitude,
        longitude=answers.longitude,
        area_label=answers.area,
        beneficiary_id=answers.beneficiary_id,
        beneficiary=details,
    )


class WatchDrafts(Posting):
    """A referent posts a watch call's request draft in one tap."""

    async def post_watch_draft(
        self, telegram_id: int, call_id: int, *, tapped: tuple[int, int] | None = None
    ) -> DraftPosted | Outcome:
        """✅ Post it: the request posted as /new posts it, its first wave sent; every other
        copy of the draft says who posted it (`tapped`, the copy tapped, is the handler's).

        Refused as `check_draft` refuses (only referents post); INVALID: the person's place is
        unknown (✏️ Edit first asks for it).
        """
        now = self._clock()
        async with self._transaction() as session:
            found = await check_draft(session, telegram_id, call_id, to_post=True)
            if isinstance(found, Outcome):
                return found
            reader = Reader.of(found.member)
            assert reader is not None
            answers = await prefill(session, found, self._messenger.translator(reader))
            draft = watch_request(answers)
            if draft is None:
                return Outcome.INVALID
            if not await claim_draft(session, found, DraftDecision.POST):
                return Outcome.ALREADY_DONE
            if answers.beneficiary_id is not None:
                own = await session.get(Beneficiary, answers.beneficiary_id)
                if own is not None and own.consent_at is None:
                    own.consent_at = now  # ✅ says the person agreed, as /new's consent step
            posted = await self._post_in(session, found.member, draft, now)
            assert posted is not None  # the beneficiary is new, or the poster's own
            request_id = posted.request_id
            await session.execute(
                update(WatchCall).where(WatchCall.id == call_id).values(request_id=request_id)
            )
            done = DraftOutcome(found.person.name, found.member.display_name, DraftDecision.POST)
            await edit_copies(session, self._messenger, call_id, done, tapped)
            return DraftPosted(done, posted)
