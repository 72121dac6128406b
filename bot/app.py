"""The application factory: everything is built here, when called, never at import time."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Any, cast

from telegram import Bot
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest, HTTPXRequest

from bot import memory
from bot.context import SERVICES_KEY, BrigadeApplication, BrigadeContext, OutboxWaker, Services
from bot.domain.vocabulary import Role
from bot.i18n import I18n
from bot.menus import set_default_menus, set_member_menu
from bot.messages.messenger import Messenger
from bot.outbox import OutboxSender
from bot.persistence import DatabasePersistence
from bot.pseudonyms import Pseudonyms
from bot.ratelimit import SharedBudgetLimiter
from bot.services.announcements import AnnouncementService
from bot.services.badges import BadgeService
from bot.services.charters import CharterService
from bot.services.checkins import CheckinService
from bot.services.correspondence import CorrespondenceService
from bot.services.directory import DirectoryService
from bot.services.geocoding import Geocoder, build_geocoder, close_geocoder
from bot.services.invites import InviteService
from bot.services.members import SEEN_RESOLUTION, MemberService
from bot.services.neighbourhoods import NeighbourhoodService
from bot.services.privacy import PrivacyService
from bot.services.profile import ProfileService
from bot.services.reports import ReportService
from bot.services.requests import RequestService
from bot.services.retention import RetentionService
from bot.services.series import SeriesService
from bot.services.signals import SignalService
from bot.services.skills import SkillService
from bot.services.standing import StandingService
from bot.services.volunteers import VolunteerService
from bot.services.watch import RegisterService, WatchReports, WatchService
from bot.settings import RunMode, Settings
from bot.setup_checks import log_setup_warnings
from bot.shared_state import SharedState, SharedStateUpdateProcessor
from bot.updates import DEFAULT_CONCURRENCY
from bot.webhook import use_strict_webhook_handler
from handlers.drafts import drop_expired_drafts
from handlers.registry import register_handlers
from storage import migrate
from storage.clock import Clock, system_clock
from storage.database import Database

log = logging.getLogger(__name__)


class MigratingApplication(Application):  # type: ignore[type-arg]
    """PTB's Application that brings the schema up to date before anything reads it.

    `initialize()` loads persisted conversations, so migrating in `post_init` would be too late.
    """

    def __init__(self, *, run_migrations: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run_migrations = run_migrations

    async def initialize(self) -> None:
        """Migrate the database, then initialise the bot and load persistence."""
        if self._run_migrations and not self._initialized:
            await migrate.upgrade(self.bot_data[SERVICES_KEY].database)
        await super().initialize()


WEBHOOK_PATH = "telegram"
SENDER_KEY = "outbox_sender"


async def run_due_timers(context: BrigadeContext) -> None:
    """Waves, alerts, expiry, reminders, follow-up and retention that are due now."""
    done = await sweep(context.application)
    if any(done.values()):
        log.info("timers: %s", done)
    if context.application.bot_data[SERVICES_KEY].settings.malloc_trim:
        # What the sweep and the updates since the last one freed goes back to the system
        # (a few milliseconds; see bot/memory.py and docs/deployment.md).
        memory.trim()


async def sweep(application: Application[Any, Any, Any, Any, Any, Any]) -> dict[str, int]:
    """Do everything due now; returns how many of each thing were done."""
    services: Services = application.bot_data[SERVICES_KEY]
    done = await services.requests.run_due()
    posted = await services.series.run_due()
    done |= {f"series_{key}": value for key, value in posted.items()}
    # Cases before members: someone who reported a case is kept until its purge.
    done["signals_purged"] = await services.signals.purge(services.settings.retention_days)
    # Before retention: a volunteer asked "Still with us?" is seen again when they answer.
    done |= await services.checkins.run_due()
    # Watch campaigns: the day's lists at the window's start, retries, escalations.
    done |= await services.watch.run_due()
    done |= await services.retention.run_due()
    done["drafts_expired"] = await drop_expired_drafts(application)
    return done


def webhook_arguments(settings: Settings) -> dict[str, Any]:
    """How PTB's webhook server listens, and what it asks Telegram to post to."""
    if not settings.webhook_url:
        raise ValueError("BRIGADE_WEBHOOK_URL is not set")
    if settings.webhook_secret is None:
        raise ValueError("BRIGADE_WEBHOOK_SECRET is not set")
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": WEBHOOK_PATH,
        "webhook_url": settings.webhook_url.rstrip("/") + "/" + WEBHOOK_PATH,
        # PTB answers 403 to any POST whose X-Telegram-Bot-Api-Secret-Token differs.
        "secret_token": settings.webhook_secret.get_secret_value(),
    }


def build_services(
    settings: Settings,
    database: Database | None = None,
    geocoder: Geocoder | None = None,
    *,
    clock: Clock = system_clock,
) -> Services:
    """The long-lived objects of one bot: database, catalogs and use cases.

    `clock` is the one source of "now" for all of them; a given `database` brings its own.
    """
    database = database or Database(
        settings.database_url, clock=clock, log_parameters=settings.log_personal_data
    )
    i18n = I18n(settings.default_language)
    waker = OutboxWaker()
    messenger = Messenger(i18n, settings)
    requests = RequestService(database, messenger, settings, after_commit=waker)
    # Limits that survive /forget count under keyed hashes; the key derives from the token,
    # which never enters the database.
    if settings.bot_token is None:
        raise ValueError("BRIGADE_BOT_TOKEN is not set")
    pseudonyms = Pseudonyms.from_secret(settings.bot_token.get_secret_value())
    return Services(
        settings=settings,
        database=database,
        i18n=i18n,
        geocoder=geocoder or build_geocoder(settings, database),
        members=MemberService(
            database,
            settings.coordinator_ids,
            # "Seen" must be refreshed well within the period after which idle members go.
            seen_resolution=min(SEEN_RESOLUTION, timedelta(days=settings.retention_days) / 4),
        ),
        invites=InviteService(database),
        neighbourhoods=NeighbourhoodService(database),
        skills=SkillService(database),
        volunteers=VolunteerService(
            database,
            messenger,
            pseudonyms=pseudonyms,
            reapply_cooldown=timedelta(days=settings.reapply_cooldown_days),
            after_commit=waker,
        ),
        requests=requests,
        profile=ProfileService(database),
        privacy=PrivacyService(database),
        reports=ReportService(database, settings, messenger, after_commit=waker),
        announcements=AnnouncementService(database, messenger, after_commit=waker),
        signals=SignalService(database, messenger, pseudonyms=pseudonyms, after_commit=waker),
        badges=BadgeService(database),
        series=SeriesService(database, requests, messenger, settings, after_commit=waker),
        correspondence=CorrespondenceService(
            database,
            messenger,
            pseudonyms=pseudonyms,
            support_per_day=settings.support_messages_per_day,
            after_commit=waker,
        ),
        retention=RetentionService(database, messenger, settings, after_commit=waker),
        charters=CharterService(
            database,
            messenger,
            grace=timedelta(days=settings.charter_grace_days),
            after_commit=waker,
        ),
        checkins=CheckinService(database, messenger, settings, after_commit=waker),
        directory=DirectoryService(database, frozenset(settings.coordinator_ids)),
        standing=StandingService(
            database, messenger, settings, pseudonyms=pseudonyms, after_commit=waker
        ),
        register=RegisterService(database, messenger, after_commit=waker),
        watch=WatchService(database, messenger, settings, after_commit=waker),
        watch_reports=WatchReports(database),
        waker=waker,
    )


def build_application(
    settings: Settings,
    *,
    database: Database | None = None,
    geocoder: Geocoder | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    sender_request: BaseRequest | None = None,
    run_migrations: bool = True,
    set_menus: bool = True,
    clock: Clock = system_clock,
    settle_at_start: bool = False,
) -> BrigadeApplication:
    """Build the PTB application with its services and handlers, ready to initialise and run.

    `request`/`get_updates_request` replace PTB's HTTP client (tests pass an in-process fake);
    `clock` replaces the wall clock (tests pass one they move); `settle_at_start` (the process
    that runs the bot, `python -m bot`) opens the SQLite pool's connections and freezes the
    start-up's objects once started (bot/memory.py).
    """
    if settings.bot_token is None:
        raise ValueError("BRIGADE_BOT_TOKEN is not set")
    if settings.run_mode is RunMode.WEBHOOK:
        use_strict_webhook_handler()  # 400, not 500, to a body that is not JSON
    services = build_services(settings, database, geocoder, clock=clock)
    token = settings.bot_token.get_secret_value()
    # The outbox sender paces itself against Telegram's limits, so it gets its own Bot without
    # PTB's rate limiter (which serves calls in arrival order and would hide 429s from it).
    sender_bot = Bot(
        token,
        base_url=settings.api_base_url,
        base_file_url=settings.api_file_url,
        request=sender_request or HTTPXRequest(connection_pool_size=16),
    )
    sender = OutboxSender(
        services.database,
        sender_bot,
        owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64],
    )
    persistence = DatabasePersistence(services.database)
    # On PostgreSQL each person's updates are handled under their lock, from the states and
    # drafts in the database: several processes may serve one bot (docs/deployment.md).
    shared = SharedState(services.database, persistence)

    async def post_init(application: BrigadeApplication) -> None:
        staff = await services.members.staff()
        log_setup_warnings(settings, any(Role.COORDINATOR in m.roles for m in staff))
        if set_menus:
            await set_default_menus(application.bot, services.i18n)
            for member in staff:
                await set_member_menu(application.bot, services.i18n, member)
        await sender_bot.initialize()
        sender.start()
        services.waker.attach(sender.wake)
        if application.job_queue is not None:
            # Timers are rows in the database: this sweep finds what is due, even after a restart.
            application.job_queue.run_repeating(
                run_due_timers, interval=settings.timer_interval_seconds, first=1, name="timers"
            )
        if settle_at_start:
            # Last: what start-up built is what the process keeps (bot/memory.py). SQLite's
            # connections are opened now (each parses the schema in this process); PostgreSQL's
            # as they are needed, since each costs the server a process of its own.
            database = services.database
            connections = await database.fill_pool() if database.is_sqlite else 0
            frozen = memory.freeze_start_up()
            log.info(
                "start-up settled: %d connections open, %d objects frozen", connections, frozen
            )
        log.info("Brigade is up as @%s", application.bot.username)

    async def post_stop(application: BrigadeApplication) -> None:
        # Graceful: stop leasing, let the calls in flight finish, give back the rest.
        await sender.stop()

    async def post_shutdown(application: BrigadeApplication) -> None:
        await sender.stop()
        await sender_bot.shutdown()
        await close_geocoder(services.geocoder)
        await shared.dispose()
        await services.database.dispose()

    builder = (
        ApplicationBuilder()
        .application_class(MigratingApplication, {"run_migrations": run_migrations})
        .token(token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_file_url)
        .context_types(ContextTypes(context=BrigadeContext))
        .defaults(Defaults(tzinfo=settings.tz))
        # The bot's direct answers spend from the outbox sender's budget, ahead of its rows:
        # together they stay under Telegram's ~30/s, and an answer never queues behind a
        # broadcast. 429s are waited out (retry_after).
        .rate_limiter(SharedBudgetLimiter(sender.limiter, max_retries=3))
        # Different people at once, one person's updates in order (conversations, double taps),
        # and on PostgreSQL one process at a time for a person.
        .concurrent_updates(SharedStateUpdateProcessor(shared, DEFAULT_CONCURRENCY))
        .persistence(persistence)
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    # PTB's builder cannot infer the job queue's context type from context_types(); it is ours.
    application = cast(BrigadeApplication, builder.build())
    application.bot_data[SERVICES_KEY] = services
    application.bot_data[SENDER_KEY] = sender
    register_handlers(
        application, keep_updates=timedelta(hours=settings.processed_updates_keep_hours)
    )
    shared.attach(application)
    return application
