"""The end-of-campaign report for the town's records: per day, how many people were called,
reached, in need, left without an answer, escalated — counts only, no name, no phone.

One grouped query; the CSV (comma-separated, UTF-8 with a BOM, like /export's files) is built
in memory for the coordinator who asks.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from sqlalchemy import ColumnElement, case, func, select

from bot.domain.watch import CallOutcome
from bot.i18n import Translator
from bot.services.base import Service
from bot.services.outcomes import Outcome
from bot.services.reports import ExportFile
from bot.services.reports.chart import ChartLabels, draw_chart
from storage.watch_models import WatchCall, WatchCampaign

COLUMNS = (
    "day",
    "calls",
    "reached_all_well",
    "reached_needs_something",
    "emergency_called",
    "no_answer",
    "not_called",
    "escalated",
    "escalations_acknowledged",
)


@dataclass(frozen=True)
class DayRow:
    """One campaign day's counts."""

    day: date
    calls: int
    well: int
    needs: int
    emergency: int
    no_answer: int
    not_called: int
    escalated: int
    acknowledged: int


@dataclass(frozen=True)
class CampaignReport:
    """A campaign's days, and the CSV file of them."""

    campaign_id: int
    days: tuple[DayRow, ...]

    @property
    def filename(self) -> str:
        """The file's name."""
        return f"brigade-watch-campaign-{self.campaign_id}.csv"

    def csv(self) -> bytes:
        """The days as CSV, with a total line."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in self.days:
            writer.writerow([row.day.isoformat(), *_counts(row)])
        totals = [sum(values) for values in zip(*(_counts(row) for row in self.days), strict=True)]
        writer.writerow(["total", *(totals or [0] * (len(COLUMNS) - 1))])
        return buffer.getvalue().encode("utf-8-sig")

    def sheet(self) -> ExportFile:
        """The days as a table for the workbook (bot/messages/spreadsheets.py writes it, headers
        in the reader's language): the same columns as the CSV file, a date cell per day."""
        content = self.csv()
        values = tuple((row.day, *_counts(row)) for row in self.days)
        return ExportFile(self.filename, content, len(self.days), "watch", COLUMNS, values)

    @property
    def workbook_name(self) -> str:
        """The workbook's file name."""
        return self.filename.removesuffix(".csv") + ".xlsx"


def _counts(row: DayRow) -> list[int]:
    return [
        row.calls,
        row.well,
        row.needs,
        row.emergency,
        row.no_answer,
        row.not_called,
        row.escalated,
        row.acknowledged,
    ]


def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet `condition`."""
    return func.sum(case((condition, 1), else_=0))


async def report_chart(report: CampaignReport, _: Translator, town: str) -> bytes:
    """The campaign's chart: people reached and people escalated, per day (PNG)."""
    labels = ChartLabels(
        title=_("Watch campaign: reached and escalated per day — {town}", town=town),
        created=_("Reached"),
        completed=_("Escalated"),
        empty=_("No day of calls yet."),
        months=[format_date(row.day, "EEE d MMM", locale=_.language) for row in report.days],
    )
    panels = (
        [
            (
                "",
                [row.well + row.needs for row in report.days],
                [row.escalated for row in report.days],
            )
        ]
        if report.days
        else []
    )
    return await asyncio.to_thread(draw_chart, panels, labels)


class WatchReports(Service):
    """The campaigns' figures for the coordinators."""

    async def last_campaign(self, telegram_id: int) -> int | Outcome | None:
        """The id of the latest campaign, running or not (None: there was none)."""
        async with self._db.read() as session:
            if await self._require(session, telegram_id) is None:
                return Outcome.NOT_ALLOWED
            return (await session.execute(select(func.max(WatchCampaign.id)))).scalar_one_or_none()

    async def report(self, telegram_id: int, campaign_id: int) -> CampaignReport | Outcome:
        """A campaign's days, counted in one query (coordinators only)."""
        async with self._db.read() as session:
            if await self._require(session, telegram_id) is None:
                return Outcome.NOT_ALLOWED
            if await session.get(WatchCampaign, campaign_id) is None:
                return Outcome.NOT_FOUND

            rows = await session.execute(
                select(
                    WatchCall.day,
                    func.count(WatchCall.id),
                    count(WatchCall.outcome == CallOutcome.WELL),
                    count(WatchCall.outcome == CallOutcome.NEEDS),
                    count(WatchCall.outcome == CallOutcome.EMERGENCY),
                    count(WatchCall.outcome == CallOutcome.NO_ANSWER),
                    count(WatchCall.outcome == CallOutcome.PENDING),
                    count(WatchCall.escalated_at.is_not(None)),
                    count(WatchCall.acknowledged_at.is_not(None)),
                )
                .where(WatchCall.campaign_id == campaign_id)
                .group_by(WatchCall.day)
                .order_by(WatchCall.day)
            )
            days = tuple(
                DayRow(day, *(int(value or 0) for value in values)) for day, *values in rows.all()
            )
            return CampaignReport(campaign_id, days)
