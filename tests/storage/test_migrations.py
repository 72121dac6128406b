"""Migrations: every revision goes up, down and up again, and the result matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

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


def _unindexed_deleted_parents(connection: Connection) -> list[str]:
    """Referencing columns whose parent's deletion acts on them but that lead no index."""
    inspector = inspect(connection)
    missing = []
    for table in inspector.get_table_names():
        leading = {index["column_names"][0] for index in inspector.get_indexes(table)}
        leading |= {u["column_names"][0] for u in inspector.get_unique_constraints(table)}
        leading |= set(inspector.get_pk_constraint(table)["constrained_columns"][:1])
        for key in inspector.get_foreign_keys(table):
            acts = (key.get("options") or {}).get("ondelete", "").upper()
            column = key["constrained_columns"][0]
            if acts in {"CASCADE", "SET NULL"} and column not in leading:
                missing.append(f"{table}.{column}")
    return missing


async def test_deleting_a_member_or_an_offer_never_scans_a_table(database: Database) -> None:
    """Every column a parent's deletion sets to NULL or deletes is found through an index."""
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_unindexed_deleted_parents) == []


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


async def test_0025_keeps_a_running_campaigns_calls_and_their_people(database_url: str) -> None:
    """The need's columns are added in place: a call of the day keeps its person and campaign
    (a batch rebuild of watch_calls on SQLite would have dropped and recreated the table), and
    the downgrade keeps them too."""
    db = Database(database_url, clock=ManualClock())
    try:
        await migrate.upgrade(db, "0024")
        async with db.engine.begin() as connection:
            for statement in (
                "INSERT INTO watch_register (id, name, phone, address, registered_by, consent,"
                " language, created_at, updated_at) VALUES (1, 'Odette', '0235', '3 rue',"
                " 'self', 'oral', 'fr', '2026-12-06 10:00:00', '2026-12-06 10:00:00')",
                "INSERT INTO watch_campaigns (id, kind, window_start, window_end, interval_days,"
                " next_window_at, started_at, running) VALUES (1, 'heat', 540, 720, 1,"
                " '2026-12-06 10:00:00', '2026-12-06 10:00:00', true)",
                "INSERT INTO watch_calls (id, campaign_id, day, person_id, outcome)"
                " VALUES (1, 1, '2026-12-06', 1, 'pending')",
            ):
                await connection.execute(text(statement))
        await migrate.upgrade(db, "0025")
        query = "SELECT campaign_id, person_id, need_skill_id, draft_decision FROM watch_calls"
        async with db.engine.connect() as connection:
            assert (await connection.execute(text(query))).all() == [(1, 1, None, None)]
        await migrate.downgrade(db, "0024")
        async with db.engine.connect() as connection:
            rows = await connection.execute(text("SELECT campaign_id, person_id FROM watch_calls"))
            assert rows.all() == [(1, 1)]
    finally:
        await db.dispose()
