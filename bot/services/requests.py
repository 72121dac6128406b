"""The request lifecycle: post, offer in waves, claim, release, cancel, done, confirm.

Every state change is one transaction that also writes the audit event and the outgoing messages
(outbox rows), so a crash can never leave a claim without its notifications or the reverse.
Places are taken with one conditional UPDATE — never read-then-write — and a unique
(request, volunteer) pair: at most `places_needed` claims, one per volunteer, on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.callbacks import Action
from bot.domain.lifecycle import FINISHED_REQUESTS, HOLDING_PLACE, sources_of_claim
from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role, VolunteerStatus
from bot.geo import distance_km
from bot.i18n import N_
from bot.notices import Notices, RequestView, load_request_view
from bot.services.matching import Candidate, Need, find_candidates
from bot.settings import Settings
from bot.skills import skill_label
from bot.text import escaped
from storage import audit, outbox
from storage import members as member_store
from storage.database import Database
from storage.models import (
    Beneficiary,
    Claim,
    HelpRequest,
    Member,
    Neighbourhood,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Skill,
    VolunteerSkill,
)

# Claims given back (released, or "could not") within this window count towards the daily
# limit: claim-then-release must not become a way to read every beneficiary's details.
RELEASE_WINDOW = timedelta(hours=24)

# The keyboards of the lifecycle's messages: (label, verb) per button, row by row.
DETAILS_BUTTONS = (
    ((N_("✅ Done"), "done"), (N_("↩️ Release"), "release")),
    ((N_("⚠️ Report a concern"), "concern"),),
)
FOLLOW_UP_BUTTONS = (
    ((N_("✅ Done"), "done"), (N_("Not yet"), "notyet")),
    ((N_("I could not do it"), "failed"),),
)
CONFIRM_BUTTONS = (((N_("✅ Confirmed"), "confirm"), (N_("❌ Not done"), "notdone")),)
CANCEL_BUTTON = (((N_("Cancel the request"), "cancel"),),)
MAKE_RECURRING_BUTTON = (((N_("🔁 Make it recurring"), "make"),),)
ESCALATION_BUTTONS = (
    ((N_("Widen the area"), "widen"),),
    ((N_("Offer it again"), "resend"),),
    ((N_("Cancel the request"), "cancel"),),
)


class ClaimOutcome(StrEnum):
    """How a tap on "I'll do it" ended."""

    CLAIMED = "claimed"
    ALREADY_YOURS = "already_yours"
    FULL = "full"
    CLOSED = "closed"  # cancelled, expired, done
    NOT_ALLOWED = "not_allowed"  # not an approved volunteer with the skill
    NOT_OFFERED = "not_offered"  # no offer of this request in the chat tapped (forged data)
    RELEASING_TOO_OFTEN = "releasing_too_often"  # gave back too many claims in a day
    NOT_FOUND = "not_found"


class StepOutcome(StrEnum):
    """How a follow-up action (release, done, confirm, cancel…) ended."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    STALE = "stale"  # the claim or request is no longer in a state where this applies
    ALREADY_DONE = "already_done"  # this very step was taken before (a concern already sent)
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class BeneficiaryDetails:
    """Who is helped; private: only for the referent and the claimers."""

    name: str
    phone: str | None
    address: str | None
    latitude: float
    longitude: float
    access_notes: str | None = None
    consent: bool = False


@dataclass(frozen=True)
class RequestDraft:
    """What a referent asks for."""

    skill_id: int
    description: str
    latitude: float
    longitude: float
    area_label: str
    places_needed: int = 1
    when_kind: str = "asap"  # asap / today / slot
    starts_at: datetime | None = None
    beneficiary_id: int | None = None  # one of the referent's own
    beneficiary: BeneficiaryDetails | None = None  # or a new one
    neighbourhood_id: int | None = None
    # Recurring care: the series' regular volunteer gets the request alone first, this long.
    preferred_volunteer_id: int | None = None
    exclusive_minutes: float = 0


@dataclass(frozen=True)
class Posted:
    """A request created, and how far its first wave went."""

    request_id: int
    offered: int
    remaining_candidates: int
    group_posted: bool


@dataclass(frozen=True)
class ClaimResult:
    """The result of a claim tap."""

    outcome: ClaimOutcome
    places_left: int = 0
    claim_id: int | None = None


@dataclass(frozen=True)
class _MayClaim:
    """A volunteer allowed to take this request, as read at the start of a claim."""

    volunteer: Member
    request: HelpRequest
    existing: Claim | None  # a released claim of theirs, taken up again if they win a place


def _early_answer(checked: ClaimResult | _MayClaim) -> ClaimResult:
    """The answer a read alone can give: refused, already theirs, or no place left."""
    if isinstance(checked, ClaimResult):
        return checked
    if checked.request.status is RequestStatus.FULL:
        return ClaimResult(ClaimOutcome.FULL)
    return ClaimResult(ClaimOutcome.CLOSED)


class RequestService:
    """Use cases of the request lifecycle; no Telegram here, only outbox rows."""

    def __init__(
        self,
        database: Database,
        notices: Notices,
        settings: Settings,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = database
        self._notices = notices
        self._settings = settings
        self._clock = database.clock
        # Wakes the outbox sender: the rows just committed go out at once, not at its next poll.
        self._after_commit = after_commit

    def _transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A write transaction that wakes the outbox sender once committed."""
        return self._db.transaction(on_commit=self._after_commit)

    # --- posting ---------------------------------------------------------------------------

    async def post(self, referent_telegram_id: int, draft: RequestDraft) -> Posted | None:
        """Create the request and send its first wave; None if the poster is not a referent."""
        now = self._clock()
        async with self._transaction() as session:
            referent = await member_store.get_with_role(
                session, referent_telegram_id, Role.REFERENT
            )
            if referent is None:
                return None
            beneficiary_id = await self._beneficiary(session, referent, draft, now)
            if beneficiary_id is None:
                return None
            neighbourhood_id = draft.neighbourhood_id or await self._nearest_neighbourhood(
                session, draft.latitude, draft.longitude
            )
            request = HelpRequest(
                referent_id=referent.id,
                beneficiary_id=beneficiary_id,
                skill_id=draft.skill_id,
                neighbourhood_id=neighbourhood_id,
                description=draft.description.strip()[:1000],
                latitude=draft.latitude,
                longitude=draft.longitude,
                area_label=draft.area_label[:200],
                when_kind=draft.when_kind,
                starts_at=draft.starts_at,
                places_needed=max(1, min(20, draft.places_needed)),
                status=RequestStatus.OPEN,
                expires_at=self._expiry(draft, now),
                created_at=now,
                updated_at=now,
            )
            session.add(request)
            await session.flush()
            await audit.record(
                session,
                actor_id=referent.id,
                entity="request",
                entity_id=request.id,
                action="post",
                to_state=RequestStatus.OPEN.value,
            )
            view = await load_request_view(session, request.id)
            assert view is not None
            if draft.preferred_volunteer_id is not None and await self._offer_to_regular(
                session, request, view, draft, now
            ):
                # The regular's turn: others (and the group) hear of it only if they pass.
                return Posted(request.id, 1, 0, False)
            group_posted = await self._post_in_group(session, view, neighbourhood_id)
            offered, remaining = await self._send_wave(session, request, view, referent.id, now)
            return Posted(request.id, offered, remaining, group_posted)

    async def _offer_to_regular(
        self,
        session: AsyncSession,
        request: HelpRequest,
        view: RequestView,
        draft: RequestDraft,
        now: datetime,
    ) -> bool:
        """Offer the request to the series' regular alone (wave 0), if they may take it now."""
        candidates = await find_candidates(
            session,
            Need(request.skill_id, request.latitude, request.longitude, request_id=request.id),
            now=now,
            tz=self._settings.tz,
        )
        regular = [c for c in candidates if c.member_id == draft.preferred_volunteer_id]
        if not regular:
            return False  # paused, unreachable, capped…: offered to everyone, as usual
        await self._offer_to(session, view, 0, regular, now)
        request.wave = 0
        request.next_wave_at = now + timedelta(minutes=max(1.0, draft.exclusive_minutes))
        return True

    async def _beneficiary(
        self, session: AsyncSession, referent: Member, draft: RequestDraft, now: datetime
    ) -> int | None:
        if draft.beneficiary_id is not None:
            existing = await session.get(Beneficiary, draft.beneficiary_id)
            if existing is None or existing.referent_id != referent.id:
                return None  # only one's own beneficiaries
            return existing.id
        if draft.beneficiary is None:
            return None
        details = draft.beneficiary
        row = Beneficiary(
            referent_id=referent.id,
            name=details.name[:120],
            phone=details.phone,
            address=details.address,
            latitude=details.latitude,
            longitude=details.longitude,
            access_notes=details.access_notes,
            consent_at=now if details.consent else None,
        )
        session.add(row)
        await session.flush()
        return row.id

    async def _nearest_neighbourhood(
        self, session: AsyncSession, latitude: float, longitude: float
    ) -> int | None:
        rows = (
            await session.execute(select(Neighbourhood).where(Neighbourhood.archived_at.is_(None)))
        ).scalars()
        best: tuple[float, int] | None = None
        for row in rows:
            distance = distance_km(latitude, longitude, row.latitude, row.longitude)
            if distance <= row.radius_km * 2 and (best is None or distance < best[0]):
                best = (distance, row.id)
        return best[1] if best else None

    def _expiry(self, draft: RequestDraft, now: datetime) -> datetime:
        if draft.when_kind == "slot" and draft.starts_at is not None:
            return draft.starts_at
        if draft.when_kind == "today":
            local = now.astimezone(self._settings.tz)
            end = local.replace(hour=23, minute=59, second=0, microsecond=0)
            return end.astimezone(now.tzinfo)
        return now + timedelta(hours=self._settings.asap_expiry_hours)

    async def _post_in_group(
        self, session: AsyncSession, view: RequestView, neighbourhood_id: int | None
    ) -> bool:
        if neighbourhood_id is None:
            return False
        neighbourhood = await session.get(Neighbourhood, neighbourhood_id)
        if neighbourhood is None or neighbourhood.group_chat_id is None:
            return False
        if not neighbourhood.post_to_group:
            return False
        offer = Offer(request_id=view.id, chat_id=neighbourhood.group_chat_id, kind="group", wave=0)
        session.add(offer)
        await session.flush()
        await self._notices.send_offer(session, view, offer, None, distance_km=None)
        return True

    async def _send_wave(
        self,
        session: AsyncSession,
        request: HelpRequest,
        view: RequestView,
        referent_id: int,
        now: datetime,
        *,
        everyone: bool = False,
    ) -> tuple[int, int]:
        """Offer the request to the next nearest candidates; plan the next wave or the alert."""
        candidates = await find_candidates(
            session,
            Need(
                request.skill_id,
                request.latitude,
                request.longitude,
                request_id=request.id,
                exclude_member_id=referent_id,
            ),
            now=now,
            tz=self._settings.tz,
        )
        size = len(candidates) if everyone else self._settings.wave_size
        wave, rest = candidates[:size], candidates[size:]
        request.wave += 1
        await self._offer_to(session, view, request.wave, wave, now)
        if rest:
            request.next_wave_at = now + timedelta(minutes=self._settings.wave_delay_minutes)
            request.escalate_at = None
        else:
            request.next_wave_at = None
            request.escalate_at = now + timedelta(minutes=self._settings.escalation_delay_minutes)
        return len(wave), len(rest)

    async def _offer_to(
        self,
        session: AsyncSession,
        view: RequestView,
        wave: int,
        candidates: list[Candidate],
        now: datetime,
    ) -> None:
        if not candidates:
            return
        members = {
            m.id: m
            for m in (
                await session.execute(
                    select(Member).where(Member.id.in_([c.member_id for c in candidates]))
                )
            ).scalars()
        }
        offers = [
            Offer(
                request_id=view.id,
                member_id=candidate.member_id,
                chat_id=candidate.telegram_id,
                kind="direct",
                wave=wave,
            )
            for candidate in candidates
        ]
        # One flush for the whole wave: a widened request may reach thousands of volunteers, and
        # this transaction holds the write lock all along.
        session.add_all(offers)
        await session.flush()
        for member in members.values():
            member.last_offered_at = now
        await outbox.enqueue_many(
            session,
            [
                self._notices.offer_call(
                    view,
                    offer,
                    members[candidate.member_id],
                    distance_km=candidate.distance_km,
                    silent=candidate.silent,
                )
                for offer, candidate in zip(offers, candidates, strict=True)
            ],
        )

    async def next_wave(self, request_id: int, *, only_if_due: bool = False) -> int:
        """Offer a still-open request to the rest of its candidates (the second wave)."""
        now = self._clock()
        async with self._transaction() as session:
            # Locked and re-checked: two processes sweeping timers send the wave once.
            request = await session.get(HelpRequest, request_id, with_for_update=True)
            if request is None or request.status is not RequestStatus.OPEN:
                return 0
            if only_if_due and (request.next_wave_at is None or request.next_wave_at > now):
                return 0
            view = await load_request_view(session, request_id)
            assert view is not None
            regular_passed = request.wave == 0
            if regular_passed:
                await self._post_in_group(session, view, request.neighbourhood_id)
            offered, _ = await self._send_wave(
                session, request, view, request.referent_id or 0, now, everyone=not regular_passed
            )
            if regular_passed:
                await self._tell_referent_regular_passed(session, request, view)
            await audit.record(
                session,
                actor_id=None,
                entity="request",
                entity_id=request.id,
                action="wave",
                detail={"wave": request.wave, "offered": offered},
            )
            return offered

    # --- claiming --------------------------------------------------------------------------

    async def claim(
        self, volunteer_telegram_id: int, request_id: int, *, in_chat: int | None = None
    ) -> ClaimResult:
        """Take one place, if one is left; the winner gets the private details.

        `in_chat` is the chat of the tapped offer: the volunteer's private chat (the default) or
        a neighbourhood group. A claim goes through an offer of this request in that chat — the
        volunteer's own, or the group's — never through a request id sent from anywhere.
        """
        chat_id = volunteer_telegram_id if in_chat is None else in_chat
        try:
            return await self._claim(volunteer_telegram_id, request_id, chat_id)
        except IntegrityError:
            # The same volunteer's concurrent second tap lost the unique (request, volunteer)
            # race: its transaction, place included, was rolled back.
            return ClaimResult(ClaimOutcome.ALREADY_YOURS)

    async def _claim(
        self, volunteer_telegram_id: int, request_id: int, chat_id: int
    ) -> ClaimResult:
        # Most taps of a crowd come after the last place went: those are answered from a read,
        # without waiting for the write lock. A read saying "open" proves nothing (someone may
        # take the last place meanwhile), so the write below checks everything again.
        now = self._clock()
        async with self._db.read() as session:
            early = await self._claim_checks(
                session, volunteer_telegram_id, request_id, chat_id, now
            )
        if not isinstance(early, _MayClaim) or early.request.status is not RequestStatus.OPEN:
            return _early_answer(early)
        async with self._transaction() as session:
            checked = await self._claim_checks(
                session, volunteer_telegram_id, request_id, chat_id, now
            )
            if not isinstance(checked, _MayClaim):
                return checked
            volunteer, request, existing = checked.volunteer, checked.request, checked.existing
            taken = (
                await session.execute(
                    update(HelpRequest)
                    .where(
                        HelpRequest.id == request_id,
                        HelpRequest.status == RequestStatus.OPEN,
                        HelpRequest.places_taken < HelpRequest.places_needed,
                    )
                    .values(
                        places_taken=HelpRequest.places_taken + 1,
                        status=case(
                            (
                                HelpRequest.places_taken + 1 >= HelpRequest.places_needed,
                                RequestStatus.FULL.value,
                            ),
                            else_=RequestStatus.OPEN.value,
                        ),
                        updated_at=now,
                    )
                    .returning(HelpRequest.places_taken, HelpRequest.places_needed)
                )
            ).one_or_none()
            if taken is None:
                await session.refresh(request)
                if request.status in {RequestStatus.OPEN, RequestStatus.FULL}:
                    return ClaimResult(ClaimOutcome.FULL)
                return ClaimResult(ClaimOutcome.CLOSED)
            places_taken, places_needed = taken
            if existing is not None:
                reactivated = await session.execute(
                    update(Claim)
                    .where(Claim.id == existing.id, Claim.status == ClaimStatus.RELEASED)
                    .values(status=ClaimStatus.ACTIVE, claimed_at=now, released_at=None, nudges=0)
                    .returning(Claim.id)
                )
                if reactivated.one_or_none() is None:
                    raise IntegrityError("claim", {}, Exception("claim changed concurrently"))
                claim = existing
            else:
                claim = Claim(request_id=request_id, volunteer_id=volunteer.id, claimed_at=now)
                session.add(claim)
                await session.flush()
            await session.refresh(request)
            self._plan_follow_up(claim, request, now)
            await audit.record(
                session,
                actor_id=volunteer.id,
                entity="claim",
                entity_id=claim.id,
                action="claim",
                to_state=ClaimStatus.ACTIVE.value,
                detail={"request_id": request_id},
            )
            if places_taken >= places_needed:
                await audit.record(
                    session,
                    actor_id=volunteer.id,
                    entity="request",
                    entity_id=request_id,
                    action="full",
                    from_state=RequestStatus.OPEN.value,
                    to_state=RequestStatus.FULL.value,
                )
                request.next_wave_at = None
                request.escalate_at = None
            view = await load_request_view(session, request_id)
            assert view is not None
            await self._send_details(session, view, request, claim, volunteer)
            await self._tell_referent_claimed(session, view, request, volunteer)
            await self._notices.refresh_copies(session, view)
            return ClaimResult(ClaimOutcome.CLAIMED, places_needed - places_taken, claim.id)

    async def _claim_checks(
        self,
        session: AsyncSession,
        volunteer_telegram_id: int,
        request_id: int,
        chat_id: int,
        now: datetime,
    ) -> ClaimResult | _MayClaim:
        """What stops this volunteer from claiming this request, or what the claim starts from.

        One statement: every tap of a crowd runs it, once or twice.
        """
        # The offer tapped: the volunteer's own in their private chat, or the group's copy in
        # the group (a neighbourhood group is the neighbourhood: no radius there).
        offer = aliased(Offer)
        recent_releases = (
            select(func.count(Claim.id))
            .where(
                Claim.volunteer_id == Member.id,
                Claim.status.in_([ClaimStatus.RELEASED, ClaimStatus.FAILED]),
                Claim.released_at > now - RELEASE_WINDOW,
            )
            .correlate(Member)
            .scalar_subquery()
        )
        existing = aliased(Claim)
        row = (
            await session.execute(
                select(
                    HelpRequest,
                    Member,
                    existing,
                    VolunteerSkill.member_id.is_not(None),
                    VolunteerSkill.verified_at.is_not(None),
                    Skill.requires_verification,
                    offer.id.is_not(None),
                    recent_releases,
                )
                .select_from(HelpRequest)
                .outerjoin(Member, Member.telegram_id == volunteer_telegram_id)
                .outerjoin(
                    VolunteerSkill,
                    and_(
                        VolunteerSkill.member_id == Member.id,
                        VolunteerSkill.skill_id == HelpRequest.skill_id,
                    ),
                )
                .outerjoin(Skill, Skill.id == HelpRequest.skill_id)
                .outerjoin(
                    existing,
                    and_(existing.request_id == HelpRequest.id, existing.volunteer_id == Member.id),
                )
                .outerjoin(
                    offer,
                    and_(
                        offer.request_id == HelpRequest.id,
                        offer.chat_id == chat_id,
                        or_(
                            and_(offer.kind == "direct", offer.member_id == Member.id),
                            offer.kind == "group",
                        ),
                    ),
                )
                .where(HelpRequest.id == request_id)
            )
        ).one_or_none()
        if row is None:
            return ClaimResult(ClaimOutcome.NOT_FOUND)
        (
            request,
            volunteer,
            claim,
            holds_skill,
            verified,
            needs_verification,
            offered,
            releases,
        ) = row
        may_take = (
            volunteer is not None
            and volunteer.volunteer_status is VolunteerStatus.APPROVED
            and volunteer.id != request.referent_id  # never one's own request
            and holds_skill
            and (verified or not needs_verification)
        )
        if not may_take:
            return ClaimResult(ClaimOutcome.NOT_ALLOWED)
        if claim is not None and claim.status in HOLDING_PLACE:
            return ClaimResult(ClaimOutcome.ALREADY_YOURS, claim_id=claim.id)
        if not offered:
            return ClaimResult(ClaimOutcome.NOT_OFFERED)
        if releases >= self._settings.releases_per_day:
            return ClaimResult(ClaimOutcome.RELEASING_TOO_OFTEN)
        return _MayClaim(volunteer, request, claim)

    def _plan_follow_up(self, claim: Claim, request: HelpRequest, now: datetime) -> None:
        """Reminder before the time; "is it done?" after it (or after the claim, for asap)."""
        settings = self._settings
        if request.starts_at is not None and request.when_kind == "slot":
            reminder = request.starts_at - timedelta(minutes=settings.reminder_before_minutes)
            claim.remind_at = reminder if reminder > now else None
            claim.ask_done_at = request.starts_at + timedelta(
                minutes=settings.ask_done_after_minutes
            )
        else:
            claim.remind_at = None
            claim.ask_done_at = now + timedelta(
                hours=max(2.0, settings.ask_done_after_minutes / 60)
            )

    async def _send_details(
        self,
        session: AsyncSession,
        view: RequestView,
        request: HelpRequest,
        claim: Claim,
        volunteer: Member,
    ) -> None:
        """The private details, only to the claimer, with their follow-up buttons."""
        _ = self._notices.translator_for(volunteer)
        beneficiary = (
            await session.get(Beneficiary, request.beneficiary_id)
            if request.beneficiary_id
            else None
        )
        referent = await session.get(Member, request.referent_id) if request.referent_id else None
        private = []
        if beneficiary is not None and beneficiary.purged_at is None:
            private += [
                _("Person: {name}", name=beneficiary.name),
                _("Phone: {value}", value=beneficiary.phone or _("not given")),
                _("Address: {value}", value=beneficiary.address or _("not given")),
            ]
            if beneficiary.access_notes:
                private.append(_("Access: {notes}", notes=beneficiary.access_notes))
        if referent is not None:
            private.append(
                _(
                    "Referent: {name} ({phone})",
                    name=referent.display_name,
                    phone=referent.phone or _("via Telegram"),
                )
            )
        thanks = _(
            "Thank you! You take request #{id}. Here are the private details: keep them to "
            "yourself.",
            id=view.id,
        )
        lines = [escaped(thanks), "", self._notices.offer_text(view, _, None), ""]
        lines += [escaped(line) for line in private]
        rows = self._notices.buttons(_, Action.CLAIM_STEP, claim.id, DETAILS_BUTTONS)
        row = await self._notices.tell(session, volunteer, "\n".join(lines), rows=rows, html=True)
        # Remembered so the details can be removed from the chat once the request is over.
        claim.details_outbox_id = row.id if row is not None else None

    async def _tell_referent_claimed(
        self, session: AsyncSession, view: RequestView, request: HelpRequest, volunteer: Member
    ) -> None:
        referent = await session.get(Member, request.referent_id) if request.referent_id else None
        if referent is None:
            return
        _ = self._notices.translator_for(referent)
        text = _(
            "{name} ({phone}) takes your request #{id} ({skill}).",
            name=volunteer.display_name,
            phone=volunteer.phone or _("no phone given"),
            id=view.id,
            skill=skill_label(view.skill_label, _),
        )
        text += "\n" + self._notices.places_text(view, _)
        rows = self._notices.buttons(_, Action.REQUEST_ADMIN, view.id, CANCEL_BUTTON)
        if request.series_id is None:
            rows += self._notices.buttons(_, Action.SERIES, view.id, MAKE_RECURRING_BUTTON)
        await self._notices.tell(session, referent, text, rows=rows)

    async def _tell_referent_regular_passed(
        self, session: AsyncSession, request: HelpRequest, view: RequestView
    ) -> None:
        referent = await session.get(Member, request.referent_id) if request.referent_id else None
        if referent is None:
            return
        _ = self._notices.translator_for(referent)
        await self._notices.tell(
            session,
            referent,
            _(
                "The usual volunteer did not take request #{id} ({skill}): it is now offered "
                "to the other volunteers.",
                id=view.id,
                skill=skill_label(view.skill_label, _),
            ),
            priority=5,
        )

    async def decline(
        self, volunteer_telegram_id: int, request_id: int, *, message_id: int | None
    ) -> StepOutcome:
        """ "Not for me", tapped on `message_id`: no further message about this request to them.

        Only on the volunteer's own copy of this request's offer: DONE lets the caller edit the
        tapped message, so a button forged on another message must not get that far.
        """
        now = self._clock()
        async with self._transaction() as session:
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            if volunteer is None:
                return StepOutcome.NOT_ALLOWED
            offer = (
                await session.execute(
                    select(Offer).where(
                        Offer.request_id == request_id,
                        Offer.member_id == volunteer.id,
                        Offer.chat_id == volunteer_telegram_id,
                    )
                )
            ).scalar_one_or_none()
            # A copy whose message id is not recorded yet (just sent) is taken on trust.
            if offer is None or offer.message_id not in {None, message_id}:
                return StepOutcome.NOT_FOUND
            if offer.declined_at is not None:
                return StepOutcome.STALE
            offer.declined_at = now
            await audit.record(
                session, actor_id=volunteer.id, entity="offer", entity_id=offer.id, action="decline"
            )
            request = await session.get(HelpRequest, request_id)
            if request is not None and request.wave == 0 and request.status is RequestStatus.OPEN:
                # The regular passed: the others need not wait for the deadline.
                request.next_wave_at = now
            return StepOutcome.DONE

    # --- after the claim -------------------------------------------------------------------

    async def release(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """Give the place back: the request reopens, copies regain their button, referent told."""
        return await self._end_claim(volunteer_telegram_id, claim_id, ClaimStatus.RELEASED)

    async def could_not(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """ "Could not do it": the place reopens like a release."""
        return await self._end_claim(volunteer_telegram_id, claim_id, ClaimStatus.FAILED)

    async def _end_claim(
        self, volunteer_telegram_id: int, claim_id: int, target: ClaimStatus
    ) -> StepOutcome:
        now = self._clock()
        async with self._transaction() as session:
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            if volunteer is None:
                return StepOutcome.NOT_ALLOWED
            claim = await session.get(Claim, claim_id)
            if claim is None:
                return StepOutcome.NOT_FOUND
            if claim.volunteer_id != volunteer.id:
                return StepOutcome.NOT_ALLOWED
            ended = (
                await session.execute(
                    update(Claim)
                    .where(Claim.id == claim_id, Claim.status == ClaimStatus.ACTIVE)
                    .values(
                        status=target,
                        released_at=now,
                        remind_at=None,
                        ask_done_at=None,
                        purge_details_at=now,  # they no longer need the person's details
                    )
                    .returning(Claim.request_id)
                )
            ).one_or_none()
            if ended is None:
                return StepOutcome.STALE
            await self._reopen_place(session, claim.request_id, now)
            await audit.record(
                session,
                actor_id=volunteer.id,
                entity="claim",
                entity_id=claim_id,
                action=target.value,
                from_state=ClaimStatus.ACTIVE.value,
                to_state=target.value,
            )
            view = await load_request_view(session, claim.request_id)
            assert view is not None
            request = await session.get(HelpRequest, claim.request_id)
            referent = (
                await session.get(Member, request.referent_id)
                if request and request.referent_id
                else None
            )
            if referent is not None:
                _ = self._notices.translator_for(referent)
                text = (
                    _(
                        "{name} released your request #{id}: it is offered again.",
                        name=volunteer.display_name,
                        id=view.id,
                    )
                    if target is ClaimStatus.RELEASED
                    else _(
                        "{name} could not do your request #{id}: it is offered again.",
                        name=volunteer.display_name,
                        id=view.id,
                    )
                )
                await self._notices.tell(session, referent, text)
            await self._notices.refresh_copies(session, view)
            await self._check_release_limit(session, volunteer, now)
            return StepOutcome.DONE

    async def _check_release_limit(
        self, session: AsyncSession, volunteer: Member, now: datetime
    ) -> None:
        """Tell the coordinators when a volunteer reaches the day's limit of claims given back."""
        given_back = (
            await session.execute(
                select(func.count(Claim.id)).where(
                    Claim.volunteer_id == volunteer.id,
                    Claim.status.in_([ClaimStatus.RELEASED, ClaimStatus.FAILED]),
                    Claim.released_at > now - RELEASE_WINDOW,
                )
            )
        ).scalar_one()
        limit = self._settings.releases_per_day
        if given_back != limit:
            return  # below the limit, or already told when it was reached
        await audit.record(
            session,
            actor_id=volunteer.id,
            entity="member",
            entity_id=volunteer.id,
            action="release_limit",
            detail={"claims_given_back": given_back},
        )
        for coordinator, _roles in await member_store.members_with_any_role(
            session, [Role.COORDINATOR]
        ):
            _ = self._notices.translator_for(coordinator)
            await self._notices.tell(
                session,
                coordinator,
                _.ngettext(
                    "⚠️ {name} gave back {count} request within 24 hours. Each claim showed "
                    "them a person's private details, so they cannot take a new one for a day. "
                    "Please check in with them.",
                    "⚠️ {name} gave back {count} requests within 24 hours. Each claim showed "
                    "them a person's private details, so they cannot take a new one for a day. "
                    "Please check in with them.",
                    given_back,
                    name=volunteer.display_name,
                ),
            )

    async def _reopen_place(self, session: AsyncSession, request_id: int, now: datetime) -> None:
        await session.execute(
            update(HelpRequest)
            .where(
                HelpRequest.id == request_id,
                HelpRequest.status.in_(
                    [RequestStatus.OPEN, RequestStatus.FULL, RequestStatus.COMPLETED]
                ),
                HelpRequest.places_taken > 0,
            )
            .values(
                places_taken=HelpRequest.places_taken - 1,
                status=RequestStatus.OPEN,
                updated_at=now,
                # Nobody else took it in the meantime: alert the referent later if still open.
                escalate_at=now + timedelta(minutes=self._settings.escalation_delay_minutes),
            )
        )

    async def cancel(
        self, actor_telegram_id: int, request_id: int, reason: str | None = None
    ) -> StepOutcome:
        """The referent (or a coordinator) cancels: claimers told, every copy marked cancelled."""
        now = self._clock()
        async with self._transaction() as session:
            actor = await member_store.get_by_telegram_id(session, actor_telegram_id)
            request = await session.get(HelpRequest, request_id)
            if request is None:
                return StepOutcome.NOT_FOUND
            if actor is None:
                return StepOutcome.NOT_ALLOWED
            roles = await member_store.roles_of(session, actor.id)
            if actor.id != request.referent_id and Role.COORDINATOR not in roles:
                return StepOutcome.NOT_ALLOWED
            cancelled = (
                await session.execute(
                    update(HelpRequest)
                    .where(
                        HelpRequest.id == request_id,
                        HelpRequest.status.in_([RequestStatus.OPEN, RequestStatus.FULL]),
                    )
                    .values(
                        status=RequestStatus.CANCELLED,
                        # Active claims are cancelled below; a claim already said done keeps
                        # its place (it is the volunteer's record of a service given).
                        places_taken=select(func.count())
                        .where(Claim.request_id == request_id, Claim.status == ClaimStatus.DONE)
                        .scalar_subquery(),
                        cancel_reason=reason,
                        closed_at=now,
                        next_wave_at=None,
                        escalate_at=None,
                        updated_at=now,
                    )
                    .returning(HelpRequest.id)
                )
            ).one_or_none()
            if cancelled is None:
                return StepOutcome.STALE
            claims = (
                await session.execute(
                    select(Claim, Member)
                    .join(Member, Member.id == Claim.volunteer_id)
                    .where(Claim.request_id == request_id, Claim.status == ClaimStatus.ACTIVE)
                )
            ).all()
            await session.execute(
                update(Claim)
                .where(Claim.request_id == request_id, Claim.status == ClaimStatus.ACTIVE)
                .values(
                    status=ClaimStatus.CANCELLED,
                    remind_at=None,
                    ask_done_at=None,
                    purge_details_at=now,
                )
            )
            await audit.record(
                session,
                actor_id=actor.id,
                entity="request",
                entity_id=request_id,
                action="cancel",
                to_state=RequestStatus.CANCELLED.value,
            )
            view = await load_request_view(session, request_id)
            assert view is not None
            for _claim, volunteer in claims:
                _ = self._notices.translator_for(volunteer)
                await self._notices.tell(
                    session,
                    volunteer,
                    _(
                        "Request #{id} ({skill}) was cancelled by the referent. You have nothing "
                        "more to do. Thank you!",
                        id=view.id,
                        skill=skill_label(view.skill_label, _),
                    ),
                )
            await self._notices.refresh_copies(session, view)
            return StepOutcome.DONE

    async def mark_done(
        self,
        volunteer_telegram_id: int,
        claim_id: int,
        note: str | None = None,
        minutes: int | None = None,
    ) -> StepOutcome:
        """The volunteer says it is done: the referent is asked to confirm."""
        now = self._clock()
        async with self._transaction() as session:
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            claim = await session.get(Claim, claim_id)
            if claim is None:
                return StepOutcome.NOT_FOUND
            if volunteer is None or claim.volunteer_id != volunteer.id:
                return StepOutcome.NOT_ALLOWED
            done = (
                await session.execute(
                    update(Claim)
                    .where(Claim.id == claim_id, Claim.status == ClaimStatus.ACTIVE)
                    .values(
                        status=ClaimStatus.DONE,
                        done_at=now,
                        note=note,
                        minutes_spent=minutes,
                        remind_at=None,
                        ask_done_at=None,
                    )
                    .returning(Claim.id)
                )
            ).one_or_none()
            if done is None:
                return StepOutcome.STALE
            await audit.record(
                session,
                actor_id=volunteer.id,
                entity="claim",
                entity_id=claim_id,
                action="done",
                from_state=ClaimStatus.ACTIVE.value,
                to_state=ClaimStatus.DONE.value,
            )
            await self._complete_if_all_done(session, claim.request_id, now)
            view = await load_request_view(session, claim.request_id)
            request = await session.get(HelpRequest, claim.request_id)
            assert view is not None
            assert request is not None
            referent = (
                await session.get(Member, request.referent_id) if request.referent_id else None
            )
            if referent is not None:
                _ = self._notices.translator_for(referent)
                text = _(
                    "{name} says your request #{id} ({skill}) is done. Can you confirm it with "
                    "the person?",
                    name=volunteer.display_name,
                    id=view.id,
                    skill=skill_label(view.skill_label, _),
                )
                if note:
                    text += "\n" + _("Their note: {note}", note=note)
                rows = self._notices.buttons(_, Action.REFERENT_STEP, claim_id, CONFIRM_BUTTONS)
                await self._notices.tell(session, referent, text, rows=rows)
            return StepOutcome.DONE

    async def _complete_if_all_done(
        self, session: AsyncSession, request_id: int, now: datetime
    ) -> None:
        """A full request whose every holding claim is done waits for confirmation."""
        holding = (
            (
                await session.execute(
                    select(Claim.status).where(
                        Claim.request_id == request_id, Claim.status.in_(HOLDING_PLACE)
                    )
                )
            )
            .scalars()
            .all()
        )
        if holding and all(status is ClaimStatus.DONE for status in holding):
            await session.execute(
                update(HelpRequest)
                .where(HelpRequest.id == request_id, HelpRequest.status == RequestStatus.FULL)
                .values(status=RequestStatus.COMPLETED, updated_at=now)
            )

    async def confirm(self, referent_telegram_id: int, claim_id: int, *, done: bool) -> StepOutcome:
        """The referent confirms the service (closing the request when all are) or says not done."""
        now = self._clock()
        target = ClaimStatus.CONFIRMED if done else ClaimStatus.NOT_DONE
        async with self._transaction() as session:
            referent = await member_store.get_by_telegram_id(session, referent_telegram_id)
            claim = await session.get(Claim, claim_id)
            if claim is None:
                return StepOutcome.NOT_FOUND
            request = await session.get(HelpRequest, claim.request_id)
            if referent is None or request is None or request.referent_id != referent.id:
                return StepOutcome.NOT_ALLOWED
            changed = (
                await session.execute(
                    update(Claim)
                    .where(Claim.id == claim_id, Claim.status.in_(sources_of_claim(target)))
                    .values(
                        status=target,
                        confirmed_at=now if done else None,
                        # Kept a while after a confirmed service (a forgotten umbrella, a call
                        # back); removed at once when it was not done.
                        purge_details_at=(
                            now + timedelta(hours=self._settings.details_removal_hours)
                            if done
                            else now
                        ),
                    )
                    .returning(Claim.id)
                )
            ).one_or_none()
            if changed is None:
                return StepOutcome.STALE
            await audit.record(
                session,
                actor_id=referent.id,
                entity="claim",
                entity_id=claim_id,
                action="confirm" if done else "not_done",
                from_state=ClaimStatus.DONE.value,
                to_state=target.value,
            )
            volunteer = (
                await session.get(Member, claim.volunteer_id) if claim.volunteer_id else None
            )
            if done:
                await self._close_if_all_confirmed(session, request, now)
            else:
                await self._reopen_place(session, request.id, now)
            view = await load_request_view(session, request.id)
            assert view is not None
            if volunteer is not None:
                _ = self._notices.translator_for(volunteer)
                await self._notices.tell(
                    session,
                    volunteer,
                    _(
                        "The referent confirmed request #{id}. Thank you for your help! 💛",
                        id=view.id,
                    )
                    if done
                    else _(
                        "The referent says request #{id} was not done: it is offered again.",
                        id=view.id,
                    ),
                    priority=5,
                )
            await self._notices.refresh_copies(session, view)
            return StepOutcome.DONE

    async def _close_if_all_confirmed(
        self, session: AsyncSession, request: HelpRequest, now: datetime
    ) -> None:
        statuses = (
            (
                await session.execute(
                    select(Claim.status).where(
                        Claim.request_id == request.id,
                        Claim.status.in_([*HOLDING_PLACE, ClaimStatus.CONFIRMED]),
                    )
                )
            )
            .scalars()
            .all()
        )
        if (
            statuses
            and all(s is ClaimStatus.CONFIRMED for s in statuses)
            and len(statuses) >= request.places_needed
        ):
            closed = await session.execute(
                update(HelpRequest)
                .where(
                    HelpRequest.id == request.id,
                    HelpRequest.status.in_([RequestStatus.COMPLETED, RequestStatus.FULL]),
                )
                .values(status=RequestStatus.CLOSED, closed_at=now, updated_at=now)
                .returning(HelpRequest.id)
            )
            if closed.one_or_none() is not None:
                await audit.record(
                    session,
                    actor_id=None,
                    entity="request",
                    entity_id=request.id,
                    action="close",
                    from_state=RequestStatus.COMPLETED.value,
                    to_state=RequestStatus.CLOSED.value,
                )

    async def record_minutes(
        self, volunteer_telegram_id: int, claim_id: int, minutes: int
    ) -> StepOutcome:
        """How long the service took, for the town's "hours given" (after Done)."""
        if not 1 <= minutes <= 24 * 60:
            return StepOutcome.NOT_FOUND
        async with self._transaction() as session:
            claim, volunteer = await self._own_claim(session, volunteer_telegram_id, claim_id)
            if claim is None or volunteer is None:
                return StepOutcome.NOT_ALLOWED if claim else StepOutcome.NOT_FOUND
            if claim.status not in {ClaimStatus.DONE, ClaimStatus.CONFIRMED}:
                return StepOutcome.STALE
            claim.minutes_spent = minutes
            return StepOutcome.DONE

    async def not_yet(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """ "Not yet": ask again later."""
        now = self._clock()
        async with self._transaction() as session:
            claim, volunteer = await self._own_claim(session, volunteer_telegram_id, claim_id)
            if claim is None or volunteer is None:
                return StepOutcome.NOT_ALLOWED if claim else StepOutcome.NOT_FOUND
            if claim.status is not ClaimStatus.ACTIVE:
                return StepOutcome.STALE
            claim.ask_done_at = now + timedelta(hours=self._settings.nudge_after_hours)
            return StepOutcome.DONE

    async def _own_claim(
        self, session: AsyncSession, volunteer_telegram_id: int, claim_id: int
    ) -> tuple[Claim | None, Member | None]:
        """The claim and its volunteer, if the claim belongs to this Telegram user."""
        claim = await session.get(Claim, claim_id)
        volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
        if claim is None:
            return None, None
        if volunteer is None or claim.volunteer_id != volunteer.id:
            return claim, None
        return claim, volunteer

    async def concern(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """ "Report a concern": the referent and every coordinator are alerted, once per claim."""
        now = self._clock()
        async with self._transaction() as session:
            claim, volunteer = await self._own_claim(session, volunteer_telegram_id, claim_id)
            if claim is None or volunteer is None:
                return StepOutcome.NOT_ALLOWED if claim else StepOutcome.NOT_FOUND
            # One conditional UPDATE: five taps (at once or not) make one alert, not five.
            first = (
                await session.execute(
                    update(Claim)
                    .where(
                        Claim.id == claim.id,
                        Claim.status.in_(HOLDING_PLACE),
                        Claim.concern_at.is_(None),
                    )
                    .values(concern_at=now)
                    .returning(Claim.id)
                )
            ).one_or_none()
            if first is None:
                await session.refresh(claim)
                if claim.status in HOLDING_PLACE:
                    return StepOutcome.ALREADY_DONE
                return StepOutcome.STALE
            request = await session.get(HelpRequest, claim.request_id)
            assert request is not None
            view = await load_request_view(session, request.id)
            assert view is not None
            await audit.record(
                session,
                actor_id=volunteer.id,
                entity="claim",
                entity_id=claim.id,
                action="concern",
                detail={"request_id": request.id},
            )
            for person in await self._referent_and_coordinators(session, request):
                _ = self._notices.translator_for(person)
                await self._notices.tell(
                    session,
                    person,
                    _(
                        "⚠️ {name} ({phone}) reports a concern about request #{id} ({skill}). "
                        "Please call them.",
                        name=volunteer.display_name,
                        phone=volunteer.phone or _("no phone given"),
                        id=view.id,
                        skill=skill_label(view.skill_label, _),
                    ),
                )
            return StepOutcome.DONE

    async def _referent_and_coordinators(
        self, session: AsyncSession, request: HelpRequest
    ) -> list[Member]:
        """Who must hear of trouble with a request (one query)."""
        from storage.models import MemberRole

        rows = (
            await session.execute(
                select(Member)
                .outerjoin(
                    MemberRole,
                    (MemberRole.member_id == Member.id) & (MemberRole.role == Role.COORDINATOR),
                )
                .where(
                    Member.telegram_id.is_not(None),
                    (Member.id == request.referent_id) | MemberRole.member_id.is_not(None),
                )
                .distinct()
            )
        ).scalars()
        return list(rows)

    async def _may_manage(
        self, session: AsyncSession, telegram_id: int, request: HelpRequest
    ) -> Member | None:
        actor = await member_store.get_by_telegram_id(session, telegram_id)
        if actor is None:
            return None
        if actor.id == request.referent_id:
            return actor
        roles = await member_store.roles_of(session, actor.id)
        return actor if Role.COORDINATOR in roles else None

    async def resend(self, actor_telegram_id: int, request_id: int) -> StepOutcome:
        """Offer an open request to every fitting volunteer not yet asked; plan a new alert."""
        return await self._reoffer(actor_telegram_id, request_id, radius_factor=1.0)

    async def widen(self, actor_telegram_id: int, request_id: int) -> StepOutcome:
        """Offer an open request to volunteers up to twice their own radius away."""
        return await self._reoffer(actor_telegram_id, request_id, radius_factor=2.0)

    async def _reoffer(
        self, actor_telegram_id: int, request_id: int, *, radius_factor: float
    ) -> StepOutcome:
        now = self._clock()
        async with self._transaction() as session:
            request = await session.get(HelpRequest, request_id)
            if request is None:
                return StepOutcome.NOT_FOUND
            actor = await self._may_manage(session, actor_telegram_id, request)
            if actor is None:
                return StepOutcome.NOT_ALLOWED
            if request.status is not RequestStatus.OPEN:
                return StepOutcome.STALE
            view = await load_request_view(session, request_id)
            assert view is not None
            candidates = await find_candidates(
                session,
                Need(
                    request.skill_id,
                    request.latitude,
                    request.longitude,
                    request_id=request.id,
                    exclude_member_id=request.referent_id,
                    radius_factor=radius_factor,
                ),
                now=now,
                tz=self._settings.tz,
            )
            request.wave += 1
            await self._offer_to(session, view, request.wave, candidates, now)
            request.escalated_at = None
            request.escalate_at = now + timedelta(minutes=self._settings.escalation_delay_minutes)
            await audit.record(
                session,
                actor_id=actor.id,
                entity="request",
                entity_id=request.id,
                action="widen" if radius_factor > 1 else "resend",
                detail={"offered": len(candidates)},
            )
            return StepOutcome.DONE

    # --- timers ----------------------------------------------------------------------------

    async def run_due(self) -> dict[str, int]:
        """Do what is due (waves, alerts, expiry, follow-up, removals); safe to call often."""
        now = self._clock()
        done = dict.fromkeys(
            (
                "waves",
                "escalations",
                "expired",
                "reminders",
                "asked",
                "released",
                "details_removed",
                "beneficiaries_purged",
            ),
            0,
        )
        open_request = HelpRequest.status == RequestStatus.OPEN
        async with self._db.read() as session:
            due_expiry = await _ids(
                session,
                select(HelpRequest.id).where(
                    open_request, HelpRequest.places_taken == 0, HelpRequest.expires_at <= now
                ),
            )
            due_waves = await _ids(
                session, select(HelpRequest.id).where(open_request, HelpRequest.next_wave_at <= now)
            )
            due_alerts = await _ids(
                session,
                select(HelpRequest.id).where(
                    open_request, HelpRequest.escalate_at <= now, HelpRequest.escalated_at.is_(None)
                ),
            )
            due_claims = await _ids(
                session,
                select(Claim.id).where(
                    Claim.status == ClaimStatus.ACTIVE,
                    (Claim.remind_at <= now) | (Claim.ask_done_at <= now),
                ),
            )
            due_removals = await _ids(
                session, select(Claim.id).where(Claim.purge_details_at <= now)
            )
        for request_id in due_expiry:
            done["expired"] += await self._expire(request_id, now)
        for request_id in set(due_waves) - set(due_expiry):
            done["waves"] += 1 if await self.next_wave(request_id, only_if_due=True) else 0
        for request_id in set(due_alerts) - set(due_expiry):
            done["escalations"] += await self._escalate(request_id, now)
        for claim_id in due_claims:
            kind = await self._follow_up(claim_id, now)
            if kind:
                done[kind] += 1
        for claim_id in due_removals:
            done["details_removed"] += await self._remove_details(claim_id, now)
        done["beneficiaries_purged"] = await self._purge_beneficiaries(now)
        return done

    async def _remove_details(self, claim_id: int, now: datetime) -> int:
        """Replace the private details in the claimer's chat once they are no longer needed."""
        async with self._transaction() as session:
            claim = await session.get(Claim, claim_id, with_for_update=True)
            if claim is None or claim.purge_details_at is None or claim.purge_details_at > now:
                return 0
            claim.purge_details_at = None
            row = (
                await session.get(OutboxMessage, claim.details_outbox_id)
                if claim.details_outbox_id
                else None
            )
            if row is None:
                return 0
            if row.status is OutboxStatus.PENDING:
                # Never delivered: make sure it never is.
                for column, value in outbox.final_values(OutboxStatus.SKIPPED).items():
                    setattr(row, column, value)
                row.last_error = "details no longer needed"
                return 1
            if row.telegram_message_id is None:
                return 0
            volunteer = (
                await session.get(Member, claim.volunteer_id) if claim.volunteer_id else None
            )
            _ = self._notices.translator_for(volunteer)
            await outbox.enqueue(
                session,
                chat_id=row.chat_id,
                method="edit_message_text",
                payload={
                    "message_id": row.telegram_message_id,
                    "text": _(
                        "🔒 The private details of request #{id} have been removed: the request "
                        "is over. Thank you!",
                        id=claim.request_id,
                    ),
                },
                priority=outbox.BULK,
                member_id=claim.volunteer_id,
            )
            return 1

    async def _purge_beneficiaries(self, now: datetime) -> int:
        """Erase the contact data of people whose last request ended before the retention period."""
        cutoff = now - timedelta(days=self._settings.retention_days)
        ongoing = select(HelpRequest.id).where(
            HelpRequest.beneficiary_id == Beneficiary.id,
            HelpRequest.status.not_in(list(FINISHED_REQUESTS)),
        )
        recent = select(HelpRequest.id).where(
            HelpRequest.beneficiary_id == Beneficiary.id, HelpRequest.closed_at > cutoff
        )
        async with self._transaction() as session:
            purged = await session.execute(
                update(Beneficiary)
                .where(
                    Beneficiary.purged_at.is_(None),
                    Beneficiary.created_at <= cutoff,
                    ~ongoing.exists(),
                    ~recent.exists(),
                )
                .values(
                    name="—",
                    phone=None,
                    address=None,
                    access_notes=None,
                    latitude=None,
                    longitude=None,
                    purged_at=now,
                )
                .returning(Beneficiary.id)
                .execution_options(synchronize_session=False)
            )
            ids = purged.scalars().all()
            for beneficiary_id in ids:
                await audit.record(
                    session,
                    actor_id=None,
                    entity="beneficiary",
                    entity_id=beneficiary_id,
                    action="purge",
                )
            return len(ids)

    async def _expire(self, request_id: int, now: datetime) -> int:
        async with self._transaction() as session:
            expired = (
                await session.execute(
                    update(HelpRequest)
                    .where(
                        HelpRequest.id == request_id,
                        HelpRequest.status == RequestStatus.OPEN,
                        HelpRequest.places_taken == 0,
                        HelpRequest.expires_at <= now,
                    )
                    .values(
                        status=RequestStatus.EXPIRED,
                        closed_at=now,
                        next_wave_at=None,
                        escalate_at=None,
                        updated_at=now,
                    )
                    .returning(HelpRequest.referent_id)
                )
            ).one_or_none()
            if expired is None:
                return 0
            await audit.record(
                session,
                actor_id=None,
                entity="request",
                entity_id=request_id,
                action="expire",
                from_state=RequestStatus.OPEN.value,
                to_state=RequestStatus.EXPIRED.value,
            )
            view = await load_request_view(session, request_id)
            assert view is not None
            referent = await session.get(Member, expired[0]) if expired[0] else None
            if referent is not None:
                _ = self._notices.translator_for(referent)
                await self._notices.tell(
                    session,
                    referent,
                    _(
                        "Nobody could take your request #{id} ({skill}) in time: it has expired. "
                        "You can post it again with /new.",
                        id=view.id,
                        skill=skill_label(view.skill_label, _),
                    ),
                    priority=5,
                )
            await self._notices.refresh_copies(session, view)
            return 1

    async def _escalate(self, request_id: int, now: datetime) -> int:
        async with self._transaction() as session:
            marked = (
                await session.execute(
                    update(HelpRequest)
                    .where(
                        HelpRequest.id == request_id,
                        HelpRequest.status == RequestStatus.OPEN,
                        HelpRequest.escalated_at.is_(None),
                    )
                    .values(escalated_at=now)
                    .returning(HelpRequest.id)
                )
            ).one_or_none()
            if marked is None:
                return 0
            request = await session.get(HelpRequest, request_id)
            view = await load_request_view(session, request_id)
            assert request is not None
            assert view is not None
            offers = (
                await session.execute(
                    select(func.count()).where(
                        Offer.request_id == request_id, Offer.kind == "direct"
                    )
                )
            ).scalar_one()
            declined = (
                await session.execute(
                    select(func.count()).where(
                        Offer.request_id == request_id, Offer.declined_at.is_not(None)
                    )
                )
            ).scalar_one()
            groups = (
                await session.execute(
                    select(func.count()).where(
                        Offer.request_id == request_id, Offer.kind == "group"
                    )
                )
            ).scalar_one()
            await audit.record(
                session,
                actor_id=None,
                entity="request",
                entity_id=request_id,
                action="escalate",
                detail={"offered": offers, "declined": declined},
            )
            for person in await self._referent_and_coordinators(session, request):
                _ = self._notices.translator_for(person)
                text = _(
                    "⏰ Request #{id} ({skill}) is still not taken. Tried: {offers} volunteer(s) "
                    "in {waves} wave(s), {groups} group post(s); {declined} said it was not for "
                    "them. What should we do?",
                    id=view.id,
                    skill=skill_label(view.skill_label, _),
                    offers=offers,
                    waves=request.wave,
                    groups=groups,
                    declined=declined,
                )
                rows = self._notices.buttons(
                    _, Action.REQUEST_ADMIN, request_id, ESCALATION_BUTTONS
                )
                await self._notices.tell(session, person, text, rows=rows, priority=5)
            return 1

    async def _follow_up(self, claim_id: int, now: datetime) -> str | None:
        """A reminder before the time, or "is it done?" after it; nudges, then auto-release."""
        settings = self._settings
        async with self._transaction() as session:
            # Locked, and the timers re-read under the lock: one reminder however many sweep.
            claim = await session.get(Claim, claim_id, with_for_update=True)
            if claim is None or claim.status is not ClaimStatus.ACTIVE:
                return None
            volunteer = (
                await session.get(Member, claim.volunteer_id) if claim.volunteer_id else None
            )
            view = await load_request_view(session, claim.request_id)
            if volunteer is None or view is None:
                return None
            _ = self._notices.translator_for(volunteer)
            if claim.remind_at is not None and claim.remind_at <= now:
                claim.remind_at = None
                await self._notices.tell(
                    session,
                    volunteer,
                    _(
                        "Reminder: request #{id} ({skill}) is {when}.",
                        id=view.id,
                        skill=skill_label(view.skill_label, _),
                        when=self._notices.when_text(view, _),
                    ),
                    priority=5,
                )
                return "reminders"
            if claim.ask_done_at is None or claim.ask_done_at > now:
                return None
            silent_for = now - claim.claimed_at
            if claim.nudges >= 2 and silent_for >= timedelta(
                hours=settings.auto_release_after_hours
            ):
                claim.status = ClaimStatus.RELEASED
                claim.released_at = now
                claim.ask_done_at = None
                claim.purge_details_at = now
                await self._reopen_place(session, claim.request_id, now)
                await audit.record(
                    session,
                    actor_id=None,
                    entity="claim",
                    entity_id=claim.id,
                    action="auto_release",
                    from_state=ClaimStatus.ACTIVE.value,
                    to_state=ClaimStatus.RELEASED.value,
                )
                await self._notices.tell(
                    session,
                    volunteer,
                    _(
                        "Without news from you, request #{id} was given back so that someone "
                        "else can take it.",
                        id=view.id,
                    ),
                    priority=5,
                )
                await self._tell_referent(
                    session,
                    claim.request_id,
                    N_(
                        "{name} did not answer about request #{id}: it was released and is "
                        "offered again."
                    ),
                    name=volunteer.display_name,
                    id=view.id,
                )
                await self._notices.refresh_copies(session, view)
                return "released"
            claim.nudges += 1
            claim.ask_done_at = now + timedelta(hours=settings.nudge_after_hours)
            rows = self._notices.buttons(_, Action.CLAIM_STEP, claim.id, FOLLOW_UP_BUTTONS)
            await self._notices.tell(
                session,
                volunteer,
                _(
                    "Is request #{id} ({skill}) done?",
                    id=view.id,
                    skill=skill_label(view.skill_label, _),
                ),
                rows=rows,
                priority=5,
            )
            if claim.nudges >= 2:
                await self._tell_referent(
                    session,
                    claim.request_id,
                    N_(
                        "{name} has not answered about request #{id} for a while. You may want "
                        "to call them ({phone})."
                    ),
                    name=volunteer.display_name,
                    id=view.id,
                    phone=volunteer.phone or "—",
                )
            return "asked"

    async def _tell_referent(
        self, session: AsyncSession, request_id: int, message: str, **values: object
    ) -> None:
        """A notice to the request's referent, in their language (`message` marked with N_)."""
        request = await session.get(HelpRequest, request_id)
        referent = (
            await session.get(Member, request.referent_id)
            if request and request.referent_id
            else None
        )
        if referent is None:
            return
        _ = self._notices.translator_for(referent)
        await self._notices.tell(session, referent, _(message, **values), priority=5)

    async def active_claims_of(self, volunteer_telegram_id: int) -> list[int]:
        """The claims a volunteer is holding now (to release them before /forget)."""
        async with self._db.read() as session:
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            if volunteer is None:
                return []
            return await _ids(
                session,
                select(Claim.id).where(
                    Claim.volunteer_id == volunteer.id, Claim.status == ClaimStatus.ACTIVE
                ),
            )

    async def beneficiaries_of(self, referent_telegram_id: int) -> list[tuple[int, str]]:
        """The referent's own beneficiaries (id, name), most recently helped first."""
        async with self._db.read() as session:
            referent = await member_store.get_with_role(
                session, referent_telegram_id, Role.REFERENT
            )
            if referent is None:
                return []
            rows = await session.execute(
                select(Beneficiary.id, Beneficiary.name)
                .where(Beneficiary.referent_id == referent.id, Beneficiary.purged_at.is_(None))
                .order_by(Beneficiary.created_at.desc())
                .limit(20)
            )
            return [(row_id, name) for row_id, name in rows.all()]

    async def beneficiary_place(
        self, referent_telegram_id: int, beneficiary_id: int
    ) -> BeneficiaryDetails | None:
        """One of the referent's beneficiaries, to reuse their place for a new request."""
        async with self._db.read() as session:
            referent = await member_store.get_with_role(
                session, referent_telegram_id, Role.REFERENT
            )
            row = await session.get(Beneficiary, beneficiary_id)
            if referent is None or row is None or row.referent_id != referent.id:
                return None
            if row.latitude is None or row.longitude is None:
                return None
            return BeneficiaryDetails(
                name=row.name,
                phone=row.phone,
                address=row.address,
                latitude=row.latitude,
                longitude=row.longitude,
                access_notes=row.access_notes,
                consent=row.consent_at is not None,
            )


async def _ids(session: AsyncSession, statement: Select[int]) -> list[int]:
    """The ids a one-column query returns."""
    return list((await session.execute(statement)).scalars())
