"""What a watch campaign makes people read: a caller's list of the day (edited in place by each
outcome), a need or an emergency, a person nobody reached, the people left without a caller.

A person's phone and notes are in the caller's list only: the referent and the coordinators read
the name (and, when nobody reached the person, the address, to go to the door).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from babel.dates import format_date

from bot.callbacks import Action
from bot.domain.watch import CONCERN, Acknowledgement, CallOutcome, CampaignKind, DraftDecision
from bot.i18n import N_, Translator
from bot.messages.base import Delivery, Notice, Rendered, Town, button, keyboard
from bot.skills import skill_label
from storage import outbox

KIND_NAMES = {
    CampaignKind.HEAT: N_("heatwave"),
    CampaignKind.COLD: N_("cold spell"),
    CampaignKind.OTHER: N_("watch"),
}
OUTCOME_MARKS = {
    CallOutcome.PENDING: "⬜",
    CallOutcome.WELL: "✅",
    CallOutcome.NEEDS: "🙋",
    CallOutcome.NO_ANSWER: "📵",
    CallOutcome.EMERGENCY: "🚑",
}
OUTCOME_NAMES = {
    CallOutcome.WELL: N_("reached, all well"),
    CallOutcome.NEEDS: N_("reached, needs something"),
    CallOutcome.EMERGENCY: N_("emergency services called"),
}
SOMETHING_ELSE = N_("something else / a worry")
ACKNOWLEDGEMENTS = {
    Acknowledgement.GO: N_("🚶 I'll go"),
    Acknowledgement.POLICE: N_("👮 I called the police municipale"),
    Acknowledgement.REACHED: N_("📞 Reached now"),
}


def hhmm(minute: int) -> str:
    """Minutes after midnight as 9:05."""
    return f"{minute // 60}:{minute % 60:02d}"


def local_time(moment: datetime, town: Town) -> str:
    """A moment as the town's clock shows it (9:05)."""
    local = moment.astimezone(town.tz)
    return hhmm(local.hour * 60 + local.minute)


@dataclass(frozen=True)
class CallLine:
    """One person on a caller's list."""

    call_id: int
    name: str
    phone: str
    best_time: str | None
    notes: str | None
    outcome: CallOutcome
    first_no_answer_at: datetime | None
    # 🙋: the kind of help tapped (a skill's label), None for something else or a worry.
    need: str | None = None


@dataclass(frozen=True)
class CallerList(Notice):
    """To a caller: the people to call today, one tap per outcome (edited in place)."""

    day: date
    window_start: int
    window_end: int
    lines: tuple[CallLine, ...]
    # "Time to call again": the list sent once more an hour after a no-answer.
    again: str | None = None
    # People given to this caller during the window (their caller had not started).
    added: int = 0

    # The morning's lists go out together: after people acting now, before broadcasts.
    priority: ClassVar[int] = outbox.NOTICE

    def render(self, _: Translator, town: Town) -> Rendered:
        """The list, then four buttons per person still to reach."""
        return caller_list(self, _, town)


@dataclass(frozen=True)
class CallerListChanged(Notice):
    """An edit of a caller's list already sent: a person was removed from the register."""

    method: ClassVar[str] = "edit_message_text"

    updated: CallerList
    message_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """The list as it now reads."""
        return caller_list(self.updated, _, town)

    def delivery(self) -> Delivery:
        """Replaces the list."""
        return Delivery(message_id=self.message_id)


def caller_list(notice: CallerList, _: Translator, town: Town) -> Rendered:
    """A caller's list as they read it (also the edit after each tap)."""
    day = format_date(notice.day, "EEEE d MMMM", locale=_.language)
    text = [
        _(
            "📞 Your calls for {day}, between {start} and {end}:",
            day=day,
            start=hhmm(notice.window_start),
            end=hhmm(notice.window_end),
        )
    ]
    if notice.again:
        text.insert(0, _("🔁 Time to call {name} again.", name=notice.again))
    if notice.added:
        text.insert(
            0,
            _.ngettext(
                "➕ {count} person was added to your list: their caller has not started.",
                "➕ {count} people were added to your list: their caller has not started.",
                notice.added,
            ),
        )
    rows = []
    for number, line in enumerate(notice.lines, start=1):
        text.append("")
        text.append(f"{OUTCOME_MARKS[line.outcome]} {number}. {line.name} — {line.phone}")
        if line.best_time:
            text.append("   " + _("Best time to call: {value}", value=line.best_time))
        if line.notes:
            text.append("   " + _("Notes: {value}", value=line.notes))
        if line.outcome is CallOutcome.NO_ANSWER and line.first_no_answer_at is not None:
            text.append(
                "   "
                + _(
                    "No answer at {time}: call again.",
                    time=local_time(line.first_no_answer_at, town),
                )
            )
        elif line.outcome is CallOutcome.NEEDS:
            need = skill_label(line.need, _) if line.need else _(SOMETHING_ELSE)
            text.append("   " + _("🙋 needs: {need}", need=need))
        elif line.outcome in OUTCOME_NAMES:
            text.append("   " + _(OUTCOME_NAMES[line.outcome]))
        if line.outcome in (CallOutcome.PENDING, CallOutcome.NO_ANSWER):
            rows.append(
                [
                    button(f"{number} {mark}", Action.WATCH_CALL, outcome.value, line.call_id)
                    for outcome, mark in (
                        (CallOutcome.WELL, "✅"),
                        (CallOutcome.NEEDS, "🙋"),
                        (CallOutcome.NO_ANSWER, "📵"),
                        (CallOutcome.EMERGENCY, "🚑"),
                    )
                ]
            )
    if rows:
        text += [
            "",
            _("✅ reached, all well · 🙋 needs something · 📵 no answer · 🚑 emergency called"),
        ]
    else:
        text += ["", _("All done for today: thank you!")]
    return Rendered("\n".join(text), keyboard(rows))


@dataclass(frozen=True)
class PersonNeeds(Notice):
    """To the referent and the coordinators: a caller reached someone who needs something, or
    called the emergency services for them."""

    name: str
    caller: str
    outcome: CallOutcome

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who, and who called them (to ask the caller what is needed)."""
        if self.outcome is CallOutcome.EMERGENCY:
            text = _(
                "🚑 {caller} called the emergency services for {name} (watch register).",
                caller=self.caller,
                name=self.name,
            )
        else:
            text = _(
                "💬 {caller} reached {name} (watch register): something else or a worry. Call "
                "the caller to know more; /new posts a request if the brigade can help.",
                caller=self.caller,
                name=self.name,
            )
        return Rendered(text)


@dataclass(frozen=True)
class Unreached(Notice):
    """To the referent and the coordinators: nobody reached a person today; one tap to act."""

    call_id: int
    name: str
    address: str
    caller: str | None
    tries: tuple[datetime, ...]
    repeated: bool = False

    def render(self, _: Translator, town: Town) -> Rendered:
        """The person, where they live, the day's tries, and the three actions."""
        text = [
            _("⚠️ Nobody has reached {name} today.", name=self.name)
            if not self.repeated
            else _("⚠️ Still nobody for {name}: nobody has said they are acting.", name=self.name),
            _("Address: {value}", value=self.address),
        ]
        if self.tries:
            times = ", ".join(local_time(moment, town) for moment in self.tries)
            text.append(_("No answer at: {times}", times=times))
        else:
            text.append(_("Not called today."))
        if self.caller:
            text.append(_("Caller: {value}", value=self.caller))
        rows = [
            [button(_(label), Action.WATCH_ALERT, ack.value, self.call_id)]
            for ack, label in ACKNOWLEDGEMENTS.items()
        ]
        return Rendered("\n".join(text), keyboard(rows))


def acknowledged(name: str, who: str, ack: Acknowledgement, _: Translator) -> Rendered:
    """The alert once someone said what they do (the message they tapped, edited)."""
    return Rendered(
        _("{name}: {who} — {action}", name=name, who=who, action=_(ACKNOWLEDGEMENTS[ack]))
    )


@dataclass(frozen=True)
class CallsPassedOn(Notice):
    """To a caller who recorded nothing by the middle of the window: the people still to call
    were given to other callers (their list is edited without them)."""

    count: int
    by: int  # the moment checked, in minutes after local midnight

    def render(self, _: Translator, town: Town) -> Rendered:
        """How many, and why."""
        return Rendered(
            _.ngettext(
                "Nothing was recorded on your list by {time}: {count} person still to call "
                "was given to another volunteer. Thank you all the same; if something kept "
                "you, tell a coordinator.",
                "Nothing was recorded on your list by {time}: {count} people still to call "
                "were given to other volunteers. Thank you all the same; if something kept "
                "you, tell a coordinator.",
                self.count,
                time=hhmm(self.by),
            )
        )


@dataclass(frozen=True)
class AlertAnswered(Notice):
    """Every other copy of an alert, once someone said what they do: edited to say who, with
    no button left (nobody acts twice)."""

    method: ClassVar[str] = "edit_message_text"

    name: str
    who: str
    acknowledgement: Acknowledgement
    message_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who acts, and how."""
        return acknowledged(self.name, self.who, self.acknowledgement, _)

    def delivery(self) -> Delivery:
        """Replaces the alert."""
        return Delivery(message_id=self.message_id)


@dataclass(frozen=True)
class Uncovered(Notice):
    """To the coordinators: people no caller could take today (too few callers)."""

    names: tuple[str, ...]

    def render(self, _: Translator, town: Town) -> Rendered:
        """How many, and who: find callers or call them yourselves."""
        text = _.ngettext(
            "⚠️ {count} person on the watch register has no caller today (too few available "
            "callers): please call them or find a caller.",
            "⚠️ {count} people on the watch register have no caller today (too few available "
            "callers): please call them or find callers.",
            len(self.names),
        )
        return Rendered(text + "\n" + "\n".join(f"• {name}" for name in self.names))


@dataclass(frozen=True)
class CampaignEnded(Notice):
    """To the coordinators: a campaign reached its end date; its report is in /watch."""

    days: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """Ended, after how many days, and where the report is."""
        return Rendered(
            _(
                "The watch campaign has reached its end date (days of calls: {count}). Its "
                "report is in /watch.",
                count=self.days,
            )
        )


@dataclass(frozen=True)
class ListRemoved(Notice):
    """An edit of a caller's list once the day's window has ended: names, phones and notes go."""

    method: ClassVar[str] = "edit_message_text"
    priority: ClassVar[int] = outbox.BULK

    day: date
    message_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """The calls are over; nothing personal is left in the chat."""
        day = format_date(self.day, "EEEE d MMMM", locale=_.language)
        return Rendered(
            _(
                "🔒 Your calls for {day} are over: thank you! The names, numbers and notes have "
                "been removed from this chat.",
                day=day,
            )
        )

    def delivery(self) -> Delivery:
        """Replaces the list."""
        return Delivery(message_id=self.message_id)


def need_picker(name: str, call_id: int, skills: list[tuple[int, str]], _: Translator) -> Rendered:
    """🙋 tapped: what the person needs, in place of the caller's list (⬅ brings it back)."""
    buttons = [
        button(skill_label(label, _), Action.WATCH_NEED, skill_id, call_id)
        for skill_id, label in skills
    ]
    rows = [
        *(buttons[index : index + 2] for index in range(0, len(buttons), 2)),
        [button(_("💬 Something else / a worry"), Action.WATCH_NEED, CONCERN, call_id)],
        [button(_("⬅ Back"), Action.WATCH_CALL, "list", call_id)],
    ]
    return Rendered(_("🙋 What does {name} need?", name=name), keyboard(rows))


DRAFT_ACTIONS = (
    (DraftDecision.POST, N_("✅ Post it")),
    (DraftDecision.EDIT, N_("✏️ Edit first")),
    (DraftDecision.DISMISS, N_("✖ Not needed")),
)


@dataclass(frozen=True)
class NeedDraft(Notice):
    """To the person's referent (or, without one, the coordinators): a request drafted from a
    caller's 🙋, to post in one tap, edit first, or drop. Name and address only: the phone goes
    to the volunteer who takes the request, with the claim's details."""

    call_id: int
    name: str
    address: str
    caller: str
    at: datetime
    need: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """The draft as volunteers would get it, and what posting it means."""
        text = [
            _(
                "📋 Draft request for {name} (watch call, {time} by {caller}):",
                name=self.name,
                time=local_time(self.at, town),
                caller=self.caller,
            ),
            _(
                "{need} — as soon as possible — 1 volunteer",
                need=skill_label(self.need, _),
            ),
            _("Address: {value}", value=self.address),
            "",
            _(
                "Post it only if {name} agreed to be helped by a volunteer: posting records "
                "their consent, as /new does.",
                name=self.name,
            ),
        ]
        rows = [
            [button(_(label), Action.WATCH_DRAFT, decision.value, self.call_id)]
            for decision, label in DRAFT_ACTIONS
        ]
        return Rendered("\n".join(text), keyboard(rows))


def draft_decided(name: str, who: str, decision: DraftDecision, _: Translator) -> Rendered:
    """The draft once someone decided (every copy, edited; no button left)."""
    if decision is DraftDecision.POST:
        return Rendered(_("📋 {name}: request posted by {who}.", name=name, who=who))
    if decision is DraftDecision.EDIT:
        return Rendered(_("📋 {name}: {who} is editing the request.", name=name, who=who))
    if decision is DraftDecision.DISMISS:
        return Rendered(_("📋 {name}: not needed, said {who}.", name=name, who=who))
    return Rendered(_("📋 This draft was withdrawn: the person left the watch register."))


@dataclass(frozen=True)
class DraftDecided(Notice):
    """Every other copy of a draft, once someone decided (or the person left the register:
    then a neutral text, with no name)."""

    method: ClassVar[str] = "edit_message_text"

    name: str
    who: str
    decision: DraftDecision
    message_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who decided what."""
        return draft_decided(self.name, self.who, self.decision, _)

    def delivery(self) -> Delivery:
        """Replaces the draft."""
        return Delivery(message_id=self.message_id)
