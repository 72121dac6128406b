"""Migrations: every revision goes up, down and up again, and the result matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from storage import migrate
from storage.database import Database
from storage.models import Base
from storage.reach import include_name
from testkit.clock import ManualClock


def _revisions_oldest_first(url: str) -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def test_stairway_upgrade_downgrade_upgrade_every_revision(database_url: str) -> None:
    db = Database(database_url, clock=ManualClock())
    try:
        revisions = _revisions_oldest_first(database_url)
        assert revisions, "no migration found"
        previous = "base"
        for revision in revisions:
            await migrate.upgrade(db, revision)
            await migrate.downgrade(db, previous)
            await migrate.upgrade(db, revision)
            previous = revision
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"members", "requests", "claims", "outbox", "audit_events"} <= tables
        await migrate.downgrade(db, "base")
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables <= {"alembic_version"}
    finally:
        await db.dispose()


def _differences(connection: Connection) -> list[object]:
    # As env.py does: the reach index's DB-side structures are not in the models, on purpose.
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_the_skills_catalogue_is_seeded_and_electricity_needs_verification(
    database: Database,
) -> None:
    from sqlalchemy import select

    from bot.skills import SEEDED_LABELS
    from storage.models import Skill

    async with database.read() as session:
        skills = (await session.execute(select(Skill))).scalars().all()
    assert {skill.label for skill in skills} == set(SEEDED_LABELS)
    assert {skill.code for skill in skills if skill.requires_verification} == {"electricity"}
