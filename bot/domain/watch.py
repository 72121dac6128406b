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


class CampaignKind(StrEnum):
    """Why the town calls its register: the prefecture's alert, or another reason."""

    HEAT = "heat"
    COLD = "cold"
    OTHER = "other"


class CallOutcome(StrEnum):
    """Where one person's call of the day stands (the values are button words)."""

    PENDING = "pending"  # not called yet
    WELL = "well"  # ✅ reached, all well
    NEEDS = "needs"  # 🙋 reached, needs something
    NO_ANSWER = "none"  # 📵 no answer (asked again in an hour; a second one escalates)
    EMERGENCY = "sos"  # 🚑 the emergency services were called


class Acknowledgement(StrEnum):
    """What a referent or coordinator did about a person nobody reached."""

    GO = "go"  # I'll go to the door
    POLICE = "police"  # I called the police municipale
    REACHED = "reached"  # reached now


class DraftDecision(StrEnum):
    """What became of the request draft a 🙋 made for the person's referent (button words)."""

    POST = "post"  # ✅ posted as it was
    EDIT = "edit"  # ✏️ opened in /new's preview, posted (or not) from there
    DISMISS = "dismiss"  # ✖ not needed
    WITHDRAWN = "gone"  # the person left the register before anyone decided


# The need a 🙋 records when the caller taps "Something else / a worry" (a concern).
CONCERN = 0

# Outcomes that mean the person was reached (or help is on its way): nothing more to do today.
SETTLED = frozenset({CallOutcome.WELL, CallOutcome.NEEDS, CallOutcome.EMERGENCY})
# The skill a caller must hold (the default catalogue's code).
CALL_SKILL = "phone_call"
