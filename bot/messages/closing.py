"""How a request's end reads: done and confirmed, cancelled, expired, or still not taken."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.callbacks import Action
from bot.i18n import N_, Translator
from bot.messages.base import Notice, Rendered, Town, buttons, keyboard
from bot.messages.claims import Contact
from bot.skills import skill_label
from storage import outbox

# The volunteer's conduct can be raised with the coordinators from the referent's question,
# before or after answering it ("conduct" asks first: the coordinators are told at once).
CONDUCT_BUTTON = ((N_("⚠️ About the volunteer's conduct"), "conduct"),)
CONFIRM_BUTTONS = (
    ((N_("✅ Confirmed"), "confirm"), (N_("❌ Not done"), "notdone")),
    CONDUCT_BUTTON,
)
# "Not done" reopens the request and tells the volunteer: the question asks first, in place.
NOT_DONE_ASKED = N_(
    "Say it was not done? The request will be offered to volunteers again, and the volunteer "
    "will be told."
)
NOT_DONE_QUESTION = (
    ((N_("Yes, it was not done"), "notdoneyes"), (N_("No, go back"), "notdoneno")),
)
# What the question says once answered, and who answered it.
CONFIRMED_BY = N_("✅ Confirmed by {name}. Thank you!")
NOT_DONE_BY = N_("❌ {name} said it was not done: the request is offered again.")
CONDUCT_QUESTION = (
    ((N_("⚠️ Yes, tell the coordinators"), "conductok"),),
    ((N_("✖ No"), "conductno"),),
)
CONDUCT_ASKED = N_(
    "Tell the coordinators that the volunteer's conduct worries you? Only they will know, "
    "never the volunteer; they will call you."
)
CONDUCT_TOLD = N_("⚠️ You told the coordinators about the volunteer's conduct.")
ESCALATION_BUTTONS = (
    ((N_("Widen the area"), "widen"),),
    ((N_("Offer it again"), "resend"),),
    ((N_("Cancel the request"), "cancel"),),
)


@dataclass(frozen=True)
class AskConfirmation(Notice):
    """To the referent: the volunteer says it is done; Confirmed / Not done."""

    claim_id: int
    request_id: int
    skill: str
    volunteer_name: str
    note: str | None = None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who says it is done, their note, and the two answers."""
        text = _(
            "{name} says your request #{id} ({skill}) is done. Can you confirm it with the person?",
            name=self.volunteer_name,
            id=self.request_id,
            skill=skill_label(self.skill, _),
        )
        if self.note:
            text += "\n" + _("Their note: {note}", note=self.note)
        rows = buttons(_, Action.REFERENT_STEP, self.claim_id, CONFIRM_BUTTONS)
        return Rendered(text, keyboard(rows))


@dataclass(frozen=True)
class ServiceConfirmed(Notice):
    """To the volunteer: the referent confirmed the service, or says it was not done."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    done: bool

    def render(self, _: Translator, town: Town) -> Rendered:
        """Thanks, or it is offered again."""
        if self.done:
            return Rendered(
                _(
                    "The referent confirmed request #{id}. Thank you for your help! 💛",
                    id=self.request_id,
                )
            )
        return Rendered(
            _(
                "The referent says request #{id} was not done: it is offered again.",
                id=self.request_id,
            )
        )


@dataclass(frozen=True)
class RequestCancelled(Notice):
    """To each volunteer holding a place: nothing more to do."""

    request_id: int
    skill: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """Cancelled by the referent."""
        return Rendered(
            _(
                "Request #{id} ({skill}) was cancelled by the referent. You have nothing more to "
                "do. Thank you!",
                id=self.request_id,
                skill=skill_label(self.skill, _),
            )
        )


@dataclass(frozen=True)
class RequestExpired(Notice):
    """To the referent: nobody took it in time."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    skill: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """Expired; post it again."""
        return Rendered(
            _(
                "Nobody could take your request #{id} ({skill}) in time: it has expired. You can "
                "post it again with /new.",
                id=self.request_id,
                skill=skill_label(self.skill, _),
            )
        )


def tried_line(offered: int, waves: int, groups: int, declined: int, _: Translator) -> str:
    """What was tried to find volunteers for a request (the alert below, /open's cards)."""
    return _(
        "Volunteers contacted: {offers} · waves: {waves} · group posts: {groups} · "
        "“Not for me”: {declined}.",
        offers=offered,
        waves=waves,
        groups=groups,
        declined=declined,
    )


@dataclass(frozen=True)
class StillNotTaken(Notice):
    """To the referent and the coordinators: what was tried, and what to do now."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    skill: str
    offered: int
    waves: int
    groups: int
    declined: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """What was tried; Widen / Offer again / Cancel."""
        text = " ".join(
            [
                _(
                    "⏰ Request #{id} ({skill}) is still not taken.",
                    id=self.request_id,
                    skill=skill_label(self.skill, _),
                ),
                tried_line(self.offered, self.waves, self.groups, self.declined, _),
                _("What should we do?"),
            ]
        )
        rows = buttons(_, Action.REQUEST_ADMIN, self.request_id, ESCALATION_BUTTONS)
        return Rendered(text, keyboard(rows))


@dataclass(frozen=True)
class ReferentReminder(Notice):
    """From the coordinators to the referent of a stuck claim (with Confirmed / Not done)."""

    priority: ClassVar[int] = outbox.NOTICE

    claim_id: int
    request_id: int
    skill: str
    volunteer: Contact | None
    said_done: bool

    def render(self, _: Translator, town: Town) -> Rendered:
        """Confirm what was said done, or call the silent volunteer."""
        name = (self.volunteer.name if self.volunteer else "") or _("The volunteer")
        skill = skill_label(self.skill, _)
        if self.said_done:
            text = _(
                "Reminder from the coordinators: {name} said request #{id} ({skill}) was done. "
                "Can you confirm it with the person?",
                name=name,
                id=self.request_id,
                skill=skill,
            )
            rows = buttons(_, Action.REFERENT_STEP, self.claim_id, CONFIRM_BUTTONS)
            return Rendered(text, keyboard(rows))
        phone = self.volunteer.phone if self.volunteer else None
        text = _(
            "Reminder from the coordinators: {name} has not said whether request #{id} ({skill}) "
            "was done. You may want to call them ({phone}).",
            name=name,
            id=self.request_id,
            skill=skill,
            phone=phone or _("no phone given"),
        )
        return Rendered(text)
