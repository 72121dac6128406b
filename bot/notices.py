"""What the request lifecycle tells people, rendered in each reader's language into outbox rows.

Every function here runs inside the use case's transaction and only *enqueues*: the message is
committed together with the state change that caused it, and the outbox sender delivers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.callbacks import Action
from bot.domain.lifecycle import CLAIMABLE
from bot.domain.vocabulary import RequestStatus
from bot.geo import distance_km
from bot.i18n import I18n, Translator
from bot.settings import Settings
from bot.skills import skill_label
from bot.text import escaped, quoted
from storage import offers, outbox
from storage.models import HelpRequest, Member, Neighbourhood, Offer, OutboxMessage, Skill


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

    @property
    def places_left(self) -> int:
        """Places still free."""
        return max(0, self.places_needed - self.places_taken)


async def load_request_view(session: AsyncSession, request_id: int) -> RequestView | None:
    """The public side of a request (one query)."""
    row = (
        await session.execute(
            select(HelpRequest, Skill.label, Neighbourhood.name)
            .join(Skill, Skill.id == HelpRequest.skill_id)
            .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
            .where(HelpRequest.id == request_id)
        )
    ).one_or_none()
    if row is None:
        return None
    request, label, neighbourhood = row
    return RequestView(
        id=request.id,
        skill_label=label,
        description=request.description,
        area_label=request.area_label,
        neighbourhood=neighbourhood,
        when_kind=request.when_kind,
        starts_at=request.starts_at,
        places_needed=request.places_needed,
        places_taken=request.places_taken,
        status=request.status,
        latitude=request.latitude,
        longitude=request.longitude,
        referent_id=request.referent_id,
    )


def _markup(rows: list[list[InlineKeyboardButton]]) -> dict[str, Any] | None:
    return InlineKeyboardMarkup(rows).to_dict() if rows else None


class Notices:
    """Renders and enqueues the lifecycle's messages."""

    def __init__(self, i18n: I18n, settings: Settings) -> None:
        self.i18n = i18n
        self.settings = settings

    def translator_for(self, member: Member | None) -> Translator:
        """The member's language, or the town's for a group."""
        if member is None:
            return self.i18n.translator(self.i18n.default_language)
        return self.i18n.for_user(member.language, member.telegram_language)

    def when_text(self, view: RequestView, _: Translator) -> str:
        """When the service is wanted, in words."""
        if view.when_kind == "asap" or view.starts_at is None:
            return _("as soon as possible")
        if view.when_kind == "today":
            return _("today")
        return format_datetime(
            view.starts_at, "EEEE d MMMM, HH:mm", tzinfo=self.settings.tz, locale=_.language
        )

    def offer_text(self, view: RequestView, _: Translator, distance_km: float | None) -> str:
        """The offer a volunteer or a group reads (HTML): what, where (roughly), when, places.

        The referent's description is quoted, so that no line of it passes for the bot's own.
        """
        area = view.area_label or view.neighbourhood or ""
        if view.neighbourhood and view.neighbourhood not in area:
            area = f"{area}, {view.neighbourhood}" if area else view.neighbourhood
        where = _("Where: {area}", area=area)
        if distance_km is not None:
            where += " " + _("({distance} km from you)", distance=f"{distance_km:.1f}")
        lines = [
            escaped(
                _("🙋 Request #{id}: {skill}", id=view.id, skill=skill_label(view.skill_label, _))
            )
        ]
        if view.description:
            lines.append(quoted(view.description))
        lines += [
            escaped(where),
            escaped(_("When: {when}", when=self.when_text(view, _))),
            escaped(self.places_text(view, _)),
        ]
        return "\n".join(lines)

    def places_text(self, view: RequestView, _: Translator) -> str:
        """Places left, or why the request no longer takes volunteers."""
        if view.status is RequestStatus.CANCELLED:
            return _("❌ Cancelled by the referent.")
        if view.status is RequestStatus.EXPIRED:
            return _("⌛ Expired.")
        if view.status in {RequestStatus.COMPLETED, RequestStatus.CLOSED}:
            return _("✅ Done. Thank you!")
        if view.places_left == 0:
            return _("✅ Taken. Thank you!")
        return _.ngettext(
            "👥 {count} volunteer needed", "👥 {count} volunteers needed", view.places_left
        )

    def offer_markup(
        self, view: RequestView, _: Translator, *, direct: bool
    ) -> dict[str, Any] | None:
        """Claim (and, in a private chat, Not for me) while places remain."""
        if view.status not in CLAIMABLE or view.places_left == 0:
            return None
        row = [
            InlineKeyboardButton(
                _("✋ I'll do it"), callback_data=callbacks.encode(Action.CLAIM, view.id)
            )
        ]
        if direct:
            row.append(
                InlineKeyboardButton(
                    _("Not for me"), callback_data=callbacks.encode(Action.DECLINE, view.id)
                )
            )
        return _markup([row])

    async def send_offer(
        self,
        session: AsyncSession,
        view: RequestView,
        offer: Offer,
        member: Member | None,
        *,
        distance_km: float | None,
        silent: bool = False,
    ) -> None:
        """Queue the first copy of an offer in one chat."""
        await outbox.enqueue_many(
            session, [self.offer_call(view, offer, member, distance_km=distance_km, silent=silent)]
        )

    def offer_call(
        self,
        view: RequestView,
        offer: Offer,
        member: Member | None,
        *,
        distance_km: float | None,
        silent: bool = False,
    ) -> outbox.Call:
        """The first copy of an offer in one chat (a member's, or the group's for None)."""
        payload = self._offer_payload(view, member, distance_km)
        if silent:
            payload["disable_notification"] = True
        return outbox.Call(
            chat_id=offer.chat_id,
            method="send_message",
            payload=payload,
            priority=outbox.BULK,
            member_id=member.id if member else None,
            offer_id=offer.id,
        )

    def _offer_payload(
        self, view: RequestView, member: Member | None, distance: float | None
    ) -> dict[str, Any]:
        """An offer copy's text and buttons, in its reader's language (the group's for None)."""
        _ = self.translator_for(member)
        return {
            "text": self.offer_text(view, _, distance),
            "parse_mode": "HTML",
            "reply_markup": self.offer_markup(view, _, direct=member is not None),
        }

    async def refresh_copies(self, session: AsyncSession, view: RequestView) -> int:
        """Queue an edit of every copy of the offer (places left, Claim button or not)."""
        rows = (
            await session.execute(
                select(Offer, Member)
                .outerjoin(Member, Member.id == Offer.member_id)
                .where(Offer.request_id == view.id, Offer.declined_at.is_(None))
            )
        ).all()
        await offers.supersede_pending_edits(session, [offer.id for offer, _member in rows])
        edits = []
        for offer, member in rows:
            distance = None
            if member is not None and member.latitude is not None and member.longitude is not None:
                distance = distance_km(
                    view.latitude, view.longitude, member.latitude, member.longitude
                )
            edits.append(
                outbox.Call(
                    chat_id=offer.chat_id,
                    method="edit_message_text",
                    payload=self._offer_payload(view, member, distance),
                    priority=outbox.NOTICE,
                    member_id=member.id if member else None,
                    offer_id=offer.id,
                )
            )
        await outbox.enqueue_many(session, edits)
        return len(rows)

    def buttons(
        self,
        _: Translator,
        action: Action,
        target_id: int,
        layout: Sequence[Sequence[tuple[str, str]]],
    ) -> list[list[InlineKeyboardButton]]:
        """Inline buttons from a layout of (label msgid, verb) rows, all about one target."""
        return [
            [
                InlineKeyboardButton(
                    _(label), callback_data=callbacks.encode(action, verb, target_id)
                )
                for label, verb in row
            ]
            for row in layout
        ]

    async def tell(
        self,
        session: AsyncSession,
        member: Member,
        text: str,
        *,
        rows: list[list[InlineKeyboardButton]] | None = None,
        priority: int = outbox.INTERACTIVE,
        html: bool = False,
    ) -> OutboxMessage | None:
        """Queue a private message to a member (already rendered in their language, or in HTML)."""
        if member.telegram_id is None:
            return None
        payload: dict[str, Any] = {"text": text, "reply_markup": _markup(rows or [])}
        if html:
            payload["parse_mode"] = "HTML"
        return await outbox.enqueue(
            session,
            chat_id=member.telegram_id,
            method="send_message",
            payload=payload,
            priority=priority,
            member_id=member.id,
        )
