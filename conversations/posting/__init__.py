"""/new: a referent posts a request on behalf of someone they support.

Steps: who it is for (one of the referent's own beneficiaries, or someone new: name, phone,
place, access notes, consent), the need, a description, where, when, how many volunteers, then a
preview of what volunteers will see (and, apart, what only the claimer will see) with one edit
button per field, and Post. ⬅ and /cancel work at every step, anything unexpected is asked again
(conversations/base.py).

- `draft`: the steps, the `PostingDraft`, where ⬅ leads;
- `questions`: the question of each step;
- `answers`: the handler of each step and verb;
- `preview`: the preview and the answer once posted.
"""

from __future__ import annotations

from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from conversations.base import State
from conversations.posting.answers import (
    BAD_NAME,
    BAD_NOTES,
    MAX_NAME_LENGTH,
    MAX_NOTES_LENGTH,
    at_home,
    choose_day,
    elsewhere,
    on_b_phone,
    on_beneficiary,
    on_consent,
    on_day,
    on_description,
    on_edit,
    on_elsewhere_address,
    on_elsewhere_confirmed,
    on_elsewhere_pin,
    on_home_address,
    on_home_confirmed,
    on_home_pin,
    on_need,
    on_part,
    on_places,
    on_post,
    on_when,
    retry_address,
    skip_b_notes,
    skip_b_phone,
    start_posting,
)
from conversations.posting.draft import (
    EDITABLE,
    POSTING,
    PostingTurn,
    Step,
)
from conversations.posting.questions import PARTS, PLACES_CHOICES

# (Importing `answers` imports `questions`, which registers each step's question.)
__all__ = ["POSTING", "build_posting_conversation"]


async def start_from_menu(turn: PostingTurn, button: Callback) -> State:
    """/start's "➕ New request" button: /new."""
    await turn.answer()
    return await start_posting(turn)


def build_posting_conversation() -> ConversationHandler[BrigadeContext]:
    """/new, persistent across restarts."""
    # A pin sent with 📎 while the address found is being confirmed replaces it.
    home_pin, elsewhere_pin = POSTING.pin(on_home_pin), POSTING.pin(on_elsewhere_pin)
    # Yes: the address found; no: the address again.
    home_found = POSTING.on("place", on_home_confirmed, values=["yes"])
    elsewhere_found = POSTING.on("place", on_elsewhere_confirmed, values=["yes"])
    retry = POSTING.on("place", retry_address, values=["no"])
    return POSTING.build(
        entry_points=[
            POSTING.start_command("new", start_posting),
            POSTING.start_tap(start_from_menu, action=Action.MENU, verb="new"),
        ],
        states={
            Step.BENEFICIARY: [POSTING.on("benef", on_beneficiary)],
            Step.B_NAME: [
                POSTING.keep_text("beneficiary.name", MAX_NAME_LENGTH, BAD_NAME, then=Step.B_PHONE)
            ],
            Step.B_PHONE: [
                POSTING.contact(on_b_phone),
                POSTING.text(on_b_phone),
                POSTING.on("skip", skip_b_phone),
            ],
            Step.B_PLACE: [home_pin, POSTING.text(on_home_address)],
            Step.B_CONFIRM: [home_found, retry, home_pin],
            Step.B_NOTES: [
                POSTING.keep_text(
                    "beneficiary.notes", MAX_NOTES_LENGTH, BAD_NOTES, then=Step.B_CONSENT
                ),
                POSTING.on("skip", skip_b_notes),
            ],
            Step.B_CONSENT: [POSTING.on("consent", on_consent, values=["yes", "no"])],
            Step.NO_CONSENT: [],
            Step.NEED: [POSTING.on("skill", on_need)],
            Step.DESCRIPTION: [POSTING.text(on_description)],
            Step.WHERE: [
                POSTING.on("where", at_home, values=["home"]),
                POSTING.on("where", elsewhere, values=["else"]),
            ],
            Step.W_PLACE: [elsewhere_pin, POSTING.text(on_elsewhere_address)],
            Step.W_CONFIRM: [elsewhere_found, retry, elsewhere_pin],
            Step.WHEN: [
                POSTING.on("when", on_when, values=["asap", "today"]),
                POSTING.on("when", choose_day, values=["day"]),
            ],
            Step.DAY: [POSTING.on("day", on_day)],
            Step.PART: [POSTING.on("part", on_part, values=list(PARTS))],
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
        ],
    )
