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

from bot.context import BrigadeContext
from conversations.posting.answers import (
    on_b_name,
    on_b_notes,
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
    on_where,
    skip_b_notes,
    skip_b_phone,
    start_posting,
)
from conversations.posting.draft import (
    B_CONFIRM,
    B_CONSENT,
    B_NAME,
    B_NOTES,
    B_PHONE,
    B_PLACE,
    BENEFICIARY,
    DAY,
    DESCRIPTION,
    NEED,
    NO_CONSENT,
    PART,
    PLACES,
    POSTING,
    PREVIEW,
    W_CONFIRM,
    W_PLACE,
    WHEN,
    WHERE,
)

# (Importing `answers` imports `questions`, which registers each step's question.)
__all__ = ["POSTING", "build_posting_conversation"]


def build_posting_conversation() -> ConversationHandler[BrigadeContext]:
    """/new, persistent across restarts."""
    # A pin sent with 📎 while the address found is being confirmed replaces it.
    home_pin, elsewhere_pin = POSTING.pin(on_home_pin), POSTING.pin(on_elsewhere_pin)
    return POSTING.build(
        entry_points=[POSTING.start_command("new", start_posting)],
        states={
            BENEFICIARY: [POSTING.on("benef", on_beneficiary)],
            B_NAME: [POSTING.text(on_b_name)],
            B_PHONE: [
                POSTING.contact(on_b_phone),
                POSTING.text(on_b_phone),
                POSTING.on("skip", skip_b_phone),
            ],
            B_PLACE: [home_pin, POSTING.text(on_home_address)],
            B_CONFIRM: [POSTING.on("place", on_home_confirmed), home_pin],
            B_NOTES: [POSTING.text(on_b_notes), POSTING.on("skip", skip_b_notes)],
            B_CONSENT: [POSTING.on("consent", on_consent)],
            NO_CONSENT: [],
            NEED: [POSTING.on("skill", on_need)],
            DESCRIPTION: [POSTING.text(on_description)],
            WHERE: [POSTING.on("where", on_where)],
            W_PLACE: [elsewhere_pin, POSTING.text(on_elsewhere_address)],
            W_CONFIRM: [POSTING.on("place", on_elsewhere_confirmed), elsewhere_pin],
            WHEN: [POSTING.on("when", on_when)],
            DAY: [POSTING.on("day", on_day)],
            PART: [POSTING.on("part", on_part)],
            PLACES: [POSTING.on("places", on_places)],
            PREVIEW: [POSTING.on("edit", on_edit), POSTING.on("post", on_post)],
        },
        # /new mid-way starts over.
        fallbacks=[POSTING.command("new", start_posting, restart=True)],
    )
