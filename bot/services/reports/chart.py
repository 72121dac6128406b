"""The monthly chart of /export: requests created and completed per neighbourhood and month."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from babel.dates import format_date
from sqlalchemy import and_, or_, select

from bot.domain.vocabulary import RequestStatus
from bot.i18n import N_, Translator, with_town
from bot.services.outcomes import Outcome
from bot.services.reports.base import ReportsBase
from bot.services.reports.periods import Period, aware, in_window, month_start, within
from storage.models import HelpRequest, Neighbourhood

# The chart keeps the neighbourhoods with the most requests; the rest share one panel.
CHART_MAX_NEIGHBOURHOODS = 8
_chart_lock = threading.Lock()  # matplotlib's global state is not thread-safe


class Chart(ReportsBase):
    """/export's chart."""

    async def monthly_counts(
        self, coordinator_telegram_id: int, period: Period
    ) -> tuple[list[date], dict[int | None, tuple[list[int], list[int]]], dict[int, str]] | Outcome:
        """Per neighbourhood and local month: requests created, and requests confirmed (closed).

        A request counts as created in the month of its created_at and as completed in the month
        of its closed_at (status closed). Returns the months (first days), the two series per
        neighbourhood id (None: outside every neighbourhood), and the neighbourhoods' names.
        """
        window = self.window(period)
        closed_in = and_(
            HelpRequest.status == RequestStatus.CLOSED, within(HelpRequest.closed_at, window)
        )
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            rows = (
                await session.execute(
                    select(
                        HelpRequest.neighbourhood_id,
                        HelpRequest.created_at,
                        HelpRequest.status,
                        HelpRequest.closed_at,
                    ).where(or_(within(HelpRequest.created_at, window), closed_in))
                )
            ).all()
            names = dict(
                (await session.execute(select(Neighbourhood.id, Neighbourhood.name))).all()
            )

        def month_of(value: datetime) -> date:
            local = value.astimezone(self.tz)
            return date(local.year, local.month, 1)

        created: dict[tuple[int | None, date], int] = {}
        completed: dict[tuple[int | None, date], int] = {}
        months: set[date] = set()
        for nb_id, created_value, status, closed_value in rows:
            created_at, closed_at = aware(created_value), aware(closed_value)
            if created_at is not None and in_window(created_at, window):
                key = (nb_id, month_of(created_at))
                created[key] = created.get(key, 0) + 1
                months.add(key[1])
            if (
                status is RequestStatus.CLOSED
                and closed_at is not None
                and in_window(closed_at, window)
            ):
                key = (nb_id, month_of(closed_at))
                completed[key] = completed.get(key, 0) + 1
                months.add(key[1])
        if window.first_day is not None and window.last_day is not None:
            first = date(window.first_day.year, window.first_day.month, 1)
            last = date(window.last_day.year, window.last_day.month, 1)
            if window.period is Period.THIS_YEAR:
                now = self._clock().astimezone(self.tz)
                last = date(now.year, now.month, 1)
        elif months:
            first, last = min(months), max(months)
        else:
            now = self._clock().astimezone(self.tz)
            first = last = date(now.year, now.month, 1)
        axis: list[date] = []
        cursor = first
        while cursor <= last:
            axis.append(cursor)
            cursor = month_start(cursor.year, cursor.month + 1, UTC).date()
        neighbourhoods = {nb for nb, _m in [*created, *completed]}
        series = {
            nb: (
                [created.get((nb, month), 0) for month in axis],
                [completed.get((nb, month), 0) for month in axis],
            )
            for nb in neighbourhoods
        }
        return axis, series, names

    async def monthly_chart(
        self, coordinator_telegram_id: int, period: Period, _: Translator
    ) -> bytes | Outcome:
        """A PNG bar chart of `monthly_counts`, one panel per neighbourhood (drawn off-screen)."""
        counted = await self.monthly_counts(coordinator_telegram_id, period)
        if isinstance(counted, Outcome):
            return counted
        months, series, names = counted
        ranked = sorted(series.items(), key=lambda item: (-sum(item[1][0]), str(item[0])))
        panels: list[tuple[str, list[int], list[int]]] = []
        for nb, (created, completed) in ranked[:CHART_MAX_NEIGHBOURHOODS]:
            label = names.get(nb, "") if nb is not None else _("No neighbourhood")
            panels.append((label, created, completed))
        rest = ranked[CHART_MAX_NEIGHBOURHOODS:]
        if rest:
            panels.append(
                (
                    _("Other neighbourhoods"),
                    [sum(values) for values in zip(*(s[0] for _nb, s in rest), strict=True)],
                    [sum(values) for values in zip(*(s[1] for _nb, s in rest), strict=True)],
                )
            )
        labels = ChartLabels(
            title=with_town(
                _,
                self._settings.town,
                N_("Requests per month and neighbourhood — {town}"),
                N_("Requests per month and neighbourhood"),
            ),
            created=_("Created"),
            completed=_("Completed (confirmed)"),
            empty=_("No request in this period."),
            months=[format_date(month, "MMM yyyy", locale=_.language) for month in months],
        )
        return await asyncio.to_thread(draw_chart, panels, labels)


@dataclass(frozen=True)
class ChartLabels:
    """The chart's texts, already translated."""

    title: str
    created: str
    completed: str
    empty: str
    months: list[str]


def draw_chart(panels: Sequence[tuple[str, list[int], list[int]]], labels: ChartLabels) -> bytes:
    """Grouped bars (created, completed) per month, one panel per neighbourhood; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    months = len(labels.months)
    width = min(16.0, max(6.0, 0.55 * months + 2.5))
    height = 1.2 + 2.0 * max(1, len(panels))
    with _chart_lock:
        figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        figure.suptitle(labels.title)
        if not panels:
            axes = figure.subplots()
            axes.text(0.5, 0.5, labels.empty, ha="center", va="center")
            axes.set_axis_off()
        else:
            grid = figure.subplots(len(panels), 1, sharex=True, squeeze=False)
            positions = list(range(months))
            bar = 0.4
            series = ((-bar / 2, labels.created, "#9ecae1"), (bar / 2, labels.completed, "#2b6cb0"))
            for (name, *values), axes in zip(panels, grid[:, 0], strict=True):
                for (shift, label, colour), counts in zip(series, values, strict=True):
                    bars = axes.bar(
                        [x + shift for x in positions], counts, bar, label=label, color=colour
                    )
                    axes.bar_label(bars, [str(n) if n else "" for n in counts], fontsize=7)
                axes.set_title(name, loc="left", fontsize=10)
                pad = max(0.0, (4 - months) / 2)  # a lone month keeps slim bars
                axes.set_xlim(-0.7 - pad, months - 0.3 + pad)
                axes.set_ylim(0, max(1, *values[0], *values[1]) * 1.2)
                axes.yaxis.set_major_locator(MaxNLocator(integer=True))
                axes.grid(axis="y", alpha=0.3)
            step = max(1, months // 18)
            many = months > 6
            grid[-1, 0].set_xticks(
                positions[::step],
                labels.months[::step],
                rotation=45 if many else 0,
                ha="right" if many else "center",
            )
            handles, names = grid[0, 0].get_legend_handles_labels()
            figure.legend(handles, names, loc="outside lower center", ncols=2, fontsize=8)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()
