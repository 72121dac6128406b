"""A spatial index of volunteers' reach, per skill, so matching reads only those who can come.

Matching asks "who holds this skill, and whose circle holds this point?". A latitude/longitude
index cannot answer that (each volunteer has their own radius), so the database used to read
every holder of the skill. Each volunteer's reach is now kept as the box around their circle —
latitude ± radius / 110, longitude ± radius / (110 × cos of the box's most poleward latitude),
every longitude when the box reaches a pole or would be 360° wide, as bot.geo.bounding_box draws
it — once per skill they hold, in a structure that finds the boxes containing a point for one
skill. Per skill, because in a real region a point lies in ~15 % of all boxes: indexed by place
alone, a need still probed ~15,000 volunteers for the skill (benchmark 4, docs/benchmarks.md).

- SQLite: an R*Tree `volunteer_reach(id, skill_low, skill_high, south, north, west, east)`, id =
  member_id << 32 | skill_id, skill_low = skill_high = skill_id, kept by triggers on
  `volunteer_skills` and `members` (rows only for members with a place). SQLite's cos() is a
  compile-time option, so the triggers use a polynomial. Neither table is altered: a rebuild's
  DROP TABLE would fire the ON DELETE actions of every table pointing at it.
- PostgreSQL: `volunteer_skills.reach box` (x = latitude, y = longitude; NULL without a place)
  set by triggers through the function member_reach(), and a GiST index on (the skill as a
  one-value int4range, reach) — GiST has no plain integer operator class without btree_gist.

Both are DB-side only (storage.reach names them and keeps autogenerate from asking the models for
them). The boxes are conservative — a hair wider than bounding_box, and R*Tree rounds its 32-bit
floats outward — because matching checks the exact distance afterwards: a box must never cut off
a point of its circle.

Also an index on claims (volunteer_id, claimed_at): matching then counts the week's claims of
the capped candidates only, instead of aggregating every recent claim for each need.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 06:00:00.000000
"""

# The SQL here is assembled from this file's constants only: nothing comes from outside.
# ruff: noqa: S608

import math
from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bot.geo.KM_PER_DEGREE when this was written (tests/services/test_matching.py checks that the
# stored boxes contain bot.geo.bounding_box's).
KM_PER_DEGREE = 110.0
# A hair wider than bounding_box: float rounding here must never make a box narrower than it.
WIDEN = 1.000001
RADIANS_PER_DEGREE = math.pi / 180


# --- SQLite -------------------------------------------------------------------------------------


def _cos_of_square(y: str) -> str:
    """cos(x) from y = x², Taylor series to x¹⁰ in Horner form (error < 1e-6 for |x| ≤ π/2).

    The first term left out is positive, so this is a little below cos(x) on [0, π/2]: the box
    it sizes comes out a little wider, never narrower.
    """
    terms = [(-1) ** k / math.factorial(2 * k) for k in range(6)]
    text = repr(terms[-1])
    for coefficient in reversed(terms[:-1]):
        text = f"{coefficient!r} + {y} * ({text})"
    return text


def _reach_rows(rows: str) -> str:
    """SELECT the volunteer_reach rows of `rows` (id, skill_id, latitude, longitude, radius_km).

    d is the box's half-height in degrees, y the square (in radians) of its most poleward
    latitude, c that latitude's cosine; the box spans every longitude when it reaches a pole or
    would be 360° wide (d / c ≥ 180, also when c comes out ≤ 0 right at 90°). Rows without a
    place get no box.
    """
    return f"""
        SELECT id, skill_id, skill_id, latitude - d, latitude + d,
               CASE WHEN wide THEN -180.0 ELSE longitude - d / c END,
               CASE WHEN wide THEN 180.0 ELSE longitude + d / c END
        FROM (
            SELECT id, skill_id, latitude, longitude, d, c,
                   abs(latitude) + d >= 90.0 OR d >= 180.0 * c AS wide
            FROM (
                SELECT id, skill_id, latitude, longitude, d, {_cos_of_square("y")} AS c
                FROM (
                    SELECT id, skill_id, latitude, longitude, d,
                           (abs(latitude) + d) * (abs(latitude) + d)
                               * {RADIANS_PER_DEGREE**2!r} AS y
                    FROM (
                        SELECT id, skill_id, latitude, longitude,
                               radius_km / {KM_PER_DEGREE!r} * {WIDEN!r} AS d
                        FROM ({rows})
                        WHERE latitude IS NOT NULL AND longitude IS NOT NULL
                    )
                )
            )
        )"""


_INSERT = "INSERT INTO volunteer_reach (id, skill_low, skill_high, south, north, west, east)"
_EVERY_SKILL = """
    SELECT (v.member_id << 32) | v.skill_id AS id, v.skill_id AS skill_id,
           m.latitude AS latitude, m.longitude AS longitude, m.radius_km AS radius_km
    FROM volunteer_skills AS v JOIN members AS m ON m.id = v.member_id"""
_NEW_SKILL = """
    SELECT (NEW.member_id << 32) | NEW.skill_id AS id, NEW.skill_id AS skill_id,
           m.latitude AS latitude, m.longitude AS longitude, m.radius_km AS radius_km
    FROM members AS m WHERE m.id = NEW.member_id"""
_SKILLS_OF_NEW_MEMBER = """
    SELECT (v.member_id << 32) | v.skill_id AS id, v.skill_id AS skill_id,
           NEW.latitude AS latitude, NEW.longitude AS longitude, NEW.radius_km AS radius_km
    FROM volunteer_skills AS v WHERE v.member_id = NEW.id"""
_PLACE_CHANGED = (
    "OLD.latitude IS NOT NEW.latitude OR OLD.longitude IS NOT NEW.longitude"
    " OR OLD.radius_km IS NOT NEW.radius_km"
)
_SQLITE_TRIGGERS = {
    "volunteer_skills_reach_insert": f"""
        AFTER INSERT ON volunteer_skills BEGIN
            {_INSERT} {_reach_rows(_NEW_SKILL)};
        END""",
    "volunteer_skills_reach_update": f"""
        AFTER UPDATE OF member_id, skill_id ON volunteer_skills BEGIN
            DELETE FROM volunteer_reach WHERE id = (OLD.member_id << 32) | OLD.skill_id;
            {_INSERT} {_reach_rows(_NEW_SKILL)};
        END""",
    # Also run by the ON DELETE CASCADE from members.
    "volunteer_skills_reach_delete": """
        AFTER DELETE ON volunteer_skills BEGIN
            DELETE FROM volunteer_reach WHERE id = (OLD.member_id << 32) | OLD.skill_id;
        END""",
    "members_reach_update": f"""
        AFTER UPDATE OF latitude, longitude, radius_km ON members WHEN {_PLACE_CHANGED} BEGIN
            DELETE FROM volunteer_reach WHERE id IN (
                SELECT (member_id << 32) | skill_id FROM volunteer_skills WHERE member_id = NEW.id
            );
            {_INSERT} {_reach_rows(_SKILLS_OF_NEW_MEMBER)};
        END""",
}


def _upgrade_sqlite() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE volunteer_reach"
        " USING rtree(id, skill_low, skill_high, south, north, west, east)"
    )
    op.execute(f"{_INSERT} {_reach_rows(_EVERY_SKILL)}")
    for name, body in _SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


# --- PostgreSQL ---------------------------------------------------------------------------------

_MEMBER_REACH_FUNCTION = f"""
    CREATE FUNCTION member_reach(
        latitude double precision, longitude double precision, radius_km double precision
    ) RETURNS box LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE
            WHEN latitude IS NULL OR longitude IS NULL THEN NULL
            WHEN abs(latitude) + d >= 90.0 OR d >= 180.0 * c
                THEN box(point(latitude - d, -180.0), point(latitude + d, 180.0))
            ELSE box(point(latitude - d, longitude - d / c), point(latitude + d, longitude + d / c))
        END
        FROM (SELECT radius_km / {KM_PER_DEGREE!r} * {WIDEN!r} AS d) AS half_height,
             LATERAL (SELECT cos(radians(abs(latitude) + d)) AS c) AS poleward_cosine
    $$"""
_VOLUNTEER_SKILLS_FUNCTION = """
    CREATE FUNCTION volunteer_skills_reach() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.reach := (
            SELECT member_reach(m.latitude, m.longitude, m.radius_km)
            FROM members AS m WHERE m.id = NEW.member_id
        );
        RETURN NEW;
    END $$"""
_MEMBERS_FUNCTION = """
    CREATE FUNCTION members_reach() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE volunteer_skills
        SET reach = member_reach(NEW.latitude, NEW.longitude, NEW.radius_km)
        WHERE member_id = NEW.id;
        RETURN NULL;
    END $$"""


def _upgrade_postgresql() -> None:
    op.execute(_MEMBER_REACH_FUNCTION)
    op.execute("ALTER TABLE volunteer_skills ADD COLUMN reach box")
    op.execute(
        "UPDATE volunteer_skills AS v"
        " SET reach = member_reach(m.latitude, m.longitude, m.radius_km)"
        " FROM members AS m WHERE m.id = v.member_id"
    )
    op.execute(
        "CREATE INDEX ix_volunteer_skills_reach ON volunteer_skills"
        " USING gist (int4range(skill_id, skill_id, '[]'), reach)"
    )
    op.execute(_VOLUNTEER_SKILLS_FUNCTION)
    op.execute(
        "CREATE TRIGGER volunteer_skills_reach BEFORE INSERT OR UPDATE OF member_id"
        " ON volunteer_skills FOR EACH ROW EXECUTE FUNCTION volunteer_skills_reach()"
    )
    op.execute(_MEMBERS_FUNCTION)
    op.execute(
        "CREATE TRIGGER members_reach AFTER UPDATE OF latitude, longitude, radius_km ON members"
        " FOR EACH ROW WHEN (OLD.latitude IS DISTINCT FROM NEW.latitude"
        " OR OLD.longitude IS DISTINCT FROM NEW.longitude"
        " OR OLD.radius_km IS DISTINCT FROM NEW.radius_km)"
        " EXECUTE FUNCTION members_reach()"
    )


def upgrade() -> None:
    # Matching counts a capped volunteer's claims of the week through this index, instead of
    # aggregating every recent claim for every need.
    op.create_index("ix_claims_volunteer_claimed", "claims", ["volunteer_id", "claimed_at"])
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    op.drop_index("ix_claims_volunteer_claimed", table_name="claims")
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE volunteer_reach")
    else:
        op.execute("DROP TRIGGER members_reach ON members")
        op.execute("DROP FUNCTION members_reach()")
        op.execute("DROP TRIGGER volunteer_skills_reach ON volunteer_skills")
        op.execute("DROP FUNCTION volunteer_skills_reach()")
        op.execute("DROP INDEX ix_volunteer_skills_reach")
        op.execute("ALTER TABLE volunteer_skills DROP COLUMN reach")
        op.execute(
            "DROP FUNCTION member_reach(double precision, double precision, double precision)"
        )
