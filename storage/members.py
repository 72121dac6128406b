"""Repository functions for members and their roles (add and flush; never commit)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Dialect, bindparam, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.domain.vocabulary import Role, VolunteerStatus
from storage.models import Claim, HelpRequest, Member, MemberRole, OutboxMessage, Signal
from storage.plain import PlainStatement
from storage.sqlite_driver import json_ids


async def get_by_telegram_id(session: AsyncSession, telegram_id: int) -> Member | None:
    """The member with this Telegram id, if any."""
    result = await session.execute(select(Member).where(Member.telegram_id == telegram_id))
    return result.scalar_one_or_none()


@dataclass(frozen=True)
class MemberIdentity:
    """What identifying a member needs of their row and roles, read in one statement."""

    id: int
    telegram_id: int | None
    display_name: str
    username: str | None
    language: str | None
    telegram_language: str | None
    volunteer_status: VolunteerStatus | None
    reachable: bool
    updated_at: datetime
    roles: frozenset[Role]


_IDENTITY = (
    select(
        Member.id,
        Member.telegram_id,
        Member.display_name,
        Member.username,
        Member.language,
        Member.telegram_language,
        Member.volunteer_status,
        Member.reachable,
        Member.updated_at,
        MemberRole.role,
    )
    .outerjoin(MemberRole, MemberRole.member_id == Member.id)
    .where(Member.telegram_id == bindparam("telegram_id"))
)


async def by_telegram_ids(session: AsyncSession, telegram_ids: Iterable[int]) -> dict[int, Member]:
    """The members behind these Telegram ids (those Brigade knows), in one statement."""
    wanted = list(telegram_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Member).where(Member.telegram_id.in_(wanted)))
    return {m.telegram_id: m for m in rows.scalars() if m.telegram_id is not None}


async def identity_of(session: AsyncSession, telegram_id: int) -> MemberIdentity | None:
    """The member with this Telegram id and their roles: one round trip, no ORM objects.

    Every update identifies its sender: this is the hottest read of the bot.
    """
    rows = (await session.execute(_IDENTITY, {"telegram_id": telegram_id})).all()
    if not rows:
        return None
    first = rows[0]
    return MemberIdentity(
        id=first.id,
        telegram_id=first.telegram_id,
        display_name=first.display_name,
        username=first.username,
        language=first.language,
        telegram_language=first.telegram_language,
        volunteer_status=first.volunteer_status,
        reachable=first.reachable,
        updated_at=first.updated_at,
        roles=frozenset(row.role for row in rows if row.role is not None),
    )


# What identifying a member reads, by column key (`identities_in` reads them back); the
# member's columns are NULL in a row of an outer join that found nobody.
IDENTITY_COLUMNS = tuple(_IDENTITY.selected_columns)

_IDENTITIES = (
    select(*IDENTITY_COLUMNS)
    .outerjoin(MemberRole, MemberRole.member_id == Member.id)
    .where(Member.telegram_id.in_(bindparam("telegram_ids", expanding=True)))
)


async def identities_of(
    session: AsyncSession | AsyncConnection, telegram_ids: Iterable[int]
) -> dict[int, MemberIdentity]:
    """`identity_of` for several people in one statement (the update gate's batch): only the
    ids of known members are keys."""
    wanted = list(dict.fromkeys(telegram_ids))
    if not wanted:
        return {}
    rows = (await session.execute(_IDENTITIES, {"telegram_ids": wanted})).all()
    return identities_in(rows)


@functools.lru_cache(maxsize=4)  # one dialect per engine: a process has one
def _plain_identities(dialect: Dialect) -> PlainStatement:
    """`_IDENTITIES` for a plain sqlite3 connection, the ids given as one JSON array."""
    ids = json_ids("telegram_ids")
    statement = (
        select(*IDENTITY_COLUMNS)
        .outerjoin(MemberRole, MemberRole.member_id == Member.id)
        .where(Member.telegram_id.in_(select(ids.c.value)))
    )
    return PlainStatement(statement, dialect)


def identities_plain(
    connection: sqlite3.Connection, dialect: Dialect, telegram_ids: Iterable[int]
) -> dict[int, MemberIdentity]:
    """`identities_of` on a plain sqlite3 connection (Database.write_in_one_trip)."""
    wanted = list(dict.fromkeys(telegram_ids))
    if not wanted:
        return {}
    rows = _plain_identities(dialect).rows(connection, telegram_ids=json.dumps(wanted))
    return identities_in(rows)


def identities_in(rows: Iterable[Any]) -> dict[int, MemberIdentity]:
    """The identities in rows of `IDENTITY_COLUMNS` (one row per role, or one without)."""
    found: dict[int, MemberIdentity] = {}
    roles: dict[int, set[Role]] = {}
    for row in rows:
        if row.telegram_id not in found:
            roles[row.telegram_id] = set()
            found[row.telegram_id] = MemberIdentity(
                id=row.id,
                telegram_id=row.telegram_id,
                display_name=row.display_name,
                username=row.username,
                language=row.language,
                telegram_language=row.telegram_language,
                volunteer_status=row.volunteer_status,
                reachable=row.reachable,
                updated_at=row.updated_at,
                roles=frozenset(),
            )
        if row.role is not None:
            roles[row.telegram_id].add(row.role)
    return {
        telegram_id: replace(identity, roles=frozenset(roles[telegram_id]))
        for telegram_id, identity in found.items()
    }


async def add_member(session: AsyncSession, member: Member) -> Member:
    """Insert a member and give it its id."""
    session.add(member)
    await session.flush()
    return member


async def roles_of(session: AsyncSession, member_id: int) -> frozenset[Role]:
    """The roles a member holds."""
    result = await session.execute(select(MemberRole.role).where(MemberRole.member_id == member_id))
    return frozenset(result.scalars())


async def grant_roles(
    session: AsyncSession, member_id: int, roles: Iterable[Role], granted_by_id: int | None = None
) -> frozenset[Role]:
    """Give the member each of `roles` it lacks; returns the ones newly granted."""
    held = await roles_of(session, member_id)
    new = frozenset(roles) - held
    session.add_all(
        MemberRole(member_id=member_id, role=role, granted_by_id=granted_by_id) for role in new
    )
    await session.flush()
    return new


async def members_with_any_role(
    session: AsyncSession, roles: Iterable[Role]
) -> list[tuple[Member, frozenset[Role]]]:
    """Members holding at least one of `roles`, with all their roles (one query).

    The role filter is in SQL: with thousands of volunteers, loading every member with any role
    to keep the few staff cost seconds and hundreds of MB (measured by bench/memory.py).
    """
    wanted = set(roles)
    holders = select(MemberRole.member_id).where(MemberRole.role.in_(wanted))
    result = await session.execute(
        select(Member, MemberRole.role)
        .join(MemberRole, MemberRole.member_id == Member.id)
        .where(Member.telegram_id.is_not(None), Member.id.in_(holders))
        .order_by(Member.id)
    )
    by_member: dict[int, tuple[Member, set[Role]]] = {}
    for member, role in result:
        by_member.setdefault(member.id, (member, set()))[1].add(role)
    return [(member, frozenset(held)) for member, held in by_member.values() if held & wanted]


async def insert_member_if_absent(
    session: AsyncSession, telegram_id: int, **values: object
) -> None:
    """Create the member for `telegram_id` unless it exists, without racing a concurrent insert."""
    dialect = session.get_bind().dialect.name
    insert_values = {"telegram_id": telegram_id, **values}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(
            pg_insert(Member)
            .values(**insert_values)
            .on_conflict_do_nothing(index_elements=[Member.telegram_id])
        )
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        await session.execute(
            sqlite_insert(Member)
            .values(**insert_values)
            .on_conflict_do_nothing(index_elements=[Member.telegram_id])
        )


async def get_with_role(session: AsyncSession, telegram_id: int, role: Role) -> Member | None:
    """The member with this Telegram id if they hold `role` (checked by every staff action)."""
    result = await session.execute(
        select(Member)
        .join(MemberRole, MemberRole.member_id == Member.id)
        .where(Member.telegram_id == telegram_id, MemberRole.role == role)
    )
    return result.scalar_one_or_none()


async def telegram_ids_with_role(session: AsyncSession, role: Role) -> list[int]:
    """Telegram ids of the reachable members holding `role`, e.g. coordinators to notify."""
    result = await session.execute(
        select(Member.telegram_id)
        .join(MemberRole, MemberRole.member_id == Member.id)
        .where(MemberRole.role == role, Member.telegram_id.is_not(None), Member.reachable)
        .order_by(Member.id)
    )
    return [telegram_id for telegram_id in result.scalars() if telegram_id is not None]


def _idle(before: datetime) -> list[ColumnElement[bool]]:
    """Members with nothing the town needs (no role, claim, request, application or open case
    they reported), not seen since `before`. Forgotten members are already anonymised."""
    return [
        Member.forgotten_at.is_(None),
        Member.updated_at < before,
        or_(
            Member.volunteer_status.is_(None),
            Member.volunteer_status != VolunteerStatus.PENDING,
        ),
        ~exists().where(MemberRole.member_id == Member.id),
        ~exists().where(Claim.volunteer_id == Member.id),
        ~exists().where(HelpRequest.referent_id == Member.id),
        # The referents following a case up may still need to reach who reported it.
        ~exists().where(Signal.reporter_member_id == Member.id, Signal.purged_at.is_(None)),
    ]


async def purge_idle(session: AsyncSession, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` idle members (see `_idle`) and the messages to their chats.

    Someone who only tapped a button or asked for /help once leaves nothing behind. At most
    `limit` at a time: each deleted member makes the database update every row pointing at it.
    """
    chosen = select(Member.id).where(*_idle(before)).order_by(Member.id).limit(limit)
    await session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.chat_id.in_(
                select(Member.telegram_id).where(
                    Member.id.in_(chosen), Member.telegram_id.is_not(None)
                )
            )
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(Member).where(Member.id.in_(chosen)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def by_id(session: AsyncSession, member_id: int | None) -> Member | None:
    """The member with this id; None for no id (a member who was never set or was deleted)."""
    return await session.get(Member, member_id) if member_id else None
