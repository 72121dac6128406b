"""/ask: a member — or anyone who registers for it — asks the brigade for help for themselves.

Steps: the name the volunteer will see, a phone (optional for the brigade's members, needed from
someone who registers by asking), where they live (a pin or a typed address), access notes,
their consent to share these with the volunteer who takes it; then the questions of /new about
the request itself (the need, a description, when: `request_questions`, answered by /new's own
handlers), one volunteer, a preview, and Send. The request then waits for validation by a
referent of the neighbourhood or a coordinator (bot/services/requests/validation.py): nobody is
offered it before.

The draft is /new's `PostingDraft`, the person being their own beneficiary: so /new's answers
and checks serve here unchanged.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import N_
from bot.services.outcomes import Outcome
from bot.services.requests import Asked
from conversations import pickers
from conversations.base import (
    BACK_LABEL,
    END,
    SKIP_LABEL,
    Conversation,
    Markup,
    State,
    Texts,
    Turn,
    back,
    choices,
)
from conversations.places import location
from conversations.posting.answers import (
    BAD_NAME,
    BAD_NOTES,
    MAX_NAME_LENGTH,
    MAX_NOTES_LENGTH,
    checked_request,
    on_consent,
    on_description,
    on_edit,
    on_home_address,
    on_home_confirmed,
    on_home_pin,
    on_need,
    on_part,
    on_when,
    retry_address,
    skip_notes,
    when_states,
)
from conversations.posting.draft import PostingDraft, Step
from conversations.posting.preview import preview_text
from conversations.posting.questions import SEND_A_LOCATION, request_questions
from handlers.common import NO_LONGER_VALID

ASK = Conversation(
    "ask",
    Action.ASK,
    PostingDraft,
    Texts(
        cancelled=N_("Nothing was sent, nothing was kept. Send /ask to start again."),
        busy=N_(
            "You are asking the brigade for help. Answer the question above, or send /cancel "
            "to stop."
        ),
        ended=(NO_LONGER_VALID, N_("Send /ask to ask the brigade for help.")),
        finished={"send": N_("This request has already been sent.")},
    ),
)
AskTurn = Turn[PostingDraft]

PHONE_NEEDED = N_(
    "A phone number is needed so that the volunteer can reach you. Share it with the button "
    "below, or type it."
)
PHONE_TEXTS = pickers.PhoneTexts(
    none=SKIP_LABEL,
    not_a_number=N_(
        "That does not look like a phone number. Share it with the button, or type it."
    ),
)
# The preview's edit buttons (the person's own details are theirs: ⬅ reaches them).
EDIT_BUTTONS = (
    (Step.NEED, N_("✏️ Need")),
    (Step.DESCRIPTION, N_("✏️ Description")),
    (Step.WHEN, N_("✏️ When")),
)
EDITABLE = frozenset(step for step, _label in EDIT_BUTTONS)

# Where ⬅ leads; a step reached from the preview's edit button leads back to the preview.
_PREVIOUS = {
    Step.B_PHONE: Step.B_NAME,
    Step.B_PLACE: Step.B_PHONE,
    Step.B_CONFIRM: Step.B_PLACE,
    Step.B_NOTES: Step.B_PLACE,
    Step.B_CONSENT: Step.B_NOTES,
    Step.NO_CONSENT: Step.B_CONSENT,
    Step.NEED: Step.B_CONSENT,
    Step.DESCRIPTION: Step.NEED,
    Step.WHEN: Step.DESCRIPTION,
    Step.DAY: Step.WHEN,
    Step.PART: Step.DAY,
    Step.PREVIEW: Step.WHEN,
}


@ASK.previous
def previous(turn: AskTurn) -> str:
    """Where ⬅ leads from the turn's step (the name asks itself again)."""
    state = Step(turn.state or Step.B_NAME)
    if turn.draft.editing and state in EDITABLE:
        return Step.PREVIEW
    return _PREVIOUS.get(state, Step.B_NAME)


def is_member(turn: AskTurn) -> bool:
    """A referent, a coordinator or an approved volunteer (their phone is optional)."""
    member = turn.who.member
    if member.roles & {Role.REFERENT, Role.COORDINATOR}:
        return True
    return Role.VOLUNTEER in member.roles and member.volunteer_status is VolunteerStatus.APPROVED


# --- the questions -----------------------------------------------------------------------------


def _name_suggested(turn: AskTurn) -> ReplyKeyboardMarkup:
    """The person's Telegram name, offered as the answer."""
    suggestion = turn.who.member.display_name[:MAX_NAME_LENGTH] or "/cancel"
    return ReplyKeyboardMarkup([[suggestion]], resize_keyboard=True, one_time_keyboard=True)


def _phone_keyboard(turn: AskTurn) -> Markup:
    """Share my number; Skip for the brigade's members; ⬅."""
    rows = [[SKIP_LABEL, BACK_LABEL]] if is_member(turn) else [[BACK_LABEL]]
    return pickers.share_number(*rows)(turn)


ASK.prompt(
    Step.B_NAME,
    N_(
        "You are asking the brigade for help for yourself. A few questions: you can go back at "
        "every step, or stop with /cancel. A referent or a coordinator checks each request "
        "before volunteers are offered it.\n\n"
        "What first name (or initials) should the volunteer who helps you see?"
    ),
    _name_suggested,
)
ASK.prompt(
    Step.B_PHONE,
    N_(
        "What is your phone number? Only the volunteer who takes your request will see it, to "
        "call you before coming."
    ),
    _phone_keyboard,
)
ASK.prompt(
    Step.B_PLACE,
    N_(
        "Where do you live? Type your address (number, street, town), or send your location.\n\n"
        "Volunteers only see the street and the neighbourhood until one of them takes your "
        "request."
    ),
    location(SEND_A_LOCATION),
)
ASK.prompt(
    Step.B_CONSENT,
    N_(
        "Do you agree that your name, phone and address are given to the volunteer who takes "
        "your request (and to nobody else)?"
    ),
    choices("consent", [("yes", N_("Yes, I agree")), ("no", N_("No"))], per_row=2),
)
ASK.prompt(
    Step.NO_CONSENT,
    N_(
        "Without your agreement the request cannot be sent: the volunteer who takes it needs "
        "your name, phone and address to help you. Go back to change the answer, or stop with "
        "/cancel."
    ),
    back,
)
request_questions(ASK)


@ASK.question(Step.WHERE)
async def at_home(turn: AskTurn) -> State:
    """The help takes place at the person's home: on to when."""
    turn.draft.elsewhere = None
    return await turn.ask(Step.WHEN)


@ASK.question(Step.PLACES)
async def one_volunteer(turn: AskTurn) -> State:
    """One volunteer: on to the preview."""
    turn.draft.places = 1
    return await turn.ask(Step.PREVIEW)


@ASK.question(Step.PREVIEW)
async def ask_preview(turn: AskTurn) -> None:
    """The request as volunteers will see it, the private part apart, edit buttons, Send."""
    _ = turn._
    turn.draft.editing = False
    edits = [ASK.button(_(label), "edit", step) for step, label in EDIT_BUTTONS]
    keyboard = InlineKeyboardMarkup(
        [
            edits,
            [ASK.button(_("📨 Send for validation"), "send")],
            ASK.back_row(_, cancel=True),
        ]
    )
    await turn.say(await preview_text(turn), keyboard, html=True)


# --- the answers -------------------------------------------------------------------------------


async def start_asking(turn: AskTurn) -> State:
    """/ask: anyone may ask for themselves."""
    return await turn.ask(Step.B_NAME)


async def on_phone(turn: AskTurn) -> State:
    """Keep the number shared or typed; none only for the brigade's members."""
    phone = await pickers.phone_reply(turn, PHONE_TEXTS)
    if phone is pickers.Again.ASKED:
        return None
    if phone is None and not is_member(turn):
        await turn.say(turn._(PHONE_NEEDED))
        return None
    turn.draft.beneficiary.phone = phone
    # A text message, so that it takes the phone keyboard away.
    await turn.say(turn._("Thank you."), ReplyKeyboardRemove())
    return await turn.ask(Step.B_PLACE)


async def on_send(turn: AskTurn, button: Callback) -> State:
    """Send the request for validation, once (checked again like /new's Post)."""
    _ = turn._
    request, elsewhere = await checked_request(turn)
    if request is None:
        return elsewhere
    # Nothing is committed if this raises: the stored answers stay, Send can be tapped again.
    asked = await turn.services.requests.ask(turn.user_id, request)
    if asked is Outcome.INVALID:
        await turn.say(_("Some answers are missing or no longer valid. Let's check them."))
        return await turn.ask(Step.B_PHONE if request.beneficiary else Step.PREVIEW)
    await turn.drop_buttons()
    if not isinstance(asked, Asked):
        await turn.say(
            _(
                "You already have requests waiting for validation. Please wait for an answer "
                "before asking again."
            )
        )
        return END
    await turn.say(
        _(
            "📨 Your request #{id} was sent for validation to the referents and coordinators of "
            "the brigade. Nobody is offered it before; you will get a message as soon as it is "
            "validated (or not).",
            id=asked.request_id,
        )
    )
    return END


def build_ask_conversation() -> ConversationHandler[BrigadeContext]:
    """/ask, persistent across restarts."""
    pin = ASK.pin(on_home_pin)
    return ASK.build(
        entry_points=[ASK.start_command("ask", start_asking)],
        states={
            Step.B_NAME: [
                ASK.keep_text("beneficiary.name", MAX_NAME_LENGTH, BAD_NAME, then=Step.B_PHONE)
            ],
            Step.B_PHONE: [ASK.contact(on_phone), ASK.text(on_phone)],
            Step.B_PLACE: [pin, ASK.text(on_home_address)],
            Step.B_CONFIRM: [
                ASK.on("place", on_home_confirmed, values=["yes"]),
                ASK.on("place", retry_address, values=["no"]),
                pin,
            ],
            Step.B_NOTES: [
                ASK.keep_text(
                    "beneficiary.notes", MAX_NOTES_LENGTH, BAD_NOTES, then=Step.B_CONSENT
                ),
                ASK.on("skip", skip_notes(then=Step.B_CONSENT)),
            ],
            Step.B_CONSENT: [ASK.on("consent", on_consent, values=["yes", "no"])],
            Step.NO_CONSENT: [],
            Step.NEED: [ASK.on("skill", on_need)],
            Step.DESCRIPTION: [ASK.text(on_description)],
            **when_states(ASK, on_when, on_part),
            Step.PREVIEW: [
                ASK.on("edit", on_edit, values=sorted(EDITABLE)),
                ASK.on("send", on_send),
            ],
        },
        # /ask mid-way starts over.
        fallbacks=[ASK.command("ask", start_asking, restart=True)],
    )
