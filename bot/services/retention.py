"""How long personal data lives where no use case removes it: the sweep that enforces it.

Each rule is one set-based DELETE run by the timer sweep (bot/app.py); docs/deployment.md lists
every table's lifetime. Beneficiaries and cases are purged by their own services (requests,
signals), which know when a person's request or case is over.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from bot.domain.lifecycle import FINISHED_REQUESTS, HOLDING_PLACE
from bot.services.base import Service
from bot.settings import Settings
from storage import audit, limits, outbox
from storage import conversations as conversation_store
from storage import geocoding as cache_store
from storage import members as member_store
from storage import offers as offer_store
from storage.database import Database

# Rows deleted per sweep at most (the sweep runs every BRIGADE_TIMER_INTERVAL_SECONDS): a large
# backlog, the first time, goes in slices rather than in one long write.
OUTBOX_PRUNE_BATCH = 5000
OFFER_PRUNE_BATCH = 5000
AUDIT_PRUNE_BATCH = 5000
MEMBER_PURGE_BATCH = 100
# SQLite space given back per sweep at most (4 KiB pages: 8 MiB), once at least 1 MiB is free.
VACUUM_PAGES_PER_SWEEP = 2048
VACUUM_MIN_FREE_PAGES = 256


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the 31st → the month's last)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


class RetentionService(Service):
    """Finished messages, offers of finished requests, old audit events, cached addresses, idle
    members, limit marks and abandoned drafts; then the space they took, on SQLite."""

    def __init__(self, database: Database, settings: Settings) -> None:
        super().__init__(database)
        self._settings = settings
        # Who had a conversation expire, and when: told so if they come back (this process only,
        # like the conversations themselves).
        self._expired: dict[int, tuple[frozenset[str], datetime]] = {}

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
        """Delete the drafts and conversation states of people silent for the draft TTL.

        Returns each person's Telegram id with the conversations they were in: the caller drops
        PTB's copy in memory, which would otherwise write them back.
        """
        now = self._clock()
        async with self._db.transaction() as session:
            expired = await conversation_store.expire(
                session, now - timedelta(hours=self._settings.draft_ttl_hours)
            )
        kept_until = now - timedelta(days=self._settings.retention_days)
        self._expired = {
            person: told for person, told in self._expired.items() if told[1] > kept_until
        }
        for person, conversations in expired.items():
            if conversations:
                self._expired[person] = (frozenset(conversations), now)
        return {person: frozenset(conversations) for person, conversations in expired.items()}

    def take_expired(self, telegram_id: int) -> frozenset[str]:
        """The conversations that expired while this person was away (told once, then empty)."""
        told = self._expired.pop(telegram_id, None)
        return told[0] if told is not None else frozenset()
