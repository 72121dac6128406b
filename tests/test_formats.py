"""Numbers, times and punctuation as each language writes them (bot/formats.py), in the helpers
and in the rendered texts people read."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot import formats
from bot.domain.vocabulary import RequestStatus
from bot.formats import NARROW_NBSP as NNBSP
from bot.formats import NBSP, french_typography
from bot.i18n import I18n
from bot.messages.offers import RequestView, offer_text
from testkit.language_samples import samples

FR, EN, NL = (I18n("fr").translator(code) for code in ("fr", "en", "nl"))
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("template", "typeset"),
    [
        ("Où : {area}", f"Où{NNBSP}: {{area}}"),
        ("Bonjour {name} !", f"Bonjour {{name}}{NNBSP}!"),
        ("Vraiment ? Oui ; non", f"Vraiment{NNBSP}? Oui{NNBSP}; non"),
        ("{skill}: {count}", f"{{skill}}{NNBSP}: {{count}}"),  # a missing space is added
        ("touchez « Devenir bénévole ».", f"touchez «{NNBSP}Devenir bénévole{NNBSP}»."),
        ("(à {distance} km de chez vous)", f"(à {{distance}}{NBSP}km de chez vous)"),
        ("{hours} h {minutes}", f"{{hours}}{NBSP}h{NBSP}{{minutes}}"),
        ("Taux : 73 %", f"Taux{NNBSP}: 73{NBSP}%"),
        # Left alone: times, links, words that merely start like a unit, placeholders' values.
        ("à 14:30", "à 14:30"),
        ("https://t.me/{bot}?start={code}", "https://t.me/{bot}?start={code}"),
        ("{count} hommes", "{count} hommes"),
    ],
)
def test_french_typography(template: str, typeset: str) -> None:
    assert french_typography(template) == typeset
    assert french_typography(typeset) == typeset  # applying it twice changes nothing


def test_numbers_and_percentages_per_language() -> None:
    assert [formats.distance(0.83, t) for t in (FR, EN, NL)] == ["0,8", "0.8", "0,8"]
    assert [formats.number(2.0, t) for t in (FR, EN, NL)] == ["2", "2", "2"]
    assert [formats.number(1.5, t) for t in (FR, EN, NL)] == ["1,5", "1.5", "1,5"]
    assert formats.number(1250.5, FR) == f"1{NNBSP}250,5"
    assert [formats.percent(0.73, t) for t in (FR, EN, NL)] == [f"73{NBSP}%", "73%", "73%"]


def test_times_as_each_language_writes_them() -> None:
    assert [formats.clock(time(14, 30), t) for t in (FR, EN, NL)] == [
        f"14{NBSP}h{NBSP}30",
        "14:30",
        "14:30",
    ]
    assert [formats.clock(time(9, 0), t) for t in (FR, EN, NL)] == [f"9{NBSP}h", "09:00", "09:00"]
    # In the town's time: 13:00 UTC is 14:00 in Paris in November.
    moment = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert formats.day_and_time(moment, FR, PARIS) == f"jeudi 26 novembre, 14{NBSP}h"
    assert formats.day_and_time(moment, NL, PARIS) == "donderdag 26 november, 14:00"
    assert formats.minute_of_day(22 * 60 + 15, FR) == f"22{NBSP}h{NBSP}15"


def _request() -> RequestView:
    return RequestView(
        id=7,
        skill_label="Plumbing",
        description="",
        area_label="Rue du Trône",
        neighbourhood="Matonge",
        when_kind="slot",
        starts_at=datetime(2026, 11, 26, 13, 30, tzinfo=UTC),
        places_needed=1,
        places_taken=0,
        status=RequestStatus.OPEN,
        latitude=50.83,
        longitude=4.37,
        referent_id=None,
    )


def test_an_offer_reads_right_in_each_language() -> None:
    french = offer_text(_request(), FR, PARIS, 0.83)
    assert f"Où{NNBSP}: Rue du Trône, Matonge (à 0,8{NBSP}km de chez vous)" in french
    assert f"Quand{NNBSP}: jeudi 26 novembre, 14{NBSP}h{NBSP}30" in french
    english = offer_text(_request(), EN, PARIS, 0.83)
    assert "Where: Rue du Trône, Matonge (0.8 km from you)" in english
    assert "When: Thursday 26 November, 14:30" in english
    dutch = offer_text(_request(), NL, PARIS, 0.83)
    assert "Waar: Rue du Trône, Matonge (0,8 km van u vandaan)" in dutch
    assert "Wanneer: donderdag 26 november, 14:30" in dutch


def test_stats_say_the_rate_in_words_not_a_formula() -> None:
    text = samples(("fr", "nl"))
    assert "÷" not in text
    assert "−" not in text
    assert f"Taux de réalisation{NNBSP}: 73{NBSP}%" in text
    assert "Uitvoeringsgraad: 73%" in text
    # Dutch and English punctuation have no space before the colon.
    assert f"{NNBSP}:" not in text.split("### nl — offer")[1]
