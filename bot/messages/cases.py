"""How a reported case reads, and what referents, coordinators and the reporter are told of it."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from telegram import InlineKeyboardButton

from bot.callbacks import Action
from bot.domain.vocabulary import SignalOutcome, SignalStatus
from bot.i18n import N_, Translator
from bot.messages.base import Notice, Rendered, Town, button, keyboard
from bot.text import quoted
from storage import outbox

OUTCOME_LABELS: dict[SignalOutcome, str] = {
    SignalOutcome.HELPED: N_("Helped"),
    SignalOutcome.REFERRED: N_("Referred to a service"),
    SignalOutcome.NOT_ISOLATED: N_("Not isolated"),
    SignalOutcome.UNREACHABLE: N_("Could not reach them"),
}
# The word each outcome travels as in a button (callback words are short).
OUTCOME_WORDS: dict[str, SignalOutcome] = {
    "o-helped": SignalOutcome.HELPED,
    "o-referred": SignalOutcome.REFERRED,
    "o-notisol": SignalOutcome.NOT_ISOLATED,
    "o-unreach": SignalOutcome.UNREACHABLE,
}
STATUS_LABELS: dict[SignalStatus, str] = {
    SignalStatus.OPEN: N_("waiting for someone to follow up"),
    SignalStatus.ASSIGNED: N_("followed up by {name}"),
    SignalStatus.CLOSED: N_("closed: {outcome}"),
}
# Stands for the reporter's mention while a translated line is escaped for HTML.
_MENTION = "\x00mention\x00"


@dataclass(frozen=True)
class CaseView:
    """A case as referents and coordinators read it."""

    id: int
    status: SignalStatus
    description: str
    place: str | None
    latitude: float | None
    longitude: float | None
    neighbourhood: str | None
    worry: str
    reporter_name: str | None
    reporter_username: str | None
    reporter_telegram_id: int | None
    reporter_phone: str | None
    assignee_id: int | None
    assignee_name: str | None
    outcome: SignalOutcome | None
    created_at: datetime


def case_text(view: CaseView, _: Translator) -> str:
    """The case in HTML (send it with parse_mode="HTML"): every value is escaped."""

    def line(message: str, **values: object) -> str:
        return html.escape(_(message, **values))

    lines = [
        line(N_("🧭 Case #{id}: someone may be isolated"), id=view.id),
        line(N_("Neighbourhood: {name}"), name=view.neighbourhood or _("not known")),
        line(N_("Who: {value}"), value=view.description),
        line(N_("Where: {value}"), value=view.place or _("not given")),
    ]
    if view.latitude is not None and view.longitude is not None:
        lat, lon = f"{view.latitude:.5f}", f"{view.longitude:.5f}"
        link = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"
        lines.append(html.escape(link))
    # Quoted: the worry may run over several lines, none of which may pass for the bot's own.
    lines.append(line(N_("What worries them:")) + "\n" + quoted(view.worry))
    reporter = html.escape(_("Reported by: {name}", name=_MENTION))
    if view.reporter_telegram_id is not None:
        name = html.escape(view.reporter_name or _("a relay"))
        mention = f'<a href="tg://user?id={view.reporter_telegram_id}">{name}</a>'
        if view.reporter_username:
            mention += " @" + html.escape(view.reporter_username)
    else:
        mention = html.escape(_("a relay who has since left the brigade"))
    lines.append(reporter.replace(_MENTION, mention))
    lines.append(
        line(N_("Their phone: {value}"), value=view.reporter_phone or _("not given, write to them"))
    )
    lines.append(line(N_("Status: {value}"), value=status_text(view, _)))
    return "\n".join(lines)


def status_text(view: CaseView, _: Translator) -> str:
    """Where the case stands, in words."""
    if view.status is SignalStatus.ASSIGNED:
        return _(STATUS_LABELS[view.status], name=view.assignee_name or "—")
    if view.status is SignalStatus.CLOSED:
        outcome = _(OUTCOME_LABELS[view.outcome]) if view.outcome else "—"
        return _(STATUS_LABELS[view.status], outcome=outcome)
    return _(STATUS_LABELS[SignalStatus.OPEN])


def case_buttons(
    view: CaseView, _: Translator, *, may_close: bool = True
) -> list[list[InlineKeyboardButton]]:
    """Follow up while open, Close until closed (for those who may close it)."""
    rows: list[list[InlineKeyboardButton]] = []
    if view.status is SignalStatus.OPEN:
        rows.append([button(_("🤝 I'll follow up"), Action.CASE, "assign", view.id)])
    if may_close and view.status is not SignalStatus.CLOSED:
        rows.append([button(_("Close the case"), Action.CASE, "close", view.id)])
    return rows


def outcome_buttons(case_id: int, _: Translator) -> list[list[InlineKeyboardButton]]:
    """The outcome choice shown after "Close the case"."""
    return [
        [button(_(OUTCOME_LABELS[outcome]), Action.CASE, word, case_id)]
        for word, outcome in OUTCOME_WORDS.items()
    ]


@dataclass(frozen=True)
class CaseReported(Notice):
    """To the neighbourhood's referents and the coordinators: the case, with its buttons."""

    case: CaseView

    def render(self, _: Translator, town: Town) -> Rendered:
        """The whole case (HTML), Follow up and Close."""
        return Rendered(case_text(self.case, _), keyboard(case_buttons(self.case, _)), html=True)


@dataclass(frozen=True)
class CaseTaken(Notice):
    """To the others who were told of the case: someone follows it up."""

    priority: ClassVar[int] = outbox.NOTICE

    case_id: int
    assignee_name: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """Nothing to do for them."""
        return Rendered(
            _(
                "Case #{id} is followed up by {name}: nothing to do for you.",
                id=self.case_id,
                name=self.assignee_name,
            )
        )


@dataclass(frozen=True)
class CaseFollowedUp(Notice):
    """To the reporter: someone of the brigade follows their report up."""

    priority: ClassVar[int] = outbox.NOTICE

    case_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """Thanks; they may be contacted."""
        return Rendered(
            _(
                "Thank you for your report #{id}: a member of the brigade is now following it up "
                "and may contact you.",
                id=self.case_id,
            )
        )


@dataclass(frozen=True)
class CaseClosed(Notice):
    """To whoever followed the case up, when someone else closed it."""

    priority: ClassVar[int] = outbox.NOTICE

    case_id: int
    closed_by: str
    outcome: SignalOutcome

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who closed it, and how it ended."""
        return Rendered(
            _(
                "{name} closed case #{id}: {outcome}.",
                name=self.closed_by,
                id=self.case_id,
                outcome=_(OUTCOME_LABELS[self.outcome]),
            )
        )
