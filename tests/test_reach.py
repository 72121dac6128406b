"""The radius check (bot/domain/reach.py) and how it reads (bot/messages/reach.py), and the
charter's short form at sign-up (bot/charter.py)."""

from __future__ import annotations

import pytest

from bot.charter import charter_summary, excerpt
from bot.domain.reach import Centre, Reach, reach_of
from bot.i18n import I18n, Translator
from bot.messages.reach import card_reach_line, reach_line, reach_warning

CENTRE_VILLE = Centre("Centre-Ville", 45.567, 5.921)
LE_BIOLLAY = Centre("Le Biollay", 45.556, 5.9075)
# 13.7 km north of Centre-Ville's centre.
FAR_NORTH = (45.567 + 13.7 / 111.2, 5.921)
I18N = I18n("fr")


@pytest.fixture
def english() -> Translator:
    return I18N.translator("en")


@pytest.fixture
def french() -> Translator:
    return I18N.translator("fr")


def test_the_nearest_centre_is_measured_and_a_town_without_one_has_no_reach() -> None:
    reach = reach_of(*FAR_NORTH, 2.0, [LE_BIOLLAY, CENTRE_VILLE])
    assert reach is not None
    assert reach.nearest == "Centre-Ville"
    assert reach.distance_km == pytest.approx(13.7, abs=0.05)
    assert not reach.in_reach
    assert reach_of(*FAR_NORTH, 2.0, []) is None


@pytest.mark.parametrize(
    ("distance", "suggested"),
    [(0.4, 1.0), (1.0, 1.0), (9.96, 10.0), (10.04, 15.0), (13.7, 15.0), (49.9, 50.0), (50.2, None)],
)
def test_the_suggested_radius_is_the_smallest_offered_that_reaches_the_distance_shown(
    distance: float, suggested: float | None
) -> None:
    # 10.04 km is beyond 10 km, however it reads: what is suggested really reaches it.
    assert Reach("Centre-Ville", distance, 0.5).suggested_km == suggested


def test_the_warning_names_the_nearest_and_the_radius_that_reaches_it(
    english: Translator, french: Translator
) -> None:
    reach = Reach("Centre-Ville", 13.66, 2.0)
    assert reach_warning(reach, english) == (
        "⚠️ No neighbourhood is within 2 km of your place: you would receive no request. "
        "The nearest neighbourhood, Centre-Ville, is 13.7 km away: choose 15 km to receive "
        "its requests."
    )
    assert "13,7\xa0km" in reach_warning(reach, french)
    assert card_reach_line(reach, english) == (
        "⚠️ Nearest neighbourhood: Centre-Ville, 13.7 km away, beyond their 2 km: "
        "no request can be offered to them"
    )
    # Farther than any distance offered: no radius suggested, the place questioned.
    assert "check your place" in reach_warning(Reach("Centre-Ville", 73.0, 10.0), english)


def test_within_reach_there_is_no_warning_only_the_nearest(english: Translator) -> None:
    reach = Reach("Le Biollay", 0.34, 2.0)
    assert reach_warning(reach, english) == ""
    assert reach_line(reach, english) == "Nearest neighbourhood: Le Biollay, 0.3 km away."
    assert card_reach_line(reach, english).endswith("(within their distance)")
    assert reach_line(None, english) == card_reach_line(None, english) == ""


def test_the_charter_in_short_is_the_catalogs_summary_or_the_beginning_of_the_towns_text(
    english: Translator,
) -> None:
    summary = charter_summary(english, {})
    assert summary.splitlines()[0] == "• I help for free: no money, no gift, no tip."
    assert len(summary) < 300
    own = "Our charter.\n" + "We help. " * 60
    short = charter_summary(english, {"en": own})
    assert short.startswith("Our charter.")
    assert short.endswith(" …")
    assert len(short) <= 302
    assert charter_summary(english, {"fr": own}) == summary  # no text of the reader's own


def test_an_excerpt_is_cut_after_a_sentence_or_a_paragraph() -> None:
    assert excerpt("Short text.", 50) == "Short text."
    assert excerpt("First sentence. Second sentence is long enough.", 30) == "First sentence. …"
    assert excerpt("First line\nsecond line goes on and on", 20) == "First line …"
