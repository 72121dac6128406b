"""Writing through the bot: between a claimer and the referent, and to or from the coordinators.

A message written to someone travels as two outbox rows to the same chat: a header naming the
writer (display name only) and what it is about, then a copy of the original message (text,
photo, voice, location) with a "↩ Reply" button. The copy names the message by its chat and id:
the outbox never holds its content, and neither phone nor username goes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from telegram import InlineKeyboardButton

from bot.callbacks import Action
from bot.i18n import N_, Translator
from bot.messages.base import Delivery, Notice, Rendered, Town, button, keyboard
from bot.services.outcomes import Outcome

REPLY_LABEL = N_("↩ Reply")
# The verbs of Action.WRITE: about a claim (claim id), a coordinator answering someone (member
# id), someone writing to the coordinators (0).
ABOUT_CLAIM = "claim"
ANSWER_MEMBER = "coord"
TO_COORDINATORS = "help"


class Side(StrEnum):
    """Whom a message goes to."""

    REFERENT = "referent"
    VOLUNTEER = "volunteer"
    COORDINATORS = "coordinators"
    MEMBER = "member"  # someone a coordinator answers


def write_button(_: Translator, claim_id: int, *, to: Side, name: str = "") -> InlineKeyboardButton:
    """ "💬 Write to the referent" (for the claimer) or "💬 Write to <name>" (for the referent)."""
    if to is Side.REFERENT:
        label = _("💬 Write to the referent")
    else:
        label = _("💬 Write to {name}", name=name)
    return button(label, Action.WRITE, ABOUT_CLAIM, claim_id)


@dataclass(frozen=True)
class Opening:
    """Whether someone may write, and to whom: the answer to a "write" tap, or to a message."""

    outcome: Outcome
    to: Side | None = None
    name: str = ""  # the reader's display name (a referent or volunteer, or the person answered)
    request_id: int | None = None


# --- what the reader receives --------------------------------------------------------------


@dataclass(frozen=True)
class LetterAboutClaim(Notice):
    """The header above a message written about a claim: who writes, about which request."""

    writer: str
    request_id: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """One line; the message itself follows as a copy."""
        return Rendered(
            _("💬 {name} writes to you about request #{id}:", name=self.writer, id=self.request_id)
        )


@dataclass(frozen=True)
class LetterToCoordinators(Notice):
    """The header above a message someone sends to the coordinators."""

    writer: str

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who writes; the answer goes back through the bot."""
        return Rendered(
            _(
                "📨 {name} writes to the coordinators (your answer goes back through the bot):",
                name=self.writer,
            )
        )


@dataclass(frozen=True)
class CoordinatorsAnswer(Notice):
    """The header above a coordinator's answer."""

    def render(self, _: Translator, town: Town) -> Rendered:
        """Said as the coordinators, not as one of them."""
        return Rendered(_("📨 The coordinators answer:"))


@dataclass(frozen=True)
class CopiedMessage(Notice):
    """The message itself, copied from the writer's chat, with "↩ Reply" (verb, target)."""

    method: ClassVar[str] = "copy_message"

    from_chat_id: int
    message_id: int
    reply_verb: str
    reply_target: int

    def render(self, _: Translator, town: Town) -> Rendered:
        """Only the button: the content is the original message's."""
        reply = button(_(REPLY_LABEL), Action.WRITE, self.reply_verb, self.reply_target)
        return Rendered("", keyboard([[reply]]))

    def delivery(self) -> Delivery:
        """A copy of the writer's message."""
        return Delivery(message_id=self.message_id, copy_from=self.from_chat_id)


# --- answers to the writer -----------------------------------------------------------------

WRITE_EXPECTED = N_(
    "Please send a text, a photo, a voice message or a location — or /cancel to write nothing."
)
WRITE_BUSY = N_("I am waiting for your message first. Send /cancel to write nothing.")
WRITE_CANCELLED = N_("Nothing was sent.")
CLOSED = N_(
    "The conversation about request #{id} is closed: the volunteer no longer holds it. Nothing "
    "was sent."
)
NO_COORDINATOR = N_(
    "No coordinator can be reached through the bot right now, so nothing was sent. Please try "
    "again later; if it is urgent, call your town's social services."
)
REFUSED = {
    Outcome.NOT_ALLOWED: N_("This conversation is not yours."),
    Outcome.NOT_FOUND: N_("This person can no longer be reached through the bot."),
    Outcome.TOO_SOON: N_(
        "You have sent several messages to the coordinators today. Please wait until tomorrow; "
        "if it is urgent, call them."
    ),
    Outcome.ALREADY_DONE: N_("This message was already sent."),
}


def refusal(opening: Opening, _: Translator) -> str:
    """Why the person cannot write (the claim ended, someone else's claim, a limit)."""
    if opening.outcome is Outcome.EXPIRED:
        return _(CLOSED, id=opening.request_id or 0)
    if opening.outcome is Outcome.NOT_FOUND and opening.to is Side.COORDINATORS:
        return _(NO_COORDINATOR)
    return _(REFUSED.get(opening.outcome, REFUSED[Outcome.NOT_ALLOWED]))


def write_prompt(opening: Opening, _: Translator) -> str:
    """After the tap: whom the next message goes to, and that nothing else is shown."""
    if opening.to is Side.COORDINATORS:
        return _(
            "Write your message to the coordinators: a text, a photo, a voice message or a "
            "location. They see your first name. /cancel to write nothing."
        )
    if opening.to is Side.MEMBER:
        return _(
            "Write your answer to {name}: a text, a photo, a voice message or a location. It "
            "reaches them signed “the coordinators”. /cancel to write nothing.",
            name=opening.name,
        )
    if opening.to is Side.REFERENT:
        return _(
            "Write your message to the referent of request #{id}: a text, a photo, a voice "
            "message or a location. They see your first name, never your phone or username. "
            "/cancel to write nothing.",
            id=opening.request_id,
        )
    return _(
        "Write your message to {name} about request #{id}: a text, a photo, a voice message or "
        "a location. They see your first name, never your phone or username. /cancel to write "
        "nothing.",
        name=opening.name,
        id=opening.request_id,
    )


def sent_note(opening: Opening, _: Translator) -> str:
    """After the copy is queued: to whom it went."""
    if opening.to is Side.COORDINATORS:
        return _("📨 Sent to the coordinators: their answer will come here.")
    if opening.to is Side.REFERENT:
        return _("✅ Sent to the referent of request #{id}.", id=opening.request_id)
    return _("✅ Sent to {name}.", name=opening.name)


# "Send this to the coordinators?", under a message sent outside any conversation.
SUPPORT_QUESTION = N_(
    "I did not expect a message here. Do you want to send it to the coordinators of the "
    "brigade? (/help shows what else you can do.)"
)
SUPPORT_SEND = N_("📨 Send it")
SUPPORT_KEEP = N_("No")
SUPPORT_KEPT = N_("Not sent. Send /help to see what you can do.")


def support_question(message_id: int, _: Translator) -> Rendered:
    """The question and its two answers, about the message `message_id` of the person's chat."""
    rows = [
        [
            button(_(SUPPORT_SEND), Action.SUPPORT, "send", message_id),
            button(_(SUPPORT_KEEP), Action.SUPPORT, "no", message_id),
        ]
    ]
    return Rendered(_(SUPPORT_QUESTION), keyboard(rows))
