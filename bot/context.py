"""What every handler reaches through `context`: the application's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.i18n import I18n
from bot.services.announcements import AnnouncementService
from bot.services.badges import BadgeService
from bot.services.charters import CharterService
from bot.services.checkins import CheckinService
from bot.services.correspondence import CorrespondenceService
from bot.services.directory import DirectoryService
from bot.services.geocoding import Geocoder
from bot.services.invites import InviteService
from bot.services.members import MemberService
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
from bot.settings import Settings
from storage.clock import Clock
from storage.database import Database

SERVICES_KEY = "services"


class OutboxWaker:
    """Lets use cases wake the outbox sender after a commit, before the sender exists."""

    def __init__(self) -> None:
        self._wake: Callable[[], None] | None = None

    def attach(self, wake: Callable[[], None]) -> None:
        """Called once the sender runs."""
        self._wake = wake

    def __call__(self) -> None:
        if self._wake is not None:
            self._wake()


@dataclass(frozen=True)
class Services:
    """The long-lived objects of one running bot, built by the application factory."""

    settings: Settings
    database: Database
    i18n: I18n
    geocoder: Geocoder
    members: MemberService
    invites: InviteService
    neighbourhoods: NeighbourhoodService
    skills: SkillService
    volunteers: VolunteerService
    requests: RequestService
    profile: ProfileService
    privacy: PrivacyService
    reports: ReportService
    announcements: AnnouncementService
    signals: SignalService
    badges: BadgeService
    series: SeriesService
    correspondence: CorrespondenceService
    retention: RetentionService
    charters: CharterService
    checkins: CheckinService
    directory: DirectoryService
    standing: StandingService
    register: RegisterService
    watch: WatchService
    watch_reports: WatchReports
    waker: OutboxWaker

    @property
    def clock(self) -> Clock:
        """The one clock (the database's): what handlers read "now" from."""
        return self.database.clock


class BrigadeContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's callback context with typed access to the services."""

    @property
    def services(self) -> Services:
        """The services registered by `build_application`."""
        services = self.bot_data.get(SERVICES_KEY)
        if not isinstance(services, Services):
            raise RuntimeError("the application was not built by bot.app.build_application")
        return services


BrigadeApplication = Application[
    ExtBot[None],
    BrigadeContext,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    JobQueue[BrigadeContext],
]
