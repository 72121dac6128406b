"""Logs hold no personal data, whatever the level, unless a developer explicitly asks.

The review found a beneficiary's name, phone and door code in the log of a database error at
INFO, and every message text in the Telegram and SQLite libraries' DEBUG lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from bot.logging_setup import PERSONAL_DATA_LOGGERS, configure_logging
from storage import migrate
from storage.database import Database
from storage.models import Member
from testkit.clock import ManualClock
from testkit.harness import InProcessBrigade, brigade_settings, sqlite_url
from testkit.telegram import FakeTelegram

SECRET_TEXT = "Mme Odette Lambert, 06 12 34 56 78, code porte 4711"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the library loggers' levels back as they were."""
    names = ("", *PERSONAL_DATA_LOGGERS)
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _talk_and_fail(world: FakeTelegram, tmp_path: Path, *, personal_data: bool) -> None:
    """A person writes personal data to the bot; a write with personal data fails."""
    settings = brigade_settings(sqlite_url(tmp_path), log_personal_data=personal_data)
    async with InProcessBrigade(world, settings) as brigade:
        odette = world.add_user("Odette", language_code="fr")
        odette.send_command("start")
        odette.send_text(SECRET_TEXT)
        await brigade.deliver()
        database = brigade.services.database
        with pytest.raises(IntegrityError) as failed:
            async with database.transaction() as session:
                session.add(Member(telegram_id=odette.id, display_name=SECRET_TEXT))
        logging.getLogger("brigade.test").error("write failed", exc_info=failed.value)


@pytest.mark.usefixtures("restored_logging")
async def test_debug_logs_hold_no_message_text_nor_sql_parameter(
    world: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG", [])
    await _talk_and_fail(world, tmp_path, personal_data=False)
    assert len(caplog.records) > 3  # the logs did run at DEBUG
    logged = caplog.text
    assert "Odette Lambert" not in logged
    assert "06 12 34 56 78" not in logged
    assert "parameters hidden" in logged  # the failed INSERT, without what it held
    # Raising a library to INFO must not lower SQLAlchemy's own WARNING (every statement).
    assert logging.getLogger("sqlalchemy").getEffectiveLevel() >= logging.WARNING


@pytest.mark.usefixtures("restored_logging")
async def test_a_developer_may_ask_for_them_explicitly(
    world: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """BRIGADE_LOG_PERSONAL_DATA=1: the same run shows them (so the check above can fail)."""
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG", [], personal_data=True)
    await _talk_and_fail(world, tmp_path, personal_data=True)
    assert "Odette Lambert" in caplog.text


async def test_a_database_error_names_no_parameter(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path), clock=ManualClock())
    try:
        await migrate.upgrade(database)
        async with database.transaction() as session:
            session.add(Member(telegram_id=1, display_name="first"))
        with pytest.raises(IntegrityError) as failed:
            async with database.transaction() as session:
                session.add(Member(telegram_id=1, display_name=SECRET_TEXT))
        assert "Odette" not in str(failed.value)
    finally:
        await database.dispose()
