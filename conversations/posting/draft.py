"""/new's steps, its draft, and where ⬅ leads from each step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.callbacks import Action
from bot.i18n import N_, Translator
from bot.services.requests import BeneficiaryDetails, RequestDraft
from conversations.base import Conversation, Texts, Turn
from conversations.places import Spot
from handlers.common import NO_LONGER_VALID


class Step(StrEnum):
    """/new's steps (stored between updates: keep the values)."""

    BENEFICIARY = "benef"
    B_NAME = "bname"
    B_PHONE = "bphone"
    B_PLACE = "bplace"
    B_CONFIRM = "bconf"
    B_NOTES = "bnotes"
    B_CONSENT = "consent"
    NO_CONSENT = "noconsent"
    NEED = "need"
    DESCRIPTION = "desc"
    WHERE = "where"
    W_PLACE = "wplace"
    WHEN = "when"
    DAY = "day"
    PART = "part"
    PLACES = "places"
    PREVIEW = "preview"


# The preview's edit buttons: (step to jump to, label). Where, when and how many are not asked on
# the way (at home, as soon as possible, one volunteer): the preview shows them on these buttons.
EDIT_BUTTONS: tuple[tuple[str, str], ...] = (
    (Step.NEED, N_("✏️ Need")),
    (Step.DESCRIPTION, N_("✏️ Description")),
    (Step.WHERE, N_("✏️ Where")),
    (Step.WHEN, N_("✏️ When")),
    (Step.PLACES, N_("✏️ Volunteers")),
)
EDITABLE = frozenset(step for step, _label in EDIT_BUTTONS)


@dataclass
class Beneficiary:
    """Who the request is for: one of the referent's own (`id`), or someone new."""

    id: int | None = None
    name: str = ""
    phone: str | None = None
    home: Spot | None = None
    notes: str | None = None
    consent: bool = False
    # An existing beneficiary who had not agreed yet was asked again (⬅ from the need leads there).
    consent_asked: bool = False


@dataclass
class PostingDraft:
    """The answers given so far."""

    beneficiary: Beneficiary = field(default_factory=Beneficiary)
    # An address found for a typed one, until it is confirmed.
    found: Spot | None = None
    skill_id: int | None = None
    description: str | None = None
    # Where the help takes place when it is not at the person's home.
    elsewhere: Spot | None = None
    when: str | None = None  # "asap", "today" or "slot"
    day: str | None = None  # the ISO date chosen for a slot
    starts_at: str | None = None  # the slot's start, ISO, UTC
    day_part: str | None = None  # the slot's part of the day ("morning"…)
    places: int = 1
    # Reached from a preview's edit button: the step leads back to the preview.
    editing: bool = False

    @property
    def place(self) -> Spot | None:
        """Where the help takes place."""
        return self.elsewhere or self.beneficiary.home

    def person(self, _: Translator) -> str:
        """The beneficiary's name, or "the person"."""
        return self.beneficiary.name or _("the person")

    def request(self, now: datetime) -> RequestDraft | None:
        """What the service posts; None while an answer is missing."""
        place, beneficiary = self.place, self.beneficiary
        if place is None or self.skill_id is None or not self.description:
            return None
        when = self.when or "asap"
        starts_at = datetime.fromisoformat(self.starts_at) if self.starts_at else None
        if when != "slot":
            # "today": volunteers then read "today" (no start time is shown for it).
            starts_at = now if when == "today" else None
        details = None
        if beneficiary.id is None:
            if not beneficiary.name or beneficiary.home is None:
                return None
            details = BeneficiaryDetails(
                name=beneficiary.name,
                phone=beneficiary.phone,
                address=beneficiary.home.label,
                latitude=beneficiary.home.latitude,
                longitude=beneficiary.home.longitude,
                access_notes=beneficiary.notes,
                consent=beneficiary.consent,
            )
        return RequestDraft(
            skill_id=self.skill_id,
            description=self.description,
            latitude=place.latitude,
            longitude=place.longitude,
            area_label=place.area,
            places_needed=self.places,
            when_kind=when,
            starts_at=starts_at,
            day_part=self.day_part if when == "slot" else None,
            beneficiary_id=beneficiary.id,
            beneficiary=details,
        )


ALREADY_POSTED = N_("This request has already been posted.")

POSTING = Conversation(
    "posting",
    Action.POST,
    PostingDraft,
    Texts(
        cancelled=N_(
            "Request cancelled: nothing was posted, nothing was kept. Send /new to start again."
        ),
        busy=N_("You are posting a request. Answer the question above, or send /cancel to stop."),
        ended=(NO_LONGER_VALID, N_("Send /new to post a request.")),
        finished={"post": ALREADY_POSTED},
    ),
)
PostingTurn = Turn[PostingDraft]

# Where ⬅ leads; the steps a preview edit jumps to go back to the preview instead (where, when
# and how many are only reached from there).
_PREVIOUS = {
    Step.B_CONSENT: Step.BENEFICIARY,
    Step.NO_CONSENT: Step.B_CONSENT,
    Step.B_NAME: Step.B_CONSENT,
    Step.B_PHONE: Step.B_NAME,
    Step.B_PLACE: Step.B_NAME,
    Step.B_NOTES: Step.B_PLACE,
    Step.DESCRIPTION: Step.NEED,
    Step.WHERE: Step.PREVIEW,
    Step.W_PLACE: Step.WHERE,
    Step.WHEN: Step.PREVIEW,
    Step.DAY: Step.WHEN,
    Step.PART: Step.DAY,
    Step.PLACES: Step.PREVIEW,
    Step.PREVIEW: Step.DESCRIPTION,
}


@POSTING.previous
def previous(turn: PostingTurn) -> str:
    """Where ⬅ leads from the turn's step."""
    draft, state = turn.draft, Step(turn.state or Step.BENEFICIARY)
    if draft.editing and state in EDITABLE:
        return Step.PREVIEW
    if state == Step.NEED:
        if draft.beneficiary.id is None:
            return Step.B_PLACE
        return Step.B_CONSENT if draft.beneficiary.consent_asked else Step.BENEFICIARY
    return _PREVIOUS.get(state, Step.BENEFICIARY)


async def forward(turn: PostingTurn, state: str) -> str | int | None:
    """The next step, or the preview when the step was reached from its edit button."""
    return await turn.ask(Step.PREVIEW if turn.draft.editing else state)
