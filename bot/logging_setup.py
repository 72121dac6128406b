"""Logging that never writes the bot token."""

from __future__ import annotations

import logging


class RedactFilter(logging.Filter):
    """Replace every occurrence of the given secrets in a record by `***`."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


# Libraries that write what people send (updates, message texts, SQL parameters) at DEBUG.
PERSONAL_DATA_LOGGERS = ("telegram", "aiosqlite", "asyncpg", "sqlalchemy", "apscheduler")


def configure_logging(level: str, secrets: list[str], *, personal_data: bool = False) -> None:
    """Log to stderr at `level`; keep HTTP client chatter (which holds URLs) at WARNING.

    Unless `personal_data` (BRIGADE_LOG_PERSONAL_DATA=1, for a developer's own machine), the
    libraries that log message texts and SQL parameters stay at INFO or above whatever `level`.
    """
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # basicConfig leaves the level alone when handlers exist already (an embedding app, pytest).
    logging.getLogger().setLevel(level.upper())
    if not personal_data:
        for name in PERSONAL_DATA_LOGGERS:
            library = logging.getLogger(name)
            # Only ever raised: SQLAlchemy sets its own logger to WARNING, and lowering it to
            # INFO would log every statement.
            if library.getEffectiveLevel() < logging.INFO:
                library.setLevel(logging.INFO)
    # httpx logs each request URL at INFO, and PTB's URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Alembic announces each of its plugins at INFO on every start; the migrations it runs matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    redact = RedactFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
