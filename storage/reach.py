"""The index of volunteers' reach per skill (migration 0006): its database-side parts, by name.

Each dialect has its own — an R*Tree table kept by triggers on SQLite, a `box` column set by
triggers with a GiST index on PostgreSQL — so the ORM models do not describe them: queries name
them here, and Alembic's autogenerate is told to look past them (and only them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Float, Integer, column, literal_column, table
from sqlalchemy.sql.elements import ColumnClause

if TYPE_CHECKING:
    from alembic.runtime.environment import NameFilterParentNames, NameFilterType

# SQLite: R*Tree `volunteer_reach`, one row per volunteer skill whose member has a place; the
# R*Tree module adds shadow tables next to it.
VOLUNTEER_REACH = table(
    "volunteer_reach",
    column("id", Integer),  # member_id << MEMBER_ID_SHIFT | skill_id
    column("skill_low", Float),  # = skill_high = skill_id
    column("skill_high", Float),
    column("south", Float),
    column("north", Float),
    column("west", Float),
    column("east", Float),
)
MEMBER_ID_SHIFT = 32
SKILL_ID_MASK = (1 << MEMBER_ID_SHIFT) - 1
_SQLITE_TABLES = frozenset(
    f"{VOLUNTEER_REACH.name}{suffix}" for suffix in ("", "_node", "_parent", "_rowid")
)

# PostgreSQL: `volunteer_skills.reach`, a box (x = latitude, y = longitude), and the GiST index
# on (SKILL_RANGE, reach): a query must spell the range exactly so for the planner to use it.
# Literal columns, so that naming them adds no second `volunteer_skills` to a query's FROM.
VOLUNTEER_SKILL_REACH: ColumnClause[object] = literal_column("volunteer_skills.reach")
VOLUNTEER_SKILL_RANGE: ColumnClause[object] = literal_column(
    "int4range(volunteer_skills.skill_id, volunteer_skills.skill_id, '[]')"
)
_POSTGRES_OBJECTS = frozenset({("column", "reach"), ("index", "ix_volunteer_skills_reach")})


def include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Alembic's include_name hook: compare everything but the reach index's own structures.

    Used by storage/migrations/env.py and the schema-matches-models test, so that autogenerate
    neither drops them nor reports them, and still reports any other difference. (Functions and
    triggers are never compared.)
    """
    if type_ == "table":
        return name not in _SQLITE_TABLES
    if parent_names.get("table_name") == "volunteer_skills":
        return (type_, name) not in _POSTGRES_OBJECTS
    return True
