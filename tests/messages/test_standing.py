"""How the guarantor's messages read (issue 17): the suspension told, the member card, the
directory's filter word (forged words parse to None)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import I18n
from bot.messages.base import Town
from bot.messages.directory import (
    Listing,
    filter_word,
    member_card,
    parse_filter_word,
)
from bot.messages.standing import RequestsHandedOver, VolunteerSuspended
from bot.services.directory import ConcernSeen, Counts, MemberCard, MemberFilter

TOWN = Town("Chambéry", ZoneInfo("Europe/Paris"))
I18N = I18n("fr")
WHEN = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def _card(**changes: object) -> MemberCard:
    values: dict[str, object] = {
        "member_id": 12,
        "display_name": "Nour <b>B</b>",
        "phone": "+33 6 11 22 33 44",
        "roles": frozenset({Role.VOLUNTEER}),
        "status": VolunteerStatus.APPROVED,
        "status_reason": None,
        "decided_by": "Claire",
        "decided_at": WHEN,
        "neighbourhood": "Centre-Ville",
        "radius_km": 2.5,
        "charter_version": "2026-11",
        "charter_accepted_at": WHEN,
        "joined_at": WHEN,
        "last_seen": WHEN,
        "last_claim_at": None,
        "counts": Counts(4, 1, 1, 1, 1),
        "coordinator_by_settings": False,
        "concerns": (ConcernSeen(WHEN, 7, "Rita"),),
    }
    values.update(changes)
    return MemberCard(**values)  # type: ignore[arg-type]


def test_the_suspension_reads_in_each_language_with_the_reason_quoted() -> None:
    notice = VolunteerSuspended("Rude <script>")
    english = notice.render(I18N.for_user("en", None), TOWN)
    assert english.html
    assert english.text.startswith("⛔ A coordinator of the brigade of Chambéry has suspended")
    assert "<blockquote>Rude &lt;script&gt;</blockquote>" in english.text
    assert "suspendu votre participation" in notice.render(I18N.for_user("fr", None), TOWN).text
    assert "geschorst" in notice.render(I18N.for_user("nl", None), TOWN).text


def test_requests_handed_over_count_in_the_readers_language() -> None:
    notice = RequestsHandedOver("Rita", (3, 5))
    assert notice.render(I18N.for_user("en", None), TOWN).text.startswith(
        "Rita's 2 requests still running are now yours to follow: #3, #5."
    )
    assert "Rita avait 2 demandes en cours" in notice.render(I18N.for_user("fr", None), TOWN).text


def test_the_card_uses_the_readers_dates_and_numbers_and_offers_what_applies() -> None:
    french = member_card(_card(), I18N.for_user("fr", None), TOWN)
    assert "2,5\xa0km" in french.text
    assert "22 nov. 2026" in french.text
    assert "Nour &lt;b&gt;B&lt;/b&gt;" in french.text  # names are escaped in the HTML card
    assert "1 inquiétude" in french.text
    english = member_card(_card(), I18N.for_user("en", None), TOWN)
    assert "• Nov 22, 2026: request #7, raised by Rita" in english.text
    assert english.keyboard is not None
    assert [b.text for row in english.keyboard.inline_keyboard for b in row] == [
        "⛔ Suspend",
        "⬅ Members",
    ]
    named = member_card(
        _card(roles=frozenset({Role.COORDINATOR}), status=None, coordinator_by_settings=True),
        I18N.for_user("en", None),
        TOWN,
    )
    assert "cannot be withdrawn from the chat" in named.text
    assert named.keyboard is not None
    assert [b.text for row in named.keyboard.inline_keyboard for b in row] == ["⬅ Members"]


def test_the_filter_word_goes_both_ways_and_refuses_forged_words() -> None:
    listing = Listing(
        MemberFilter(
            role=Role.REFERENT,
            status=VolunteerStatus.SUSPENDED,
            neighbourhood_id=3,
            skill_id=12,
            inactive=True,
        ),
        4,
    )
    word = filter_word(listing)
    assert len(word) <= 24
    assert parse_filter_word(word) == listing


@pytest.mark.parametrize(
    "word", ["", "0_x_x_0_x", "0_q_x_0_x_x", "0_x_x_2_x_x", "0_x_x_0_1234567_x", "x_x_x_0_x_x"]
)
def test_forged_filter_words_parse_to_nothing(word: str) -> None:
    assert parse_filter_word(word) is None
