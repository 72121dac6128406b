"""The shapes every use case writes in (add and flush; never commit).

- `changed`: a conditional UPDATE … RETURNING — the row it changed, or None when its condition
  no longer held (someone was quicker, or the state moved on): never read-then-write.
- `created`: a new row, flushed for its id, and the audit event saying who created it.
- `erased`: personal columns blanked on the rows a purge selects, one audit event each.
- `view_of`: a frozen view copied from a row's attributes of the same names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Update, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

V = TypeVar("V", bound="DataclassInstance")


class Identified(Protocol):
    """A model instance with an integer primary key named `id`."""

    id: Any


async def changed(session: AsyncSession, statement: Update) -> Any:
    """Run a conditional UPDATE … RETURNING: the row it changed (a tuple), or None."""
    return (await session.execute(statement)).one_or_none()


async def created(
    session: AsyncSession,
    row: Identified,
    entity: str,
    action: str,
    *,
    by: int | None,
    state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Insert `row` (it gets its id) and record its creation, in `state` when it has one."""
    session.add(row)
    await session.flush()
    moved = (None, state) if state is not None else None
    await audit.record(session, entity, int(row.id), action, by=by, moved=moved, detail=detail)


async def erased(
    session: AsyncSession,
    model: type[Any],
    entity: str,
    where: list[ColumnElement[bool]],
    values: Mapping[str, Any],
) -> int:
    """Blank `values` on the rows `where` selects, recording a "purge" of each; how many."""
    ids = (
        (
            await session.execute(
                update(model)
                .where(*where)
                .values(**values)
                .returning(model.id)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    await audit.record_each(session, entity, ids, "purge")
    return len(ids)


def view_of(cls: type[V], row: object, **given: Any) -> V:
    """A `cls` whose every field is in `given`, or else the row's attribute of the same name."""
    values = {
        field.name: given[field.name] if field.name in given else getattr(row, field.name)
        for field in dataclasses.fields(cls)
    }
    return cls(**values)
