"""How far a volunteer's radius reaches: the warning they read (sign-up, /profile, approval) and
the line the coordinators' cards show (bot/domain/reach.py decides)."""

from __future__ import annotations

from bot import formats
from bot.domain.reach import Reach
from bot.i18n import N_, Translator

OUT_OF_REACH = N_(
    "⚠️ No neighbourhood is within {radius} km of your place: you would receive no request. "
    "The nearest neighbourhood, {name}, is {distance} km away: choose {suggested} km to "
    "receive its requests."
)
FAR_BEYOND = N_(
    "⚠️ No neighbourhood is within {radius} km of your place: you would receive no request. "
    "The nearest neighbourhood, {name}, is {distance} km away, farther than any distance "
    "offered: check your place, or talk to a coordinator."
)
NEAREST = N_("Nearest neighbourhood: {name}, {distance} km away.")
CARD_IN_REACH = N_("Nearest neighbourhood: {name}, {distance} km away (within their distance)")
CARD_OUT_OF_REACH = N_(
    "⚠️ Nearest neighbourhood: {name}, {distance} km away, beyond their {radius} km: "
    "no request can be offered to them"
)


def km(value: float, _: Translator) -> str:
    """A distance in km as the reader writes numbers ("13,7" in French), to 0.1 km."""
    return formats.number(round(value, 1), _)


def _values(reach: Reach, _: Translator) -> dict[str, object]:
    return {
        "name": reach.nearest,
        "distance": km(reach.distance_km, _),
        "radius": km(reach.radius_km, _),
    }


def reach_warning(reach: Reach | None, _: Translator) -> str:
    """To the volunteer: why no request can reach them and what to choose ("" when one can)."""
    if reach is None or reach.in_reach:
        return ""
    if reach.suggested_km is None:
        return _(FAR_BEYOND, **_values(reach, _))
    return _(OUT_OF_REACH, suggested=km(reach.suggested_km, _), **_values(reach, _))


def reach_line(reach: Reach | None, _: Translator) -> str:
    """To the volunteer: the warning, or the nearest neighbourhood ("" for a town without)."""
    if reach is None:
        return ""
    return reach_warning(reach, _) or _(NEAREST, **_values(reach, _))


def card_reach_line(reach: Reach | None, _: Translator) -> str:
    """On a coordinator's card: the nearest neighbourhood, flagged when out of reach."""
    if reach is None:
        return ""
    return _(CARD_IN_REACH if reach.in_reach else CARD_OUT_OF_REACH, **_values(reach, _))
