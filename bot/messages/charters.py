"""How the town's charter and the check-in read: the version to accept, "Still with us?", the
pause that follows silence, and the answers given to the volunteer who acts on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from babel.dates import format_date

from bot.callbacks import Action
from bot.charter import charter_for
from bot.i18n import N_, Translator
from bot.messages.base import Notice, Rendered, Town, button, keyboard
from storage import outbox

ACCEPT, LATER = "accept", "later"
STAY, PAUSE, LEAVE = "yes", "pause", "leave"
STILL_WITH_US = N_("👋 Still with us?")


def long_date(moment: datetime, _: Translator, town: Town) -> str:
    """A date as the reader writes it ("6 décembre 2026")."""
    return format_date(moment.astimezone(town.tz), "long", locale=_.language)


@dataclass(frozen=True)
class CharterToAccept(Notice):
    """To an approved volunteer: a new version of the town's charter, to read and accept.

    Also the direct answer to /charter and the reminder after a command: the same message.
    """

    priority: ClassVar[int] = outbox.BULK

    version: int
    texts: tuple[tuple[str, str], ...]
    accept_by: datetime | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Why it is asked, until when offers keep coming, the charter, the two buttons."""
        intro = _("📜 The brigade's charter has changed (version {version}).", version=self.version)
        if self.accept_by is not None:
            intro += " " + _(
                "Please read it and accept it by {date}: from then on, you receive no request "
                "until you have accepted it.",
                date=long_date(self.accept_by, _, town),
            )
        text = "\n\n".join([intro, charter_for(_, town.name, dict(self.texts))])
        return Rendered(
            text,
            keyboard(
                [
                    [button(_("✅ I accept the charter"), Action.CHARTER, ACCEPT, self.version)],
                    [button(_("Not now"), Action.CHARTER, LATER, self.version)],
                ]
            ),
        )


def accepted_line(version: str, accepted_at: datetime, _: Translator, town: Town) -> str:
    """What the volunteer's message says once they accepted."""
    return _(
        "✅ You accepted version {version} of the charter on {date}. Thank you!",
        version=version,
        date=long_date(accepted_at, _, town),
    )


def not_accepted_line(_: Translator) -> str:
    """What the volunteer's message says when they put it off."""
    return _(
        "You have not accepted this version. You can accept it later with /charter, or leave "
        "the brigade with /forget."
    )


@dataclass(frozen=True)
class CheckIn(Notice):
    """To a volunteer who took nothing for months: do they still want requests?"""

    priority: ClassVar[int] = outbox.BULK

    months: int
    silence_days: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """The question, that staying silent pauses them, and the three answers."""
        text = "\n\n".join(
            [
                _(STILL_WITH_US),
                _(
                    "You have not taken a request for {months} months — that is fine. Do you "
                    "still want to receive requests from the brigade?",
                    months=self.months,
                ),
                _(
                    "Without an answer within {days} days, you will receive no more requests "
                    "until you send /resume.",
                    days=self.silence_days,
                ),
            ]
        )
        return Rendered(
            text,
            keyboard(
                [
                    [button(_("🙋 Yes, I am still here"), Action.CHECKIN, STAY)],
                    [button(_("⏸ Pause for a while"), Action.CHECKIN, PAUSE)],
                    [button(_("👋 Leave the brigade"), Action.CHECKIN, LEAVE)],
                ]
            ),
        )


def checkin_answer(choice: str, _: Translator) -> str:
    """What the check-in message says once answered."""
    texts = {
        STAY: N_("🙋 Thank you! You keep receiving requests."),
        PAUSE: N_("⏸ Choose for how long below."),
        LEAVE: N_("👋 To leave the brigade, confirm below that your data is to be erased."),
    }
    return _(STILL_WITH_US) + "\n\n" + _(texts[choice])


@dataclass(frozen=True)
class PausedForSilence(Notice):
    """To a volunteer who did not answer the check-in: their offers are paused."""

    priority: ClassVar[int] = outbox.NOTICE

    def render(self, _: Translator, town: Town) -> Rendered:
        """Paused, and how to come back."""
        return Rendered(
            _(
                "We did not hear from you, so you will receive no more requests for now. Send "
                "/resume whenever you want to help again: you are welcome back."
            )
        )
