"""What a claim makes people read: the details to the claimer, the referent's news, follow-up.

Also the direct answers to the taps of the claim lifecycle (a toast on the tapped button).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.callbacks import Action
from bot.domain.vocabulary import VisitPlan
from bot.i18n import N_, Translator
from bot.messages.base import Delivery, Notice, Rendered, Town, buttons, keyboard
from bot.messages.correspondence import Side, write_button
from bot.messages.offers import RequestView, offer_text, places_text, skill_of, when_text
from bot.services.outcomes import ClaimOutcome, StepOutcome
from bot.skills import skill_label
from bot.text import escaped, quoted
from storage import outbox

# The keyboards of the lifecycle's messages: (label, verb) per button, row by row.
RELEASE_BUTTON = (((N_("↩️ Release"), "release"),),)
DETAILS_BUTTONS = (
    ((N_("✅ Done"), "done"), RELEASE_BUTTON[0][0]),
    ((N_("⚠️ Report a concern"), "concern"),),
)
COULD_NOT_BUTTON = (((N_("I could not do it"), "failed"),),)
FOLLOW_UP_BUTTONS = (
    ((N_("✅ Done"), "done"), (N_("Not yet"), "notyet")),
    COULD_NOT_BUTTON[0],
)
# "When will you go?" (as-soon-as-possible requests): the button's word → the claimer's plan.
PLAN_WORDS = {
    "gohour": VisitPlan.WITHIN_AN_HOUR,
    "gotoday": VisitPlan.TODAY,
    "gotomorrow": VisitPlan.TOMORROW,
    "gowrite": VisitPlan.WILL_WRITE,
}
CANCEL_BUTTON = (((N_("Cancel the request"), "cancel"),),)
# Cancelling cannot be undone: the message tapped asks first (handlers/requests.py).
CANCEL_ASKED = N_("Cancel request #{id}? Its volunteers will be told. This cannot be undone.")
CANCEL_YES = N_("Yes, cancel it")
CANCEL_NO = N_("No, keep it")
CANCEL_DONE = N_("❌ Request #{id} was cancelled.")
MAKE_RECURRING_BUTTON = (((N_("🔁 Make it recurring"), "make"),),)
# Giving a place back purges the details and tells the referent: the details message asks first
# (handlers/requests.py); the same words as on a /tasks card.
RELEASE_ASKED = N_(
    "Give request #{id} ({skill}) back? It will be offered to other volunteers, and its "
    "referent will be told."
)
RELEASE_QUESTION = (((N_("Yes, give it back"), "releaseyes"), (N_("No, keep it"), "releaseno")),)
COULD_NOT_QUESTION = (((N_("Yes, give it back"), "failedyes"), (N_("No, keep it"), "failedno")),)
# The buttons that give a claim back ("↩️ Release" on the details, "I could not do it" on "Is
# it done?"), each with its question's Yes / No (their verbs: `<verb>yes`, `<verb>no`).
GIVE_BACK = {
    "release": (RELEASE_BUTTON, RELEASE_QUESTION),
    "failed": (COULD_NOT_BUTTON, COULD_NOT_QUESTION),
}
# What the claimer's message says once a step is taken there (its spent buttons go).
SAID_DONE = N_("✅ You said it is done: the referent is asked to confirm.")
ASK_AGAIN_AT = N_("⏳ Not yet: I will ask you again on {when}.")
ASK_AGAIN_FORMAT = "EEEE d MMMM, HH:mm"
# "Not for me" can be undone for a minute (bot/services/requests/waves.py `UNDO_DECLINE`).
UNDO_LABEL = N_("↩️ Undo")
UNDONE = N_("Undone: the offer is back.")
TOO_LATE_TO_UNDO = N_(
    "Too late to undo. If you change your mind, /nearby lists the requests you may still take."
)


@dataclass(frozen=True)
class Contact:
    """Someone to call: a name and, if they gave one, a phone."""

    name: str
    phone: str | None = None


@dataclass(frozen=True)
class Person:
    """The beneficiary's private details: only for the claimers."""

    name: str
    phone: str | None
    address: str | None
    access_notes: str | None


@dataclass(frozen=True)
class ClaimDetails(Notice):
    """To the claimer only: the private details, with Done / Release / Report a concern."""

    request: RequestView
    claim_id: int
    person: Person | None  # None once the person's data was purged
    referent: Contact | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Thanks, the offer, then who, where and whom to call."""
        private = []
        if self.person is not None:
            private += [
                _("Person: {name}", name=self.person.name),
                _("Phone: {value}", value=self.person.phone or _("not given")),
                _("Address: {value}", value=self.person.address or _("not given")),
            ]
            if self.person.access_notes:
                private.append(_("Access: {notes}", notes=self.person.access_notes))
        if self.referent is not None:
            private.append(
                _(
                    "Referent: {name} ({phone})",
                    name=self.referent.name,
                    phone=self.referent.phone or _("via Telegram"),
                )
            )
        thanks = _(
            "Thank you! You take request #{id}. Here are the private details: keep them to "
            "yourself.",
            id=self.request.id,
        )
        lines = [escaped(thanks), "", offer_text(self.request, _, town.tz), ""]
        lines += [escaped(line) for line in private]
        rows = buttons(_, Action.CLAIM_STEP, self.claim_id, DETAILS_BUTTONS)
        if self.referent is not None:
            rows.append([write_button(_, self.claim_id, to=Side.REFERENT)])
        return Rendered("\n".join(lines), keyboard(rows), html=True)


@dataclass(frozen=True)
class ClaimTaken(Notice):
    """To the referent: who takes their request, and the places left."""

    request: RequestView
    volunteer: Contact
    recurring: bool  # already part of a series: no "Make it recurring"
    claim_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who and how to reach them; write to them, Cancel, and Make it recurring."""
        text = _(
            "{name} ({phone}) takes your request #{id} ({skill}).",
            name=self.volunteer.name,
            phone=self.volunteer.phone or _("no phone given"),
            id=self.request.id,
            skill=skill_of(self.request, _),
        )
        text += "\n" + places_text(self.request, _)
        rows = [[write_button(_, self.claim_id, to=Side.VOLUNTEER, name=self.volunteer.name)]]
        rows += buttons(_, Action.REQUEST_ADMIN, self.request.id, CANCEL_BUTTON)
        if not self.recurring:
            rows += buttons(_, Action.SERIES, self.request.id, MAKE_RECURRING_BUTTON)
        return Rendered(text, keyboard(rows))


@dataclass(frozen=True)
class RegularPassed(Notice):
    """To the referent: the series' usual volunteer did not take this occurrence."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    skill: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """It goes to the others now."""
        return Rendered(
            _(
                "The usual volunteer did not take request #{id} ({skill}): it is now offered "
                "to the other volunteers.",
                id=self.request_id,
                skill=skill_label(self.skill, _),
            )
        )


@dataclass(frozen=True)
class ClaimGivenBack(Notice):
    """To the referent: the claimer released the place, or could not do it."""

    request_id: int
    volunteer_name: str
    could_not: bool

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who gave it back; it is offered again."""
        if self.could_not:
            text = _(
                "{name} could not do your request #{id}: it is offered again.",
                name=self.volunteer_name,
                id=self.request_id,
            )
        else:
            text = _(
                "{name} released your request #{id}: it is offered again.",
                name=self.volunteer_name,
                id=self.request_id,
            )
        return Rendered(text)


@dataclass(frozen=True)
class ReleasedForSilence(Notice):
    """To the referent: the claimer never answered, so the place was given back."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    volunteer_name: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """Released and offered again."""
        return Rendered(
            _(
                "{name} did not answer about request #{id}: it was released and is offered again.",
                name=self.volunteer_name,
                id=self.request_id,
            )
        )


@dataclass(frozen=True)
class YourClaimReleased(Notice):
    """To the silent claimer: their place was given back."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """So that someone else can take it."""
        return Rendered(
            _(
                "Without news from you, request #{id} was given back so that someone else can "
                "take it.",
                id=self.request_id,
            )
        )


@dataclass(frozen=True)
class ReleaseLimitReached(Notice):
    """To the coordinators: a volunteer gave back the day's maximum of claims."""

    volunteer_name: str
    given_back: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """Each claim showed a person's details: check in with them."""
        return Rendered(
            _.ngettext(
                "⚠️ {name} gave back {count} request within 24 hours. Each claim showed them a "
                "person's private details, so they cannot take a new one for a day. Please check "
                "in with them.",
                "⚠️ {name} gave back {count} requests within 24 hours. Each claim showed them a "
                "person's private details, so they cannot take a new one for a day. Please check "
                "in with them.",
                self.given_back,
                name=self.volunteer_name,
            )
        )


@dataclass(frozen=True)
class ClaimReminder(Notice):
    """To the claimer, before a scheduled service."""

    priority: ClassVar[int] = outbox.NOTICE

    request: RequestView

    def render(self, _: Translator, town: Town) -> Rendered:
        """Which request, and when."""
        return Rendered(
            _(
                "Reminder: request #{id} ({skill}) is {when}.",
                id=self.request.id,
                skill=skill_of(self.request, _),
                when=when_text(self.request, _, town.tz),
            )
        )


@dataclass(frozen=True)
class AskDone(Notice):
    """To the claimer once the time is past: is it done? (Done / Not yet / I could not.)"""

    priority: ClassVar[int] = outbox.NOTICE

    claim_id: int
    request_id: int
    skill: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """The question and its three answers."""
        rows = buttons(_, Action.CLAIM_STEP, self.claim_id, FOLLOW_UP_BUTTONS)
        text = _(
            "Is request #{id} ({skill}) done?", id=self.request_id, skill=skill_label(self.skill, _)
        )
        return Rendered(text, keyboard(rows))


@dataclass(frozen=True)
class ClaimerSilent(Notice):
    """To the referent: the claimer has not answered "is it done?" twice."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    volunteer: Contact

    def render(self, _: Translator, town: Town) -> Rendered:
        """Whom to call."""
        return Rendered(
            _(
                "{name} has not answered about request #{id} for a while. You may want to call "
                "them ({phone}).",
                name=self.volunteer.name,
                id=self.request_id,
                phone=self.volunteer.phone or "—",
            )
        )


@dataclass(frozen=True)
class DetailsRemoved(Notice):
    """An edit of the claimer's details message once the request is over."""

    method: ClassVar[str] = "edit_message_text"
    priority: ClassVar[int] = outbox.BULK

    request_id: int
    message_id: int
    given_back: bool = False  # released, could not, or taken back: the request goes on

    def render(self, _: Translator, town: Town) -> Rendered:
        """The details are gone."""
        if self.given_back:
            return Rendered(
                _(
                    "↩️ Request #{id} is no longer yours: it is offered to other volunteers. "
                    "Its private details have been removed from this chat.",
                    id=self.request_id,
                )
            )
        return Rendered(
            _(
                "🔒 The private details of request #{id} have been removed: the request is over. "
                "Thank you!",
                id=self.request_id,
            )
        )

    def delivery(self) -> Delivery:
        """Replaces the details message."""
        return Delivery(message_id=self.message_id)


@dataclass(frozen=True)
class ConcernRaised(Notice):
    """To the referent and every coordinator: a claimer reports a concern, in their words."""

    request_id: int
    skill: str
    volunteer: Contact
    sentence: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who worries, about which request, what the problem is: call them."""
        text = _(
            "⚠️ {name} ({phone}) reports a concern about request #{id} ({skill}). Please call them.",
            name=self.volunteer.name,
            phone=self.volunteer.phone or _("no phone given"),
            id=self.request_id,
            skill=skill_label(self.skill, _),
        )
        lines = [escaped(text), escaped(_("The problem, in their words:")), quoted(self.sentence)]
        return Rendered("\n".join(lines), html=True)


# --- answers to the taps ---------------------------------------------------------------------


@dataclass(frozen=True)
class Toast:
    """The answer shown on a tapped button: a brief notice, or an alert to dismiss."""

    text: str
    alert: bool = False


CLAIM_ANSWERS = {
    ClaimOutcome.CLAIMED: N_("It's yours, thank you! The details are in our private chat."),
    ClaimOutcome.ALREADY_YOURS: N_("You have already taken this request."),
    ClaimOutcome.FULL: N_("Sorry, other volunteers were quicker: this request is taken."),
    ClaimOutcome.CLOSED: N_("This request is no longer open."),
    ClaimOutcome.NOT_ALLOWED: N_(
        "Only approved volunteers with this skill can take this request. See /start."
    ),
    ClaimOutcome.NOT_OFFERED: N_("This request was not offered to you here."),
    ClaimOutcome.RELEASING_TOO_OFTEN: N_(
        "You gave back several requests today: you can take a new one tomorrow. "
        "The coordinators can tell you more."
    ),
    ClaimOutcome.NOT_FOUND: N_("This button is no longer valid."),
}
# Refusals worth an alert the volunteer must dismiss.
ALERTED_CLAIMS = {ClaimOutcome.NOT_ALLOWED, ClaimOutcome.FULL, ClaimOutcome.RELEASING_TOO_OFTEN}
STEP_ANSWERS = {
    StepOutcome.DONE: N_("Done."),
    StepOutcome.NOT_ALLOWED: N_("This action is not available to you."),
    StepOutcome.STALE: N_("This has already been dealt with."),
    StepOutcome.ALREADY_DONE: N_("This has already been done."),
    StepOutcome.TOO_LATE: N_(
        "Too late to reopen this request: it was closed as done without your confirmation. "
        "If help is still needed, post a new request with /new."
    ),
    StepOutcome.NOT_FOUND: N_("This button is no longer valid."),
}
CONCERN_SENT = N_(
    "The referent and the coordinators have been alerted. If someone is in danger, call 112."
)
# What a follow-up button says once its step is done, by the button's word.
DONE_ANSWERS = {
    "done": N_("Thank you! The referent is asked to confirm."),
    "release": N_("Released: the request is offered to others again."),
    "notyet": N_("Noted. I will ask again later."),
    "concern": CONCERN_SENT,
    "confirm": N_("Confirmed. Thank you!"),
    "notdone": N_("Noted: the request is offered again."),
    "cancel": N_("Request cancelled. The volunteers have been told."),
    "cancelyes": N_("Request cancelled. The volunteers have been told."),
    "resend": N_("Offered again to every volunteer who fits."),
    "widen": N_("Offered to volunteers farther away too."),
    "decline": N_("Understood. Thank you for answering!"),
    "conductok": N_("The coordinators have been told, and only them. Thank you."),
    **{verb: N_("Noted, thank you!") for verb in PLAN_WORDS},
}
CONCERN_AGAIN = N_(
    "You already reported a concern about this request: the referent and the coordinators "
    "were alerted. If someone is in danger, call 112."
)


def claim_answer(outcome: ClaimOutcome, _: Translator) -> Toast:
    """The answer to a tap on "I'll do it"."""
    return Toast(_(CLAIM_ANSWERS[outcome]), alert=outcome in ALERTED_CLAIMS)


def step_answer(verb: str, outcome: StepOutcome, _: Translator) -> Toast:
    """The answer to a follow-up tap (claimer, referent, or request admin), by its word."""
    if outcome is StepOutcome.DONE and verb in DONE_ANSWERS:
        return Toast(_(DONE_ANSWERS[verb]), alert=verb == "concern")
    if outcome is StepOutcome.ALREADY_DONE and verb == "concern":
        return Toast(_(CONCERN_AGAIN), alert=True)
    if outcome is StepOutcome.ALREADY_DONE and verb == "conductok":
        return Toast(_("You already told the coordinators about this volunteer's conduct here."))
    # Too late says why and what to do instead: more than a toast's line.
    return Toast(_(STEP_ANSWERS[outcome]), alert=outcome is StepOutcome.TOO_LATE)


def declined_note(_: Translator) -> str:
    """The line added under an offer its volunteer said was not for them."""
    return escaped(_("You said this one is not for you."))
