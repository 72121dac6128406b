"""Coordinators' views and figures: open requests, stuck claims, /stats, CSV exports, the chart.

Every method checks in the database that the caller is a coordinator (NOT_ALLOWED otherwise) and
works in its own short transaction, so handlers only call Telegram once it has ended. One module
per kind of report: `periods` (the town's calendar), `views` (/open, /stuck, the reminder),
`stats`, `visits` (the visit reports by month), `exports` (CSV), `chart`; `ReportService`
gathers them.
"""

from bot.services.reports.chart import Chart, ChartLabels, draw_chart
from bot.services.reports.exports import ExportFile, Exports, signals_table
from bot.services.reports.periods import Period, Window, period_window
from bot.services.reports.stats import (
    Figures,
    NeighbourhoodFigures,
    RequestCounts,
    SkillFigures,
    Stats,
)
from bot.services.reports.views import OpenRequest, Page, StuckClaim, StuckKind, Views


class ReportService(Views, Figures, Exports, Chart):
    """Read-only views and figures for coordinators, plus the reminder to a referent."""


__all__ = [
    "ChartLabels",
    "ExportFile",
    "NeighbourhoodFigures",
    "OpenRequest",
    "Page",
    "Period",
    "ReportService",
    "RequestCounts",
    "SkillFigures",
    "Stats",
    "StuckClaim",
    "StuckKind",
    "Window",
    "draw_chart",
    "period_window",
    "signals_table",
]
