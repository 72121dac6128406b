"""What the bot says in its log at start when the town's set-up leaves someone stuck.

Each warning is one sentence naming the setting to change: without a coordinator nobody can
approve a volunteer (the sign-up then waits forever), and with the default town name the texts
that would name the town leave it out (`Settings.town`) instead of saying "the brigade of Brigade".
"""

from __future__ import annotations

import logging

from bot.settings import DEFAULT_TOWN_NAME, Settings

log = logging.getLogger(__name__)

NO_COORDINATOR = (
    "nobody can approve volunteers: set BRIGADE_COORDINATOR_IDS to your Telegram user id "
    "(ask @userinfobot for it), or invite a coordinator"
)
DEFAULT_TOWN = (
    f"BRIGADE_TOWN_NAME is still the default ({DEFAULT_TOWN_NAME!r}): set it to your town's "
    "name; until then the messages do not name the town"
)


def setup_warnings(settings: Settings, coordinators_in_database: bool) -> list[str]:
    """The warnings the set-up calls for (none when all is well)."""
    warnings = []
    if not settings.coordinator_ids and not coordinators_in_database:
        warnings.append(NO_COORDINATOR)
    if not settings.town:
        warnings.append(DEFAULT_TOWN)
    return warnings


def log_setup_warnings(settings: Settings, coordinators_in_database: bool) -> None:
    """Log each of `setup_warnings` at WARNING."""
    for warning in setup_warnings(settings, coordinators_in_database):
        log.warning("%s", warning)
