"""Exports for the town: requests, claims, visits, volunteers, and cases without personal columns.

Each export is a CSV file (UTF-8 with a byte order mark; `;`-separated in French and Dutch, where
Excel expects it, `,` in English; stable English column names that scripts can rely on) and a
typed table (`ExportFile.keys` / `values`: local times, numbers, statuses) from which
`bot/messages/spreadsheets.py` writes the workbook a town opens, in the reader's language.

Exports never contain a beneficiary's name, phone, address, position or the free texts that
could name them (descriptions, notes, reasons); volunteers appear by member id only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy import Table, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

from bot.i18n import Translator
from bot.services.outcomes import Outcome
from bot.services.reports.base import ReportsBase
from bot.services.reports.periods import Period, Window, aware, within
from bot.services.reports.stats import first_claims
from bot.services.reports.visits import visit_months
from bot.skills import skill_label
from storage.models import Base, Claim, HelpRequest, Member, Neighbourhood, Skill, VolunteerSkill

# Spreadsheets recognise UTF-8 by its byte order mark.
CSV_ENCODING = "utf-8-sig"
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Where the decimal separator is a comma, spreadsheets split CSV columns on ";".
CSV_DELIMITERS = {"fr": ";", "nl": ";"}
# A text cell starting with one of these is a formula to a spreadsheet: a street or a name typed
# as "=HYPERLINK(…)" must stay text, so it gets a leading apostrophe (OWASP's advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Signals columns exported: numbers, dates, booleans, and strings from a closed vocabulary only.
_SIGNAL_VOCABULARY_SUFFIXES = ("status", "kind", "outcome", "state", "category", "type", "code")
_SIGNAL_PERSONAL_WORDS = (
    "name",
    "phone",
    "address",
    "street",
    "note",
    "text",
    "description",
    "detail",
    "comment",
    "message",
    "reason",
    "worry",
    "place",
    "access",
    "contact",
    "email",
    "username",
    "telegram",
    "lat",
    "lon",
    "lng",
)


@dataclass(frozen=True)
class ExportFile:
    """One export built in memory: the CSV file and the typed table it was written from."""

    filename: str
    content: bytes = field(repr=False)
    rows: int
    # What it holds ("requests", "claims"…): the sheet of the workbook it becomes.
    what: str = ""
    keys: tuple[str, ...] = ()
    # Local (naive) datetimes, numbers, enumerations, text: the workbook's cells.
    values: tuple[tuple[object, ...], ...] = field(default=(), repr=False)


# --- CSV -------------------------------------------------------------------------------------


def csv_delimiter(language: str) -> str:
    """The separator a spreadsheet in this language splits CSV columns on."""
    return CSV_DELIMITERS.get(language, ",")


def _csv_cell(value: object, language: str) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(CSV_TIME_FORMAT)
    if isinstance(value, Decimal):
        return format_decimal(value, "0.00", locale=language)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _file(
    filename: str, what: str, keys: Sequence[str], rows: Iterable[Sequence[object]], language: str
) -> ExportFile:
    """The CSV of `rows` under `keys` in the reader's separator, and the typed table."""
    values = tuple(tuple(row) for row in rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=csv_delimiter(language), lineterminator="\r\n")
    writer.writerow(keys)
    for row in values:
        writer.writerow([_csv_cell(value, language) for value in row])
    content = buffer.getvalue().encode(CSV_ENCODING)
    return ExportFile(filename, content, len(values), what, tuple(keys), values)


def _signal_column_exported(table: Table, name: str) -> bool:
    lowered = name.lower()
    if any(word in lowered for word in _SIGNAL_PERSONAL_WORDS):
        return False
    column_type = table.c[name].type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return False
    if isinstance(python_type, type) and issubclass(python_type, Enum):
        return True  # a closed vocabulary by construction
    if python_type in {int, float, bool, datetime, date}:
        return True
    if python_type is str:
        return lowered.endswith(_SIGNAL_VOCABULARY_SUFFIXES)
    return False


def signals_table() -> Table | None:
    """The `signals` table, if a model declares it (reports of isolated people)."""
    return Base.metadata.tables.get("signals")


class Exports(ReportsBase):
    """/export's files."""

    def _local(self, value: datetime | None) -> datetime | None:
        """A time in the town's zone, without its zone (as spreadsheets keep times)."""
        value = aware(value)
        return value.astimezone(self.tz).replace(tzinfo=None) if value else None

    def _filename(self, what: str, window: Window) -> str:
        if window.first_day is None:
            suffix = "all"
        elif window.period is Period.THIS_YEAR:
            suffix = f"{window.first_day:%Y}"
        else:
            suffix = f"{window.first_day:%Y-%m}"
        return f"brigade-{what}-{suffix}.csv"

    def _cell(self, value: object) -> object:
        """A cell: times in the town's zone, the rest as is."""
        if isinstance(value, datetime):
            return self._local(value)
        return value

    async def _export(
        self,
        coordinator_telegram_id: int,
        columns: Sequence[tuple[str, Any]],
        query: Callable[[Any], Any],
        what: str,
        filename: str,
        _: Translator,
        translate: dict[str, Callable[[Any], object]] | None = None,
    ) -> ExportFile | Outcome:
        """Run `query(select(columns…))` and write its rows under the columns' headers."""
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            rows = (await session.execute(query(select(*(c for _h, c in columns))))).all()
        headers = [header for header, _c in columns]
        changes = [(i, (translate or {}).get(header)) for i, header in enumerate(headers)]
        return _file(
            filename,
            what,
            headers,
            (
                [self._cell(change(row[i]) if change else row[i]) for i, change in changes]
                for row in rows
            ),
            _.language,
        )

    async def export_requests(
        self, coordinator_telegram_id: int, period: Period, _: Translator
    ) -> ExportFile | Outcome:
        """Requests created in the period: no description, beneficiary, position or reason.

        Columns: id, created_at, status, skill_code, skill, neighbourhood_id, neighbourhood,
        area_label (street and neighbourhood, never a house number), when, starts_at,
        places_needed, places_taken, waves, first_claim_at, closed_at, expires_at; times in the
        town's time zone.
        """
        window = self.window(period)
        earliest = first_claims()
        columns = [
            ("id", HelpRequest.id),
            ("created_at", HelpRequest.created_at),
            ("status", HelpRequest.status),
            ("skill_code", Skill.code),
            ("skill", Skill.label),
            ("neighbourhood_id", HelpRequest.neighbourhood_id),
            ("neighbourhood", Neighbourhood.name),
            ("area_label", HelpRequest.area_label),
            ("when", HelpRequest.when_kind),
            ("starts_at", HelpRequest.starts_at),
            ("places_needed", HelpRequest.places_needed),
            ("places_taken", HelpRequest.places_taken),
            ("waves", HelpRequest.wave),
            ("first_claim_at", earliest.c.first_at),
            ("closed_at", HelpRequest.closed_at),
            ("expires_at", HelpRequest.expires_at),
        ]
        return await self._export(
            coordinator_telegram_id,
            columns,
            lambda query: (
                query.join(Skill, Skill.id == HelpRequest.skill_id)
                .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
                .outerjoin(earliest, earliest.c.request_id == HelpRequest.id)
                .where(within(HelpRequest.created_at, window))
                .order_by(HelpRequest.id)
            ),
            "requests",
            self._filename("requests", window),
            _,
            {"skill": lambda label: skill_label(label, _), "first_claim_at": aware},
        )

    async def export_claims(
        self, coordinator_telegram_id: int, period: Period, _: Translator
    ) -> ExportFile | Outcome:
        """The claims on the requests created in the period (so both files join on request_id).

        Columns: id, request_id, volunteer_member_id (never a name), status, claimed_at, done_at,
        confirmed_at, released_at, minutes_spent, wellbeing (fine, more, worried), expense_cents,
        receipt_sent. The volunteer's note is left out (and the worried sentence is never stored).
        """
        window = self.window(period)
        columns = [
            ("id", Claim.id),
            ("request_id", Claim.request_id),
            ("volunteer_member_id", Claim.volunteer_id),
            ("status", Claim.status),
            ("claimed_at", Claim.claimed_at),
            ("done_at", Claim.done_at),
            ("confirmed_at", Claim.confirmed_at),
            ("released_at", Claim.released_at),
            ("minutes_spent", Claim.minutes_spent),
            ("wellbeing", Claim.wellbeing),
            ("expense_cents", Claim.expense_cents),
            ("receipt_sent", Claim.receipt_sent),
        ]
        return await self._export(
            coordinator_telegram_id,
            columns,
            lambda query: (
                query.join(HelpRequest, HelpRequest.id == Claim.request_id)
                .where(within(HelpRequest.created_at, window))
                .order_by(Claim.id)
            ),
            "claims",
            self._filename("claims", window),
            _,
        )

    async def export_visits(
        self, coordinator_telegram_id: int, period: Period, _: Translator
    ) -> ExportFile | Outcome:
        """The visit reports of the services done in the period, one row per month.

        Columns: month (YYYY-MM, town's calendar), visits, fine, more_visits, worried, no_answer,
        expenses (visits where money was advanced), expenses_total (in the reader's number
        format), currency.
        """
        window = self.window(period)
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            months = await visit_months(session, window, true(), self.tz)
        currency = self._settings.currency
        return _file(
            self._filename("visits", window),
            "visits",
            [
                "month",
                "visits",
                "fine",
                "more_visits",
                "worried",
                "no_answer",
                "expenses",
                "expenses_total",
                "currency",
            ],
            (
                [
                    f"{month.month:%Y-%m}",
                    month.visits,
                    month.fine,
                    month.more_visits,
                    month.worried,
                    month.unanswered,
                    month.expenses,
                    Decimal(month.expense_cents) / 100,
                    currency,
                ]
                for month in months
            ),
            _.language,
        )

    async def export_volunteers(
        self, coordinator_telegram_id: int, _: Translator
    ) -> ExportFile | Outcome:
        """Every volunteer as of now (whatever the period): no name, phone, address or position.

        Columns: member_id, neighbourhood_id, neighbourhood, skills (labels, "; "-separated),
        status (pending, approved, rejected), approved_at, signed_up_at. Two queries: the
        volunteers, then all their skills.
        """
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            held = (
                await session.execute(
                    select(VolunteerSkill.member_id, Skill.label)
                    .join(Skill, Skill.id == VolunteerSkill.skill_id)
                    .join(Member, Member.id == VolunteerSkill.member_id)
                    .where(Member.volunteer_status.is_not(None))
                    .order_by(VolunteerSkill.member_id, Skill.id)
                )
            ).all()
        skills: dict[int, list[str]] = {}
        for member_id, label in held:
            skills.setdefault(member_id, []).append(skill_label(label, _))
        columns = [
            ("member_id", Member.id),
            ("neighbourhood_id", Member.neighbourhood_id),
            ("neighbourhood", Neighbourhood.name),
            ("skills", Member.id),
            ("status", Member.volunteer_status),
            ("approved_at", Member.approved_at),
            ("signed_up_at", Member.created_at),
        ]
        today = self._clock().astimezone(self.tz)
        return await self._export(
            coordinator_telegram_id,
            columns,
            lambda query: (
                query.outerjoin(Neighbourhood, Neighbourhood.id == Member.neighbourhood_id)
                .where(Member.volunteer_status.is_not(None))
                .order_by(Member.id)
            ),
            "volunteers",
            f"brigade-volunteers-{today:%Y-%m-%d}.csv",
            _,
            {"skills": lambda member_id: "; ".join(skills.get(member_id, []))},
        )

    async def export_signals(
        self, coordinator_telegram_id: int, period: Period, _: Translator
    ) -> ExportFile | Outcome | None:
        """The `signals` table, if there is one (None otherwise), without any personal column.

        Kept: numbers (member ids, never names), dates, booleans, enumerations, and strings whose
        column name says they come from a closed vocabulary (…status, …kind, …outcome…); a column
        whose name suggests a person (name, phone, address, place, note, description, worry,
        position…) never, nor any other free text. Rows created in the period when the
        table has a created_at column.
        """
        table = signals_table()
        window = self.window(period)
        try:
            async with self._db.read() as session:
                if not await self._is_coordinator(session, coordinator_telegram_id):
                    return Outcome.NOT_ALLOWED
                if table is None:
                    return None
                columns = [c.name for c in table.columns if _signal_column_exported(table, c.name)]
                query = select(*[table.c[name] for name in columns])
                if "created_at" in table.c:
                    query = query.where(within(table.c.created_at, window))
                if "id" in table.c:
                    query = query.order_by(table.c.id)
                rows = (await session.execute(query)).all()
        except DBAPIError:
            return None  # declared by a model but not migrated here yet
        return _file(
            self._filename("signals", window),
            "signals",
            columns,
            ([self._cell(value) for value in row] for row in rows),
            _.language,
        )
