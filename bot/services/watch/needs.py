"""🙋 "reached, needs something": the request draft a caller's taps make for the person's referent.

The caller says what is needed in one more tap (a skill, or "something else / a worry"). A skill
makes a draft request, sent through the outbox to the person's referent (the coordinators when
the entry has none); a worry makes a concern notice for the referent and the coordinators. Each
copy of a draft is kept in its call's batch (`draft_batch`): the first decision (✅ posted,
✏️ being edited, ✖ not needed) edits them all, and a person's removal from the register edits
them to a text that names nobody. Shared by the watch service (the caller's taps, ✏️, ✖) and
the posting service (✅, in the transaction that posts the request).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role
from bot.domain.watch import CallOutcome, DraftDecision
from bot.i18n import Translator
from bot.messages.messenger import Messenger
from bot.messages.watch_calls import DraftDecided
from bot.services.outcomes import Outcome
from storage import audit
from storage import members as member_store
from storage.models import Beneficiary, Member, Neighbourhood
from storage.watch_models import WatchCall, WatchPerson
from storage.writes import changed


def draft_batch(call_id: int) -> str:
    """The outbox batch holding every copy of one call's request draft."""
    return f"watch-draft:{call_id}"


@dataclass(frozen=True)
class DraftOutcome:
    """Who decided what about a draft (the handler edits the tapped copy with it)."""

    name: str
    who: str
    decision: DraftDecision


@dataclass(frozen=True)
class DraftTaken:
    """A pending draft, claimed by its decider in the open transaction."""

    member: Member
    roles: frozenset[Role]
    call: WatchCall
    person: WatchPerson


@dataclass(frozen=True)
class DraftPrefill:
    """The request a draft becomes, as /new's answers: the person, where, what."""

    name: str
    phone: str | None
    address: str
    latitude: float | None
    longitude: float | None
    area: str
    skill_id: int
    description: str
    # One of the decider's own beneficiaries the register entry was made from (reused).
    beneficiary_id: int | None


async def check_draft(
    session: AsyncSession, telegram_id: int, call_id: int, *, to_post: bool
) -> DraftTaken | Outcome:
    """The presser (a coordinator, or the person's referent; a referent too when `to_post`:
    only referents post) and a draft still waiting for a decision.

    NOT_ALLOWED: neither; NOT_FOUND: no such draft, or the person left the register;
    ALREADY_DONE: someone decided first.
    """
    member = await member_store.get_by_telegram_id(session, telegram_id)
    call = await session.get(WatchCall, call_id)
    if member is None:
        return Outcome.NOT_ALLOWED
    if call is None or call.outcome is not CallOutcome.NEEDS or call.need_skill_id is None:
        return Outcome.NOT_FOUND
    person = await session.get(WatchPerson, call.person_id) if call.person_id else None
    if person is None or call.draft_decision is DraftDecision.WITHDRAWN:
        return Outcome.NOT_FOUND
    roles = await member_store.roles_of(session, member.id)
    is_referent = person.referent_id == member.id
    if Role.COORDINATOR not in roles and not (Role.REFERENT in roles and is_referent):
        return Outcome.NOT_ALLOWED
    if to_post and Role.REFERENT not in roles:
        return Outcome.NOT_ALLOWED
    if call.draft_decision is not None:
        return Outcome.ALREADY_DONE
    return DraftTaken(member, roles, call, person)


async def claim_draft(session: AsyncSession, taken: DraftTaken, decision: DraftDecision) -> bool:
    """Record the decision with a conditional UPDATE: False if someone decided first."""
    call = taken.call
    done = await changed(
        session,
        update(WatchCall)
        .where(WatchCall.id == call.id, WatchCall.draft_decision.is_(None))
        .values(draft_decision=decision, draft_decided_by_id=taken.member.id)
        .returning(WatchCall.id),
    )
    if done is None:
        return False
    await session.refresh(call)
    await audit.record(
        session,
        "watch_call",
        call.id,
        "draft",
        by=taken.member.id,
        detail={"decision": decision.value},
    )
    return True


async def prefill(session: AsyncSession, taken: DraftTaken, _: Translator) -> DraftPrefill:
    """The draft as /new's answers, in the decider's language. The register entry's linked
    beneficiary is reused when it is the decider's own (and still has a place)."""
    person, call = taken.person, taken.call
    assert call.need_skill_id is not None
    own = None
    if person.beneficiary_id is not None:
        row = await session.get(Beneficiary, person.beneficiary_id)
        if (
            row is not None
            and row.referent_id == taken.member.id
            and row.purged_at is None
            and row.latitude is not None
            and row.longitude is not None
        ):
            own = row.id
    area = ""
    if person.neighbourhood_id is not None:
        neighbourhood = await session.get(Neighbourhood, person.neighbourhood_id)
        area = neighbourhood.name if neighbourhood is not None else ""
    return DraftPrefill(
        name=person.name,
        phone=person.phone or None,
        address=person.address,
        latitude=person.latitude,
        longitude=person.longitude,
        area=area,
        skill_id=call.need_skill_id,
        description=_("Asked for during a watch call."),
        beneficiary_id=own,
    )


async def decider_of(session: AsyncSession, call: WatchCall) -> str:
    """The name of whoever decided about the call's draft."""
    member = (
        await session.get(Member, call.draft_decided_by_id) if call.draft_decided_by_id else None
    )
    return member.display_name if member is not None else "—"


async def edit_copies(
    session: AsyncSession,
    messenger: Messenger,
    call_id: int,
    done: DraftOutcome,
    tapped: tuple[int, int] | None,
) -> None:
    """Every copy of the call's draft but the tapped one, as it now stands."""
    await messenger.follow_copies(
        session,
        draft_batch(call_id),
        tapped,
        lambda message_id: DraftDecided(done.name, done.who, done.decision, message_id),
    )


async def withdraw_drafts(session: AsyncSession, messenger: Messenger, person_id: int) -> None:
    """The person leaves the register: their undecided drafts are withdrawn and every copy is
    edited to a text that names nobody (before the calls forget the person)."""
    ids = list(
        (
            await session.execute(
                update(WatchCall)
                .where(
                    WatchCall.person_id == person_id,
                    WatchCall.need_skill_id.is_not(None),
                    WatchCall.draft_decision.is_(None),
                )
                .values(draft_decision=DraftDecision.WITHDRAWN)
                .returning(WatchCall.id)
            )
        ).scalars()
    )
    gone = DraftOutcome("", "", DraftDecision.WITHDRAWN)
    for call_id in ids:
        await edit_copies(session, messenger, call_id, gone, None)
