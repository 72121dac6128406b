"""The skills catalogue: listed for everyone, extended and retired by coordinators."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select

from bot.services.base import Service
from bot.services.outcomes import Outcome
from storage import audit
from storage.models import Skill


@dataclass(frozen=True)
class SkillView:
    """A skill as offered in sign-up, requests and the catalogue."""

    id: int
    code: str
    label: str  # an English msgid for seeded skills; show it with bot.skills.skill_label
    requires_verification: bool


def _code_for(label: str) -> str:
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_label.lower()).strip("_")[:40] or "skill"


class SkillService(Service):
    """Read and maintain the catalogue."""

    async def catalogue(self) -> list[tuple[SkillView, bool]]:
        """Every skill with whether it is retired, in catalogue order."""
        async with self._db.read() as session:
            rows = await session.execute(select(Skill).order_by(Skill.id))
            return [
                (
                    SkillView(s.id, s.code, s.label, s.requires_verification),
                    s.retired_at is not None,
                )
                for s in rows.scalars()
            ]

    async def active(self) -> list[SkillView]:
        """Skills that can be chosen today, in catalogue order."""
        async with self._db.read() as session:
            rows = await session.execute(
                select(Skill).where(Skill.retired_at.is_(None)).order_by(Skill.id)
            )
            return [
                SkillView(s.id, s.code, s.label, s.requires_verification) for s in rows.scalars()
            ]

    async def add(
        self, coordinator_telegram_id: int, label: str, *, requires_verification: bool = False
    ) -> SkillView | Outcome:
        """Add a skill under the label the coordinator typed."""
        label = " ".join(label.split())[:120]
        if not label:
            return Outcome.INVALID
        skill = Skill(
            code=_code_for(label), label=label, requires_verification=requires_verification
        )
        # INVALID when a skill with that code exists.
        added = await self._coordinator_adds(coordinator_telegram_id, skill, "skill", "add")
        if isinstance(added, Outcome):
            return added
        return SkillView(skill.id, skill.code, skill.label, requires_verification)

    async def retire(self, coordinator_telegram_id: int, skill_id: int) -> Outcome:
        """Stop offering a skill; volunteers keep it on record, new requests cannot use it."""
        return await self._set_retired(coordinator_telegram_id, skill_id, retired=True)

    async def restore(self, coordinator_telegram_id: int, skill_id: int) -> Outcome:
        """Offer a retired skill again."""
        return await self._set_retired(coordinator_telegram_id, skill_id, retired=False)

    async def _set_retired(
        self, coordinator_telegram_id: int, skill_id: int, *, retired: bool
    ) -> Outcome:
        async with self._db.transaction() as session:
            found = await self._coordinator_on(session, coordinator_telegram_id, Skill, skill_id)
            if isinstance(found, Outcome):
                return found
            actor, skill = found
            if (skill.retired_at is not None) == retired:
                return Outcome.ALREADY_DONE
            skill.retired_at = self._db.clock() if retired else None
            await audit.record(
                session, "skill", skill.id, "retire" if retired else "restore", by=actor.id
            )
            return Outcome.DONE
