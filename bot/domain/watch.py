"""The watch register's words: who registered a person, how they consented, what can be edited.

The register is the town's confidential list of vulnerable people living at home (the French
"registre canicule / grand froid"), called every day during a heat or cold alert. No database,
no Telegram.
"""

from __future__ import annotations

from enum import StrEnum


class RegisteredBy(StrEnum):
    """Who asked for the person to be on the register."""

    SELF = "self"
    RELATIVE = "relative"
    PROFESSIONAL = "professional"


class Consent(StrEnum):
    """How the person said yes to being on the register."""

    WRITTEN = "written"  # the town's signed form
    ORAL = "oral"  # told the referent, who noted it


class WatchField(StrEnum):
    """A part of a register entry that can be changed on its own (the values are button words)."""

    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    REGISTERED_BY = "by"
    CONSENT = "consent"
    BEST_TIME = "time"
    LANGUAGE = "lang"
    NOTES = "notes"
    EMERGENCY = "sos"


# Lengths of what is typed (the columns are that wide).
MAX_NAME = 120
MAX_ADDRESS = 256
MAX_BEST_TIME = 64
MAX_NOTES = 500
MAX_EMERGENCY = 200
