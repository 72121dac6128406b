"""PTB persistence backed by Brigade's database: conversation states and drafts survive restarts.

Only conversations and `user_data` (the in-progress answers of a guided conversation) are kept;
chat and bot data are not stored (bot_data holds live services, never serialisable).
PTB writes persistence on a timer; `flush_persistence` in handlers/registry.py writes it after
every update instead, so a crash loses at most the update being handled, and a person's step and
drafts are committed together.

PTB reads conversation states once, when the application starts, and never again (PTB issues
#4452 and #5225: no refresh hook exists for ConversationHandler). With several processes on one
PostgreSQL database, `refresh_person` reads a person's states and drafts back before each of their
updates (bot/shared_state.py calls it under the person's advisory lock) and puts them in PTB's
memory without marking them as changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from telegram.ext import Application, BasePersistence, ConversationHandler, PersistenceInput

from bot.batching import GroupCommit
from storage import conversations as store
from storage.database import Database

UserDataDict = dict[Any, Any]
# PTB's own aliases live in a private module; these are the same shapes.
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]


_NOTHING = "{}"


def _canonical(data: UserDataDict) -> str:
    """The JSON stored for a person's drafts (same dict, same text)."""
    return json.dumps(data, separators=(",", ":"))


def _encode_key(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def _decode_key(raw: str) -> ConversationKey:
    return tuple(json.loads(raw))


@dataclass(frozen=True)
class _State:
    """One person's new step in one conversation (None: they left it)."""

    key: str
    conversation: str
    person: int | None
    state: str | None


@dataclass(frozen=True)
class _Drafts:
    """One person's drafts, as the JSON to store ("{}": none left)."""

    user_id: int
    text: str


def _person_of(key: ConversationKey) -> int | None:
    """The user id in a conversation key (PTB puts it last for per-user conversations)."""
    last = key[-1] if key else None
    return last if isinstance(last, int) else None


def _replace_person(
    handler: ConversationHandler[Any], user_id: int, stored: dict[ConversationKey, object]
) -> None:
    """Put one person's stored states in a ConversationHandler's memory, untracked."""
    # After initialize() this is PTB's TrackingDict (issues #4452/#5225: no public way in).
    # Writes through `.data` and `update_no_track` are not reported as changes to persistence.
    conversations = handler._conversations
    tracked = getattr(conversations, "data", conversations)
    for key in [key for key in tracked if key and key[-1] == user_id and key not in stored]:
        del tracked[key]
    if hasattr(conversations, "update_no_track"):
        conversations.update_no_track(stored)
    else:  # not initialised with persistence (cannot happen once the application started)
        tracked.update(stored)


class DatabasePersistence(BasePersistence[UserDataDict, dict[Any, Any], dict[Any, Any]]):
    """Conversation states and user_data in the `conversation_states` and `user_data` tables."""

    def __init__(self, database: Database, update_interval: float = 60) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self._db = database
        # What the database holds for each person with drafts, as JSON: PTB asks to store every
        # user's data after each of their updates, changed or not, and most updates (a tap, a
        # command) change nothing — those then cost no write transaction.
        self._stored: dict[int, str] = {}
        # PTB stores a person's new step and their drafts with concurrent calls: written apart,
        # a crash between the two left a restarted bot at the new step with the old drafts
        # (seen under load: /new's preview lost its need and place). Submitted together, they
        # are written in one transaction.
        self._writes: GroupCommit[_State | _Drafts, None] = GroupCommit(self._write)

    async def get_user_data(self) -> dict[int, UserDataDict]:
        """Every person's drafts, loaded once at start."""
        async with self._db.read() as session:
            loaded = await store.load_user_data(session)
        self._stored = {user_id: _canonical(data) for user_id, data in loaded.items() if data}
        return loaded

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        """Chat data is not stored."""
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        """Bot data is not stored."""
        return {}

    async def get_callback_data(self) -> CDCData | None:
        """Arbitrary callback data is not used."""
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        """The states of one conversation, loaded when its handler starts."""
        async with self._db.read() as session:
            rows = await store.load_states(session, name)
        return {_decode_key(row.key.split("|", 1)[1]): row.state for row in rows}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Store one person's new state in one conversation."""
        await self._writes.submit(
            _State(
                f"{name}|{_encode_key(key)}",
                name,
                _person_of(key),
                None if new_state is None else str(new_state),
            )
        )

    async def update_user_data(self, user_id: int, data: UserDataDict) -> None:
        """Store one person's drafts (they must be JSON-serialisable), unless unchanged."""
        text = _canonical(data)
        if self._stored.get(user_id, _NOTHING) == text:
            return
        await self._writes.submit(_Drafts(user_id, text))

    async def _write(self, pieces: Sequence[_State | _Drafts]) -> list[None]:
        """Write steps and drafts submitted together in one transaction, in their order."""
        async with self._db.transaction() as session:
            for piece in pieces:
                if isinstance(piece, _State):
                    await store.save_state(
                        session, piece.key, piece.conversation, piece.person, piece.state
                    )
                else:
                    await store.save_user_data(session, piece.user_id, json.loads(piece.text))
        for piece in pieces:
            if isinstance(piece, _Drafts):
                self._remember(piece.user_id, piece.text)
        return [None] * len(pieces)

    @property
    def write_transactions(self) -> int:
        """Transactions used so far to store steps and drafts."""
        return self._writes.batches

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Chat data is not stored."""

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        """Bot data is not stored."""

    async def update_callback_data(self, data: CDCData) -> None:
        """Arbitrary callback data is not used."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Chat data is not stored."""

    async def drop_user_data(self, user_id: int) -> None:
        """Forget one person's drafts."""
        await self._writes.submit(_Drafts(user_id, _NOTHING))

    def _remember(self, user_id: int, text: str) -> None:
        if text == _NOTHING:
            self._stored.pop(user_id, None)  # no row: nothing kept for those without drafts
        else:
            self._stored[user_id] = text

    async def refresh_person(
        self,
        connection: AsyncConnection,
        application: Application[Any, Any, Any, Any, Any, Any],
        user_id: int,
    ) -> None:
        """Make PTB's memory of one person what the database holds (another process may have
        moved them on): their step in every conversation and their drafts.

        The caller holds the person's lock, so nobody writes them meanwhile. Nothing is marked
        as changed: a person whose update changes nothing costs no write.
        """
        rows, data = await store.load_person(connection, user_id)
        states: dict[str, dict[ConversationKey, object]] = {}
        for conversation, key, state in rows:
            states.setdefault(conversation, {})[_decode_key(key.split("|", 1)[1])] = state
        for handlers in application.handlers.values():
            for handler in handlers:
                if isinstance(handler, ConversationHandler) and handler.persistent:
                    _replace_person(handler, user_id, states.get(handler.name or "", {}))
        in_memory = application.user_data[user_id]  # PTB's defaultdict makes one if needed
        in_memory.clear()
        in_memory.update(data)
        self._remember(user_id, _canonical(data) if data else _NOTHING)

    async def refresh_user_data(self, user_id: int, user_data: UserDataDict) -> None:
        """Nothing here: `refresh_person` reads drafts back, with the states, under a lock."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Chat data is not stored."""

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        """Bot data is not stored."""

    async def flush(self) -> None:
        """Every write is already committed."""
