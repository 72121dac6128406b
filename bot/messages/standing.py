"""What a member's standing makes people read: a suspension, a reinstatement, a role withdrawn,
the requests handed to a coordinator, a place freed by a suspension, a concern about conduct.

Reasons are free text a coordinator typed: always shown in a quote block (HTML).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator, with_town
from bot.messages.base import Notice, Rendered, Town
from bot.text import escaped, quoted

ROLE_NAMES = {
    Role.COORDINATOR: N_("coordinator"),
    Role.REFERENT: N_("referent"),
    Role.VOLUNTEER: N_("volunteer"),
}


def _with_reason(text: str, reason: str | None, _: Translator) -> Rendered:
    """A message, then the coordinator's reason in a quote block, if they gave one."""
    if reason:
        text += "\n\n" + escaped(_("The coordinator's reason:")) + "\n" + quoted(reason)
    return Rendered(text, html=True)


@dataclass(frozen=True)
class VolunteerSuspended(Notice):
    """To the volunteer: a coordinator suspended them (never the concerns behind it)."""

    reason: str | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Suspended: no requests for now, the ones held are offered again."""
        text = escaped(
            with_town(
                _,
                town.name,
                N_(
                    "⛔ A coordinator of the brigade of {town} has suspended your participation. "
                    "You will receive no requests for now, and the requests you had taken are "
                    "offered to other volunteers. To talk about it, contact a coordinator."
                ),
                N_(
                    "⛔ A coordinator of the brigade has suspended your participation. "
                    "You will receive no requests for now, and the requests you had taken are "
                    "offered to other volunteers. To talk about it, contact a coordinator."
                ),
            )
        )
        return _with_reason(text, self.reason, _)


@dataclass(frozen=True)
class VolunteerReinstated(Notice):
    """To the volunteer: a coordinator lifted their suspension."""

    reason: str | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Back in the brigade: requests will reach them again."""
        text = escaped(
            _(
                "✅ A coordinator has lifted your suspension: welcome back! You will receive "
                "the requests near you that match your skills again."
            )
        )
        return _with_reason(text, self.reason, _)


@dataclass(frozen=True)
class RoleRevoked(Notice):
    """To the member: a coordinator withdrew one of their roles."""

    role: Role
    reason: str | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Which role is gone."""
        text = escaped(
            with_town(
                _,
                town.name,
                N_("A coordinator has withdrawn your role of {role} in the brigade of {town}."),
                N_("A coordinator has withdrawn your role of {role} in the brigade."),
                role=_(ROLE_NAMES[self.role]),
            )
        )
        return _with_reason(text, self.reason, _)


@dataclass(frozen=True)
class RequestsHandedOver(Notice):
    """To the coordinator who withdrew a referent's role: the requests they now follow."""

    referent_name: str
    request_ids: tuple[int, ...]

    def render(self, _: Translator, town: Town) -> Rendered:
        """The requests, by number."""
        numbers = ", ".join(f"#{request_id}" for request_id in self.request_ids)
        return Rendered(
            _.ngettext(
                "{name}'s {count} request still running is now yours to follow: {numbers}. "
                "You will receive its news and confirm it.",
                "{name}'s {count} requests still running are now yours to follow: {numbers}. "
                "You will receive their news and confirm them.",
                len(self.request_ids),
                name=self.referent_name,
                numbers=numbers,
            )
        )


@dataclass(frozen=True)
class ClaimWithdrawn(Notice):
    """To the referent: the claimer can no longer do the request (suspended); offered again."""

    request_id: int
    volunteer_name: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """The place is free again."""
        return Rendered(
            _(
                "{name} can no longer take your request #{id}: it is offered again.",
                name=self.volunteer_name,
                id=self.request_id,
            )
        )


@dataclass(frozen=True)
class ConductConcernRaised(Notice):
    """To every coordinator (never the volunteer): a referent worries about a volunteer."""

    volunteer_name: str
    request_id: int
    referent_name: str
    referent_phone: str | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who worries about whom, on which request; the member card lists it."""
        return Rendered(
            _(
                "⚠️ {referent} ({phone}) is worried about the conduct of the volunteer {name} "
                "on request #{id}. Please call them. Send /members to see {name}'s card.",
                referent=self.referent_name,
                phone=self.referent_phone or _("no phone given"),
                name=self.volunteer_name,
                id=self.request_id,
            )
        )
