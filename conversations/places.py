"""Where: the place steps several conversations ask (a typed address, a pin, a neighbourhood)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot import formats
from bot.i18n import N_
from bot.services.geocoding import GeocoderUnavailable, Place
from conversations.base import BACK_LABEL, Buttons, Conversation, State, Turn, choices

MAX_NEIGHBOURHOOD_BUTTONS = 12
SEND_MY_LOCATION = N_("📍 Send my location")
# Where a volunteer is based (sign-up, profile), and the address found for the one typed.
OWN_PLACE_QUESTION = N_(
    "Where are you based? Tap “Send my location”, or type your address "
    "(street and town). It is used to offer you requests near you, and is never shown "
    "to other volunteers."
)
OWN_PLACE_FOUND = N_("I found: {address}\nIs this right?")
HELP_IN_QUESTION = N_(
    "Which neighbourhood do you want to help in? The nearest one is suggested first."
)
YES_THATS_IT = (("yes", N_("Yes, that's it")), ("x", N_("No")))


@dataclass
class Spot:
    """A located place in a draft: coordinates, the label shown to the person, the public part."""

    latitude: float
    longitude: float
    label: str | None = None
    area: str = ""

    @classmethod
    def of(cls, place: Place) -> Spot:
        """The spot of a geocoded place, labelled as people write an address (number, street,
        town), not with the geocoder's whole hierarchy of districts, regions and countries."""
        return cls(place.latitude, place.longitude, place.short_label, place.area_label)


# How an address is written, when the town has not set its own (BRIGADE_ADDRESS_EXAMPLE): each
# language's catalog writes it the way its readers do ("Stationsstraat 12, Brussel").
ADDRESS_EXAMPLE = N_("12 rue de la Gare, Chambéry")


@dataclass(frozen=True)
class AddressTexts:
    """What a place step says when a typed address cannot be used (message ids)."""

    too_short: str
    unavailable: str
    not_found: str
    min_length: int = 4


# Where a volunteer is based (sign-up, profile).
OWN_ADDRESS = AddressTexts(
    too_short=N_("Please type a street and a town, or send your location."),
    unavailable=N_(
        "Address search is not available right now. Please tap “Send my location” "
        "instead (you can send any point: 📎 → Location)."
    ),
    not_found=N_(
        "I could not find this address. Try with the street and the town "
        "(e.g. “{example}”), or send your location."
    ),
)


def own_place_questions(
    flow: Conversation[Any], place: str, confirm: str, *, back_on_confirm: bool
) -> Callable[[Turn[Any]], Awaitable[State]]:
    """Register the place questions of the sign-up and the profile (a draft with a `place`):
    where the volunteer is based (a pin or a typed address), and whether the address found is
    right. Returns the handler of a typed address: geocoded, kept, then to confirm."""
    flow.prompt(place, OWN_PLACE_QUESTION, location(SEND_MY_LOCATION))
    flow.prompt(
        confirm,
        OWN_PLACE_FOUND,
        choices("place", YES_THATS_IT, per_row=2, with_back=back_on_confirm),
        address=lambda turn: (turn.draft.place.label if turn.draft.place else None) or "",
    )

    async def on_address(turn: Turn[Any]) -> State:
        """Geocode a typed address and ask to confirm what was found."""
        found = await find_address(turn, OWN_ADDRESS)
        if found is None:
            return None
        turn.draft.place = Spot.of(found)
        return await turn.ask(confirm)

    return on_address


async def find_address(
    turn: Turn[Any], texts: AddressTexts, query: str | None = None
) -> Place | None:
    """Geocode the typed address (or `query`, a part of it); None after saying why it cannot be
    used."""
    _ = turn._
    query = turn.text if query is None else query
    if len(query) < texts.min_length:
        await turn.say(_(texts.too_short))
        return None
    try:
        place = await turn.services.geocoder.search(query, language=_.language)
    except GeocoderUnavailable:
        await turn.say(_(texts.unavailable))
        return None
    if place is None:
        example = turn.services.settings.address_example or _(ADDRESS_EXAMPLE)
        await turn.say(_(texts.not_found, example=example))
    return place


async def address_said(
    turn: Turn[Any], texts: AddressTexts, found: str, *, short: bool = False
) -> Place | None:
    """Geocode the typed address, as `find_address`; once found, say it (`found`, its
    {address} the place's label, or its short label) in a text message, which takes the
    location keyboard away."""
    place = await find_address(turn, texts)
    if place is not None:
        address = place.short_label if short else place.label
        await turn.say(turn._(found, address=address), ReplyKeyboardRemove())
    return place


async def pin_of(turn: Turn[Any]) -> tuple[float, float, Place | None]:
    """The pin sent, and its address if the geocoder can name it (a pin needs none)."""
    location = turn.message.location
    assert location is not None
    latitude, longitude = location.latitude, location.longitude
    return latitude, longitude, await name_of(turn, latitude, longitude)


async def name_of(turn: Turn[Any], latitude: float, longitude: float) -> Place | None:
    """The address of a point, if the geocoder can name it now."""
    try:
        return await turn.services.geocoder.reverse(latitude, longitude, language=turn._.language)
    except GeocoderUnavailable:
        return None  # the coordinates are what matching uses; the label is a nicety


def location(label: str, *, with_back: bool = True) -> Buttons:
    """A reply keyboard: send a location (`label`: the person's own position), and ⬅ Back."""

    def keyboard(turn: Turn[Any]) -> ReplyKeyboardMarkup:
        rows = [[KeyboardButton(turn._(label), request_location=True)]]
        if with_back:
            rows.append([KeyboardButton(turn._(BACK_LABEL))])
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)

    return keyboard


async def neighbourhood_rows(
    turn: Turn[Any],
    near: Spot | None,
    *,
    star: bool = True,
    ticked: int | None = None,
) -> list[list[InlineKeyboardButton]]:
    """One button per neighbourhood (verb `nb`), nearest first when the place is known."""
    _ = turn._
    service = turn.services.neighbourhoods
    if near is not None:
        ranked = [
            (
                view,
                _("{name} ({distance} km)", name=view.name, distance=formats.distance(distance, _)),
            )
            for view, distance in await service.nearest(near.latitude, near.longitude)
        ]
    else:
        star = False
        ranked = [(view, view.name) for view in await service.all()]
    rows = []
    for index, (view, label) in enumerate(ranked[:MAX_NEIGHBOURHOOD_BUTTONS]):
        mark = ("⭐ " if star and index == 0 else "") + ("✅ " if view.id == ticked else "")
        rows.append([turn.flow.button(mark + label, "nb", view.id)])
    return rows


async def offer_neighbourhoods(
    turn: Turn[Any], near: Spot | None, *, star: bool = True, ticked: int | None = None
) -> bool:
    """Ask a volunteer which neighbourhood they help in; False (nothing said) if there is none."""
    rows = await neighbourhood_rows(turn, near, star=star, ticked=ticked)
    if rows:
        rows.append(turn.flow.back_row(turn._))
        await turn.say(turn._(HELP_IN_QUESTION), InlineKeyboardMarkup(rows))
    return bool(rows)


async def neighbourhood_named(turn: Turn[Any], value: str) -> tuple[int, str] | None:
    """The neighbourhood a tapped `nb` button names, if it still exists."""
    if not value.isdigit():
        return None
    for view in await turn.services.neighbourhoods.all():
        if view.id == int(value):
            return view.id, view.name
    return None
