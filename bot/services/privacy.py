"""A person's data rights: a copy of everything stored about them, and erasure (/mydata, /forget).

Erasure anonymises rather than deletes the member row: claims, requests, beneficiaries and audit
events point at it, and the town's statistics (services done, time given) must stay right. Every
column of the row is blanked except those listed in `KEPT_MEMBER_COLUMNS`, so a personal column
added later is erased by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.geo import bounding_box
from bot.services.base import Service
from bot.services.geocoding import search_cache_key_pattern
from bot.services.outcomes import Outcome
from bot.services.requests.beneficiaries import ERASED_PERSON
from bot.services.signals import erase_reporter
from bot.services.volunteers import PERIODS
from storage import audit
from storage import conversations as conversation_store
from storage import members as member_store
from storage.models import (
    AuditEvent,
    Availability,
    Beneficiary,
    Claim,
    ConductConcern,
    ConversationState,
    GeocodeCacheEntry,
    HelpRequest,
    Invite,
    Member,
    MemberRole,
    Neighbourhood,
    Offer,
    OutboxMessage,
    Skill,
    UserData,
    ValidationCard,
    VolunteerSkill,
)

EXPORT_FORMAT = "brigade-personal-data/1"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Member columns that survive erasure: the row's identity and timestamps that say nothing about
# the person once nothing links the row to them. The charter version and acceptance date go too:
# the row is no longer a volunteer, and the anonymised "apply" audit event still records that a
# charter was accepted, which is all the town needs to show.
KEPT_MEMBER_COLUMNS = frozenset({"id", "created_at", "updated_at", "forgotten_at"})
# Values forced on non-nullable columns; anything else falls back to the column's default.
ERASED_MEMBER_VALUES: Mapping[str, object] = {"display_name": "", "reachable": False}
# Member columns left out of the export: they identify other members, not the person.
EXPORT_SKIPPED_MEMBER_COLUMNS = frozenset({"approved_by_id", "neighbourhood_id"})
# Audit detail keys whose string values come from a closed vocabulary (never free text).
VOCABULARY_DETAIL_KEYS = frozenset({"charter_version", "role", "cause", "to"})
# Cached geocoder answers this close to a forgotten person's place are erased with them.
NEAR_PLACE_KM = 0.1


def _jsonable(value: object) -> object:
    """A column value as JSON: datetimes in ISO 8601, enums by value."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _vocabulary_only(
    detail: Mapping[str, Any] | None, traces: frozenset[object]
) -> dict[str, Any] | None:
    """Keep numbers and closed-vocabulary words of an audit detail; drop free text and traces."""
    if not detail:
        return None
    kept: dict[str, Any] = {}
    for key, value in detail.items():
        # Lists and objects are dropped whole: their contents cannot be vetted one by one.
        if not isinstance(value, bool | int | float | str) or value in traces:
            continue
        if not isinstance(value, str) or key in VOCABULARY_DETAIL_KEYS:
            kept[key] = value
    return kept or None


class PrivacyService(Service):
    """Export and erase one person's data, each in one transaction."""

    async def export(self, telegram_id: int) -> dict[str, Any] | None:
        """Everything stored about the person, JSON-ready; None if Brigade does not know them."""
        async with self._db.read() as session:
            member = await member_store.get_by_telegram_id(session, telegram_id)
            if member is None:
                return None
            return {
                "format": EXPORT_FORMAT,
                "exported_at": self._clock().isoformat(),
                "member": await self._member_section(session, member),
                "roles": await self._roles(session, member.id),
                "skills": await self._skills(session, member.id),
                "availability": await self._availability(session, member.id),
                "invitations_created": await self._invitations_created(session, member.id),
                "invitations_used": await self._invitations_used(session, member.id),
                "claims": await self._claims(session, member.id),
                "requests_posted": await self._requests_posted(session, member.id),
                "beneficiaries_registered": await self._beneficiary_count(session, member.id),
                "asked_for_yourself": await self._own_details(session, member.id),
                "offers_received": await self._offers(session, member, telegram_id),
                "messages_queued": await self._outbox(session, member.id, telegram_id),
                "audit_events": await self._audit_events(session, member),
                "drafts": await self._drafts(session, telegram_id),
                "conversations": await self._conversations(session, telegram_id),
            }

    async def _member_section(self, session: AsyncSession, member: Member) -> dict[str, Any]:
        section = {
            column.key: _jsonable(getattr(member, column.key))
            for column in Member.__table__.columns
            if column.key not in EXPORT_SKIPPED_MEMBER_COLUMNS
        }
        neighbourhood = (
            await session.get(Neighbourhood, member.neighbourhood_id)
            if member.neighbourhood_id is not None
            else None
        )
        section["neighbourhood"] = neighbourhood.name if neighbourhood else None
        return section

    async def _roles(self, session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(MemberRole).where(MemberRole.member_id == member_id).order_by(MemberRole.role)
        )
        return [
            {"role": _jsonable(row.role), "granted_at": _jsonable(row.granted_at)}
            for row in rows.scalars()
        ]

    async def _skills(self, session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(VolunteerSkill, Skill)
            .join(Skill, Skill.id == VolunteerSkill.skill_id)
            .where(VolunteerSkill.member_id == member_id)
            .order_by(Skill.id)
        )
        return [
            {
                "code": skill.code,
                "label": skill.label,
                "requires_verification": skill.requires_verification,
                "verified": held.verified_at is not None,
                "verified_at": _jsonable(held.verified_at),
            }
            for held, skill in rows
        ]

    async def _availability(self, session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(Availability).where(Availability.member_id == member_id)
        )
        slots = sorted(
            rows.scalars(),
            key=lambda s: (s.weekday, PERIODS.index(s.period) if s.period in PERIODS else 9),
        )
        return [
            {"weekday": slot.weekday, "day": WEEKDAYS[slot.weekday], "period": slot.period}
            for slot in slots
        ]

    async def _invitations_created(
        self, session: AsyncSession, member_id: int
    ) -> list[dict[str, Any]]:
        # Neither the token (still a working secret while open) nor who used the link.
        rows = await session.execute(
            select(Invite).where(Invite.created_by_id == member_id).order_by(Invite.id)
        )
        return [
            {
                "role": _jsonable(invite.role),
                "created_at": _jsonable(invite.created_at),
                "expires_at": _jsonable(invite.expires_at),
                "used": invite.used_at is not None,
                "revoked_at": _jsonable(invite.revoked_at),
            }
            for invite in rows.scalars()
        ]

    async def _invitations_used(
        self, session: AsyncSession, member_id: int
    ) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(Invite).where(Invite.used_by_id == member_id).order_by(Invite.id)
        )
        return [
            {"role": _jsonable(invite.role), "used_at": _jsonable(invite.used_at)}
            for invite in rows.scalars()
        ]

    async def _claims(self, session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(Claim).where(Claim.volunteer_id == member_id).order_by(Claim.id)
        )
        return [
            {
                "id": claim.id,
                "request_id": claim.request_id,
                "status": _jsonable(claim.status),
                "claimed_at": _jsonable(claim.claimed_at),
                "done_at": _jsonable(claim.done_at),
                "confirmed_at": _jsonable(claim.confirmed_at),
                "released_at": _jsonable(claim.released_at),
                "note": claim.note,
                "minutes_spent": claim.minutes_spent,
                "visit_plan": _jsonable(claim.visit_plan),
                "visit_planned_at": _jsonable(claim.visit_planned_at),
                "wellbeing": _jsonable(claim.wellbeing),
                "expense_cents": claim.expense_cents,
                "receipt_sent": claim.receipt_sent,
            }
            for claim in rows.scalars()
        ]

    async def _requests_posted(self, session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
        # Descriptions and places are about the beneficiary, not the referent: left out.
        rows = await session.execute(
            select(HelpRequest).where(HelpRequest.referent_id == member_id).order_by(HelpRequest.id)
        )
        return [
            {
                "id": request.id,
                "status": _jsonable(request.status),
                "created_at": _jsonable(request.created_at),
                "closed_at": _jsonable(request.closed_at),
            }
            for request in rows.scalars()
        ]

    async def _own_details(self, session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
        # What the person gave when asking for themselves (/ask): for the volunteer who helps.
        rows = await session.execute(
            select(Beneficiary).where(Beneficiary.member_id == member_id).order_by(Beneficiary.id)
        )
        return [
            {
                key: _jsonable(getattr(row, key))
                for key in ("name", "phone", "address", "access_notes", "created_at", "purged_at")
            }
            for row in rows.scalars()
        ]

    async def _beneficiary_count(self, session: AsyncSession, member_id: int) -> int:
        # Only how many: a beneficiary's details are theirs, not the referent's.
        count = await session.scalar(
            select(func.count())
            .select_from(Beneficiary)
            .where(Beneficiary.referent_id == member_id)
        )
        return int(count or 0)

    async def _offers(
        self, session: AsyncSession, member: Member, telegram_id: int
    ) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(Offer)
            .where(or_(Offer.member_id == member.id, Offer.chat_id == telegram_id))
            .order_by(Offer.id)
        )
        return [
            {
                "request_id": offer.request_id,
                "created_at": _jsonable(offer.created_at),
                "declined_at": _jsonable(offer.declined_at),
            }
            for offer in rows.scalars()
        ]

    async def _outbox(
        self, session: AsyncSession, member_id: int, telegram_id: int
    ) -> list[dict[str, Any]]:
        # Not the texts: they were sent to the person already, and may name other people.
        rows = await session.execute(
            select(OutboxMessage)
            .where(or_(OutboxMessage.member_id == member_id, OutboxMessage.chat_id == telegram_id))
            .order_by(OutboxMessage.id)
        )
        return [
            {
                "method": message.method,
                "status": _jsonable(message.status),
                "created_at": _jsonable(message.created_at),
                "sent_at": _jsonable(message.sent_at),
            }
            for message in rows.scalars()
        ]

    async def _audit_events(self, session: AsyncSession, member: Member) -> list[dict[str, Any]]:
        about_them = (AuditEvent.entity == "member") & (AuditEvent.entity_id == member.id)
        rows = await session.execute(
            select(AuditEvent)
            .where(or_(AuditEvent.actor_member_id == member.id, about_them))
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        events = []
        for event in rows.scalars():
            is_about_them = event.entity == "member" and event.entity_id == member.id
            events.append(
                {
                    "occurred_at": _jsonable(event.occurred_at),
                    "by_you": event.actor_member_id == member.id,
                    "entity": event.entity,
                    "entity_id": event.entity_id,
                    "action": event.action,
                    "from_state": event.from_state,
                    "to_state": event.to_state,
                    # What they did to someone else may hold that person's data (a rejection
                    # reason): only its numbers and fixed words are theirs to receive.
                    "detail": (
                        event.detail
                        if is_about_them
                        else _vocabulary_only(event.detail, frozenset())
                    ),
                }
            )
        return events

    async def _drafts(self, session: AsyncSession, telegram_id: int) -> dict[str, Any]:
        row = await session.get(UserData, telegram_id)
        return dict(row.data) if row is not None else {}

    async def _conversations(self, session: AsyncSession, telegram_id: int) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(ConversationState)
            .where(ConversationState.telegram_id == telegram_id)
            .order_by(ConversationState.conversation)
        )
        return [
            {
                "conversation": state.conversation,
                "step": state.state,
                "updated_at": _jsonable(state.updated_at),
            }
            for state in rows.scalars()
        ]

    async def forget(self, telegram_id: int) -> Outcome:
        """Erase the person's data and anonymise what the town keeps; NOT_FOUND if unknown."""
        now = self._clock()
        async with self._db.transaction() as session:
            # Drafts go even when no member row exists: they are the person's all the same.
            await conversation_store.delete_person(session, telegram_id)
            member = await member_store.get_by_telegram_id(session, telegram_id)
            if member is None:
                return Outcome.NOT_FOUND
            if member.forgotten_at is not None:
                return Outcome.ALREADY_DONE
            traces: frozenset[object] = frozenset(
                value
                for value in (
                    telegram_id,
                    member.display_name,
                    member.username,
                    member.phone,
                    member.address,
                    member.latitude,
                    member.longitude,
                )
                if value not in (None, "")
            )
            # Before the row is blanked: the cache is matched on the person's address and pin.
            await self._purge_geocode_cache(session, member)
            # Cases they reported keep the person reported, not the reporter's contact.
            await erase_reporter(session, member.id)
            for table in (MemberRole, VolunteerSkill, Availability):
                await session.execute(delete(table).where(table.member_id == member.id))
            # Concerns about their conduct name them through the claim: gone with them.
            await session.execute(
                delete(ConductConcern).where(ConductConcern.volunteer_id == member.id)
            )
            # Messages and offers addressed to the person's chat carry their Telegram id.
            await session.execute(
                delete(OutboxMessage).where(
                    or_(OutboxMessage.member_id == member.id, OutboxMessage.chat_id == telegram_id)
                )
            )
            await session.execute(
                delete(Offer).where(or_(Offer.member_id == member.id, Offer.chat_id == telegram_id))
            )
            await self._release_active_claims(session, member.id, now)
            await self._forget_own_requests(session, member.id, now)
            # Claims stay for the statistics (with the visit reports' answers and amounts, which
            # name nobody once the member is anonymised); a note is free text the person wrote,
            # when they planned to go says what they did, and the follow-up timers would only
            # try to message someone who is gone.
            await session.execute(
                update(Claim)
                .where(Claim.volunteer_id == member.id)
                .values(
                    note=None,
                    remind_at=None,
                    ask_done_at=None,
                    visit_plan=None,
                    visit_planned_at=None,
                )
            )
            # The person no longer holds the role an open invitation of theirs would grant.
            await session.execute(
                update(Invite)
                .where(
                    Invite.created_by_id == member.id,
                    Invite.used_at.is_(None),
                    Invite.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            await self._anonymise_audit(session, member.id, traces)
            self._blank(member, now)
            await audit.record(
                session, "member", member.id, "forget", by=member.id, moved=(None, "forgotten")
            )
            return Outcome.DONE

    async def _forget_own_requests(
        self, session: AsyncSession, member_id: int, now: datetime
    ) -> None:
        """What the person gave when asking for themselves is erased; what still waits for
        validation is withdrawn; the validation cards sent to them go."""
        await session.execute(
            update(Beneficiary)
            .where(Beneficiary.member_id == member_id, Beneficiary.purged_at.is_(None))
            .values(**ERASED_PERSON, purged_at=now)
        )
        await session.execute(
            update(HelpRequest)
            .where(
                HelpRequest.referent_id == member_id,
                HelpRequest.status == RequestStatus.TO_VALIDATE,
            )
            .values(status=RequestStatus.CANCELLED, closed_at=now, updated_at=now)
        )
        await session.execute(delete(ValidationCard).where(ValidationCard.member_id == member_id))

    async def _purge_geocode_cache(self, session: AsyncSession, member: Member) -> None:
        """Drop cached lookups of the person's address or pin: they would outlive the member.

        The typed text is not stored (only in the cache key), so the rows are found by what it
        led to: the label they kept, their address typed as such, and any answer near their
        place (an address typed at sign-up, before they moved their pin a little, is one).
        Neighbours' answers nearby go too; they cost one lookup again.
        """
        cached = GeocodeCacheEntry
        conditions = []
        if member.address:
            conditions.append(cached.result["label"].as_string() == member.address)
            conditions.append(
                cached.key.like(search_cache_key_pattern(member.address), escape="\\")
            )
        if member.latitude is not None and member.longitude is not None:
            # The same rounding as bot.services.geocoding.reverse_cache_key, in every language.
            lat, lon = round(member.latitude, 5) + 0.0, round(member.longitude, 5) + 0.0
            conditions.append(cached.key.like(f"reverse:%:{lat:.5f},{lon:.5f}"))
            near = bounding_box(member.latitude, member.longitude, NEAR_PLACE_KM)
            conditions.append(
                cached.result["latitude"].as_float().between(near.min_latitude, near.max_latitude)
                & cached.result["longitude"]
                .as_float()
                .between(near.min_longitude, near.max_longitude)
            )
        if conditions:
            await session.execute(
                delete(cached).where(or_(*conditions)).execution_options(synchronize_session=False)
            )

    async def _release_active_claims(
        self, session: AsyncSession, member_id: int, now: datetime
    ) -> None:
        """Give back the places the person holds, so a request does not wait for nobody."""
        claims = (
            await session.execute(
                select(Claim).where(
                    Claim.volunteer_id == member_id, Claim.status == ClaimStatus.ACTIVE
                )
            )
        ).scalars()
        for claim in claims:
            claim.status = ClaimStatus.RELEASED
            claim.released_at = now
            request = await session.get(HelpRequest, claim.request_id)
            if request is not None and request.places_taken > 0:
                request.places_taken -= 1
                if request.status is RequestStatus.FULL:
                    request.status = RequestStatus.OPEN
            await audit.record(
                session,
                "claim",
                claim.id,
                "release",
                by=member_id,
                moved=(ClaimStatus.ACTIVE, ClaimStatus.RELEASED),
                detail={"cause": "forget"},
            )

    async def _anonymise_audit(
        self, session: AsyncSession, member_id: int, traces: frozenset[object]
    ) -> None:
        """Strip free text (e.g. a rejection reason) from events by or about the person."""
        about_them = (AuditEvent.entity == "member") & (AuditEvent.entity_id == member_id)
        events = (
            await session.execute(
                select(AuditEvent).where(or_(AuditEvent.actor_member_id == member_id, about_them))
            )
        ).scalars()
        for event in events:
            anonymous = _vocabulary_only(event.detail, traces)
            if anonymous != (event.detail or None):
                event.detail = anonymous
        await session.flush()

    def _blank(self, member: Member, now: datetime) -> None:
        """Reset every column but the kept ones to its erased value (NULL or its default)."""
        for column in Member.__table__.columns:
            if column.key in KEPT_MEMBER_COLUMNS:
                continue
            if column.key in ERASED_MEMBER_VALUES:
                value = ERASED_MEMBER_VALUES[column.key]
            elif column.nullable:
                value = None
            else:
                # A new NOT NULL column needs an entry in ERASED_MEMBER_VALUES or a plain default.
                value = getattr(column.default, "arg", None)
                if value is None or callable(value):
                    raise TypeError(f"no erased value for members.{column.key}")
            setattr(member, column.key, value)
        member.forgotten_at = now
        member.updated_at = now
