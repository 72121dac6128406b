"""A messenger that remembers the notices it queued, so service tests assert on what happened.

It still writes the outbox rows (tests of the sender and of transactions need them); `sent` keeps
every (notice, reader) pair in the order queued, including those of a transaction later rolled
back — assert on what a use case *decided*, and on the rows for what was committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import I18n
from bot.messages.base import Notice, Reader, Rendered
from bot.messages.messenger import Letter, Messenger
from bot.settings import Settings
from storage.models import OutboxMessage

N = TypeVar("N", bound=Notice)


class RecordingMessenger(Messenger):
    """The real messenger, keeping a list of what it was asked to send."""

    def __init__(self, i18n: I18n, settings: Settings) -> None:
        super().__init__(i18n, settings)
        self.sent: list[Letter] = []

    async def post(self, session: AsyncSession, letters: Iterable[Letter]) -> list[OutboxMessage]:
        """Remember the letters, then queue them as the real messenger does."""
        letters = list(letters)
        self.sent.extend(letters)
        return await super().post(session, letters)

    def of(self, kind: type[N], *, to: int | None = None) -> list[N]:
        """The notices of one kind sent so far (to one chat when `to` is given), oldest first."""
        return [
            notice
            for notice, reader in self.sent
            if isinstance(notice, kind) and (to is None or reader.chat_id == to)
        ]

    def readers(self, kind: type[Notice]) -> list[int]:
        """The chats the notices of one kind went to, in order."""
        return [reader.chat_id for notice, reader in self.sent if isinstance(notice, kind)]

    def rendered(self, notice: Notice, reader: Reader) -> Rendered:
        """How `notice` reads for `reader`."""
        return notice.render(self.translator(reader), self.town)
