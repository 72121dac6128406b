"""Self-service: a volunteer reads and changes their own profile, pauses and resumes offers.

Every setter validates its input, changes one field in its own transaction, records an audit
event and returns the updated `ProfileView`; expected refusals come back as `Outcome` values.
Personal values (name, phone, place) are never copied into the audit log, only the field name.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import quiet_hours
from bot.domain.reach import Reach, reach_of
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.geo import valid_point
from bot.services.base import Service
from bot.services.neighbourhoods import centres
from bot.services.outcomes import Outcome
from bot.services.volunteers import PERIODS, SkillHeld, skills_held
from bot.text import one_line
from storage import audit
from storage import members as member_store
from storage.models import Availability, Member, MemberRole, Neighbourhood, Skill, VolunteerSkill
from storage.writes import view_of

MAX_NAME_LENGTH = 64
MAX_ADDRESS_LENGTH = 256
PHONE_PATTERN = re.compile(r"^\+?[0-9 ().-]{6,20}$")
MAX_RADIUS_KM = 50.0
MAX_WEEKLY_CAP = 20
MINUTES_PER_DAY = 24 * 60

# Quiet hours offered to volunteers: (start, end) in minutes after local midnight, None = none.
QUIET_PRESETS: dict[str, tuple[int, int] | None] = {
    "none": None,
    "22-8": (22 * 60, 8 * 60),
    "21-9": (21 * 60, 9 * 60),
    "20-8": (20 * 60, 8 * 60),
}
# Weekly caps offered to volunteers; None (no cap) is offered too.
WEEKLY_CAP_CHOICES = (1, 2, 3, 5)

# "Until I resume": ten years reads as "for ever" and stays inside every backend's date range.
INDEFINITE_PAUSE = timedelta(days=3653)
# A pause ending further away than this can only be "until I resume": shown as such.
_INDEFINITE_AFTER = timedelta(days=5 * 365)
PAUSE_DURATIONS: dict[str, timedelta] = {
    "1w": timedelta(weeks=1),
    "2w": timedelta(weeks=2),
    "1m": timedelta(days=30),
    "open": INDEFINITE_PAUSE,
}

# Rejected volunteers have no profile to edit; pending ones may fix their answers while waiting.
EDITABLE_STATUSES = (VolunteerStatus.APPROVED, VolunteerStatus.PENDING)


@dataclass(frozen=True)
class ProfileView:
    """Everything a volunteer answered, as /profile shows it."""

    member_id: int
    telegram_id: int
    display_name: str
    phone: str | None
    latitude: float | None
    longitude: float | None
    address: str | None
    neighbourhood_id: int | None
    neighbourhood: str | None
    radius_km: float
    status: VolunteerStatus
    skills: tuple[SkillHeld, ...]
    availability: tuple[tuple[int, str], ...]
    # None when offers are not paused: a pause whose end has passed is no pause.
    paused_until: datetime | None
    paused_indefinitely: bool
    quiet_start_minute: int | None
    quiet_end_minute: int | None
    weekly_cap: int | None
    charter_version: str | None
    charter_accepted_at: datetime | None
    # The nearest neighbourhood centre and whether the radius reaches it (None: no place, or the
    # town has no neighbourhood).
    reach: Reach | None = None

    @property
    def paused(self) -> bool:
        """Whether the volunteer receives no offer right now."""
        return self.paused_until is not None

    @property
    def skill_ids(self) -> tuple[int, ...]:
        """The ids of the skills held."""
        return tuple(skill.skill_id for skill in self.skills)


@dataclass(frozen=True)
class SkillsSaved:
    """New skills saved, and who must verify the ones added that need a coordinator's check."""

    view: ProfileView
    awaiting_verification: tuple[int, ...]
    coordinator_telegram_ids: tuple[int, ...]


def in_quiet_hours(now_local: time, start_minute: int | None, end_minute: int | None) -> bool:
    """Whether a local time falls in [start, end); start > end wraps over midnight."""
    return quiet_hours.in_quiet_hours(
        now_local.hour * 60 + now_local.minute, start_minute, end_minute
    )


def pause_end(choice: str, now: datetime) -> datetime | None:
    """When a pause chosen by its word ("1w", "2w", "1m", "open") ends; None for another word."""
    duration = PAUSE_DURATIONS.get(choice)
    return None if duration is None else now + duration


def _valid_quiet_hours(start_minute: int | None, end_minute: int | None) -> bool:
    if start_minute is None and end_minute is None:
        return True
    if start_minute is None or end_minute is None:
        return False
    in_day = 0 <= start_minute < MINUTES_PER_DAY and 0 <= end_minute < MINUTES_PER_DAY
    return in_day and start_minute != end_minute


# A change applied to a locked member row: the audit detail, or INVALID to change nothing.
Change = Callable[[AsyncSession, Member], Awaitable[dict[str, Any] | Outcome]]


class ProfileService(Service):
    """Read and change one's own volunteer profile; pause and resume offers."""

    # --- reading ---------------------------------------------------------------------------

    async def view(self, telegram_id: int) -> ProfileView | Outcome:
        """The volunteer's profile; NOT_ALLOWED for anyone who is not an approved or pending one."""
        async with self._db.read() as session:
            member = await self._volunteer(session, telegram_id, lock=False)
            if member is None:
                return Outcome.NOT_ALLOWED
            return await self._view(session, member)

    # --- one setter per field --------------------------------------------------------------

    async def rename(self, telegram_id: int, name: str) -> ProfileView | Outcome:
        """Change the name coordinators and referents see (1 to 64 characters)."""
        cleaned = one_line(name)
        if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
            return Outcome.INVALID

        async def change(session: AsyncSession, member: Member) -> dict[str, Any]:
            member.display_name = cleaned
            return {}

        return await self._edit(telegram_id, "name", change)

    async def set_phone(self, telegram_id: int, phone: str | None) -> ProfileView | Outcome:
        """Change the phone number, or remove it with None."""
        cleaned = phone.strip() if phone is not None else None
        if cleaned is not None and not PHONE_PATTERN.match(cleaned):
            return Outcome.INVALID

        async def change(session: AsyncSession, member: Member) -> dict[str, Any]:
            member.phone = cleaned
            return {"given": cleaned is not None}

        return await self._edit(telegram_id, "phone", change)

    async def set_place(
        self, telegram_id: int, latitude: float, longitude: float, address: str | None
    ) -> ProfileView | Outcome:
        """Move the volunteer's base point (the address, if any, is only shown to them)."""
        if not valid_point(latitude, longitude):
            return Outcome.INVALID
        label = " ".join((address or "").split())[:MAX_ADDRESS_LENGTH] or None

        async def change(session: AsyncSession, member: Member) -> dict[str, Any]:
            member.latitude, member.longitude, member.address = latitude, longitude, label
            return {}

        return await self._edit(telegram_id, "place", change)

    async def set_neighbourhood(
        self, telegram_id: int, neighbourhood_id: int | None
    ) -> ProfileView | Outcome:
        """Help in another (active) neighbourhood, or in none."""

        async def change(session: AsyncSession, member: Member) -> dict[str, Any] | Outcome:
            if neighbourhood_id is not None:
                target = await session.get(Neighbourhood, neighbourhood_id)
                if target is None or target.archived_at is not None:
                    return Outcome.INVALID
            previous, member.neighbourhood_id = member.neighbourhood_id, neighbourhood_id
            return {"from": previous, "to": neighbourhood_id}

        return await self._edit(telegram_id, "neighbourhood", change)

    async def set_radius(self, telegram_id: int, radius_km: float) -> ProfileView | Outcome:
        """Change how far the volunteer is ready to go."""
        if not 0 < radius_km <= MAX_RADIUS_KM:
            return Outcome.INVALID

        async def change(session: AsyncSession, member: Member) -> dict[str, Any]:
            previous, member.radius_km = member.radius_km, radius_km
            return {"from": previous, "to": radius_km}

        return await self._edit(telegram_id, "radius", change)

    async def set_skills(self, telegram_id: int, skill_ids: Iterable[int]) -> SkillsSaved | Outcome:
        """Replace the skills: kept ones keep their verification, added ones start unverified.

        A skill must be active to be added; a retired skill already held may be kept.
        """
        wanted = set(skill_ids)
        if not wanted:
            return Outcome.INVALID
        async with self._db.transaction() as session:
            member = await self._volunteer(session, telegram_id, lock=True)
            if member is None:
                return Outcome.NOT_ALLOWED
            held = {
                row.skill_id: row
                for row in (
                    await session.execute(
                        select(VolunteerSkill).where(VolunteerSkill.member_id == member.id)
                    )
                ).scalars()
            }
            added = wanted - held.keys()
            catalogue = {
                skill.id: skill
                for skill in (
                    await session.execute(
                        select(Skill).where(Skill.id.in_(added), Skill.retired_at.is_(None))
                    )
                ).scalars()
            }
            if catalogue.keys() != added:
                return Outcome.INVALID
            removed = held.keys() - wanted
            for skill_id in removed:
                await session.delete(held[skill_id])
            session.add_all(
                VolunteerSkill(member_id=member.id, skill_id=skill_id) for skill_id in sorted(added)
            )
            await session.flush()
            changes = {"added": sorted(added), "removed": sorted(removed)}
            await self._audit_edit(session, member, "skills", changes)
            to_verify = tuple(
                skill_id for skill_id in sorted(added) if catalogue[skill_id].requires_verification
            )
            coordinators: list[int] = []
            # A pending application is reviewed whole; an approved volunteer's new skill is not.
            if to_verify and member.volunteer_status is VolunteerStatus.APPROVED:
                coordinators = await member_store.telegram_ids_with_role(session, Role.COORDINATOR)
            view = await self._view(session, member)
            return SkillsSaved(view, to_verify, tuple(coordinators))

    async def set_availability(
        self, telegram_id: int, slots: Iterable[tuple[int, str]]
    ) -> ProfileView | Outcome:
        """Replace the usual free slots (none means "to be agreed each time")."""
        wanted = {(int(day), str(period)) for day, period in slots}
        if not all(0 <= day <= 6 and period in PERIODS for day, period in wanted):
            return Outcome.INVALID

        async def change(session: AsyncSession, member: Member) -> dict[str, Any]:
            held = {
                (row.weekday, row.period): row
                for row in (
                    await session.execute(
                        select(Availability).where(Availability.member_id == member.id)
                    )
                ).scalars()
            }
            for slot in held.keys() - wanted:
                await session.delete(held[slot])
            session.add_all(
                Availability(member_id=member.id, weekday=day, period=period)
                for day, period in sorted(wanted - held.keys())
            )
            await session.flush()
            return {"slots": len(wanted)}

        return await self._edit(telegram_id, "availability", change)

    async def set_quiet_hours(
        self, telegram_id: int, start_minute: int | None, end_minute: int | None
    ) -> ProfileView | Outcome:
        """Set the hours without offers (minutes after local midnight), or none with None, None."""
        if not _valid_quiet_hours(start_minute, end_minute):
            return Outcome.INVALID

        async def change(session: AsyncSession, member: Member) -> dict[str, Any]:
            member.quiet_start_minute, member.quiet_end_minute = start_minute, end_minute
            return {"start": start_minute, "end": end_minute}

        return await self._edit(telegram_id, "quiet_hours", change)

    async def set_weekly_cap(self, telegram_id: int, cap: int | None) -> ProfileView | Outcome:
        """Limit the requests offered per week, or lift the limit with None."""
        if cap is not None and not 1 <= cap <= MAX_WEEKLY_CAP:
            return Outcome.INVALID

        async def change(session: AsyncSession, member: Member) -> dict[str, Any]:
            previous, member.weekly_cap = member.weekly_cap, cap
            return {"from": previous, "to": cap}

        return await self._edit(telegram_id, "weekly_cap", change)

    # --- pause and resume ------------------------------------------------------------------

    async def pause(self, telegram_id: int, until: datetime) -> ProfileView | Outcome:
        """Offer nothing until `until` (aware); pausing again moves the end of the pause."""
        now = self._clock()
        if until.tzinfo is None or not now < until <= now + INDEFINITE_PAUSE + timedelta(days=1):
            return Outcome.INVALID
        async with self._db.transaction() as session:
            member = await self._volunteer(session, telegram_id, lock=True)
            if member is None:
                return Outcome.NOT_ALLOWED
            was_paused = member.paused_until is not None and member.paused_until > now
            member.paused_until = until
            await audit.record(
                session,
                "member",
                member.id,
                "pause",
                by=member.id,
                moved=("paused" if was_paused else "active", "paused"),
                detail={"until": until.isoformat()},
            )
            return await self._view(session, member)

    async def resume(self, telegram_id: int) -> ProfileView | Outcome:
        """End the pause now; ALREADY_DONE when the volunteer was not paused."""
        now = self._clock()
        async with self._db.transaction() as session:
            member = await self._volunteer(session, telegram_id, lock=True)
            if member is None:
                return Outcome.NOT_ALLOWED
            if member.paused_until is None or member.paused_until <= now:
                return Outcome.ALREADY_DONE
            member.paused_until = None
            # Back after a check-in went unanswered: the card's marker goes with the pause.
            member.checkin_paused_at = None
            await audit.record(
                session, "member", member.id, "resume", by=member.id, moved=("paused", "active")
            )
            return await self._view(session, member)

    # --- shared steps ----------------------------------------------------------------------

    async def _edit(self, telegram_id: int, field: str, change: Change) -> ProfileView | Outcome:
        """Apply one field's change to the volunteer's row, audit it, return the new view."""
        async with self._db.transaction() as session:
            member = await self._volunteer(session, telegram_id, lock=True)
            if member is None:
                return Outcome.NOT_ALLOWED
            detail = await change(session, member)
            if isinstance(detail, Outcome):
                return detail
            await self._audit_edit(session, member, field, detail)
            return await self._view(session, member)

    @staticmethod
    async def _audit_edit(
        session: AsyncSession, member: Member, field: str, detail: dict[str, Any]
    ) -> None:
        """One audit event per edited field: which, and what changed (never the new value)."""
        detail = {"field": field, **detail}
        await audit.record(
            session, "member", member.id, "edit_profile", by=member.id, detail=detail
        )

    @staticmethod
    async def _volunteer(session: AsyncSession, telegram_id: int, *, lock: bool) -> Member | None:
        """The approved or pending volunteer with this Telegram id (row-locked for writers)."""
        query = (
            select(Member)
            .join(
                MemberRole,
                (MemberRole.member_id == Member.id) & (MemberRole.role == Role.VOLUNTEER),
            )
            .where(
                Member.telegram_id == telegram_id,
                Member.forgotten_at.is_(None),
                Member.volunteer_status.in_(EDITABLE_STATUSES),
            )
        )
        if lock:
            # Two saves of the same profile at once (double taps) queue instead of interleaving.
            query = query.with_for_update(of=Member)
        return (await session.execute(query)).scalar_one_or_none()

    async def _view(self, session: AsyncSession, member: Member) -> ProfileView:
        assert member.telegram_id is not None  # _volunteer only finds members not forgotten
        assert member.volunteer_status is not None
        neighbourhood = (
            await session.get(Neighbourhood, member.neighbourhood_id)
            if member.neighbourhood_id is not None
            else None
        )
        skills = await skills_held(session, member.id)
        slots = (
            await session.execute(select(Availability).where(Availability.member_id == member.id))
        ).scalars()
        availability = tuple(
            sorted(
                ((slot.weekday, slot.period) for slot in slots),
                key=lambda slot: (slot[0], PERIODS.index(slot[1])),
            )
        )
        now = self._clock()
        paused_until = member.paused_until
        if paused_until is not None and paused_until <= now:
            paused_until = None
        reach = None
        if member.latitude is not None and member.longitude is not None:
            reach = reach_of(
                member.latitude, member.longitude, member.radius_km, await centres(session)
            )
        # The other fields are the member's columns of the same names.
        return view_of(
            ProfileView,
            member,
            member_id=member.id,
            neighbourhood_id=neighbourhood.id if neighbourhood else None,
            neighbourhood=neighbourhood.name if neighbourhood else None,
            status=member.volunteer_status,
            skills=skills,
            availability=availability,
            paused_until=paused_until,
            paused_indefinitely=paused_until is not None and paused_until - now > _INDEFINITE_AFTER,
            reach=reach,
        )
