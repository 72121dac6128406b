"""Core statements run on the driver's own connection, without SQLAlchemy's execution.

Every update and every tap of a crowd pays a few tiny statements (the update gate's, a tap's
check, the outbox's poll). SQLAlchemy's execution around each one (events, result objects, the
greenlet hop of its async layer) cost several times the statement itself: measured on the bench
machines, the gate's work for one update took 0.9 ms of CPU through SQLAlchemy against 0.13 ms
as one plain statement on PostgreSQL, and 1.3–1.6 ms against 0.2–0.3 ms as one trip on SQLite;
a tap's read on PostgreSQL, 0.35 ms against 0.08 ms. Those statements are compiled here once and
run on a connection kept for them (`Database.read_rows`, `Database.write_rows`): plain sqlite3
on its thread, or asyncpg with its own prepared statements.

The SQL still comes from the models' tables, and every value still goes through its column's
type (an aware datetime is stored as SQLAlchemy stores it, an enum read back as the enum), so
the rows are those SQLAlchemy would have given — only as named tuples.
"""

from __future__ import annotations

import collections
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement


class PlainStatement:
    """A Core statement compiled once for a dialect, run on a driver connection.

    Only what SQLAlchemy's compiler does is done: a column's Python-side default (`default=`,
    applied by SQLAlchemy's execution) is not, so an INSERT gives every value itself.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        # The parameters given at each execution; the others are values written in the
        # statement (`status.in_(...)` of constants), expanded here once for good.
        given = [bind.key for bind in compiled.binds.values() if bind.required]
        if any(compiled.binds[name].expanding for name in given):
            raise ValueError("a PlainStatement takes no list parameter: see json_ids")
        expanded = compiled.construct_expanded_state(dict.fromkeys(given))
        self.sql = expanded.statement
        # Positional on both drivers ("?" for sqlite3, "$1" for asyncpg, where a name used
        # twice is one position).
        self._names = tuple(expanded.positiontup or ())
        self._given = frozenset(given)
        self._written = {
            name: value for name, value in expanded.parameters.items() if name not in given
        }
        # Each value through its type (a bound datetime as SQLAlchemy stores it): the bound
        # parameter's own, or for an expanded constant the one its expansion made.
        self._binders = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if name in compiled.binds
            else expanded.processors.get(name)
            for name in self._names
        )
        columns = list(getattr(statement, "exported_columns", ()))
        self._readers = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        self._row = collections.namedtuple("_Row", [column.key for column in columns])  # type: ignore[misc]

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The driver's positional parameters for these values, each through its type."""
        if values.keys() != self._given:
            raise TypeError(f"expected the parameters {sorted(self._given)}, got {sorted(values)}")
        written = self._written
        return tuple(
            value if bind is None else bind(value)
            for bind, value in zip(
                self._binders,
                (values[name] if name in values else written[name] for name in self._names),
                strict=True,
            )
        )

    def converted(self, rows: Any) -> list[Any]:
        """The driver's rows (sqlite3's tuples, asyncpg's records), each value through its
        column's type."""
        readers = self._readers
        return [
            self._row(
                *(v if read is None else read(v) for read, v in zip(readers, row, strict=True))
            )
            for row in rows
        ]

    def rows(self, connection: Any, **values: Any) -> list[Any]:
        """Execute on a sqlite3 connection (on its thread) with these values; the rows."""
        return self.converted(connection.execute(self.sql, self.parameters(values)))
