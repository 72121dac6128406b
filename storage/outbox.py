"""The outbox: Telegram calls stored with the change that caused them (add and flush; never commit).

A use case calls `enqueue` inside its own transaction, so a message exists if and only if the
change behind it was committed. `bot.outbox.OutboxSender` leases due rows, sends them and records
the outcome, each step in its own short transaction.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import session_now
from storage.database import Database
from storage.models import Claim, Member, Neighbourhood, Offer, OutboxMessage, OutboxStatus
from storage.types import UTCDateTime

# Priority lanes: lower goes first.
INTERACTIVE = 0  # people acting now: claim confirmations, private details, referent notices
NOTICE = 5  # notices nobody is waiting for at this very second
BULK = 10  # broadcast offers and announcements

# Bot methods (PTB names) whose result is a new message, whose id is recorded.
CREATES_MESSAGE = frozenset(
    {
        "send_message",
        "send_location",
        "send_venue",
        "send_contact",
        "send_photo",
        "send_document",
        "copy_message",
        "forward_message",
    }
)
# Bot methods that act on an existing message, named by `message_id`.
TARGETS_MESSAGE = frozenset(
    {"edit_message_text", "edit_message_reply_markup", "edit_message_caption", "delete_message"}
)
METHODS = CREATES_MESSAGE | TARGETS_MESSAGE
FINAL = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SKIPPED)


def final_values(status: OutboxStatus) -> dict[str, Any]:
    """The columns a row takes when it becomes final (sent, failed or skipped).

    Its payload is blanked in that same write: the texts name people (a beneficiary's name, phone
    and door code, a volunteer's phone, a reporter's link) and must not outlive the purges of
    what they were copied from. What later steps read of a finished row is in its columns:
    chat_id, method, offer_id, telegram_message_id, batch_key and status.
    """
    return {"status": status, "payload": {}, "lease_owner": None, "lease_expires_at": None}


@dataclass(frozen=True)
class OfferTarget:
    """Where an offer copy stands: its Telegram message id, and how its original send went."""

    message_id: int | None
    original_status: OutboxStatus | None


def _jsonable(value: Any) -> Any:
    """Turn PTB objects (anything with `to_dict`) into plain JSON values, recursively."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


@dataclass(frozen=True)
class Call:
    """One Bot API call to queue: see `enqueue`."""

    chat_id: int
    method: str
    payload: Mapping[str, Any]
    priority: int = BULK
    member_id: int | None = None
    offer_id: int | None = None
    not_before: datetime | None = None


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    method: str,
    payload: Mapping[str, Any],
    priority: int = BULK,
    member_id: int | None = None,
    offer_id: int | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Queue one Bot API call, in the caller's transaction; it is sent once that commits.

    `method` is a PTB Bot method name ("send_message", "edit_message_text"...) and `payload` its
    keyword arguments except `chat_id`; PTB objects such as an InlineKeyboardMarkup are stored
    as their dicts. An edit of an offer copy may leave out `message_id`: the sender takes the
    offer's once its original message has been sent.
    """
    call = Call(chat_id, method, payload, priority, member_id, offer_id, not_before)
    [row] = await enqueue_many(session, [call])
    return row


async def enqueue_many(session: AsyncSession, calls: Iterable[Call]) -> list[OutboxMessage]:
    """Queue many calls with one flush (a wave of offers, the edits of every copy)."""
    now = session_now(session)
    rows = [_row(call, now) for call in calls]
    session.add_all(rows)
    await session.flush()
    return rows


async def record_sent(
    session: AsyncSession,
    *,
    chat_id: int,
    message_id: int,
    member_id: int | None,
    batch_key: str,
) -> OutboxMessage:
    """Record a message the bot sent as the direct answer to someone (not queued), so that a
    later change edits it like the outbox's own: a finished row, blank payload, its id."""
    now = session_now(session)
    row = OutboxMessage(
        chat_id=chat_id,
        member_id=member_id,
        method="send_message",
        payload={},
        priority=INTERACTIVE,
        status=OutboxStatus.SENT,
        attempts=1,
        not_before=now,
        created_at=now,
        sent_at=now,
        telegram_message_id=message_id,
        batch_key=batch_key,
    )
    session.add(row)
    await session.flush()
    return row


def _row(call: Call, now: datetime) -> OutboxMessage:
    if call.method not in METHODS:
        raise ValueError(
            f"the outbox cannot send {call.method!r}; known methods: {sorted(METHODS)}"
        )
    if "chat_id" in call.payload:
        raise ValueError("chat_id is a column of the outbox row, not part of its payload")
    data = _jsonable(call.payload)
    try:
        # Fail in the use case that wrote the row, not minutes later in the sender.
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"outbox payload is not JSON: {exc}") from exc
    return OutboxMessage(
        chat_id=call.chat_id,
        member_id=call.member_id,
        offer_id=call.offer_id,
        method=call.method,
        payload=data,
        priority=call.priority,
        status=OutboxStatus.PENDING,
        attempts=0,
        not_before=call.not_before or now,
        created_at=now,
    )


def _due(now: datetime | ColumnElement[datetime]) -> list[ColumnElement[bool]]:
    """A row that could be leased at `now` (a value, or a bound parameter)."""
    return [
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.not_before <= now,
        or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at <= now),
    ]


@functools.cache
def _due_probe(below: bool) -> Select[Any]:
    """Whether a row could be leased: `now`, and `below_priority` when `below`."""
    conditions = _due(bindparam("now", type_=UTCDateTime()))
    if below:
        conditions.append(OutboxMessage.priority < bindparam("below_priority"))
    return select(OutboxMessage.id.label("id")).where(*conditions).limit(1)


async def has_due(database: Database, *, now: datetime, below_priority: int | None = None) -> bool:
    """Whether any row could be leased now (a cheap read before taking SQLite's write lock):
    one statement, no session — the sender asks twice a second, idle or not."""
    if below_priority is None:
        rows = await database.read_rows(_due_probe(False), now=now)
    else:
        rows = await database.read_rows(_due_probe(True), now=now, below_priority=below_priority)
    return bool(rows)


async def lease_due(
    session: AsyncSession,
    *,
    owner: str,
    limit: int,
    now: datetime,
    lease_seconds: float,
    below_priority: int | None = None,
) -> list[OutboxMessage]:
    """Claim up to `limit` due rows for `owner`, lowest priority value first, then oldest.

    Call it in a write transaction (`Database.transaction()`): on SQLite its BEGIN IMMEDIATE
    serialises leasers; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent leasers pass each
    other without ever taking the same row. `below_priority` leases only more urgent rows.
    """
    if limit <= 0:
        return []
    conditions = _due(now)
    if below_priority is not None:
        conditions.append(OutboxMessage.priority < below_priority)
    # Id order is age order, and it lets a retried row go before newer rows of its lane.
    query = (
        select(OutboxMessage)
        .where(*conditions)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.execute(query)).scalars())
    expires = now + timedelta(seconds=lease_seconds)
    for row in rows:
        row.lease_owner = owner
        row.lease_expires_at = expires
    await session.flush()
    return rows


def _still_ours(owner: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [OutboxMessage.status == OutboxStatus.PENDING]
    if owner is not None:
        # Fencing: a sender whose lease expired must not undo what the next owner did.
        conditions.append(OutboxMessage.lease_owner == owner)
    return conditions


@dataclass(frozen=True)
class Sent:
    """A delivered call: its row, the id of the message Telegram created or edited, and when."""

    id: int
    telegram_message_id: int | None
    at: datetime


# One statement for a whole batch of deliveries, run with one parameter set per row (a Core
# statement: the ORM would take a list of parameters for a bulk update by primary key).
_MARK_SENT = (
    update(cast(Table, OutboxMessage.__table__))
    .where(OutboxMessage.__table__.c.id == bindparam("row_id", type_=Integer()))
    .values(
        sent_at=bindparam("row_sent_at", type_=UTCDateTime()),
        telegram_message_id=bindparam("row_message_id", type_=BigInteger()),
        **final_values(OutboxStatus.SENT),
    )
)


async def mark_sent(session: AsyncSession, deliveries: Sequence[Sent]) -> None:
    """Record delivered calls (payloads blanked), and the message ids of the offer copies sent.

    Unconditional: whatever else happened to a row meanwhile, Telegram did take it.
    """
    if not deliveries:
        return
    await session.execute(
        _MARK_SENT,
        [
            {"row_id": sent.id, "row_sent_at": sent.at, "row_message_id": sent.telegram_message_id}
            for sent in deliveries
        ],
    )
    with_message = sorted(sent.id for sent in deliveries if sent.telegram_message_id is not None)
    if not with_message:
        return
    # An offer copy's message id, from the rows of the batch that created it (never an edit's).
    creating = [
        OutboxMessage.id.in_(with_message),
        OutboxMessage.method.in_(sorted(CREATES_MESSAGE)),
        OutboxMessage.offer_id.is_not(None),
    ]
    message_id = (
        select(OutboxMessage.telegram_message_id)
        .where(OutboxMessage.offer_id == Offer.id, *creating)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(
        update(Offer)
        .where(Offer.id.in_(select(OutboxMessage.offer_id).where(*creating)))
        .values(message_id=message_id)
        .execution_options(synchronize_session=False)
    )


async def reschedule(
    session: AsyncSession,
    id: int,
    not_before: datetime,
    error: str | None,
    *,
    count_attempt: bool = True,
    owner: str | None = None,
) -> bool:
    """Put a pending row back for later, lease cleared; False if it is no longer pending (ours).

    `count_attempt=False` for waits that are not failures of the message (a 429's retry_after,
    an edit waiting for its original), so they never use up the row's attempts.
    """
    values: dict[str, Any] = {
        "not_before": not_before,
        "last_error": error,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == id, *_still_ours(owner))
        .values(**values)
        .returning(OutboxMessage.id)
    )
    return result.first() is not None


async def _finish(
    session: AsyncSession, id: int, status: OutboxStatus, error: str, owner: str | None
) -> bool:
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == id, *_still_ours(owner))
        .values(last_error=error, **final_values(status))
        .returning(OutboxMessage.id)
    )
    return result.first() is not None


async def mark_failed(
    session: AsyncSession, id: int, error: str, *, owner: str | None = None
) -> bool:
    """Give up on a pending row for good; False if it is no longer pending (ours)."""
    return await _finish(session, id, OutboxStatus.FAILED, error, owner)


async def mark_skipped(
    session: AsyncSession, id: int, reason: str, *, owner: str | None = None
) -> bool:
    """Drop a pending row that has become pointless; False if it is no longer pending (ours)."""
    return await _finish(session, id, OutboxStatus.SKIPPED, reason, owner)


async def skip_chat(session: AsyncSession, chat_id: int, reason: str) -> int:
    """Skip every pending row for a chat that refuses the bot; returns how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(last_error=reason, **final_values(OutboxStatus.SKIPPED))
        .returning(OutboxMessage.id)
    )
    return len(result.all())


async def move_chat(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """Point a group that became a supergroup at its new id: its neighbourhood, pending rows."""
    await session.execute(
        update(Neighbourhood)
        .where(Neighbourhood.group_chat_id == old_chat_id)
        .values(group_chat_id=new_chat_id)
    )
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == old_chat_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(chat_id=new_chat_id)
        .returning(OutboxMessage.id)
    )
    return len(result.all())


async def mark_unreachable(
    session: AsyncSession, *, chat_id: int, member_id: int | None, now: datetime
) -> None:
    """Flag the member behind a chat that refused the bot (a private chat id is the user id).

    A group that refuses the bot (it was removed) stops receiving its neighbourhood's offers
    until a coordinator links it again or turns group posting back on.
    """
    if chat_id < 0:
        await session.execute(
            update(Neighbourhood)
            .where(Neighbourhood.group_chat_id == chat_id)
            .values(post_to_group=False)
        )
    who: list[ColumnElement[bool]] = []
    if member_id is not None:
        who.append(Member.id == member_id)
    if chat_id > 0:
        who.append(Member.telegram_id == chat_id)
    if not who:
        return
    await session.execute(
        update(Member)
        .where(or_(*who), Member.reachable)
        .values(reachable=False, unreachable_since=now)
    )


async def release(
    session: AsyncSession, ids: Iterable[int], *, owner: str, not_before: datetime | None = None
) -> int:
    """Give back leased rows unsent (no attempt counted), optionally not before a time."""
    wanted = list(ids)
    if not wanted:
        return 0
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
    if not_before is not None:
        values["not_before"] = not_before
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(wanted), *_still_ours(owner))
        .values(**values)
        .returning(OutboxMessage.id)
    )
    return len(result.all())


async def offer_targets(session: AsyncSession, offer_ids: Iterable[int]) -> dict[int, OfferTarget]:
    """For each offer, its message id and the status of the newest outbox row that sends it."""
    wanted = sorted(set(offer_ids))
    if not wanted:
        return {}
    found = await session.execute(select(Offer.id, Offer.message_id).where(Offer.id.in_(wanted)))
    message_ids = {offer_id: message_id for offer_id, message_id in found}
    originals: dict[int, OutboxStatus] = {}
    result = await session.execute(
        select(OutboxMessage.offer_id, OutboxMessage.status)
        .where(
            OutboxMessage.offer_id.in_(wanted),
            OutboxMessage.method.in_(sorted(CREATES_MESSAGE)),
        )
        .order_by(OutboxMessage.id)
    )
    for offer_id, status in result:
        if offer_id is not None:
            originals[offer_id] = status
    return {
        offer_id: OfferTarget(message_ids[offer_id], originals.get(offer_id))
        for offer_id in wanted
        if offer_id in message_ids
    }


async def prune(
    session: AsyncSession,
    *,
    before: datetime,
    batches_before: datetime,
    holding_claims: Iterable[str],
    limit: int,
) -> int:
    """Delete up to `limit` finished rows that ended before `before`; returns how many.

    Kept longer: rows of an announcement (`batch_key`), whose delivery counts are read from them,
    until `batches_before`; and the details row of a claim still `holding_claims` or whose
    details are still to be removed from the claimer's chat (that removal edits its message).
    """
    ended = func.coalesce(OutboxMessage.sent_at, OutboxMessage.not_before)
    details_needed = select(Claim.details_outbox_id).where(
        Claim.details_outbox_id.is_not(None),
        or_(Claim.status.in_(list(holding_claims)), Claim.purge_details_at.is_not(None)),
    )
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status.in_(FINAL),
            ended <= before,
            or_(OutboxMessage.batch_key.is_(None), ended <= batches_before),
            OutboxMessage.id.not_in(details_needed),
        )
        .limit(limit)
    )
    result = await session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.id.in_(due))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def pending_count(session: AsyncSession) -> int:
    """How many rows still wait to be sent (due or not)."""
    result = await session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
    )
    return int(result.scalar_one())
