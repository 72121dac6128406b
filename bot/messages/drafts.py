"""What someone reads when a conversation they left unanswered is put away by the timer sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from bot import formats
from bot.i18n import Translator
from bot.messages.base import Notice, Rendered, Town
from storage import outbox

# The command that starts each (persistent) conversation again, by the conversation's name.
RESTART_COMMANDS = {
    "posting": "/new",
    "ask": "/ask",
    "signup": "/join",
    "profile": "/profile",
    "signal": "/signal",
    "announce": "/announce",
    "verify": "/verify",
    "admin": "/neighbourhoods",
    "rejection": "/pending",
    # The visit report's answers are stored as they are given: nothing to start again.
    "visit": "/help",
    "request_edit": "/mine",
    "charter": "/charter",
    "register": "/register",
    "watch": "/watch",
}


@dataclass(frozen=True)
class ConversationPutAway(Notice):
    """To a person silent for the draft TTL: their conversations ended, their answers deleted."""

    priority: ClassVar[int] = outbox.NOTICE

    conversations: frozenset[str]
    ttl: timedelta

    def render(self, _: Translator, town: Town) -> Rendered:
        """One sentence: how long, what was lost, the command to start again."""
        waited = formats.duration(self.ttl, _)
        if self.conversations == {"posting"}:
            return Rendered(
                _(
                    "Your request in progress was put away after {duration} without an answer; "
                    "nothing was posted. Send /new to start again.",
                    duration=waited,
                )
            )
        commands = sorted({RESTART_COMMANDS.get(name, "/help") for name in self.conversations})
        return Rendered(
            _(
                "What you had started was put away after {duration} without an answer; your "
                "answers were deleted. To start again: {commands}.",
                duration=waited,
                commands=", ".join(commands),
            )
        )
