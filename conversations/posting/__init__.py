"""/new: a referent posts a request on behalf of someone they support.

Steps: who it is for (one of the referent's own beneficiaries, whose place is reused; or someone
new: their consent first, then their name and phone in one message, their address with what
helps to get in on the next lines), the need, a description, then a preview of what volunteers
will see (and, apart, what only the claimer will see) with where, when and how many at their
defaults (at home, as soon as possible, one volunteer), one edit button per field, and Post:
8 actions for someone new, 5 for someone known. ⬅ and /cancel work at every step, anything
unexpected is asked again (conversations/base.py).

- `draft`: the steps, the `PostingDraft`, where ⬅ leads;
- `questions`: the question of each step;
- `answers`: the handler of each step and verb;
- `preview`: the preview and the answer once posted;
- `from_watch`: ✏️ Edit first on a watch call's request draft opens the preview, answers in.
"""

from __future__ import annotations

from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from conversations.base import State
from conversations.posting.answers import (
    BAD_NOTES,
    MAX_NOTES_LENGTH,
    at_home,
    elsewhere,
    on_b_name,
    on_b_phone,
    on_beneficiary,
    on_consent_typed,
    on_edit,
    on_elsewhere_address,
    on_elsewhere_pin,
    on_home_pin,
    on_need,
    on_part,
    on_places,
    on_post,
    on_posting_consent,
    on_posting_description,
    on_typed_home,
    on_when,
    skip_b_phone,
    skip_notes,
    start_posting,
    when_states,
)
from conversations.posting.draft import (
    EDITABLE,
    POSTING,
    PostingTurn,
    Step,
)
from conversations.posting.from_watch import from_watch_draft
from conversations.posting.questions import PLACES_CHOICES

# (Importing `answers` imports `questions`, which registers each step's question.)
__all__ = ["POSTING", "build_posting_conversation"]


async def start_from_menu(turn: PostingTurn, button: Callback) -> State:
    """/start's "➕ New request" button: /new."""
    await turn.answer()
    return await start_posting(turn)


def build_posting_conversation() -> ConversationHandler[BrigadeContext]:
    """/new, persistent across restarts."""
    return POSTING.build(
        entry_points=[
            POSTING.start_command("new", start_posting),
            POSTING.start_tap(start_from_menu, action=Action.MENU, verb="new"),
            # ✏️ Edit first, on a watch call's request draft: the preview, its answers in.
            POSTING.start_tap(from_watch_draft, action=Action.WATCH_DRAFT, verb="edit"),
        ],
        states={
            Step.BENEFICIARY: [POSTING.on("benef", on_beneficiary)],
            # Asked before any detail of the person; "oui" typed is understood too.
            Step.B_CONSENT: [
                POSTING.on("consent", on_posting_consent, values=["yes", "no"]),
                POSTING.text(on_consent_typed),
            ],
            Step.NO_CONSENT: [],
            # The name and phone in one message (or a shared contact).
            Step.B_NAME: [POSTING.contact(on_b_name), POSTING.text(on_b_name)],
            Step.B_PHONE: [
                POSTING.contact(on_b_phone),
                POSTING.text(on_b_phone),
                POSTING.on("skip", skip_b_phone),
            ],
            # The address and, on the next lines, what helps to get in; or a pin (then the
            # access notes apart, since a pin carries no text).
            Step.B_PLACE: [POSTING.pin(on_home_pin), POSTING.text(on_typed_home)],
            Step.B_NOTES: [
                POSTING.keep_text("beneficiary.notes", MAX_NOTES_LENGTH, BAD_NOTES, then=Step.NEED),
                POSTING.on("skip", skip_notes(then=Step.NEED)),
            ],
            Step.NEED: [POSTING.on("skill", on_need)],
            Step.DESCRIPTION: [POSTING.text(on_posting_description)],
            # Where, when and how many: reached from the preview's buttons, back to it.
            Step.WHERE: [
                POSTING.on("where", at_home, values=["home"]),
                POSTING.on("where", elsewhere, values=["else"]),
            ],
            Step.W_PLACE: [POSTING.pin(on_elsewhere_pin), POSTING.text(on_elsewhere_address)],
            **when_states(POSTING, on_when, on_part),
            Step.PLACES: [POSTING.on("places", on_places, values=PLACES_CHOICES)],
            Step.PREVIEW: [
                POSTING.on("edit", on_edit, values=sorted(EDITABLE)),
                POSTING.on("post", on_post),
            ],
        },
        # /new mid-way starts over.
        fallbacks=[
            POSTING.command("new", start_posting, restart=True),
            # /start's "➕ New request" mid-way starts over, as /new does.
            POSTING.restart_tap(start_from_menu, action=Action.MENU, verb="new"),
            POSTING.restart_tap(from_watch_draft, action=Action.WATCH_DRAFT, verb="edit"),
        ],
    )
