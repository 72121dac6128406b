"""The one way a use case tells people something: notices rendered per reader into outbox rows.

Every method runs inside the use case's transaction and only *enqueues*: the message is committed
together with the change that caused it, and the outbox sender delivers it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import I18n, Translator
from bot.messages.base import Notice, Reader, Town
from bot.settings import Settings
from storage import outbox
from storage.models import Member, OutboxMessage, OutboxStatus

# One message: a notice and the reader it is rendered for.
Letter = tuple[Notice, Reader]


class Messenger:
    """Renders notices in each reader's language and queues them in the caller's transaction."""

    def __init__(self, i18n: I18n, settings: Settings) -> None:
        self.i18n = i18n
        self.town = Town.of(settings)

    def translator(self, reader: Reader) -> Translator:
        """The reader's language, or the town's for a group."""
        return self.i18n.for_user(reader.language, reader.telegram_language)

    async def send(
        self, session: AsyncSession, notice: Notice, *to: Reader | None
    ) -> list[OutboxMessage]:
        """Queue one notice to each reader there is (a None reader is nobody to tell)."""
        return await self.post(session, [(notice, reader) for reader in to if reader is not None])

    async def post(self, session: AsyncSession, letters: Iterable[Letter]) -> list[OutboxMessage]:
        """Queue many messages with one flush (a wave of offers, the edits of every copy)."""
        return await outbox.enqueue_many(session, [self.call(*letter) for letter in letters])

    async def follow_copies(
        self,
        session: AsyncSession,
        batch_key: str,
        tapped: tuple[int, int] | None,
        edit: Callable[[int], Notice],
    ) -> None:
        """Bring every copy of one message (its outbox rows share `batch_key`) but the tapped
        one (chat, message id: the handler edits it in its answer) up to date: a sent copy is
        edited through the outbox by `edit(its message id)`, one not sent yet (nor being sent)
        is rewritten to the same text and buttons before it goes."""
        copies = await session.execute(
            select(OutboxMessage, Member)
            .outerjoin(Member, Member.id == OutboxMessage.member_id)
            .where(OutboxMessage.batch_key == batch_key)
            .order_by(OutboxMessage.id)
        )
        letters: list[Letter] = []
        for row, member in copies:
            reader = Reader.in_chat(row.chat_id, member)
            if row.status is OutboxStatus.PENDING and row.lease_owner is None:
                payload = dict(self.call(edit(0), reader).payload)
                del payload["message_id"]
                row.payload = payload
            elif row.telegram_message_id is not None and (
                (row.chat_id, row.telegram_message_id) != tapped
            ):
                letters.append((edit(row.telegram_message_id), reader))
        await self.post(session, letters)

    def call(self, notice: Notice, reader: Reader) -> outbox.Call:
        """The Bot API call that delivers `notice` to `reader`."""
        rendered = notice.render(self.translator(reader), self.town)
        delivery = notice.delivery()
        payload: dict[str, Any] = {
            "reply_markup": rendered.keyboard.to_dict() if rendered.keyboard else None,
            **notice.media(),
        }
        if delivery.copy_from is not None:
            # A copy carries the original message as it is (text, photo, voice…): the outbox
            # row names it by chat and id and never holds its content.
            payload["from_chat_id"] = delivery.copy_from
        else:
            payload[notice.text_field] = rendered.text
            if rendered.html:
                payload["parse_mode"] = "HTML"
        if delivery.silent:
            payload["disable_notification"] = True
        if delivery.message_id is not None:
            payload["message_id"] = delivery.message_id
        return outbox.Call(
            chat_id=reader.chat_id,
            method=notice.method,
            payload=payload,
            priority=notice.priority,
            member_id=reader.member_id,
            offer_id=delivery.offer_id,
        )
