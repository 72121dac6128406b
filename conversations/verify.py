"""/verify (referents, coordinators) checks a volunteer's brigade card.

`/verify CODE` answers at once; `/verify` alone asks for the code in a short persistent
conversation: the next text message is the code; anything else asks for it again; /cancel leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.dates import format_date
from telegram.ext import ConversationHandler

from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.services.badges import Check, Verification
from conversations.base import END, Conversation, State, Texts, Turn

CODE = "code"
NOT_STAFF = N_("Checking a card is reserved for referents and coordinators.")
CODE_EXPECTED = N_("Please type the card code in a message, or send /cancel.")


@dataclass
class NoDraft:
    """/verify keeps nothing between the command and the code."""


VERIFY = Conversation(
    "verify",
    None,
    NoDraft,
    # Anything but the code, a command included, asks for the code again (/verify starts over).
    Texts(cancelled=N_("No code checked."), busy=CODE_EXPECTED, not_understood=CODE_EXPECTED),
    allow_reentry=True,
)


def verification_text(result: Verification, code: str, _: Translator) -> str:
    """What the checker reads for each answer."""
    if result.check is Check.VALID:
        approved = (
            format_date(result.approved_at, "long", locale=_.language)
            if result.approved_at
            else "—"
        )
        text = _(
            "✅ Code {code} is valid: {name} is a volunteer of the brigade, approved on {date}.",
            code=code,
            name=result.first_name or "—",
            date=approved,
        )
        if result.paused:
            text += "\n" + _("They have paused their requests for now.")
        return text
    if result.check is Check.MALFORMED:
        return _(
            "A card code has 6 letters and digits, e.g. “K7M2QX”. Please check it and send "
            "it again."
        )
    if result.check is Check.TOO_MANY:
        return _(
            "Too many unsuccessful checks in the last hour. Please wait a little, or call a "
            "coordinator."
        )
    if result.check is Check.NOT_ALLOWED:
        return _(NOT_STAFF)
    return _(
        "❌ Code {code} is not valid: it does not belong to an active volunteer of the "
        "brigade. Do not let the person in on the brigade's behalf; call a coordinator if "
        "in doubt.",
        code=code,
    )


async def _check(turn: Turn[NoDraft], raw: str) -> State:
    """Check a code and say what it is."""
    result = await turn.services.badges.verify(turn.user_id, raw)
    shown = "".join(raw.split()).upper()[:12]
    await turn.say(verification_text(result, shown, turn._))
    return END


async def verify_command(turn: Turn[NoDraft]) -> State:
    """/verify CODE answers at once; /verify alone asks for the code (referents, coordinators)."""
    if turn.context.args:
        return await _check(turn, " ".join(turn.context.args))
    if not turn.who.member.roles & {Role.REFERENT, Role.COORDINATOR}:
        await turn.say(turn._(NOT_STAFF))
        return END
    await turn.say(
        turn._("Send the code shown on the volunteer's card (6 letters and digits), or /cancel.")
    )
    return CODE


async def on_code(turn: Turn[NoDraft]) -> State:
    """The code typed after /verify."""
    return await _check(turn, turn.text)


def build_verify_conversation() -> ConversationHandler[BrigadeContext]:
    """/verify, persistent: a restart between /verify and the code loses nothing."""
    return VERIFY.build(
        entry_points=[VERIFY.start_command("verify", verify_command)],
        states={CODE: [VERIFY.text(on_code)]},
    )
