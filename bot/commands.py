"""The catalogue of slash commands: who may use each, and its one-line description.

`/help` and the per-role command menus are both built from this list, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.vocabulary import Role
from bot.i18n import N_

EVERYONE: frozenset[Role | None] = frozenset({None, *Role})


@dataclass(frozen=True)
class Command:
    """A slash command and the roles that see it (None: a person with no role yet)."""

    name: str
    description: str  # an English msgid, translated when shown
    roles: frozenset[Role | None]


COORDINATORS: frozenset[Role | None] = frozenset({Role.COORDINATOR})
VOLUNTEERS: frozenset[Role | None] = frozenset({Role.VOLUNTEER})
REFERENTS: frozenset[Role | None] = frozenset({Role.REFERENT})
REFERENTS_AND_COORDINATORS: frozenset[Role | None] = frozenset({Role.REFERENT, Role.COORDINATOR})
VOLUNTEERS_AND_COORDINATORS: frozenset[Role | None] = frozenset({Role.VOLUNTEER, Role.COORDINATOR})
NOT_YET_VOLUNTEERS: frozenset[Role | None] = frozenset({None, Role.REFERENT, Role.COORDINATOR})

COMMANDS: tuple[Command, ...] = (
    Command("start", N_("Start or see what you can do"), EVERYONE),
    Command("join", N_("Join the brigade as a volunteer"), NOT_YET_VOLUNTEERS),
    Command("new", N_("Post a request for someone you support"), REFERENTS),
    Command("ask", N_("Ask the brigade for help for yourself"), EVERYONE),
    Command("signal", N_("Report someone who seems isolated"), EVERYONE),
    Command("mine", N_("Your requests: follow, edit, cancel"), REFERENTS_AND_COORDINATORS),
    Command("verify", N_("Check a volunteer's brigade card code"), REFERENTS_AND_COORDINATORS),
    Command("cases", N_("People reported as isolated"), REFERENTS_AND_COORDINATORS),
    Command("series", N_("Recurring care: weekly calls and visits"), REFERENTS_AND_COORDINATORS),
    Command("register", N_("The watch register: heat, cold"), REFERENTS_AND_COORDINATORS),
    Command("badge", N_("Show your brigade card"), VOLUNTEERS),
    Command("tasks", N_("The requests you took"), VOLUNTEERS),
    Command("nearby", N_("Open requests near you that you can take"), VOLUNTEERS),
    Command("profile", N_("See and change your volunteer profile"), VOLUNTEERS),
    Command("pause", N_("Receive no request for a while"), VOLUNTEERS),
    Command("resume", N_("Receive requests again"), VOLUNTEERS),
    Command(
        "charter",
        N_("The brigade's charter"),
        VOLUNTEERS_AND_COORDINATORS,
    ),
    Command("pending", N_("Volunteer applications waiting for you"), COORDINATORS),
    Command("members", N_("Members: find, suspend, roles"), COORDINATORS),
    Command("invite", N_("Invite a referent or a coordinator"), COORDINATORS),
    Command("open", N_("Requests not yet fully taken"), COORDINATORS),
    Command("stuck", N_("Claims waiting too long for confirmation"), COORDINATORS),
    Command("stats", N_("Figures for the town's evaluation"), COORDINATORS),
    Command("export", N_("Export the figures as CSV files"), COORDINATORS),
    Command("announce", N_("Send a message to the volunteers"), COORDINATORS),
    Command("watch", N_("Heat or cold: call the register daily"), COORDINATORS),
    Command("neighbourhoods", N_("Neighbourhoods, their groups and links"), COORDINATORS),
    Command("skills", N_("The skills catalogue"), COORDINATORS),
    Command("language", N_("Choose your language"), EVERYONE),
    Command("mydata", N_("Get everything Brigade stores about you"), EVERYONE),
    Command("forget", N_("Erase your personal data"), EVERYONE),
    Command("help", N_("List the commands you can use"), EVERYONE),
    Command("cancel", N_("Stop what you are doing"), EVERYONE),
)


def commands_for(roles: Iterable[Role]) -> list[Command]:
    """The commands a member holding `roles` may use, in catalogue order."""
    held: set[Role | None] = set(roles) or {None}
    return [command for command in COMMANDS if command.roles & held]
