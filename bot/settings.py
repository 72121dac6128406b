"""Settings read from the environment and `.env`; see `.env.example` for every variable."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LANGUAGES = ("fr", "en", "nl")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/brigade.sqlite3"
# Telegram accepts 1-256 characters of this alphabet; Brigade asks for at least 32 of them so
# that nobody guesses the header that makes a POST an update "from Telegram".
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,256}")
WEBHOOK_HEADER_RULE = (
    "BRIGADE_WEBHOOK_SECRET must be 32 to 256 characters from A-Z a-z 0-9 _ - in webhook mode "
    "(anyone who knows the URL could otherwise post forged updates); "
    "`python -m bot secret` prints a new one"
)


class RunMode(StrEnum):
    """How the bot receives updates from Telegram."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class GeocoderKind(StrEnum):
    """Which service turns typed addresses into coordinates."""

    NOMINATIM = "nominatim"
    NONE = "none"


# The town name a fresh install has: not a town, so the texts do not name it ("la brigade de
# Brigade"), and the bot warns at start (bot/setup_checks.py).
DEFAULT_TOWN_NAME = "Brigade"


class Settings(BaseSettings):
    """Everything Brigade needs to know about its deployment."""

    model_config = SettingsConfigDict(
        env_prefix="BRIGADE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # A missing token is reported by `python -m bot` in one sentence, not by a validation error.
    bot_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    bot_api_base_url: str = "https://api.telegram.org"

    run_mode: RunMode = RunMode.POLLING
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    default_language: str = "fr"
    timezone: str = "Europe/Paris"
    # The town's name in the texts; left at the default, the texts leave the town out (`town`).
    town_name: str = DEFAULT_TOWN_NAME
    # The currency of money volunteers advance (ISO 4217), shown in each reader's locale.
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # An address written the way people write it in the town ("rue de la Gare 12, Ixelles"),
    # shown when a typed address is not found; empty: each language's own example.
    address_example: str = ""
    coordinator_ids: Annotated[tuple[int, ...], NoDecode] = ()

    geocoder: GeocoderKind = GeocoderKind.NOMINATIM
    geocoder_user_agent: str = "brigade-bot (set BRIGADE_GEOCODER_USER_AGENT to your contact)"
    geocoder_domain: str = "nominatim.openstreetmap.org"
    geocoder_min_delay_seconds: float = Field(default=1.0, ge=1.0)
    geocoder_country_codes: str = "fr,be"

    # The request lifecycle (see .env.example): waves, escalation, follow-up, retention.
    wave_size: int = Field(default=10, ge=1, le=500)
    wave_delay_minutes: float = Field(default=20, gt=0)
    escalation_delay_minutes: float = Field(default=60, gt=0)
    reminder_before_minutes: float = Field(default=120, gt=0)
    ask_done_after_minutes: float = Field(default=60, gt=0)
    # An "as soon as possible" claim has no agreed time: "Is it done?" comes this long after
    # the claim (never sooner than `ask_done_after_minutes`).
    asap_ask_done_after_minutes: float = Field(default=120, gt=0)
    nudge_after_hours: float = Field(default=24, gt=0)
    auto_release_after_hours: float = Field(default=72, gt=0)
    asap_expiry_hours: float = Field(default=48, gt=0)
    details_removal_hours: float = Field(default=24, gt=0)
    # Days (fractions allowed: the soak benchmark shortens every lifetime to minutes).
    retention_days: float = Field(default=90, gt=0)
    # A volunteer who gives back this many claims within 24 hours may not claim again until the
    # oldest of them is a day old; the coordinators are told when it happens.
    releases_per_day: int = Field(default=3, ge=1)
    # Referents' own requests wait for a coordinator's validation too, like members' /ask.
    requests_need_validation: bool = False
    # A request waiting this long for validation is reminded to the coordinators, once.
    validation_remind_hours: float = Field(default=24, gt=0)
    # Days before someone whose application was not accepted may apply again (coordinators can
    # allow it sooner).
    reapply_cooldown_days: int = Field(default=30, ge=0)
    # How long personal data lives elsewhere (see .env.example and docs/deployment.md).
    outbox_keep_days: float = Field(default=3, gt=0)
    # A request every claimer said done waits this many days for its referent's confirmation,
    # then ends unconfirmed (done, not confirmed): "not done" no longer reopens it, its offers and
    # its beneficiary's data go with the finished requests'. A late confirmation still counts.
    confirm_window_days: float = Field(default=14, gt=0)
    # Offers of a finished request (closed, cancelled, expired, declined, unconfirmed) are
    # deleted this long after it ended; the audit trail is kept for the town's evaluation period.
    offers_keep_days: float = Field(default=3, gt=0)
    # Calendar months; a fraction adds days of an average month (30.44 days).
    audit_retention_months: float = Field(default=13, gt=0)
    # Handled update ids are kept this long to skip Telegram's re-deliveries, which come within
    # 24 hours; Telegram may restart its ids after a week, so at most 6 days (bot/updates.py).
    processed_updates_keep_hours: float = Field(default=72, gt=0, le=144)
    draft_ttl_hours: float = Field(default=48, gt=0)
    # Messages one person may send to the coordinators in 24 hours (free text outside a
    # conversation, "Send this to the coordinators?"): a small inbox, not a flood.
    support_messages_per_day: int = Field(default=10, ge=1)
    # The town's charter (/charter): after a new version is published, volunteers who have not
    # accepted it still receive offers for this many days, then none until they accept.
    charter_grace_days: float = Field(default=14, ge=0)
    # Keeping the list true: a volunteer who took nothing for this many months is asked "Still
    # with us?"; unanswered for `checkin_silence_days`, they are paused until they come back.
    checkin_months: int = Field(default=6, ge=1, le=60)
    checkin_silence_days: float = Field(default=30, gt=0)
    # Watch campaigns (/watch): at most this many people a caller is given a day; a person nobody
    # reached is told again to every coordinator after this many minutes without an answer.
    watch_calls_per_volunteer: int = Field(default=8, ge=1, le=100)
    watch_escalation_minutes: float = Field(default=60, gt=0)
    # How often due timers (waves, reminders, expiry…) are looked for; they live in the database.
    timer_interval_seconds: float = Field(default=30, gt=0)
    # glibc's allocator (bot/memory.py): at most this many malloc arenas (0: glibc's default,
    # 8 per core), and the free memory handed back to the system after each timer sweep.
    malloc_arena_max: int = Field(default=2, ge=0)
    malloc_trim: bool = True

    log_level: str = "INFO"
    # Let the Telegram and database libraries log message texts and SQL parameters (DEBUG).
    # Personal data then reaches the logs: for a developer's machine with test data only.
    log_personal_data: bool = False

    @field_validator("coordinator_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept `123,456` (the natural way to write a list in an env file)."""
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("is not a known IANA time zone, e.g. Europe/Paris") from error
        return value

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> Settings:
        if self.run_mode is RunMode.WEBHOOK and not self.webhook_url:
            raise ValueError("BRIGADE_WEBHOOK_URL is required when BRIGADE_RUN_MODE=webhook")
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if secret and not WEBHOOK_SECRET_PATTERN.fullmatch(secret):
            raise ValueError(WEBHOOK_HEADER_RULE)
        if self.run_mode is RunMode.WEBHOOK and not secret:
            raise ValueError(WEBHOOK_HEADER_RULE)
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The town's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def town(self) -> str:
        """The town's name for the texts; "" while it is unset or the default (see above)."""
        name = self.town_name.strip()
        return "" if name == DEFAULT_TOWN_NAME else name

    @property
    def api_base_url(self) -> str:
        """The base URL PTB needs: the API root followed by `/bot` (PTB appends the token)."""
        return self.bot_api_base_url.rstrip("/") + "/bot"

    @property
    def api_file_url(self) -> str:
        """The base URL for file downloads."""
        return self.bot_api_base_url.rstrip("/") + "/file/bot"

    def sqlite_path(self) -> Path | None:
        """The SQLite file named by the database URL, if it names one."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            path = self.database_url.removeprefix(prefix).split("?", 1)[0]
            if path and path != ":memory:":
                return Path(path)
        return None
