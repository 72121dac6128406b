"""One clock: no product code reads the wall clock, and no stored timestamp comes from it.

The wall clock is read in one place only (`storage.clock.system_clock`, chosen by the
application factory). Everything else takes "now" from the clock the Database carries; these
tests fail when a column default, a service or a handler goes around it.
"""

from __future__ import annotations

import ast
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.sql.schema import CallableColumnDefault

from storage.clock import clock_default
from storage.models import Base
from storage.types import UTCDateTime
from testkit.clock import ManualClock
from testkit.demo import play
from testkit.harness import PollingBrigade

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "conversations", "storage")
# Calls that read the wall clock (as dotted names, whatever the import style).
WALL_CLOCK_CALLS = {
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "time.time",
    "time.time_ns",
    "utcnow",
}
ALLOWED = {ROOT / "storage" / "clock.py"}  # system_clock itself


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _wall_clock_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            # `datetime.datetime.now`, `dt.datetime.now`… end with one of the names above.
            if any(name == call or name.endswith("." + call) for call in WALL_CLOCK_CALLS):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                found.append(f"{where}:{node.lineno} {name}()")
    return found


def test_no_product_module_reads_the_wall_clock() -> None:
    files = [p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py") if p not in ALLOWED]
    assert len(files) > 50
    reads = [read for path in files for read in _wall_clock_reads(path)]
    assert reads == []


def test_the_wall_clock_check_sees_every_spelling(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import datetime as dt, time\n"
        "from datetime import datetime, date\n"
        "a = datetime.now()\nb = dt.datetime.now(dt.UTC)\nc = time.time()\nd = date.today()\n"
        "e = utcnow()\nf = time.monotonic()\n"
    )
    reads = [read.split(" ")[1] for read in _wall_clock_reads(sample)]
    assert reads == [
        "datetime.now()",
        "dt.datetime.now()",
        "time.time()",
        "date.today()",
        "utcnow()",
    ]


def test_every_timestamp_column_defaults_to_the_database_clock() -> None:
    stamped = []
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if not isinstance(column.type, UTCDateTime):
                continue
            for default in (column.default, column.onupdate):
                if isinstance(default, CallableColumnDefault):
                    assert default.arg is clock_default, f"{table.name}.{column.name}"
                    stamped.append(f"{table.name}.{column.name}")
            assert (
                column.server_default is None
                or "now" not in str(getattr(column.server_default, "arg", "")).lower()
            ), f"{table.name}.{column.name} takes the server's clock"
    assert "outbox.not_before" in stamped
    assert "requests.updated_at" in stamped


async def test_a_statement_outside_a_brigade_database_is_refused() -> None:
    class Context:
        execution_options: dict[str, object] = {}  # noqa: RUF012

    with pytest.raises(RuntimeError, match="no clock"):
        clock_default(Context())


@pytest.mark.e2e
async def test_a_whole_scenario_stores_only_times_from_the_bots_clock() -> None:
    """The demo (sign-ups, invitations, a request, a race, a claim) on a clock set to 2001."""
    start = datetime(2001, 2, 5, 9, 0, tzinfo=UTC)
    seen: dict[str, int] = {}
    wrong: list[str] = []

    async def every_timestamp(brigade: PollingBrigade) -> None:
        await brigade.settle()
        async with brigade.services.database.read() as session:
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if isinstance(c.type, UTCDateTime)]
                for column in columns:
                    values = (await session.execute(select(column))).scalars().all()
                    for value in values:
                        if value is None:
                            continue
                        seen[f"{table.name}.{column.name}"] = 1
                        # Derived times reach at most ten years ahead (a pause "until I resume").
                        if not start <= value < datetime(2012, 1, 1, tzinfo=UTC):
                            wrong.append(f"{table.name}.{column.name} = {value.isoformat()}")

    status = await play(
        io.StringIO(), clock=ManualClock(start, ticking=True), after=every_timestamp
    )
    assert status == 0
    assert wrong == []
    # The scenario wrote the timestamps of members, requests, claims, the outbox and the audit.
    assert {
        "members.created_at",
        "requests.created_at",
        "claims.claimed_at",
        "outbox.not_before",
        "audit_events.occurred_at",
    } <= set(seen)
