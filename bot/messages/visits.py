"""What the claimer's visit plan and visit report make people read.

"When will you go?" after an as-soon-as-possible claim, and what the referent is told of the
answer; after Done, how the person seemed (a worried sentence goes to the referent and the
coordinators at once), and the money advanced with its receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.callbacks import Action
from bot.domain.vocabulary import VisitPlan, Wellbeing
from bot.i18n import N_, Translator
from bot.messages.base import Notice, Rendered, Town, buttons, keyboard
from bot.messages.claims import Contact
from bot.money import money_text
from bot.skills import skill_label
from bot.text import escaped, quoted

# The claimer's answers to "When will you go?" (their words: PLAN_WORDS), and their labels.
PLAN_LABELS = {
    VisitPlan.WITHIN_AN_HOUR: N_("Within an hour"),
    VisitPlan.TODAY: N_("Later today"),
    VisitPlan.TOMORROW: N_("Tomorrow"),
    VisitPlan.WILL_WRITE: N_("I'll get in touch with the referent"),
}
PLAN_BUTTONS = (
    ((PLAN_LABELS[VisitPlan.WITHIN_AN_HOUR], "gohour"), (PLAN_LABELS[VisitPlan.TODAY], "gotoday")),
    ((PLAN_LABELS[VisitPlan.TOMORROW], "gotomorrow"),),
    ((PLAN_LABELS[VisitPlan.WILL_WRITE], "gowrite"),),
)
WELLBEING_LABELS = {
    Wellbeing.FINE: N_("😊 Fine"),
    Wellbeing.WANTS_MORE_VISITS: N_("🙂 Would like more visits"),
    Wellbeing.WORRIED: N_("😟 I am worried"),
}


def plan_question(request_id: int, _: Translator) -> str:
    """The question under an as-soon-as-possible claim."""
    return _("When do you think you will go for request #{id}?", id=request_id)


def plan_chosen(question: str, plan: VisitPlan, _: Translator) -> str:
    """The question once answered (its message is edited to show the choice)."""
    told = _("The referent has been told.")
    return f"{question}\n→ {_(PLAN_LABELS[plan])}\n{told}"


@dataclass(frozen=True)
class AskVisitPlan(Notice):
    """To the claimer of an as-soon-as-possible request, right after the details."""

    claim_id: int
    request_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """The question and its four answers."""
        rows = buttons(_, Action.CLAIM_STEP, self.claim_id, PLAN_BUTTONS)
        return Rendered(plan_question(self.request_id, _), keyboard(rows))


@dataclass(frozen=True)
class VisitPlanned(Notice):
    """To the referent: when the claimer expects to go."""

    request_id: int
    volunteer_name: str
    plan: VisitPlan

    def render(self, _: Translator, town: Town) -> Rendered:
        """One sentence per answer."""
        texts = {
            VisitPlan.WITHIN_AN_HOUR: N_("{name} expects to go within the hour — request #{id}."),
            VisitPlan.TODAY: N_("{name} expects to go later today — request #{id}."),
            VisitPlan.TOMORROW: N_("{name} expects to go tomorrow — request #{id}."),
            VisitPlan.WILL_WRITE: N_(
                "{name} will get in touch with you to agree on a time — request #{id}."
            ),
        }
        return Rendered(_(texts[self.plan], name=self.volunteer_name, id=self.request_id))


@dataclass(frozen=True)
class WantsMoreVisits(Notice):
    """To the referent: the person would like more visits (a reason for recurring care)."""

    request_id: int
    volunteer_name: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """What the volunteer saw, and what the referent can do about it."""
        return Rendered(
            _(
                "🙂 After request #{id}, {name} says the person would like more visits. You can "
                "set up recurring visits with /series.",
                id=self.request_id,
                name=self.volunteer_name,
            )
        )


@dataclass(frozen=True)
class VisitWorry(Notice):
    """To the referent and every coordinator: the volunteer is worried after the visit."""

    request_id: int
    skill: str
    volunteer: Contact
    sentence: str | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who worries, about which request, in their own words: call them."""
        text = escaped(
            _(
                "😟 After request #{id} ({skill}), {name} ({phone}) is worried about the person. "
                "Please call them.",
                id=self.request_id,
                skill=skill_label(self.skill, _),
                name=self.volunteer.name,
                phone=self.volunteer.phone or _("no phone given"),
            )
        )
        if self.sentence:
            text += "\n" + escaped(_("What they saw:")) + "\n" + quoted(self.sentence)
        return Rendered(text, html=True)


@dataclass(frozen=True)
class ExpenseAdvanced(Notice):
    """To the referent: money the volunteer advanced for the person."""

    request_id: int
    volunteer_name: str
    cents: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """The amount in the referent's locale and the town's currency."""
        return Rendered(
            _(
                "💶 For request #{id}, {name} advanced {amount}. Please arrange the refund with "
                "them.",
                id=self.request_id,
                name=self.volunteer_name,
                amount=money_text(self.cents, town.currency, _.language),
            )
        )


@dataclass(frozen=True)
class ReceiptPhoto(Notice):
    """To the referent: the receipt photo, by its Telegram file id (never stored elsewhere)."""

    method: ClassVar[str] = "send_photo"
    text_field: ClassVar[str] = "caption"

    request_id: int
    volunteer_name: str
    file_id: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """The caption: whose receipt, for which request."""
        return Rendered(
            _(
                "🧾 {name}'s receipt for request #{id}.",
                name=self.volunteer_name,
                id=self.request_id,
            )
        )

    def media(self) -> dict[str, str]:
        """The photo forwarded."""
        return {"photo": self.file_id}
