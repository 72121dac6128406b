"""/new's answers: one handler per step and verb, each returning the next step.

Posting takes the tap's draft as it was stored: if the service fails, the exception leaves the
stored answers untouched and Post can be tapped again; once posted, the conversation ends and
the draft goes, so that a second tap on Post is told the request is already posted.
"""

from __future__ import annotations

import re
from typing import Any

from telegram import ReplyKeyboardRemove

from bot.callbacks import Callback
from bot.domain.vocabulary import Role
from bot.i18n import N_
from bot.services.profile import PHONE_PATTERN
from bot.services.requests import RequestDraft
from bot.text import one_line, several_lines
from conversations.base import END, Conversation, Spec, State, Turn
from conversations.pickers import Again, PhoneTexts, phone_reply
from conversations.places import AddressTexts, Spot, address_said, find_address, name_of, pin_of
from conversations.posting.draft import (
    Beneficiary,
    PostingDraft,
    PostingTurn,
    Step,
    forward,
)
from conversations.posting.preview import posted_text
from conversations.posting.questions import (
    MAX_DESCRIPTION_LENGTH,
    PARTS,
    offered_day,
    slot_start,
)
from conversations.turn import D, TapStep
from handlers.common import NO_LONGER_VALID

MAX_NAME_LENGTH = 64
BAD_NAME = N_("Please send a first name or initials, 1 to {max} characters.")
BAD_NOTES = N_("Please keep it under {max} characters, or tap “Skip”.")
PHONE_TEXTS = PhoneTexts(
    none=None,  # (the inline "Skip")
    not_a_number=N_("That does not look like a phone number. Type it again, or tap “Skip” above."),
    wrong_contact=N_(
        "This is your own number. Share {name}'s contact, type their number, or tap “Skip”."
    ),
)
MAX_NOTES_LENGTH = 300
NAME_TOO = N_(
    "I have the phone number. Please type the person's name too (at most {max} characters)."
)
UNREADABLE_PHONE = N_(
    "I kept the name {name}, but I could not read a phone number in your message."
)
LONG_NOTES = N_(
    "What helps to get in must stay under {max} characters. Please type the address and a "
    "shorter note."
)
ADDRESS_KEPT = N_(
    "📍 Address kept: {address}\nNot the right place? Tap “⬅ Back” below and type it again."
)
SLOT_PASSED = N_("This time has already passed. Choose a later one.")
NOT_A_REFERENT = N_(
    "Only the brigade's referents — social workers, nurses and other professionals invited by "
    "a coordinator — can post requests. If you know someone who needs help, please tell their "
    "referent or a coordinator of the brigade."
)
# Where the help takes place, or where the person lives.
ADDRESS = AddressTexts(
    too_short=N_("Please type a number, a street and a town, or send a location."),
    unavailable=N_(
        "Address search is not available right now. Please send a location instead "
        "(📎 → Location lets you send any point)."
    ),
    not_found=N_(
        "I could not find this address. Try with the number, the street and the town "
        "(e.g. “{example}”), or send a location."
    ),
)


async def start_posting(turn: PostingTurn) -> State:
    """/new: referents begin a request; anyone else is told who can post."""
    if Role.REFERENT not in turn.who.member.roles:
        await turn.say(turn._(NOT_A_REFERENT))
        return END
    return await turn.ask(Step.BENEFICIARY)


# --- who it is for -----------------------------------------------------------------------------


async def on_beneficiary(turn: PostingTurn, button: Callback) -> State:
    """Someone new (their consent first), or one of the referent's own: their place, phone and
    notes are reused."""
    value = button.str_arg(1)
    if value == "new":
        turn.draft.beneficiary = Beneficiary()
        return await turn.ask(Step.B_CONSENT)
    if not value.isdigit():
        return await turn.stale()
    details = await turn.services.requests.beneficiary_place(turn.user_id, int(value))
    if details is None:
        await turn.answer(turn._("This person is no longer in your list."))
        return await turn.ask(Step.BENEFICIARY)
    await turn.answer()
    place = await name_of(turn, details.latitude, details.longitude)
    turn.draft.beneficiary = Beneficiary(
        id=int(value),
        name=details.name,
        phone=details.phone,
        home=Spot(
            details.latitude,
            details.longitude,
            details.address,
            place.area_label if place is not None else "",
        ),
        notes=details.access_notes,
        consent=details.consent,
        consent_asked=not details.consent,
    )
    return await turn.ask(Step.NEED if details.consent else Step.B_CONSENT)


async def on_posting_consent(turn: PostingTurn, button: Callback) -> State:
    """Agreed: the person's name and phone (someone new) or the need; not: nothing is asked,
    nothing is kept."""
    return await _consented(turn, button.str_arg(1) == "yes")


async def on_consent_typed(turn: PostingTurn) -> State:
    """ "oui", "yes", "ja" (or no) typed instead of tapped: understood."""
    agreed = turn.yes_or_no()
    if agreed is None:
        return await turn.not_understood()
    return await _consented(turn, agreed)


async def _consented(turn: PostingTurn, agreed: bool) -> State:
    beneficiary = turn.draft.beneficiary
    beneficiary.consent = agreed
    if not agreed:
        return await turn.ask(Step.NO_CONSENT)
    return await turn.ask(Step.NEED if beneficiary.id is not None else Step.B_NAME)


# A phone number inside a message ("Odette Martin 06 12 34 56 78", "+33 6 12 34 56 78, Odette").
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d .()/-]{4,}\d")
_DIGITS = re.compile(r"\d")
# What may separate the name from the number.
_SEPARATORS = " ,;:/-–—()"


def name_and_phone(text: str) -> tuple[str, str | None, bool]:
    """The name and the phone number typed in one message: (name, phone or None, whether some
    digits were typed that do not make a phone number)."""
    found = _PHONE_IN_TEXT.search(text)
    if found is not None:
        phone = found.group().strip()
        digits = len(_DIGITS.findall(phone))
        if 6 <= digits <= 15 and PHONE_PATTERN.match(phone):
            name = (text[: found.start()] + " " + text[found.end() :]).strip(_SEPARATORS)
            return one_line(name), phone, False
    if _DIGITS.search(text):
        name = _DIGITS.sub(" ", text).strip(_SEPARATORS)
        return one_line(name.replace("+", " ")), None, True
    return one_line(text.strip(_SEPARATORS)), None, False


async def on_b_name(turn: PostingTurn) -> State:
    """The name and phone in one message (or a shared contact); the phone asked apart, the name
    kept, when it is missing or cannot be read."""
    _, beneficiary = turn._, turn.draft.beneficiary
    contact = turn.message.contact
    phone: str | None
    if contact is not None:
        name = one_line(f"{contact.first_name} {contact.last_name or ''}")
        phone, unreadable = one_line(contact.phone_number), False
    else:
        name, phone, unreadable = name_and_phone(turn.text)
    if not name and phone is not None:
        beneficiary.phone = phone
        await turn.say(_(NAME_TOO, max=MAX_NAME_LENGTH))
        return None
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        await turn.say(_(BAD_NAME, max=MAX_NAME_LENGTH))
        return None
    beneficiary.name = name
    beneficiary.phone = phone or beneficiary.phone
    if beneficiary.phone is not None:
        return await turn.ask(Step.B_PLACE)
    if unreadable:
        await turn.say(_(UNREADABLE_PHONE, name=name))
    return await turn.ask(Step.B_PHONE)


async def on_b_phone(turn: PostingTurn) -> State:
    """Keep a shared contact's or a typed number (not the referent's own)."""
    phone = await phone_reply(turn, PHONE_TEXTS, own=False, name=turn.draft.person(turn._))
    if phone is Again.ASKED:
        return None
    turn.draft.beneficiary.phone = phone
    return await turn.ask(Step.B_PLACE)


async def skip_b_phone(turn: PostingTurn, button: Callback) -> State:
    """No phone."""
    turn.draft.beneficiary.phone = None
    return await turn.ask(Step.B_PLACE)


async def _address_found(turn: PostingTurn, confirm: str) -> State:
    """Geocode a typed address, then ask to confirm what was found (/ask)."""
    place = await address_said(turn, ADDRESS, N_("I found: {address}"), short=True)
    if place is None:
        return None
    turn.draft.found = Spot.of(place)
    return await turn.ask(confirm)


async def on_home_address(turn: PostingTurn) -> State:
    """The person's address, typed (/ask: then confirmed)."""
    return await _address_found(turn, Step.B_CONFIRM)


async def on_typed_home(turn: PostingTurn) -> State:
    """/new: the person's address on the first line, what helps to get in on the next ones;
    the address found is kept and said once (⬅ to type it again), then the need."""
    first, *rest = several_lines(turn.message.text or "").split("\n")
    notes = one_line(" ".join(rest))
    if len(notes) > MAX_NOTES_LENGTH:
        await turn.say(turn._(LONG_NOTES, max=MAX_NOTES_LENGTH))
        return None
    place = await find_address(turn, ADDRESS, one_line(first))
    if place is None:
        return None
    beneficiary = turn.draft.beneficiary
    beneficiary.home, beneficiary.notes = Spot.of(place), notes or None
    await turn.say(
        turn._(ADDRESS_KEPT, address=place.short_label),
        ReplyKeyboardRemove(),
    )
    return await turn.ask(Step.NEED)


async def on_home_pin(turn: PostingTurn) -> State:
    """The person's place as a pin, named by its street if the geocoder can."""
    latitude, longitude, place = await pin_of(turn)
    turn.draft.found = None
    turn.draft.beneficiary.home = Spot(
        latitude,
        longitude,
        place.short_label if place is not None else None,
        place.area_label if place is not None else "",
    )
    await turn.say(turn._("Location received."), ReplyKeyboardRemove())
    return await turn.ask(Step.B_NOTES)


async def on_home_confirmed(turn: PostingTurn, button: Callback) -> State:
    """Yes: the address found is the person's (then the access notes)."""
    found, turn.draft.found = turn.draft.found, None
    if found is None:
        return await turn.ask(Step.B_PLACE)
    turn.draft.beneficiary.home = found
    return await turn.ask(Step.B_NOTES)


async def retry_address(turn: PostingTurn, button: Callback) -> State:
    """No, try again: the address question."""
    turn.draft.found = None
    return await turn.ask(Step.B_PLACE)


def skip_notes(then: str) -> TapStep[PostingDraft]:
    """“Skip” under the access notes: none, then the question of `then` (/ask: the consent;
    /new, after a pin: the need)."""

    async def skipped(turn: PostingTurn, button: Callback) -> State:
        turn.draft.beneficiary.notes = None
        return await turn.ask(then)

    return skipped


async def on_consent(turn: PostingTurn, button: Callback) -> State:
    """/ask: agreed, on to the need; not: nothing can be posted."""
    turn.draft.beneficiary.consent = button.str_arg(1) == "yes"
    return await turn.ask(Step.NEED if turn.draft.beneficiary.consent else Step.NO_CONSENT)


# --- what, where, when, how many ---------------------------------------------------------------


async def on_need(turn: PostingTurn, button: Callback) -> State:
    """Keep the skill needed (one of the active ones)."""
    value = button.str_arg(1)
    active = {skill.id for skill in await turn.services.skills.active()}
    if not value.isdigit() or int(value) not in active:
        return await turn.stale()
    turn.draft.skill_id = int(value)
    return await forward(turn, Step.DESCRIPTION)


async def description_typed(turn: Turn[Any]) -> str | None:
    """The description typed (its lines kept): "" if nothing was typed, None once asked for a
    shorter one. Also what changes a posted request's description (/mine)."""
    text = several_lines(turn.message.text or "")
    if len(text) > MAX_DESCRIPTION_LENGTH:
        await turn.say(
            turn._(
                "This text is too long ({length}/{max} characters). Please shorten it.",
                length=len(text),
                max=MAX_DESCRIPTION_LENGTH,
            )
        )
        return None
    return text


async def on_description(turn: PostingTurn) -> State:
    """Keep the description, or ask for a shorter one; then where (/ask)."""
    return await _described(turn, Step.WHERE)


async def on_posting_description(turn: PostingTurn) -> State:
    """/new: keep the description, or ask for a shorter one; then the preview, where where, when
    and how many show their defaults."""
    return await _described(turn, Step.PREVIEW)


async def _described(turn: PostingTurn, then: str) -> State:
    text = await description_typed(turn)
    if text is None:
        return None
    if not text:
        return await turn.ask(Step.DESCRIPTION)
    turn.draft.description = text
    return await forward(turn, then)


async def at_home(turn: PostingTurn, button: Callback) -> State:
    """At the person's home: then when."""
    turn.draft.elsewhere = None
    return await forward(turn, Step.WHEN)


async def elsewhere(turn: PostingTurn, button: Callback) -> State:
    """Somewhere else: which place."""
    return await turn.ask(Step.W_PLACE)


async def on_elsewhere_address(turn: PostingTurn) -> State:
    """The place of the service, typed: kept, said once, then the preview."""
    place = await address_said(turn, ADDRESS, N_("📍 {address}"), short=True)
    if place is None:
        return None
    turn.draft.elsewhere = Spot(place.latitude, place.longitude, area=place.area_label)
    return await forward(turn, Step.WHEN)


async def on_elsewhere_pin(turn: PostingTurn) -> State:
    """The place of the service as a pin."""
    latitude, longitude, place = await pin_of(turn)
    turn.draft.found = None
    area = place.area_label if place is not None else ""
    turn.draft.elsewhere = Spot(latitude, longitude, area=area)
    await turn.say(turn._("Location received."), ReplyKeyboardRemove())
    return await forward(turn, Step.WHEN)


async def on_when(turn: PostingTurn, button: Callback) -> State:
    """As soon as possible or today: then how many."""
    draft = turn.draft
    draft.when, draft.starts_at, draft.day, draft.day_part = button.str_arg(1), None, None, None
    return await forward(turn, Step.PLACES)


async def choose_day(turn: Turn[Any], button: Callback) -> State:
    """📅 Choose a day: the days offered."""
    return await turn.ask(Step.DAY)


async def on_day(turn: Turn[Any], button: Callback) -> State:
    """Keep the day (one of those offered) in the draft's `day`, then the part of the day."""
    day = offered_day(turn, button.str_arg(1))
    if day is None:
        await turn.answer(turn._(NO_LONGER_VALID))
        return await turn.ask(Step.DAY)
    turn.draft.day = day
    return await turn.ask(Step.PART)


def when_states(
    flow: Conversation[D], on_when: TapStep[D], on_part: TapStep[D]
) -> dict[str, list[Spec]]:
    """The handlers of the steps `when_questions` asks (when, which day, which part), for a
    conversation's `states`: `on_when` keeps "as soon as possible" or "today", `on_part` the
    slot; the day in between is kept by `on_day`."""
    return {
        Step.WHEN: [
            flow.on("when", on_when, values=["asap", "today"]),
            flow.on("when", choose_day, values=["day"]),
        ],
        Step.DAY: [flow.on("day", on_day)],
        Step.PART: [flow.on("part", on_part, values=list(PARTS))],
    }


async def on_part(turn: PostingTurn, button: Callback) -> State:
    """Keep the slot, unless it has already passed."""
    value, day = button.str_arg(1), turn.draft.day
    if day is None:
        return await turn.stale()
    starts_at = slot_start(turn, day, value)
    if starts_at is None:
        await turn.answer(turn._(SLOT_PASSED))
        return None
    turn.draft.when, turn.draft.starts_at = "slot", starts_at.isoformat()
    turn.draft.day_part = value
    return await forward(turn, Step.PLACES)


async def on_places(turn: PostingTurn, button: Callback) -> State:
    """Keep how many volunteers, then the preview."""
    turn.draft.places = int(button.str_arg(1))
    return await turn.ask(Step.PREVIEW)


# --- the preview -------------------------------------------------------------------------------


async def on_edit(turn: PostingTurn, button: Callback) -> State:
    """An edit button: that step, then back to the preview."""
    turn.draft.editing = True
    return await turn.ask(button.str_arg(1))


async def checked_request(turn: PostingTurn) -> tuple[RequestDraft | None, State]:
    """The draft's request once checked again (answers, consent, a slot still ahead), the tap
    answered (the service call that follows may take a while); else None and the step asked
    instead, the tap answered with what is wrong."""
    _, draft = turn._, turn.draft
    now = turn.services.clock()
    request = draft.request(now)
    if request is None:
        await turn.answer(_("Some answers are missing. Let's check them."), alert=True)
        return None, await turn.ask(Step.PREVIEW)
    if request.beneficiary is not None and not request.beneficiary.consent:
        return None, await turn.ask(Step.NO_CONSENT)
    if request.when_kind == "slot" and (request.starts_at is None or request.starts_at <= now):
        draft.editing = True
        await turn.answer(_("The chosen time has passed. Please choose another."), alert=True)
        return None, await turn.ask(Step.WHEN)
    await turn.answer()
    return request, None


async def on_post(turn: PostingTurn, button: Callback) -> State:
    """Post the request once (checked again: answers, consent, a slot still ahead)."""
    _ = turn._
    request, elsewhere = await checked_request(turn)
    if request is None:
        return elsewhere
    # Nothing is committed if this raises: the stored answers stay, Post can be tapped again.
    posted = await turn.services.requests.post(turn.user_id, request)
    # The preview's buttons are spent (an old or unchanged message may refuse the edit).
    await turn.drop_buttons()
    if posted is None:
        await turn.say(
            _(
                "The request could not be posted: only referents can post, for the people they "
                "support. Nothing was kept."
            )
        )
        return END
    await turn.say(posted_text(posted, turn.services.settings.wave_delay_minutes, _))
    return END
