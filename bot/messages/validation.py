"""How validation reads: the card a validator decides on, the card once decided, and what the
person who asked hears (approved, or declined with the reason)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bot.callbacks import Action
from bot.i18n import N_, Translator
from bot.messages.base import Delivery, Notice, Rendered, Town, buttons, keyboard
from bot.messages.offers import RequestView, offer_text, skill_of
from bot.services.outcomes import StepOutcome
from bot.skills import skill_label
from bot.text import escaped, quoted
from storage import outbox

if TYPE_CHECKING:
    from bot.services.requests.validation import Decision

CARD_BUTTONS = (
    ((N_("✅ Approve as is"), "approve"),),
    ((N_("✏️ Edit, then approve"), "edit"), (N_("❌ Decline"), "decline")),
)


@dataclass(frozen=True)
class ValidationCard(Notice):
    """To a validator: a request that waits for validation before anyone is offered it."""

    request: RequestView
    asker_name: str
    # The member asked for themselves (/ask); else a referent posted it for someone (/new).
    for_themselves: bool

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who asks, the request as volunteers would read it, and the three decisions."""
        if self.for_themselves:
            head = _(
                "🔎 {name} asks for help for themselves. Nobody is offered this request until "
                "it is validated.",
                name=self.asker_name,
            )
        else:
            head = _(
                "🔎 {name} posted a request. Nobody is offered it until it is validated.",
                name=self.asker_name,
            )
        text = "\n\n".join([escaped(head), offer_text(self.request, _, town.tz)])
        rows = buttons(_, Action.VALIDATE, self.request.id, CARD_BUTTONS)
        return Rendered(text, keyboard(rows), html=True)


@dataclass(frozen=True)
class ValidationDecided(Notice):
    """A validator's card once someone decided: approved or declined, and by whom."""

    method: ClassVar[str] = "edit_message_text"
    priority: ClassVar[int] = outbox.NOTICE

    request: RequestView
    message_id: int
    by_name: str
    approved: bool
    reason: str | None = None

    def render(self, _: Translator, town: Town) -> Rendered:
        """The request, then the decision (no button left)."""
        if self.approved:
            decision = _("✅ Approved by {name}: it is offered to volunteers.", name=self.by_name)
        else:
            decision = _("❌ Declined by {name}.", name=self.by_name)
        lines = [offer_text(self.request, _, town.tz), "", escaped(decision)]
        if self.reason:
            lines.append(quoted(self.reason))
        return Rendered("\n".join(lines), html=True)

    def delivery(self) -> Delivery:
        """An edit of the card sent earlier."""
        return Delivery(message_id=self.message_id)


@dataclass(frozen=True)
class RequestApproved(Notice):
    """To the person who asked (or the referent who posted): validated, now offered."""

    request: RequestView

    def render(self, _: Translator, town: Town) -> Rendered:
        """Validated, offered; a message will follow when someone takes it."""
        return Rendered(
            _(
                "✅ Your request #{id} ({skill}) was validated and is now offered to the "
                "volunteers nearby. You will get a message when one of them takes it.",
                id=self.request.id,
                skill=skill_of(self.request, _),
            )
        )


@dataclass(frozen=True)
class RequestDeclined(Notice):
    """To the person who asked (or the referent who posted): declined, and why."""

    request_id: int
    skill: str
    reason: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """Declined, the reason quoted, and whom to turn to."""
        head = _(
            "Your request #{id} ({skill}) was not validated, so it will not be offered to the "
            "volunteers. The reason given:",
            id=self.request_id,
            skill=skill_label(self.skill, _),
        )
        tail = _("If you need help all the same, you can reply to a coordinator of the brigade.")
        return Rendered("\n".join([escaped(head), quoted(self.reason), escaped(tail)]), html=True)


@dataclass(frozen=True)
class ValidationWaiting(Notice):
    """To the coordinators, once: a request has waited too long for validation."""

    request: RequestView
    hours: float

    def render(self, _: Translator, town: Town) -> Rendered:
        """Which request waits, since how long, with the decisions again."""
        head = _.ngettext(
            "⏰ This request has waited for validation for more than {count} hour. Nobody is "
            "offered it until someone decides.",
            "⏰ This request has waited for validation for more than {count} hours. Nobody is "
            "offered it until someone decides.",
            round(self.hours),
        )
        text = "\n\n".join([escaped(head), offer_text(self.request, _, town.tz)])
        rows = buttons(_, Action.VALIDATE, self.request.id, CARD_BUTTONS)
        return Rendered(text, keyboard(rows), html=True)


# Direct answers to a validator's tap (toasts).
DECISION_ANSWERS = {
    StepOutcome.NOT_ALLOWED: N_(
        "Only the brigade's coordinators, and the referents it was sent to, may validate this "
        "request — never the person who asked."
    ),
    StepOutcome.NOT_FOUND: N_("This request no longer exists."),
    StepOutcome.ALREADY_DONE: N_("This request was already decided."),
}


def decision_answer(decision: Decision, _: Translator, *, approved: bool) -> str:
    """What the validator reads once they approved or declined (or could not)."""
    if decision.outcome is StepOutcome.DONE:
        if not approved:
            return _("Declined. The person was told the reason.")
        return _.ngettext(
            "Approved: {count} volunteer received it now.",
            "Approved: {count} volunteers received it now.",
            decision.offered,
        )
    if decision.outcome is StepOutcome.STALE:
        if decision.decided_by:
            return _("{name} decided on this request already.", name=decision.decided_by)
        return _("This request was already decided.")
    return _(DECISION_ANSWERS[decision.outcome])
