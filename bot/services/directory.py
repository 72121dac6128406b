"""The brigade's directory for coordinators (/members): find a member, read their card.

A page is one query (members joined to their claims and roles counted with GROUP BY) plus its
count; a card is one query for the member and their counts, then their skills and concerns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Subquery

from bot.domain.reach import Reach, reach_of
from bot.domain.vocabulary import ClaimStatus, Role, VolunteerStatus
from bot.services.base import Service
from bot.services.neighbourhoods import centres
from bot.services.outcomes import Outcome
from bot.services.reports.periods import aware, count_if
from bot.services.reports.views import Page, page_of
from bot.services.volunteers import SkillHeld, skills_held
from storage.database import Database
from storage.models import (
    AuditEvent,
    Availability,
    Claim,
    ConductConcern,
    Member,
    MemberRole,
    Neighbourhood,
    Skill,
    VolunteerSkill,
)

# "Inactive": not seen and no claim taken for this long.
INACTIVE_AFTER = timedelta(days=182)
# A search answers with its first matches; a longer list is narrowed by typing more.
MAX_SEARCH_LENGTH = 64
# The decisions whose author and reason the card shows.
STATUS_DECISIONS = ("approve", "reject", "suspend", "reinstate")


@dataclass(frozen=True)
class MemberFilter:
    """What a coordinator narrows the directory to (None: no condition)."""

    text: str | None = None  # a fragment of the name or the phone
    role: Role | None = None
    status: VolunteerStatus | None = None
    neighbourhood_id: int | None = None
    skill_id: int | None = None
    inactive: bool = False


@dataclass(frozen=True)
class MemberRow:
    """One line of the directory."""

    member_id: int
    display_name: str
    roles: frozenset[Role]
    status: VolunteerStatus | None
    neighbourhood: str | None
    claims_taken: int
    last_seen: datetime


@dataclass(frozen=True)
class Counts:
    """A volunteer's claims, by how they ended."""

    taken: int = 0
    done: int = 0  # said done or confirmed
    released: int = 0
    could_not: int = 0
    active: int = 0  # held now


@dataclass(frozen=True)
class ConcernSeen:
    """One concern about the member's conduct, as the card lists it."""

    raised_at: datetime
    request_id: int
    raised_by: str | None  # None once the referent left


@dataclass(frozen=True)
class MemberCard:
    """Everything a coordinator needs to act on one member."""

    member_id: int
    display_name: str
    phone: str | None
    roles: frozenset[Role]
    status: VolunteerStatus | None
    status_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    neighbourhood: str | None
    radius_km: float
    charter_version: str | None
    charter_accepted_at: datetime | None
    joined_at: datetime
    last_seen: datetime
    last_claim_at: datetime | None
    counts: Counts
    # Named in BRIGADE_COORDINATOR_IDS: their coordinator role cannot be taken from the chat.
    coordinator_by_settings: bool
    skills: tuple[SkillHeld, ...] = ()
    concerns: tuple[ConcernSeen, ...] = field(default_factory=tuple)
    # The nearest neighbourhood centre and whether their radius reaches it (None: no place, or
    # the town has no neighbourhood).
    reach: Reach | None = None
    availability: tuple[tuple[int, str], ...] = ()  # (weekday, part of day)


@dataclass(frozen=True)
class Choices:
    """The neighbourhoods and skills a directory filter can name, in a stable order."""

    neighbourhoods: tuple[tuple[int, str], ...]
    skills: tuple[tuple[int, str], ...]


def _counts_subquery() -> Subquery:
    """Each volunteer's claims counted by outcome, and their last claim (GROUP BY)."""
    return (
        select(
            Claim.volunteer_id.label("member_id"),
            func.count(Claim.id).label("taken"),
            count_if(Claim.status.in_([ClaimStatus.DONE, ClaimStatus.CONFIRMED])).label("done"),
            count_if(Claim.status == ClaimStatus.RELEASED).label("released"),
            count_if(Claim.status == ClaimStatus.FAILED).label("could_not"),
            count_if(Claim.status == ClaimStatus.ACTIVE).label("active"),
            func.max(Claim.claimed_at).label("last_claim_at"),
        )
        .group_by(Claim.volunteer_id)
        .subquery()
    )


def _roles_subquery() -> Subquery:
    """Each member's roles as three 0/1 columns (GROUP BY)."""
    return (
        select(
            MemberRole.member_id.label("member_id"),
            count_if(MemberRole.role == Role.COORDINATOR).label("coordinator"),
            count_if(MemberRole.role == Role.REFERENT).label("referent"),
            count_if(MemberRole.role == Role.VOLUNTEER).label("volunteer"),
        )
        .group_by(MemberRole.member_id)
        .subquery()
    )


def _roles(row: object) -> frozenset[Role]:
    return frozenset(
        role
        for role, column in (
            (Role.COORDINATOR, "coordinator"),
            (Role.REFERENT, "referent"),
            (Role.VOLUNTEER, "volunteer"),
        )
        if getattr(row, column)
    )


def _member_row(row: Row[*tuple[Any, ...]]) -> MemberRow:
    """A line of the directory: the member, their roles and how many claims they took."""
    return MemberRow(
        member_id=row.id,
        display_name=row.display_name,
        roles=_roles(row),
        status=row.volunteer_status,
        neighbourhood=row.neighbourhood,
        claims_taken=int(row.taken),
        last_seen=row.updated_at,
    )


def _digits(text: str) -> str:
    return "".join(character for character in text if character.isdigit() or character == "+")


class DirectoryService(Service):
    """/members: the list with its filters, and the member card."""

    def __init__(self, database: Database, coordinator_ids: frozenset[int]) -> None:
        super().__init__(database)
        self._coordinator_ids = coordinator_ids

    def _conditions(self, wanted: MemberFilter, roles: Subquery) -> list[ColumnElement[bool]]:
        now = self._clock()
        conditions: list[ColumnElement[bool]] = [
            Member.forgotten_at.is_(None),
            # The brigade's members: someone holding a role, or who applied.
            or_(roles.c.member_id.is_not(None), Member.volunteer_status.is_not(None)),
        ]
        text = (wanted.text or "").strip()[:MAX_SEARCH_LENGTH]
        if text:
            matches = [func.lower(Member.display_name).contains(text.lower(), autoescape=True)]
            digits = _digits(text)
            if len(digits) >= 3:
                spaced = func.replace(func.coalesce(Member.phone, ""), " ", "")
                matches.append(spaced.contains(digits, autoescape=True))
            conditions.append(or_(*matches))
        if wanted.role is not None:
            conditions.append(getattr(roles.c, wanted.role.value) > 0)
        if wanted.status is not None:
            conditions.append(Member.volunteer_status == wanted.status)
        if wanted.neighbourhood_id is not None:
            conditions.append(Member.neighbourhood_id == wanted.neighbourhood_id)
        if wanted.skill_id is not None:
            conditions.append(
                exists().where(
                    VolunteerSkill.member_id == Member.id,
                    VolunteerSkill.skill_id == wanted.skill_id,
                )
            )
        if wanted.inactive:
            since = now - INACTIVE_AFTER
            conditions.append(Member.updated_at < since)
            conditions.append(
                ~exists().where(Claim.volunteer_id == Member.id, Claim.claimed_at >= since)
            )
        return conditions

    async def page(
        self, coordinator_telegram_id: int, wanted: MemberFilter, *, offset: int, limit: int
    ) -> Page[MemberRow] | Outcome:
        """One page of members meeting the filter, by name (one query, and the count)."""
        async with self._db.read() as session:
            if await self._require(session, coordinator_telegram_id) is None:
                return Outcome.NOT_ALLOWED
            counts, roles = _counts_subquery(), _roles_subquery()
            conditions = self._conditions(wanted, roles)
            rows = (
                select(
                    Member.id,
                    Member.display_name,
                    Member.volunteer_status,
                    Member.updated_at,
                    Neighbourhood.name.label("neighbourhood"),
                    func.coalesce(counts.c.taken, 0).label("taken"),
                    func.coalesce(roles.c.coordinator, 0).label("coordinator"),
                    func.coalesce(roles.c.referent, 0).label("referent"),
                    func.coalesce(roles.c.volunteer, 0).label("volunteer"),
                )
                .outerjoin(roles, roles.c.member_id == Member.id)
                .outerjoin(counts, counts.c.member_id == Member.id)
                .outerjoin(Neighbourhood, Neighbourhood.id == Member.neighbourhood_id)
                .where(*conditions)
                .order_by(func.lower(Member.display_name), Member.id)
            )
            total = (
                select(func.count(Member.id))
                .outerjoin(roles, roles.c.member_id == Member.id)
                .where(*conditions)
            )
            return await page_of(session, rows, total, _member_row, offset=offset, limit=limit)

    async def choices(self) -> Choices:
        """The neighbourhoods (not archived) and skills (not retired) filters may name."""
        async with self._db.read() as session:
            neighbourhoods = (
                await session.execute(
                    select(Neighbourhood.id, Neighbourhood.name)
                    .where(Neighbourhood.archived_at.is_(None))
                    .order_by(Neighbourhood.id)
                )
            ).all()
            skills = (
                await session.execute(
                    select(Skill.id, Skill.label)
                    .where(Skill.retired_at.is_(None))
                    .order_by(Skill.id)
                )
            ).all()
        return Choices(
            tuple((row.id, row.name) for row in neighbourhoods),
            tuple((row.id, row.label) for row in skills),
        )

    async def card(self, coordinator_telegram_id: int, member_id: int) -> MemberCard | Outcome:
        """One member's card: roles, standing, place, charter, activity and concerns."""
        async with self._db.read() as session:
            if await self._require(session, coordinator_telegram_id) is None:
                return Outcome.NOT_ALLOWED
            return await self.card_in(session, member_id)

    async def card_in(self, session: AsyncSession, member_id: int) -> MemberCard | Outcome:
        """The card, read in the caller's session (NOT_FOUND for a forgotten member)."""
        counts, roles = _counts_subquery(), _roles_subquery()
        decider = aliased(Member)
        last_decision = (
            select(AuditEvent.id)
            .where(
                AuditEvent.entity == "member",
                AuditEvent.entity_id == member_id,
                AuditEvent.action.in_(STATUS_DECISIONS),
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        row = (
            await session.execute(
                select(
                    Member,
                    Neighbourhood.name.label("neighbourhood"),
                    func.coalesce(counts.c.taken, 0).label("taken"),
                    func.coalesce(counts.c.done, 0).label("done"),
                    func.coalesce(counts.c.released, 0).label("released"),
                    func.coalesce(counts.c.could_not, 0).label("could_not"),
                    func.coalesce(counts.c.active, 0).label("active"),
                    counts.c.last_claim_at,
                    func.coalesce(roles.c.coordinator, 0).label("coordinator"),
                    func.coalesce(roles.c.referent, 0).label("referent"),
                    func.coalesce(roles.c.volunteer, 0).label("volunteer"),
                    AuditEvent.occurred_at.label("decided_at"),
                    decider.display_name.label("decided_by"),
                )
                .outerjoin(roles, roles.c.member_id == Member.id)
                .outerjoin(counts, counts.c.member_id == Member.id)
                .outerjoin(Neighbourhood, Neighbourhood.id == Member.neighbourhood_id)
                .outerjoin(AuditEvent, AuditEvent.id == last_decision)
                .outerjoin(decider, decider.id == AuditEvent.actor_member_id)
                .where(Member.id == member_id, Member.forgotten_at.is_(None))
            )
        ).one_or_none()
        if row is None:
            return Outcome.NOT_FOUND
        member: Member = row.Member
        skills = await skills_held(session, member_id)
        availability = tuple(
            (day, period)
            for day, period in await session.execute(
                select(Availability.weekday, Availability.period).where(
                    Availability.member_id == member_id
                )
            )
        )
        raiser = aliased(Member)
        concerns = tuple(
            ConcernSeen(concern.raised_at, concern.request_id, name)
            for concern, name in await session.execute(
                select(ConductConcern, raiser.display_name)
                .outerjoin(raiser, raiser.id == ConductConcern.raised_by_id)
                .where(ConductConcern.volunteer_id == member_id)
                .order_by(ConductConcern.raised_at.desc(), ConductConcern.id.desc())
            )
        )
        reach = None
        if member.latitude is not None and member.longitude is not None:
            reach = reach_of(
                member.latitude, member.longitude, member.radius_km, await centres(session)
            )
        return MemberCard(
            member_id=member.id,
            display_name=member.display_name,
            phone=member.phone,
            roles=_roles(row),
            status=member.volunteer_status,
            status_reason=member.status_reason,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            neighbourhood=row.neighbourhood,
            radius_km=member.radius_km,
            charter_version=member.charter_version,
            charter_accepted_at=member.charter_accepted_at,
            joined_at=member.created_at,
            last_seen=member.updated_at,
            last_claim_at=aware(row.last_claim_at),
            counts=Counts(
                int(row.taken),
                int(row.done),
                int(row.released),
                int(row.could_not),
                int(row.active),
            ),
            coordinator_by_settings=member.telegram_id in self._coordinator_ids,
            skills=skills,
            concerns=concerns,
            reach=reach,
            availability=availability,
        )
