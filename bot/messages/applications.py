"""How a volunteer's application reads to coordinators: the card, its buttons, and every copy
of it edited once someone decided or verified a skill."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from babel.dates import format_date
from telegram import InlineKeyboardMarkup

from bot import formats
from bot.availability import availability_text
from bot.callbacks import Action
from bot.domain.vocabulary import VolunteerStatus
from bot.i18n import N_, Translator
from bot.messages.base import Delivery, Notice, Rendered, Town, button, keyboard
from bot.messages.reach import card_reach_line, reach_warning
from bot.skills import skill_label
from storage import outbox

if TYPE_CHECKING:
    from bot.domain.reach import Reach
    from bot.services.volunteers import ApplicationView, SkillHeld

# What a card says once decided or verified ({name}: who did it).
APPROVED_BY = N_("Approved by {name}.")
NOT_ACCEPTED_BY = N_("Not accepted by {name}.")
SKILL_VERIFIED = N_("Skill verified.")
# Why a card is sent to the coordinators.
NEW_APPLICATION = N_("New volunteer application.")
SKILL_TO_CHECK = N_("{name} added a skill that needs your check.")


def skills_summary(skills: Sequence[SkillHeld]) -> list[SkillHeld]:
    """Skills with those awaiting verification first, so a coordinator sees them."""
    return sorted(
        skills, key=lambda s: (not (s.requires_verification and not s.verified), s.skill_id)
    )


def skill_mark(skill: SkillHeld, _: Translator) -> str:
    """A skill's name, with "(to verify)" or "(verified)" where a coordinator checks it."""
    if skill.requires_verification and not skill.verified:
        return skill_label(skill.label, _) + " " + _("(to verify)")
    return skill_label(skill.label, _) + (" " + _("(verified)") if skill.verified else "")


def application_card(view: ApplicationView, _: Translator) -> str:
    """The text a coordinator reads to decide on an application."""
    skills = [skill_mark(skill, _) for skill in skills_summary(view.skills)]
    slots = availability_text(view.availability, _)
    accepted = (
        format_date(view.charter_accepted_at, "medium", locale=_.language)
        if view.charter_accepted_at
        else "—"
    )
    status = {
        VolunteerStatus.PENDING: _("waiting for a decision"),
        VolunteerStatus.APPROVED: _("approved"),
        VolunteerStatus.REJECTED: _("not accepted"),
        VolunteerStatus.SUSPENDED: _("suspended"),
    }.get(view.status or VolunteerStatus.PENDING, "")
    lines = [
        _("Volunteer application: {name}", name=view.display_name),
        _("Status: {value}", value=status),
        _("Phone: {value}", value=view.phone or _("not given")),
        _("Place: {value}", value=view.address or _("location pin")),
        _("Neighbourhood: {value}", value=view.neighbourhood or _("none")),
        _("Distance: up to {value} km", value=formats.number(view.radius_km, _)),
        card_reach_line(view.reach, _),
        _("Skills: {value}", value=", ".join(skills)),
        _("Availability: {value}", value=slots or _("to be agreed each time")),
        _(
            "Charter version {version} accepted on {date}",
            version=view.charter_version or "—",
            date=accepted,
        ),
    ]
    return "\n".join(line for line in lines if line)


def application_keyboard(view: ApplicationView, _: Translator) -> InlineKeyboardMarkup | None:
    """Approve/Reject while pending; once approved, a Verify button per unverified skill."""
    if view.status is VolunteerStatus.PENDING:
        return keyboard(
            [
                [
                    button(_("✅ Approve"), Action.VET, "approve", view.member_id),
                    button(_("❌ Reject"), Action.VET, "reject", view.member_id),
                ]
            ]
        )
    rows = [
        [
            button(
                _("Verify: {skill}", skill=skill_label(skill.label, _)),
                Action.VERIFY_SKILL,
                view.member_id,
                skill.skill_id,
            )
        ]
        for skill in view.skills
        if skill.requires_verification and not skill.verified
    ]
    if view.status is VolunteerStatus.APPROVED and rows:
        return keyboard(rows)
    if view.status is VolunteerStatus.REJECTED and view.reapply_from is not None:
        return keyboard(
            [[button(_("Allow a new application now"), Action.VET, "reapply", view.member_id)]]
        )
    return None


@dataclass(frozen=True)
class CardUpdated(Notice):
    """Another copy of a volunteer's card (sent at sign-up, or listed by /pending) once a
    coordinator acted on it: the application as it now stands, who did what, and only the
    buttons that still make sense."""

    method: ClassVar[str] = "edit_message_text"
    priority: ClassVar[int] = outbox.NOTICE

    view: ApplicationView
    note: str  # a message id with {name}
    name: str
    message_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """The card, then the note."""
        text = application_card(self.view, _) + "\n\n" + _(self.note, name=self.name)
        return Rendered(text, application_keyboard(self.view, _))

    def delivery(self) -> Delivery:
        """Replaces the copy."""
        return Delivery(message_id=self.message_id)


@dataclass(frozen=True)
class CardSent(Notice):
    """A volunteer's card sent to a coordinator: why (`intro`, a message id with `values`: a new
    application, a skill to check), the card and its buttons."""

    priority: ClassVar[int] = outbox.NOTICE

    view: ApplicationView
    intro: str
    values: Mapping[str, object]

    def render(self, _: Translator, town: Town) -> Rendered:
        """Why, then the card."""
        text = _(self.intro, **self.values) + "\n\n" + application_card(self.view, _)
        return Rendered(text, application_keyboard(self.view, _))


@dataclass(frozen=True)
class ApplicationDecided(Notice):
    """To the volunteer: their application approved (with why no request can reach them, if
    their distance reaches no neighbourhood) or not accepted (with the reason, if given)."""

    approved: bool
    reason: str | None
    reach: Reach | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """The decision in the volunteer's language."""
        if not self.approved:
            text = _("Your volunteer application was not accepted.")
            if self.reason:
                text += "\n" + _("The coordinator's reason: {reason}", reason=self.reason)
            return Rendered(text)
        warning = reach_warning(self.reach, _)
        if not warning:
            return Rendered(
                _(
                    "Good news: your application was approved. Welcome to the brigade! You will "
                    "now receive the requests near you that match your skills."
                )
            )
        return Rendered(
            _("Good news: your application was approved. Welcome to the brigade!")
            + "\n\n"
            + warning
            + "\n"
            + _("You can change your distance with /profile.")
        )
