"""How long personal data lives where no use case removes it: the sweep that enforces it.

Each rule is one set-based DELETE run by the timer sweep (bot/app.py); docs/deployment.md lists
every table's lifetime. Beneficiaries and cases are purged by their own services (requests,
signals), which know when a person's request or case is over.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from bot.domain.lifecycle import FINISHED_REQUESTS, HOLDING_PLACE
from bot.messages.base import Reader
from bot.messages.drafts import ConversationPutAway
from bot.services.base import Configured
from storage import audit, limits, outbox
from storage import conversations as conversation_store
from storage import geocoding as cache_store
from storage import members as member_store
from storage import offers as offer_store

# Rows deleted per sweep at most (the sweep runs every BRIGADE_TIMER_INTERVAL_SECONDS): a large
# backlog, the first time, goes in slices rather than in one long write.
OUTBOX_PRUNE_BATCH = 5000
OFFER_PRUNE_BATCH = 5000
AUDIT_PRUNE_BATCH = 5000
MEMBER_PURGE_BATCH = 100
DRAFT_EXPIRY_BATCH = 500
# Conversations that end without a word: the visit report keeps each answer as it is given, so
# nothing is lost when its last questions go unanswered.
SILENT_CONVERSATIONS = frozenset({"visit"})
# SQLite space given back per sweep at most (4 KiB pages: 8 MiB), once at least 1 MiB is free.
VACUUM_PAGES_PER_SWEEP = 2048
VACUUM_MIN_FREE_PAGES = 256
# The Gregorian calendar's mean month, for a retention given in fractional months.
AVERAGE_MONTH = timedelta(days=365.2425 / 12)


def months_before(moment: datetime, months: float) -> datetime:
    """The same day and time `months` calendar months earlier (the 31st → the month's last);
    a fraction of a month goes back that share of an average month more."""
    whole = int(months)
    index = moment.year * 12 + moment.month - 1 - whole
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day) - (months - whole) * AVERAGE_MONTH


class RetentionService(Configured):
    """Finished messages, offers of finished requests, old audit events, cached addresses, idle
    members, limit marks and abandoned drafts; then the space they took, on SQLite."""

    async def run_due(self) -> dict[str, int]:
        """Delete what has outlived its period; safe to call often."""
        now = self._clock()
        settings = self._settings
        retention = timedelta(days=settings.retention_days)
        async with self._db.transaction() as session:
            pruned = await outbox.prune(
                session,
                before=now - timedelta(days=settings.outbox_keep_days),
                batches_before=now - retention,
                holding_claims=HOLDING_PLACE,
                limit=OUTBOX_PRUNE_BATCH,
            )
            # A beneficiary is purged at least the retention period after they were registered,
            # so the address typed for them has left the cache by then.
            cached = await cache_store.purge_older_than(session, now - retention)
            idle = await member_store.purge_idle(
                session, before=now - retention, limit=MEMBER_PURGE_BATCH
            )
            # Limit marks outlive /forget on purpose, not their own period.
            marks = await limits.prune(session, now)
            offers = await offer_store.prune_finished(
                session,
                ended_before=now - timedelta(days=settings.offers_keep_days),
                finished=FINISHED_REQUESTS,
                limit=OFFER_PRUNE_BATCH,
            )
            events = await audit.prune(
                session,
                before=months_before(now, settings.audit_retention_months),
                limit=AUDIT_PRUNE_BATCH,
            )
        # After the deletes' commit, in a transaction of its own (a few milliseconds).
        pages = await self._db.give_back_space(
            max_pages=VACUUM_PAGES_PER_SWEEP, min_pages=VACUUM_MIN_FREE_PAGES
        )
        return {
            "outbox_pruned": pruned,
            "geocodes_purged": cached,
            "members_purged": idle,
            "limit_marks_pruned": marks,
            "offers_pruned": offers,
            "audit_events_pruned": events,
            "pages_given_back": pages,
        }

    async def expire_drafts(self) -> dict[int, frozenset[str]]:
        """Delete the drafts and conversation states of people silent for the draft TTL, and
        tell each of them, in the same transaction, that what they had started was put away.

        Told once, at expiry, whichever process sweeps: the notice is an outbox row, not a
        memory of this process. Returns each person's Telegram id with the conversations they
        were in: the caller drops PTB's copy in memory, which would otherwise write them back.
        """
        ttl = timedelta(hours=self._settings.draft_ttl_hours)
        async with self._transaction() as session:
            expired = await conversation_store.expire(
                session,
                self._clock() - ttl,
                limit=DRAFT_EXPIRY_BATCH,
                lock_people=not self._db.is_sqlite,
            )
            told = {
                person: frozenset(names - SILENT_CONVERSATIONS)
                for person, names in expired.items()
                if names - SILENT_CONVERSATIONS
            }
            members = await member_store.by_telegram_ids(session, told)
            await self._messenger.post(
                session,
                [
                    (ConversationPutAway(names, ttl), Reader.in_chat(person, members.get(person)))
                    for person, names in told.items()
                ],
            )
        return {person: frozenset(conversations) for person, conversations in expired.items()}
