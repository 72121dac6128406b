"""How the visit plan and the visit report read, in each language: what the referent and the
coordinators are told, the amount in the reader's locale, the receipt as a photo."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.domain.vocabulary import VisitPlan
from bot.i18n import I18n
from bot.messages.base import Notice, Reader, Rendered, Town
from bot.messages.claims import Contact
from bot.messages.messenger import Messenger
from bot.messages.visits import (
    AskVisitPlan,
    ExpenseAdvanced,
    ReceiptPhoto,
    VisitPlanned,
    VisitWorry,
    WantsMoreVisits,
    plan_chosen,
)
from testkit.harness import brigade_settings

TOWN = Town("Chambéry", ZoneInfo("Europe/Paris"), "EUR")
I18N = I18n("fr")
MARC = Contact("Marc", "+33 6 11 22 33 44")


def _render(notice: Notice, language: str) -> Rendered:
    return notice.render(I18N.translator(language), TOWN)


def test_when_will_you_go_offers_four_answers_and_shows_the_one_chosen() -> None:
    rendered = _render(AskVisitPlan(claim_id=21, request_id=12), "en")
    assert rendered.text == "When do you think you will go for request #12?"
    assert rendered.keyboard is not None
    assert [
        [(b.text, b.callback_data) for b in row] for row in rendered.keyboard.inline_keyboard
    ] == [
        [("Within an hour", "cs:gohour:21"), ("Later today", "cs:gotoday:21")],
        [("Tomorrow", "cs:gotomorrow:21")],
        [("I'll get in touch with the referent", "cs:gowrite:21")],
    ]
    _ = I18N.translator("fr")
    assert plan_chosen("Question", VisitPlan.TOMORROW, _) == (
        "Question\n→ Demain\nLa personne référente a été prévenue."
    )


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Marc expects to go within the hour — request #12."),
        ("fr", "Marc pense y aller dans l’heure — demande n° 12."),
        ("nl", "Marc denkt binnen het uur te gaan — hulpvraag nr. 12."),
    ],
)
def test_the_referent_is_told_when_the_claimer_expects_to_go(language: str, text: str) -> None:
    assert _render(VisitPlanned(12, "Marc", VisitPlan.WITHIN_AN_HOUR), language).text == text


@pytest.mark.parametrize(
    ("language", "amount"),
    [("en", "€12.50"), ("fr", "12,50\xa0€"), ("nl", "€\xa012,50")],
)
def test_money_advanced_reads_in_the_referents_locale(language: str, amount: str) -> None:
    text = _render(ExpenseAdvanced(12, "Marc", 1250), language).text
    assert amount in text
    assert "12" in text
    assert "Marc" in text


def test_the_worried_sentence_is_quoted_and_escaped() -> None:
    rendered = _render(VisitWorry(12, "Shopping", MARC, "Elle a <froid> & faim"), "fr")
    assert rendered.parse_mode == "HTML"
    assert rendered.text.startswith("😟 Après la demande n° 12 (Courses), Marc (+33 6 11 22 33 44)")
    assert rendered.text.endswith("<blockquote>Elle a &lt;froid&gt; &amp; faim</blockquote>")
    without = _render(VisitWorry(12, "Shopping", Contact("Marc"), None), "en")
    assert "no phone given" in without.text
    assert "<blockquote>" not in without.text


def test_more_visits_points_to_recurring_care() -> None:
    assert "/series" in _render(WantsMoreVisits(12, "Marc"), "nl").text


def test_the_receipt_goes_as_a_photo_with_a_caption() -> None:
    settings = brigade_settings("sqlite+aiosqlite:///:memory:")
    call = Messenger(I18N, settings).call(
        ReceiptPhoto(12, "Marc", "AgAC-file"), Reader(chat_id=5, member_id=1, language="en")
    )
    assert call.method == "send_photo"
    assert call.payload["photo"] == "AgAC-file"
    assert call.payload["caption"] == "🧾 Marc's receipt for request #12."
    assert "text" not in call.payload
