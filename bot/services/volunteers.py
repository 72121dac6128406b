"""Volunteer applications and their vetting by coordinators."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.availability import PERIODS as PERIODS  # where the services import it from
from bot.domain.reach import Centre, Reach, reach_of
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.geo import valid_point
from bot.messages.applications import (
    APPROVED_BY,
    NEW_APPLICATION,
    NOT_ACCEPTED_BY,
    SKILL_VERIFIED,
    ApplicationDecided,
    CardSent,
    CardUpdated,
)
from bot.messages.base import Reader
from bot.messages.messenger import Messenger
from bot.pseudonyms import Pseudonyms
from bot.services.base import Notifying, coordinator_readers, no_wake
from bot.services.neighbourhoods import centres
from bot.services.outcomes import Outcome
from storage import audit, limits, outbox
from storage import members as member_store
from storage.database import Database
from storage.models import (
    Availability,
    Member,
    MemberRole,
    Neighbourhood,
    Skill,
    VolunteerSkill,
)
from storage.writes import changed, view_of

# After an application is not accepted, the same person may apply again this much later, unless
# a coordinator allows it sooner: a refusal is not answered by re-applying at once, forever.
DEFAULT_REAPPLY_COOLDOWN = timedelta(days=30)
# The marks that stop a new application for a while (bot/services/standing.py adds SUSPENDED).
REFUSALS = (limits.REJECTED, limits.SUSPENDED)


@dataclass(frozen=True)
class VolunteerApplication:
    """Everything a volunteer answered during sign-up."""

    display_name: str
    latitude: float
    longitude: float
    radius_km: float
    skill_ids: tuple[int, ...]
    availability: tuple[tuple[int, str], ...]
    charter_version: str
    phone: str | None = None
    address: str | None = None
    neighbourhood_id: int | None = None


@dataclass(frozen=True)
class Submitted:
    """An application stored as pending (its card queued to the coordinators)."""

    member_id: int


@dataclass(frozen=True)
class SkillHeld:
    """A skill on a volunteer's profile and whether it is verified."""

    skill_id: int
    label: str
    requires_verification: bool
    verified: bool


async def skills_held(session: AsyncSession, member_id: int) -> tuple[SkillHeld, ...]:
    """The skills on a volunteer's profile, in the catalogue's order (one query)."""
    return tuple(
        SkillHeld(skill.id, skill.label, skill.requires_verification, held.verified_at is not None)
        for held, skill in await session.execute(
            select(VolunteerSkill, Skill)
            .join(Skill, Skill.id == VolunteerSkill.skill_id)
            .where(VolunteerSkill.member_id == member_id)
            .order_by(Skill.id)
        )
    )


@dataclass(frozen=True)
class ApplicationView:
    """A volunteer's application as a coordinator reviews it."""

    member_id: int
    telegram_id: int | None
    display_name: str
    phone: str | None
    address: str | None
    neighbourhood: str | None
    radius_km: float
    status: VolunteerStatus | None
    charter_version: str | None
    charter_accepted_at: datetime | None
    applied_at: datetime
    skills: list[SkillHeld] = field(default_factory=list)
    availability: list[tuple[int, str]] = field(default_factory=list)
    # Not accepted: from when they may apply again (None: now, or not rejected).
    reapply_from: datetime | None = None
    # The nearest neighbourhood centre and whether their radius reaches it (None: no place, or
    # the town has no neighbourhood).
    reach: Reach | None = None


@dataclass(frozen=True)
class Decision:
    """The result of approving or rejecting, with whom to tell; once decided before, who
    decided and how (`decided_by`, `approved`)."""

    outcome: Outcome
    volunteer_telegram_id: int | None = None
    volunteer_name: str = ""
    decided_by: str | None = None
    approved: bool | None = None


# A copy of a card in a coordinator's chat: (chat id, message id).
Card = tuple[int, int]


def card_batch(member_id: int) -> str:
    """The outbox batch that holds every copy of one volunteer's card sent to coordinators."""
    return f"application:{member_id}"


def _reach(member: Member, town: list[Centre]) -> Reach | None:
    """How the member's place and radius stand to the nearest neighbourhood centre."""
    if member.latitude is None or member.longitude is None:
        return None
    return reach_of(member.latitude, member.longitude, member.radius_km, town)


def _valid(application: VolunteerApplication) -> bool:
    return (
        bool(application.display_name.strip())
        and valid_point(application.latitude, application.longitude)
        and 0 < application.radius_km <= 50
        and bool(application.skill_ids)
        and all(0 <= day <= 6 and period in PERIODS for day, period in application.availability)
    )


class VolunteerService(Notifying):
    """Sign-up submission, the pending queue, approval, rejection and skill verification."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        *,
        pseudonyms: Pseudonyms,
        reapply_cooldown: timedelta = DEFAULT_REAPPLY_COOLDOWN,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, after_commit=after_commit)
        self._pseudonyms = pseudonyms
        self._reapply_cooldown = reapply_cooldown

    async def reapply_from(self, telegram_id: int) -> datetime | None:
        """When someone whose application was not accepted (or who was suspended, then erased
        their data) may apply again (None: now)."""
        async with self._db.read() as session:
            return await self._refused_until(session, telegram_id)

    async def _refused_until(self, session: AsyncSession, telegram_id: int) -> datetime | None:
        key, now = self._pseudonyms.of(telegram_id), self._clock()
        marks = [await limits.active_until(session, kind, key, now) for kind in REFUSALS]
        return max((until for until in marks if until is not None), default=None)

    async def allow_reapply(self, coordinator_telegram_id: int, member_id: int) -> Outcome:
        """A coordinator lifts the cool-down after a rejection: they may apply again now."""
        async with self._db.transaction() as session:
            actor = await self._require(session, coordinator_telegram_id)
            if actor is None:
                return Outcome.NOT_ALLOWED
            member = await session.get(Member, member_id)
            if member is None or member.telegram_id is None:
                return Outcome.NOT_FOUND
            lifted = await limits.remove(
                session, limits.REJECTED, self._pseudonyms.of(member.telegram_id)
            )
            if not lifted:
                return Outcome.ALREADY_DONE
            await audit.record(session, "member", member_id, "allow_reapply", by=actor.id)
            return Outcome.DONE

    async def submit(
        self, telegram_id: int, application: VolunteerApplication
    ) -> Submitted | Outcome:
        """Store an application as pending; ALREADY_DONE if the volunteer is approved already,
        NOT_ALLOWED if they are suspended."""
        if not _valid(application):
            return Outcome.INVALID
        async with self._db.transaction() as session:
            member = await member_store.get_by_telegram_id(session, telegram_id)
            if member is None:
                return Outcome.NOT_FOUND
            if member.volunteer_status is VolunteerStatus.APPROVED:
                return Outcome.ALREADY_DONE
            if member.volunteer_status is VolunteerStatus.SUSPENDED:
                # Only a coordinator brings a suspended volunteer back (StandingService).
                return Outcome.NOT_ALLOWED
            if await self._refused_until(session, telegram_id) is not None:
                return Outcome.TOO_SOON
            known_skills = set(
                (
                    await session.execute(
                        select(Skill.id).where(
                            Skill.id.in_(application.skill_ids), Skill.retired_at.is_(None)
                        )
                    )
                ).scalars()
            )
            if known_skills != set(application.skill_ids):
                return Outcome.INVALID
            previous_status = member.volunteer_status
            member.display_name = application.display_name.strip()[:128]
            member.phone = application.phone
            member.latitude, member.longitude = application.latitude, application.longitude
            member.address = application.address
            member.neighbourhood_id = application.neighbourhood_id
            member.radius_km = application.radius_km
            member.volunteer_status = VolunteerStatus.PENDING
            member.status_reason = None
            member.charter_version = application.charter_version
            member.charter_accepted_at = self._clock()
            await session.execute(
                delete(VolunteerSkill).where(VolunteerSkill.member_id == member.id)
            )
            await session.execute(delete(Availability).where(Availability.member_id == member.id))
            session.add_all(
                VolunteerSkill(member_id=member.id, skill_id=skill_id)
                for skill_id in sorted(known_skills)
            )
            session.add_all(
                Availability(member_id=member.id, weekday=day, period=period)
                for day, period in sorted(set(application.availability))
            )
            await member_store.grant_roles(session, member.id, [Role.VOLUNTEER])
            await audit.record(
                session,
                "member",
                member.id,
                "apply",
                by=member.id,
                moved=(previous_status.value if previous_status else None, VolunteerStatus.PENDING),
                detail={"charter_version": application.charter_version},
            )
            return Submitted(member.id)

    async def pending(self, coordinator_telegram_id: int) -> list[ApplicationView] | Outcome:
        """Applications waiting for a decision, oldest first (three queries, whatever the count)."""
        async with self._db.read() as session:
            if not await self._require(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            return await self._views(session, Member.volunteer_status == VolunteerStatus.PENDING)

    async def application(
        self, coordinator_telegram_id: int, member_id: int
    ) -> ApplicationView | Outcome:
        """One volunteer's application, for a coordinator."""
        async with self._db.read() as session:
            if not await self._require(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            return await self._application(session, member_id) or Outcome.NOT_FOUND

    async def _application(self, session: AsyncSession, member_id: int) -> ApplicationView | None:
        """One volunteer's application as it now stands (None: gone), with when a volunteer not
        accepted may apply again."""
        views = await self._views(session, Member.id == member_id)
        if not views:
            return None
        view = views[0]
        if view.status is VolunteerStatus.REJECTED and view.telegram_id is not None:
            until = await limits.active_until(
                session, limits.REJECTED, self._pseudonyms.of(view.telegram_id), self._clock()
            )
            view = replace(view, reapply_from=until)
        return view

    async def _views(
        self, session: AsyncSession, condition: ColumnElement[bool]
    ) -> list[ApplicationView]:
        rows = (
            await session.execute(
                select(Member, Neighbourhood.name)
                .join(
                    MemberRole,
                    (MemberRole.member_id == Member.id) & (MemberRole.role == Role.VOLUNTEER),
                )
                .outerjoin(Neighbourhood, Neighbourhood.id == Member.neighbourhood_id)
                .where(condition, Member.forgotten_at.is_(None))
                .order_by(Member.charter_accepted_at, Member.id)
            )
        ).all()
        ids = [member.id for member, _ in rows]
        skills: dict[int, list[SkillHeld]] = defaultdict(list)
        for held, skill in await session.execute(
            select(VolunteerSkill, Skill)
            .join(Skill, Skill.id == VolunteerSkill.skill_id)
            .where(VolunteerSkill.member_id.in_(ids))
            .order_by(Skill.id)
        ):
            skills[held.member_id].append(
                SkillHeld(
                    skill.id, skill.label, skill.requires_verification, held.verified_at is not None
                )
            )
        availability: dict[int, list[tuple[int, str]]] = defaultdict(list)
        slots = (
            await session.execute(select(Availability).where(Availability.member_id.in_(ids)))
        ).scalars()
        for slot in sorted(slots, key=lambda s: (s.weekday, PERIODS.index(s.period))):
            availability[slot.member_id].append((slot.weekday, slot.period))
        town = await centres(session) if rows else []
        return [
            # The other fields are the member's columns of the same names.
            view_of(
                ApplicationView,
                member,
                member_id=member.id,
                neighbourhood=neighbourhood,
                status=member.volunteer_status,
                applied_at=member.charter_accepted_at or member.created_at,
                skills=skills[member.id],
                availability=availability[member.id],
                reapply_from=None,
                reach=_reach(member, town),
            )
            for member, neighbourhood in rows
        ]

    async def decide(
        self,
        coordinator_telegram_id: int,
        member_id: int,
        *,
        approve: bool,
        reason: str | None = None,
        tapped: Card | None = None,
    ) -> Decision:
        """Approve or reject a pending volunteer, and show it on every copy of their card but the
        one tapped; a second decision finds ALREADY_DONE."""
        new_status = VolunteerStatus.APPROVED if approve else VolunteerStatus.REJECTED
        now = self._clock()
        async with self._transaction() as session:
            actor = await self._require(session, coordinator_telegram_id)
            if actor is None:
                return Decision(Outcome.NOT_ALLOWED)
            values: dict[str, object] = {"volunteer_status": new_status, "status_reason": reason}
            if approve:
                values |= {"approved_at": now, "approved_by_id": actor.id}
            # Conditional on "still pending": two coordinators tapping at once decide once.
            decided = await changed(
                session,
                update(Member)
                .where(
                    Member.id == member_id,
                    Member.volunteer_status == VolunteerStatus.PENDING,
                )
                .values(**values)
                .returning(Member.telegram_id, Member.display_name),
            )
            if decided is None:
                return await self._decided_before(session, member_id)
            if not approve and decided[0] is not None:
                # Under a pseudonym: erasing oneself with /forget does not shorten the wait.
                await limits.add(
                    session,
                    limits.REJECTED,
                    self._pseudonyms.of(decided[0]),
                    now + self._reapply_cooldown,
                )
            await audit.record(
                session,
                "member",
                member_id,
                "approve" if approve else "reject",
                by=actor.id,
                moved=(VolunteerStatus.PENDING, new_status),
                detail={"reason": reason} if reason else None,
            )
            note = APPROVED_BY if approve else NOT_ACCEPTED_BY
            await self._update_copies(session, member_id, tapped, note, actor.display_name)
            return Decision(Outcome.DONE, decided[0], decided[1])

    async def decided(self, member_id: int) -> Decision:
        """How an application that is no longer pending was decided, and by whom."""
        async with self._db.read() as session:
            return await self._decided_before(session, member_id)

    async def _decided_before(self, session: AsyncSession, member_id: int) -> Decision:
        """The application was decided already (or is gone): by whom, and how."""
        member = await session.get(Member, member_id)
        if member is None:
            return Decision(Outcome.NOT_FOUND)
        found = await audit.last_by(session, "member", member_id, ("approve", "reject"))
        if found is None:
            return Decision(Outcome.ALREADY_DONE, member.telegram_id, member.display_name)
        action, by = found
        decider = await member_store.by_id(session, by)
        return Decision(
            Outcome.ALREADY_DONE,
            member.telegram_id,
            member.display_name,
            decided_by=decider.display_name if decider else None,
            approved=action == "approve",
        )

    async def cards_sent(self, member_id: int, copies: Sequence[tuple[int, int]]) -> None:
        """Remember the copies of a volunteer's card just sent to coordinators (chat, message
        id), so that a decision taken anywhere edits them all."""
        if not copies:
            return
        async with self._transaction() as session:
            # The volunteer's row is locked: a decision taken while these cards were on their way
            # either committed first (read below: the copies are edited at once) or waits for
            # them to be recorded, and then edits them with the others.
            volunteer = await session.get(Member, member_id, with_for_update=True)
            coordinators = {
                member.telegram_id: member
                for member in (
                    await session.execute(
                        select(Member).where(Member.telegram_id.in_([c for c, _ in copies]))
                    )
                ).scalars()
            }
            for chat_id, message_id in copies:
                reader = coordinators.get(chat_id)
                await outbox.record_sent(
                    session,
                    chat_id=chat_id,
                    message_id=message_id,
                    member_id=reader.id if reader else None,
                    batch_key=card_batch(member_id),
                )
            if volunteer is None or volunteer.volunteer_status is VolunteerStatus.PENDING:
                return
            decision = await self._decided_before(session, member_id)
            view = await self._application(session, member_id)
            if view is None or decision.decided_by is None:
                return  # no decision on record to show (its audit event is gone)
            note = APPROVED_BY if decision.approved else NOT_ACCEPTED_BY
            name = decision.decided_by
            await self._messenger.post(
                session,
                [
                    (
                        CardUpdated(view, note, name, message_id),
                        Reader.in_chat(chat_id, coordinators.get(chat_id)),
                    )
                    for chat_id, message_id in copies
                ],
            )

    async def send_card(
        self, member_id: int, intro: str = NEW_APPLICATION, **values: object
    ) -> None:
        """Send a volunteer's card to every reachable coordinator in their language, through the
        outbox and under the card's batch key (why: `intro`, a message id with `values`), so
        that a decision taken on any copy edits them all."""
        async with self._transaction() as session:
            view = await self._application(session, member_id)
            if view is None:
                return
            card = CardSent(view, intro, values)
            readers = await coordinator_readers(session)
            for row in await self._messenger.post(session, [(card, reader) for reader in readers]):
                row.batch_key = card_batch(member_id)

    async def tell_decision(self, member_id: int) -> None:
        """Tell the volunteer, through the outbox, how their application was decided (with the
        reason given; when approved, why no request can reach them if their distance reaches no
        neighbourhood)."""
        async with self._transaction() as session:
            view = await self._application(session, member_id)
            member = await session.get(Member, member_id)
            if view is None or member is None or view.status is VolunteerStatus.PENDING:
                return
            approved = view.status is VolunteerStatus.APPROVED
            notice = ApplicationDecided(approved, member.status_reason, view.reach)
            await self._messenger.send(session, notice, Reader.of(member))

    async def _update_copies(
        self, session: AsyncSession, member_id: int, tapped: Card | None, note: str, name: str
    ) -> None:
        """Queue the edit of every sent copy of a volunteer's card but the tapped one (the
        handler edits that one in its answer): the application as it now stands, `note` (a
        message id with {name}) in each reader's language; a copy not delivered yet goes out
        decided."""
        view = await self._application(session, member_id)
        if view is None:
            return
        await self._messenger.follow_copies(
            session,
            card_batch(member_id),
            tapped,
            lambda message_id: CardUpdated(view, note, name, message_id),
        )

    async def verify_skill(
        self,
        coordinator_telegram_id: int,
        member_id: int,
        skill_id: int,
        tapped: Card | None = None,
    ) -> Outcome:
        """Confirm that a volunteer may take requests needing a skill that requires verification,
        and show it on every copy of their card but the one tapped."""
        async with self._transaction() as session:
            actor = await self._require(session, coordinator_telegram_id)
            if actor is None:
                return Outcome.NOT_ALLOWED
            verified = await changed(
                session,
                update(VolunteerSkill)
                .where(
                    VolunteerSkill.member_id == member_id,
                    VolunteerSkill.skill_id == skill_id,
                    VolunteerSkill.verified_at.is_(None),
                )
                .values(verified_at=self._clock(), verified_by_id=actor.id)
                .returning(VolunteerSkill.member_id),
            )
            if verified is None:
                held = await session.get(VolunteerSkill, (member_id, skill_id))
                return Outcome.ALREADY_DONE if held else Outcome.NOT_FOUND
            await audit.record(
                session,
                "member",
                member_id,
                "verify_skill",
                by=actor.id,
                detail={"skill_id": skill_id},
            )
            await self._update_copies(
                session, member_id, tapped, SKILL_VERIFIED, actor.display_name
            )
            return Outcome.DONE
