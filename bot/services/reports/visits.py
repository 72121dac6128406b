"""What visit reports add to the figures: how people seemed, and money advanced, month by month.

A visit counts in the month (town's calendar) its claim was said done, like "services done" in
/stats: claims done or confirmed, never those later found not done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import ClaimStatus, Wellbeing
from bot.services.reports.periods import Window, aware, within
from storage.models import Claim, HelpRequest


@dataclass(frozen=True)
class VisitMonth:
    """The visits of one month: how the people seemed, and the money advanced."""

    month: date  # its first day
    visits: int = 0
    fine: int = 0
    more_visits: int = 0
    worried: int = 0
    expenses: int = 0  # visits where money was advanced
    expense_cents: int = 0

    def __add__(self, other: VisitMonth) -> VisitMonth:
        return VisitMonth(
            min(self.month, other.month),
            self.visits + other.visits,
            self.fine + other.fine,
            self.more_visits + other.more_visits,
            self.worried + other.worried,
            self.expenses + other.expenses,
            self.expense_cents + other.expense_cents,
        )

    @property
    def unanswered(self) -> int:
        """Visits whose report said nothing of the person."""
        return self.visits - self.fine - self.more_visits - self.worried


async def visit_months(
    session: AsyncSession, window: Window, place: ColumnElement[bool], tz: tzinfo
) -> tuple[VisitMonth, ...]:
    """The window's visits by month, oldest first (one query: a row per visit done)."""
    rows = (
        await session.execute(
            select(Claim.done_at, Claim.wellbeing, Claim.expense_cents)
            .join(HelpRequest, HelpRequest.id == Claim.request_id)
            .where(
                place,
                within(Claim.done_at, window),
                Claim.status.in_([ClaimStatus.DONE, ClaimStatus.CONFIRMED]),
            )
        )
    ).all()
    months: dict[date, VisitMonth] = {}
    for done_at, wellbeing, cents in rows:
        local = aware(done_at)
        assert local is not None
        first = local.astimezone(tz).date().replace(day=1)
        advanced = cents or 0
        visit = VisitMonth(
            first,
            visits=1,
            fine=int(wellbeing is Wellbeing.FINE),
            more_visits=int(wellbeing is Wellbeing.WANTS_MORE_VISITS),
            worried=int(wellbeing is Wellbeing.WORRIED),
            expenses=int(advanced > 0),
            expense_cents=advanced,
        )
        months[first] = months[first] + visit if first in months else visit
    return tuple(months[month] for month in sorted(months))
