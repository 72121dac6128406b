"""/export in the reader's language: the CSV's separator, and the .xlsx workbook a town opens.

The town of tests/services/test_reports.py (its `seed`): the workbook is opened with openpyxl and
read as a coordinator would read it.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from openpyxl import load_workbook
from sqlalchemy import update

from bot.i18n import I18n
from bot.messages.spreadsheets import workbook, workbook_name
from bot.services.reports import ExportFile, Period
from storage.database import Database
from storage.models import Neighbourhood
from tests.services.test_reports import COORDINATOR, SECRETS, seed, service

FRENCH = I18n("fr").translator("fr")
DUTCH = I18n("nl").translator("nl")
ENGLISH = I18n("en").translator("en")


async def _files(database: Database, language: str) -> list[ExportFile]:
    _ = I18n(language).translator(language)
    reports = service(database)
    files = [
        await reports.export_requests(COORDINATOR, Period.ALL_TIME, _),
        await reports.export_claims(COORDINATOR, Period.ALL_TIME, _),
        await reports.export_visits(COORDINATOR, Period.ALL_TIME, _),
        await reports.export_volunteers(COORDINATOR, _),
    ]
    assert all(isinstance(file, ExportFile) for file in files)
    return [file for file in files if isinstance(file, ExportFile)]


async def test_the_csv_separator_follows_the_language(database: Database) -> None:
    await seed(database)
    for language, separator in (("fr", ";"), ("nl", ";"), ("en", ",")):
        requests = (await _files(database, language))[0]
        assert requests.content.startswith(b"\xef\xbb\xbf")  # Excel reads the accents
        header = requests.content.decode("utf-8-sig").splitlines()[0]
        assert header.split(separator)[:3] == ["id", "created_at", "status"], language
        other = "," if separator == ";" else ";"
        assert other not in header, language


async def test_the_workbook_reads_in_french(database: Database) -> None:
    ids = await seed(database)
    book = load_workbook(io.BytesIO(workbook(await _files(database, "fr"), FRENCH)))
    assert book.sheetnames == [
        "Demandes",
        "Prises en charge",
        "Comptes rendus de visite",
        "Bénévoles",
    ]

    requests = book["Demandes"]
    header = [cell.value for cell in requests[1]]
    assert header[:5] == ["N°", "Créée le", "Statut", "Code du savoir-faire", "Savoir-faire"]
    rows = {row[0]: row for row in requests.iter_rows(min_row=2, values_only=True)}
    r5 = rows[ids["R5"]]
    # A real date cell, in the town's time, shown the French way.
    assert r5[1] == datetime(2026, 11, 1, 0, 30)
    assert requests.cell(row=2, column=2).number_format == "dd/mm/yyyy hh:mm"
    assert (r5[2], r5[4], r5[8]) == ("ouverte", "Plomberie", "dès que possible")
    assert rows[ids["R3"]][2] == "annulée"

    claims = book["Prises en charge"]
    assert [cell.value for cell in claims[1]][3] == "Statut"
    c1 = next(row for row in claims.iter_rows(min_row=2, values_only=True) if row[0] == ids["C1"])
    assert (c1[3], c1[9], c1[11]) == ("confirmée", "inquiétant", "oui")

    visits = book["Comptes rendus de visite"]
    assert [cell.value for cell in visits[1]][-2:] == ["Sommes avancées", "Devise"]
    november = next(
        row for row in visits.iter_rows(min_row=2, values_only=True) if row[0] == "2026-11"
    )
    assert float(november[-2]) == 20.80

    volunteers = book["Bénévoles"]
    assert [cell.value for cell in volunteers[1]][4] == "Statut"
    statuses = [row[4] for row in volunteers.iter_rows(min_row=2, values_only=True)]
    assert statuses == ["validée", "validée", "validée", "en attente de validation"]

    text = " ".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
    )
    for secret in SECRETS:
        assert secret not in text


async def test_the_workbook_speaks_dutch_and_english_too(database: Database) -> None:
    await seed(database)
    dutch = load_workbook(io.BytesIO(workbook(await _files(database, "nl"), DUTCH)))
    assert dutch.sheetnames[0] == "Hulpvragen"
    assert dutch["Hulpvragen"].cell(row=2, column=2).number_format == "dd-mm-yyyy hh:mm"
    english = load_workbook(io.BytesIO(workbook(await _files(database, "en"), ENGLISH)))
    assert [cell.value for cell in english["Requests"][1]][:3] == ["No.", "Created on", "Status"]


def test_the_workbook_is_named_after_the_period(database: Database) -> None:
    reports = service(database)  # NOW is 15 November 2026
    assert workbook_name(reports.window(Period.THIS_MONTH)) == "brigade-2026-11.xlsx"
    assert workbook_name(reports.window(Period.THIS_YEAR)) == "brigade-2026.xlsx"
    assert workbook_name(reports.window(Period.ALL_TIME)) == "brigade-all.xlsx"


async def test_a_name_that_looks_like_a_formula_stays_text(database: Database) -> None:
    await seed(database)
    trap = '=HYPERLINK("http://example.invalid","Centre")'
    async with database.transaction() as session:
        await session.execute(
            update(Neighbourhood).where(Neighbourhood.name == "Centre-Ville").values(name=trap)
        )
    files = await _files(database, "fr")
    requests = files[0]
    rows = list(csv.reader(io.StringIO(requests.content.decode("utf-8-sig")), delimiter=";"))
    names = {row[6] for row in rows[1:]}
    assert names == {"'" + trap, "Biollay"}  # an apostrophe keeps it text in a spreadsheet
    book = load_workbook(io.BytesIO(workbook(files, FRENCH)))
    cells = [row[6] for row in book["Demandes"].iter_rows(min_row=2) if row[6].value != "Biollay"]
    assert cells
    assert all((cell.value, cell.data_type) == (trap, "s") for cell in cells)
