"""A new referent's phone for the volunteers who take their requests (optional).

Accepting an invitation as a referent asks whether the claimers may see a phone number; "📞 Give
my number" starts this short conversation (share the contact or type it), "No" keeps it hidden —
volunteers then write through the bot. /mydata shows the choice; /forget erases the number.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import ReplyKeyboardRemove
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_
from bot.services.outcomes import Outcome
from conversations import pickers
from conversations.base import END, Conversation, State, Texts, Turn

NUMBER = "number"
NOT_A_REFERENT = N_("This is for the brigade's referents.")
PHONE_TEXTS = pickers.PhoneTexts(
    none=None,
    not_a_number=N_(
        "That does not look like a phone number. Share it with the button, type it, or send "
        "/cancel."
    ),
)


@dataclass
class NoDraft:
    """Nothing is kept between the tap and the number."""


REFERENT_PHONE = Conversation(
    "referent_phone",
    Action.PHONE,
    NoDraft,
    Texts(cancelled=N_("No number given: volunteers will write to you through the bot.")),
    role=Role.REFERENT,
    refusal=NOT_A_REFERENT,
    owns_action=False,
)


async def on_give(turn: Turn[NoDraft], button: Callback) -> State:
    """ "📞 Give my number": ask for it."""
    await turn.answer()
    await turn.drop_buttons()
    await turn.say(
        turn._(
            "Share your number with the button below, or type it. Only the volunteers who take "
            "your requests will see it, while they hold them. /cancel to give none."
        ),
        pickers.share_number()(turn),
    )
    return NUMBER


async def on_number(turn: Turn[NoDraft]) -> State:
    """The number shared or typed: shown to the claimers from now on."""
    phone = await pickers.phone_reply(turn, PHONE_TEXTS)
    if not isinstance(phone, str):
        return None
    outcome = await turn.services.correspondence.share_phone(turn.user_id, phone)
    if outcome is Outcome.INVALID:
        await turn.say(turn._(PHONE_TEXTS.not_a_number))
        return None
    await turn.say(
        turn._(
            "Thank you: the volunteers who take your requests will see {phone}. /mydata shows "
            "it; /forget erases it.",
            phone=phone,
        ),
        ReplyKeyboardRemove(),
    )
    return END


def build_referent_phone_conversation() -> ConversationHandler[BrigadeContext]:
    """ "📞 Give my number", then the number."""
    return REFERENT_PHONE.build(
        entry_points=[REFERENT_PHONE.start_tap(on_give, verb="ask")],
        states={NUMBER: [REFERENT_PHONE.contact(on_number), REFERENT_PHONE.text(on_number)]},
    )
