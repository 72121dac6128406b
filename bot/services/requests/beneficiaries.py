"""The people helped: a referent's own beneficiaries, and the purge of their contact data."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import FINISHED_REQUESTS
from bot.domain.vocabulary import Role
from bot.services.requests.base import RequestsBase
from bot.services.requests.drafts import BeneficiaryDetails, RequestDraft
from storage.models import Beneficiary, HelpRequest, Member
from storage.writes import erased, view_of

# What is left of a person once their contact data is purged.
ERASED_PERSON = {
    "name": "—",
    "phone": None,
    "address": None,
    "access_notes": None,
    "latitude": None,
    "longitude": None,
}


class Beneficiaries(RequestsBase):
    """Whom a referent posts for, and how long their details are kept."""

    async def _beneficiary(
        self, session: AsyncSession, referent: Member, draft: RequestDraft
    ) -> int | None:
        """The draft's beneficiary: one of the referent's own, or a new one (None otherwise)."""
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
            consent_at=self._clock() if details.consent else None,
        )
        session.add(row)
        await session.flush()
        return row.id

    async def _asker_as_beneficiary(
        self, session: AsyncSession, asker: Member, details: BeneficiaryDetails
    ) -> int:
        """The member asking for themselves, as the person helped: their row, with the details
        just given (their name, phone and address go to the claimer only, and are purged like
        anyone's after the retention period)."""
        row = (
            await session.execute(
                select(Beneficiary).where(
                    Beneficiary.member_id == asker.id, Beneficiary.purged_at.is_(None)
                )
            )
        ).scalar_one_or_none()
        if row is None:
            row = Beneficiary(member_id=asker.id, referent_id=None, name="")
            session.add(row)
        row.name = details.name[:120]
        row.phone = details.phone
        row.address = details.address
        row.latitude, row.longitude = details.latitude, details.longitude
        row.access_notes = details.access_notes
        row.consent_at = self._clock()
        await session.flush()
        return row.id

    async def beneficiaries_of(self, referent_telegram_id: int) -> list[tuple[int, str]]:
        """The referent's own beneficiaries (id, name), most recently helped first."""
        async with self._db.read() as session:
            referent = await self._require(session, referent_telegram_id, Role.REFERENT)
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
            referent = await self._require(session, referent_telegram_id, Role.REFERENT)
            row = await session.get(Beneficiary, beneficiary_id)
            if referent is None or row is None or row.referent_id != referent.id:
                return None
            if row.latitude is None or row.longitude is None:
                return None
            return view_of(BeneficiaryDetails, row, consent=row.consent_at is not None)

    async def _purge_beneficiaries(self) -> int:
        """Erase the contact data of people whose last request ended before the retention period."""
        now = self._clock()
        cutoff = now - timedelta(days=self._settings.retention_days)
        ongoing = select(HelpRequest.id).where(
            HelpRequest.beneficiary_id == Beneficiary.id,
            HelpRequest.status.not_in(list(FINISHED_REQUESTS)),
        )
        recent = select(HelpRequest.id).where(
            HelpRequest.beneficiary_id == Beneficiary.id, HelpRequest.closed_at > cutoff
        )
        async with self._transaction() as session:
            done_with = [
                Beneficiary.purged_at.is_(None),
                Beneficiary.created_at <= cutoff,
                ~ongoing.exists(),
                ~recent.exists(),
            ]
            values = {**ERASED_PERSON, "purged_at": now}
            return await erased(session, Beneficiary, "beneficiary", done_with, values)
