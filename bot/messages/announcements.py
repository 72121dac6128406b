"""How an announcement reads: a line saying who it comes from, then the coordinator's text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.i18n import N_, Translator, with_town
from bot.messages.base import Notice, Rendered, Town
from storage import outbox


def announcement_header(_: Translator, town_name: str) -> str:
    """The line above an announcement, in the reader's language."""
    return with_town(
        _,
        town_name,
        N_("📣 A message from the coordinators of {town}:"),
        N_("📣 A message from the coordinators:"),
    )


@dataclass(frozen=True)
class Announcement(Notice):
    """To every volunteer of the audience: the coordinators' text as they wrote it."""

    priority: ClassVar[int] = outbox.BULK

    text: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """The header in the reader's language, then the text (plain, never parsed)."""
        return Rendered(announcement_header(_, town.name) + "\n\n" + self.text)
