"""The /export workbook: one sheet per export, headers and values in the reader's language.

The CSV files keep stable English column names for scripts; this is the file people open. Times
are real date cells shown as the reader's locale writes them, statuses and answers are words,
yes/no are words, money is a number with two decimals. openpyxl writes it (pure Python).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from bot.domain.vocabulary import ClaimStatus, RequestStatus, VolunteerStatus, Wellbeing
from bot.i18n import N_, Translator
from bot.services.reports import ExportFile, Window
from bot.services.reports.periods import Period

SHEET_TITLES = {
    "requests": N_("Requests"),
    "claims": N_("Claims"),
    "visits": N_("Visit reports"),
    "volunteers": N_("Volunteers"),
    "signals": N_("People reported as isolated"),
    "watch": N_("Watch campaign"),
}

HEADERS = {
    "id": N_("No."),
    "created_at": N_("Created on"),
    "status": N_("Status"),
    "skill_code": N_("Skill code"),
    "skill": N_("Skill"),
    "neighbourhood_id": N_("Neighbourhood no."),
    "neighbourhood": N_("Neighbourhood"),
    "area_label": N_("Street"),
    "when": N_("When"),
    "starts_at": N_("Appointment"),
    "places_needed": N_("Volunteers needed"),
    "places_taken": N_("Volunteers found"),
    "waves": N_("Offer waves"),
    "first_claim_at": N_("First taken on"),
    "closed_at": N_("Closed on"),
    "expires_at": N_("Expires on"),
    "request_id": N_("Request no."),
    "volunteer_member_id": N_("Volunteer no."),
    "claimed_at": N_("Taken on"),
    "done_at": N_("Done on"),
    "confirmed_at": N_("Confirmed on"),
    "released_at": N_("Given back on"),
    "minutes_spent": N_("Minutes spent"),
    "wellbeing": N_("How the person seemed"),
    "expense_cents": N_("Money advanced (cents)"),
    "receipt_sent": N_("Receipt sent"),
    "month": N_("Month"),
    "visits": N_("Visits"),
    "fine": N_("Fine"),
    "more_visits": N_("Would like more visits"),
    "worried": N_("Worrying"),
    "no_answer": N_("No answer"),
    "expenses": N_("Visits with money advanced"),
    "expenses_total": N_("Money advanced"),
    "currency": N_("Currency"),
    "member_id": N_("Member no."),
    "skills": N_("Skills"),
    "approved_at": N_("Approved on"),
    "signed_up_at": N_("Signed up on"),
    # The watch campaign's report (bot/services/watch/report.py).
    "day": N_("Day"),
    "calls": N_("Calls"),
    "reached_all_well": N_("Reached, all well"),
    "reached_needs_something": N_("Reached, needs something"),
    "emergency_called": N_("Emergency services called"),
    "not_called": N_("Not called"),
    "escalated": N_("Escalated"),
    "escalations_acknowledged": N_("Escalations acknowledged"),
}

REQUEST_STATUSES: dict[str, str] = {
    RequestStatus.TO_VALIDATE: N_("waiting for validation"),
    RequestStatus.OPEN: N_("open"),
    RequestStatus.FULL: N_("taken"),
    RequestStatus.COMPLETED: N_("done"),
    RequestStatus.CLOSED: N_("confirmed (closed)"),
    RequestStatus.UNCONFIRMED: N_("done, not confirmed (closed)"),
    RequestStatus.CANCELLED: N_("cancelled"),
    RequestStatus.EXPIRED: N_("expired"),
    RequestStatus.DECLINED: N_("declined at validation"),
}
CLAIM_STATUSES: dict[str, str] = {
    ClaimStatus.ACTIVE: N_("in progress"),
    ClaimStatus.RELEASED: N_("given back"),
    ClaimStatus.DONE: N_("done"),
    ClaimStatus.CONFIRMED: N_("confirmed"),
    ClaimStatus.NOT_DONE: N_("not done"),
    ClaimStatus.FAILED: N_("failed"),
    ClaimStatus.CANCELLED: N_("cancelled"),
}
VOLUNTEER_STATUSES: dict[str, str] = {
    VolunteerStatus.PENDING: N_("waiting for approval"),
    VolunteerStatus.APPROVED: N_("approved"),
    VolunteerStatus.REJECTED: N_("not accepted"),
    VolunteerStatus.SUSPENDED: N_("suspended"),
}
WELLBEING: dict[str, str] = {
    Wellbeing.FINE: N_("fine"),
    Wellbeing.WANTS_MORE_VISITS: N_("would like more visits"),
    Wellbeing.WORRIED: N_("worrying"),
}
WHEN = {"asap": N_("as soon as possible"), "today": N_("today"), "slot": N_("at a set time")}
# The words of each sheet's coded columns.
VALUE_WORDS: Mapping[tuple[str, str], Mapping[str, str]] = {
    ("requests", "status"): REQUEST_STATUSES,
    ("requests", "when"): WHEN,
    ("claims", "status"): CLAIM_STATUSES,
    ("claims", "wellbeing"): WELLBEING,
    ("volunteers", "status"): VOLUNTEER_STATUSES,
}
# How date cells read (Excel's codes): as each language writes a date and a time.
DATE_FORMATS = {"fr": "dd/mm/yyyy hh:mm", "nl": "dd-mm-yyyy hh:mm"}
ISO_DATE_FORMAT = "yyyy-mm-dd hh:mm"


def workbook_name(window: Window) -> str:
    """The workbook's file name, after the period (as the CSV files are)."""
    if window.first_day is None:
        return "brigade-all.xlsx"
    if window.period is Period.THIS_YEAR:
        return f"brigade-{window.first_day:%Y}.xlsx"
    return f"brigade-{window.first_day:%Y-%m}.xlsx"


def _value(what: str, key: str, value: object, _: Translator) -> object:
    if value is None:
        return None
    words = VALUE_WORDS.get((what, key))
    if words is not None:
        code = value.value if isinstance(value, StrEnum) else str(value)
        return _(words[code]) if code in words else code
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, StrEnum):
        return value.value
    return value


def workbook(files: Sequence[ExportFile], _: Translator) -> bytes:
    """One sheet per export file, in the order given, as an .xlsx file's bytes."""
    book = Workbook()
    if book.active is not None:
        book.remove(book.active)  # the empty sheet a new workbook starts with
    date_format = DATE_FORMATS.get(_.language, ISO_DATE_FORMAT)
    for file in files:
        sheet = book.create_sheet(_(SHEET_TITLES.get(file.what, file.what))[:31])
        sheet.append([_(HEADERS[key]) if key in HEADERS else key for key in file.keys])
        for row in file.values:
            sheet.append(
                [
                    _value(file.what, key, value, _)
                    for key, value in zip(file.keys, row, strict=True)
                ]
            )
        for index, key in enumerate(file.keys, start=1):
            letter = get_column_letter(index)
            header = str(sheet.cell(row=1, column=index).value)
            sheet.column_dimensions[letter].width = max(10, len(header) + 2)
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                if cell.data_type == "f":
                    cell.data_type = "s"  # typed text, never a formula ("=HYPERLINK(…)")
                if isinstance(cell.value, datetime):
                    cell.number_format = date_format
                elif isinstance(cell.value, Decimal) or key == "expenses_total":
                    cell.number_format = "0.00"
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
