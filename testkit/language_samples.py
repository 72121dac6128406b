"""The offer, the claim card and the /stats summary as the real renderers write them, in French and
Dutch (`python -m testkit.language_samples`): the before / after quotes of docs/language.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.vocabulary import RequestStatus
from bot.i18n import I18n
from bot.messages.base import Rendered, Town
from bot.messages.claims import ClaimDetails, Contact, Person
from bot.messages.offers import OfferCopy, RequestView
from bot.messages.reports import stats_text
from bot.services.reports import Period, RequestCounts, Stats, Window
from bot.services.reports.stats import NeighbourhoodFigures, SkillFigures

TOWN = Town("Ixelles", ZoneInfo("Europe/Brussels"))
REQUEST = RequestView(
    id=7,
    skill_label="Plumbing",
    description="Le robinet de la cuisine fuit",
    area_label="Rue du Trône",
    neighbourhood="Matonge",
    when_kind="slot",
    starts_at=datetime(2026, 11, 26, 13, 0, tzinfo=UTC),
    places_needed=2,
    places_taken=0,
    status=RequestStatus.OPEN,
    latitude=50.83,
    longitude=4.37,
    referent_id=3,
)
PERSON = Person("Mme Odette Lambert", "+32 2 000 00 00", "Rue du Trône 12", "sonnette 3")
# One of each count that can be 1, so a missing plural form shows.
MONTH = RequestCounts(created=12, claimed=10, done=9, closed=8, cancelled=1, expired=1)
ONE = RequestCounts(created=1, claimed=1, done=1, closed=1)
STATS = Stats(
    window=Window(Period.THIS_MONTH, None, None, date(2026, 11, 1), date(2026, 11, 30)),
    neighbourhood_id=None,
    neighbourhood=None,
    requests=MONTH,
    median_first_claim=timedelta(hours=3, minutes=5),
    active_volunteers=1,
    minutes_given=7385,
    services_done=1,
    by_skill=(SkillFigures(1, "Plumbing", ONE),),
    by_neighbourhood=(NeighbourhoodFigures(1, "Matonge", MONTH, 1, 7385),),
)


def _shown(rendered: Rendered) -> str:
    keyboard = rendered.keyboard
    if keyboard is None:
        return rendered.text
    buttons = " | ".join(f"[{b.text}]" for row in keyboard.inline_keyboard for b in row)
    return f"{rendered.text}\n{buttons}"


def samples(languages: tuple[str, ...] = ("fr", "nl")) -> str:
    """The three texts in each language, as Markdown code blocks."""
    i18n = I18n("fr")
    blocks = []
    for language in languages:
        _ = i18n.translator(language)
        texts = {
            "offer": _shown(OfferCopy(REQUEST, 11, direct=True, distance_km=1.2).render(_, TOWN)),
            "claim card": _shown(
                ClaimDetails(REQUEST, 21, PERSON, Contact("Rita", "+32 1")).render(_, TOWN)
            ),
            "/stats": stats_text(STATS, _, TOWN),
        }
        for title, text in texts.items():
            blocks.append(f"### {language} — {title}\n```\n{text}\n```")
    return "\n".join(blocks)


if __name__ == "__main__":
    print(samples())
