"""How an offer reads: the public side of a request, in a volunteer's chat or a group.

Offers show the street and neighbourhood, never the person: no name, phone or house number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import ClassVar

from telegram import InlineKeyboardMarkup

from bot import formats
from bot.callbacks import Action
from bot.domain.lifecycle import CLAIMABLE, DONE_REQUESTS
from bot.domain.vocabulary import RequestStatus
from bot.i18n import N_, Translator
from bot.messages.base import Delivery, Notice, Rendered, Town, button, keyboard
from bot.skills import skill_label
from bot.text import escaped, quoted
from storage import outbox


@dataclass(frozen=True)
class RequestView:
    """A request as volunteers may see it: no name, no phone, no house number."""

    id: int
    skill_label: str
    description: str
    area_label: str
    neighbourhood: str | None
    when_kind: str
    starts_at: datetime | None
    places_needed: int
    places_taken: int
    status: RequestStatus
    latitude: float
    longitude: float
    referent_id: int | None
    # "morning", "afternoon" or "evening": a slot wanted in that part of the day, not at a time.
    day_part: str | None = None

    @property
    def places_left(self) -> int:
        """Places still free."""
        return max(0, self.places_needed - self.places_taken)


def skill_of(view: RequestView, _: Translator) -> str:
    """The request's skill in the reader's language."""
    return skill_label(view.skill_label, _)


# A slot wanted in a part of the day, after the day: "Tuesday 8 December, in the morning".
DAY_PART_WORDS = {
    "morning": N_("in the morning"),
    "afternoon": N_("in the afternoon"),
    "evening": N_("in the evening"),
}


def when_text(view: RequestView, _: Translator, tz: tzinfo) -> str:
    """When the service is wanted, in words (a part of the day, not a time nobody set)."""
    if view.when_kind == "asap" or view.starts_at is None:
        return _("as soon as possible")
    if view.when_kind == "today":
        return _("today")
    if view.day_part in DAY_PART_WORDS:
        return f"{formats.day(view.starts_at, _, tz)}, {_(DAY_PART_WORDS[view.day_part])}"
    return formats.day_and_time(view.starts_at, _, tz)


def places_text(view: RequestView, _: Translator) -> str:
    """Places left, or why the request no longer takes volunteers."""
    if view.status is RequestStatus.CANCELLED:
        return _("❌ Cancelled by the referent.")
    if view.status is RequestStatus.EXPIRED:
        return _("⌛ Expired.")
    if view.status in DONE_REQUESTS:
        return _("✅ Done. Thank you!")
    if view.places_left == 0:
        return _("✅ Taken. Thank you!")
    return _.ngettext(
        "👥 {count} volunteer needed", "👥 {count} volunteers needed", view.places_left
    )


def offer_text(
    view: RequestView, _: Translator, tz: tzinfo, distance_km: float | None = None
) -> str:
    """The offer a volunteer or a group reads (HTML): what, where (roughly), when, places.

    The referent's description is quoted, so that no line of it passes for the bot's own.
    """
    area = view.area_label or view.neighbourhood or ""
    if view.neighbourhood and view.neighbourhood not in area:
        area = f"{area}, {view.neighbourhood}" if area else view.neighbourhood
    where = _("Where: {area}", area=area)
    if distance_km is not None:
        where += " " + _("({distance} km from you)", distance=formats.distance(distance_km, _))
    lines = [escaped(_("🙋 Request #{id}: {skill}", id=view.id, skill=skill_of(view, _)))]
    if view.description:
        lines.append(quoted(view.description))
    lines += [
        escaped(where),
        escaped(_("When: {when}", when=when_text(view, _, tz))),
        escaped(places_text(view, _)),
    ]
    return "\n".join(lines)


def offer_keyboard(
    view: RequestView, _: Translator, *, direct: bool
) -> InlineKeyboardMarkup | None:
    """Claim (and, in a private chat, Not for me) while places remain."""
    if view.status not in CLAIMABLE or view.places_left == 0:
        return None
    row = [button(_("✋ I'll do it"), Action.CLAIM, view.id)]
    if direct:
        row.append(button(_("Not for me"), Action.DECLINE, view.id))
    return keyboard([row])


@dataclass(frozen=True)
class OfferCopy(Notice):
    """The first copy of an offer in one chat: a volunteer's (`direct`) or a group's."""

    priority: ClassVar[int] = outbox.BULK

    request: RequestView
    offer_id: int
    direct: bool
    distance_km: float | None = None
    silent: bool = False  # the volunteer's quiet hours
    # A new version of the town's charter awaits the volunteer's acceptance: said under the offer.
    charter_to_accept: bool = False

    def render(self, _: Translator, town: Town) -> Rendered:
        """What, where, when and places, with the Claim button while places remain."""
        text = offer_text(self.request, _, town.tz, self.distance_km)
        if self.charter_to_accept:
            text += "\n\n" + escaped(
                _(
                    "📜 A new version of the brigade's charter awaits your acceptance: send "
                    "/charter to read it."
                )
            )
        return Rendered(text, offer_keyboard(self.request, _, direct=self.direct), html=True)

    def delivery(self) -> Delivery:
        """Sent as the offer's copy (its message id is recorded on the offer)."""
        return Delivery(offer_id=self.offer_id, silent=self.silent)


@dataclass(frozen=True)
class OfferUpdate(OfferCopy):
    """An edit of a copy already offered: places left, the button gone, or why it closed."""

    method: ClassVar[str] = "edit_message_text"
    priority: ClassVar[int] = outbox.NOTICE
