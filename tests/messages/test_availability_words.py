"""Availability in words, in French, English and Dutch: presets ("weekday evenings, weekends")
on the profile, the application card and the member card, never up to 21 slots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.availability import availability_text
from bot.domain.availability import PERIODS
from bot.domain.vocabulary import VolunteerStatus
from bot.i18n import I18n
from bot.messages.applications import application_card
from bot.messages.directory import member_card
from bot.services.volunteers import ApplicationView
from tests.messages.test_standing import TOWN, _card

I18N = I18n("fr")
# Weekday evenings and the whole weekend: 11 slots.
EVENINGS_AND_WEEKENDS = [(d, "evening") for d in range(5)] + [
    (d, p) for d in (5, 6) for p in PERIODS
]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "le week-end, le soir en semaine"),
        ("en", "weekends, weekday evenings"),
        ("nl", "in het weekend, op weekdagen ’s avonds"),
    ],
)
def test_slots_read_as_presets_in_each_language(language: str, expected: str) -> None:
    assert availability_text(EVENINGS_AND_WEEKENDS, I18N.for_user(language, None)) == expected


@pytest.mark.parametrize(
    ("language", "anytime", "mornings_and_one"),
    [
        ("fr", "à tout moment", "le matin, mer. soir"),
        ("en", "any time", "mornings, Wed evening"),
        ("nl", "altijd", "’s voormiddags, wo avond"),
    ],
)
def test_every_slot_is_any_time_and_what_no_preset_says_is_listed(
    language: str, anytime: str, mornings_and_one: str
) -> None:
    _ = I18N.for_user(language, None)
    assert availability_text([(d, p) for d in range(7) for p in PERIODS], _) == anytime
    slots = [(d, "morning") for d in range(7)] + [(2, "evening")]
    assert availability_text(slots, _) == mornings_and_one
    assert availability_text([], _) == ""


def test_the_application_card_and_the_member_card_say_presets() -> None:
    when = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
    view = ApplicationView(
        1,
        10,
        "Nour",
        None,
        None,
        None,
        2.0,
        VolunteerStatus.PENDING,
        None,
        None,
        when,
        availability=EVENINGS_AND_WEEKENDS,
    )
    french = I18N.for_user("fr", None)
    assert "le week-end, le soir en semaine" in application_card(view, french)
    english = application_card(view, I18N.for_user("en", None))
    assert "Availability: weekends, weekday evenings\n" in english
    card = member_card(_card(availability=tuple(EVENINGS_AND_WEEKENDS)), french, TOWN).text
    assert "Disponibilités\u202f: le week-end, le soir en semaine" in card
    none_given = member_card(_card(), I18N.for_user("en", None), TOWN).text
    assert "Availability: to be agreed each time" in none_given
