"""/new's preview (what volunteers will read, and apart what only the claimer will) and the
answer once the request is posted."""

from __future__ import annotations

from datetime import datetime

from bot import formats
from bot.domain.vocabulary import RequestStatus
from bot.i18n import Translator
from bot.messages.offers import RequestView, offer_text, when_text
from bot.services.requests import Posted
from bot.skills import skill_label
from bot.text import escaped
from conversations.posting.draft import PostingTurn


async def _neighbourhood_name(turn: PostingTurn, latitude: float, longitude: float) -> str:
    """The neighbourhood the service will file the request under (same rule: within 2 radii)."""
    for view, distance in await turn.services.neighbourhoods.nearest(latitude, longitude):
        if distance <= view.radius_km * 2:
            return view.name
    return ""


async def preview_text(turn: PostingTurn) -> str:
    """The preview, in HTML (the offer's part quotes the description)."""
    _, draft, services = turn._, turn.draft, turn.services
    skills = {skill.id: skill.label for skill in await services.skills.active()}
    place = draft.place
    latitude, longitude = (place.latitude, place.longitude) if place else (0.0, 0.0)
    when_kind = draft.when or "asap"
    starts_at = datetime.fromisoformat(draft.starts_at) if draft.starts_at else None
    if when_kind == "today":
        starts_at = services.clock()  # what Post will send, so that volunteers read "today"
    view = RequestView(
        id=0,
        skill_label=skills.get(draft.skill_id or 0, ""),
        description=draft.description or "",
        area_label=place.area if place else "",
        neighbourhood=await _neighbourhood_name(turn, latitude, longitude) or None,
        when_kind=when_kind,
        starts_at=starts_at,
        places_needed=draft.places,
        places_taken=0,
        status=RequestStatus.OPEN,
        latitude=latitude,
        longitude=longitude,
        referent_id=None,
        day_part=draft.day_part if when_kind == "slot" else None,
    )
    public = offer_text(view, _, services.settings.tz).split("\n")
    # The first line names the request by its number, which it only gets once posted.
    public[0] = escaped(_("🙋 Request: {skill}", skill=skill_label(view.skill_label, _)))
    beneficiary = draft.beneficiary
    home = beneficiary.home
    private = [
        _("Person: {name}", name=draft.person(_)),
        _("Phone: {value}", value=beneficiary.phone or _("not given")),
        _("Address: {value}", value=(home.label if home else None) or _("not given")),
    ]
    if beneficiary.notes:
        private.append(_("Access: {notes}", notes=beneficiary.notes))
    where = (
        _("📍 Somewhere else")
        if draft.elsewhere is not None
        else _("🏠 At {name}'s place", name=draft.person(_))
    )
    places = _.ngettext("{count} volunteer", "{count} volunteers", draft.places)
    settings = " · ".join([where, when_text(view, _, services.settings.tz), places])
    return "\n".join(
        [
            escaped(_("Please check the request before posting it.")),
            "",
            escaped(_("What the volunteers will see:")),
            *public,
            "",
            escaped(_("🔒 What only the volunteer who takes it will see:")),
            *[escaped(line) for line in private],
            "",
            escaped(settings),
            escaped(_("To change where, when or how many, use the ✏️ buttons below.")),
        ]
    )


def posted_text(posted: Posted, wave_delay_minutes: float, _: Translator) -> str:
    """What the referent reads once the request is posted: who received it, what comes next."""
    if posted.awaiting_validation:
        return _(
            "✅ Request #{id} is saved. The brigade validates every request before it is "
            "offered: a coordinator will check it, and you will get a message once it is "
            "validated (or not).",
            id=posted.request_id,
        )
    lines = [_("✅ Request #{id} is posted.", id=posted.request_id)]
    if posted.offered == 0 and posted.remaining_candidates == 0:
        lines.append(
            _(
                "No volunteer fits this request right now. If nobody takes it, the coordinators "
                "will be alerted."
            )
        )
    else:
        lines.append(
            _.ngettext(
                "{count} volunteer received it now.",
                "{count} volunteers received it now.",
                posted.offered,
            )
        )
        if posted.remaining_candidates:
            minutes = formats.number(wave_delay_minutes, _)
            lines.append(
                _.ngettext(
                    "If nobody takes it within {minutes} minutes, {count} more volunteer will "
                    "receive it.",
                    "If nobody takes it within {minutes} minutes, {count} more volunteers will "
                    "receive it.",
                    posted.remaining_candidates,
                    minutes=minutes,
                )
            )
    lines.append(
        _("It was also posted in the neighbourhood group.")
        if posted.group_posted
        else _("No neighbourhood group received it.")
    )
    lines.append(_("You will get a message when a volunteer takes it."))
    return "\n".join(lines)
