"""How the main notices read, in each language: texts, buttons and parse mode.

Service tests say *which* notice a use case sends to whom; these say how each one looks. The
English texts are pinned whole; French and Dutch by what makes them theirs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.vocabulary import RequestStatus, SignalStatus
from bot.i18n import I18n
from bot.messages.base import Notice, Reader, Rendered, Town
from bot.messages.cases import CaseReported, CaseView
from bot.messages.claims import (
    ClaimDetails,
    ClaimGivenBack,
    ClaimTaken,
    ConcernRaised,
    Contact,
    Person,
    claim_answer,
    step_answer,
)
from bot.messages.closing import StillNotTaken, tried_line
from bot.messages.messenger import Messenger
from bot.messages.offers import OfferCopy, OfferUpdate, RequestView
from bot.services.outcomes import ClaimOutcome, StepOutcome
from testkit.harness import brigade_settings

TOWN = Town("Chambéry", ZoneInfo("Europe/Paris"))
I18N = I18n("fr")
PLUMBING = RequestView(
    id=7,
    skill_label="Plumbing",
    description="Fuite sous l'évier <b>vite</b>",
    area_label="Rue de Boigne",
    neighbourhood="Centre-Ville",
    when_kind="slot",
    starts_at=datetime(2026, 11, 26, 13, 0, tzinfo=UTC),  # 14:00 in Chambéry
    places_needed=2,
    places_taken=1,
    status=RequestStatus.OPEN,
    latitude=45.567,
    longitude=5.921,
    referent_id=3,
)
JEANNE = Person("Mme Jeanne Martin", "+33 4 79 00 00 00", "27 rue de Boigne", "code 1234")
VINCE = Contact("Vince", None)


def _render(notice: Notice, language: str) -> Rendered:
    return notice.render(I18N.translator(language), TOWN)


def _buttons(rendered: Rendered) -> list[list[tuple[str, str]]]:
    keyboard = rendered.keyboard
    assert keyboard is not None
    return [
        [(button.text, str(button.callback_data)) for button in row]
        for row in keyboard.inline_keyboard
    ]


@pytest.mark.parametrize(
    ("language", "head", "where", "claim", "decline"),
    [
        ("en", "🙋 Request #7: Plumbing", "(0.4 km from you)", "✋ I'll do it", "Not for me"),
        # The distance in the reader's locale.
        ("fr", "Plomberie", "0,4\xa0km de chez vous", "✋ Je m’en occupe", "Pas pour moi"),
        ("nl", "Loodgieterswerk", "0,4 km van u vandaan", "✋ Ik doe het", "Niet voor mij"),
    ],
)
def test_an_offer_copy_shows_the_public_side_and_the_claim_buttons(
    language: str, head: str, where: str, claim: str, decline: str
) -> None:
    rendered = _render(OfferCopy(PLUMBING, offer_id=11, direct=True, distance_km=0.4), language)
    assert rendered.parse_mode == "HTML"
    assert head in rendered.text
    assert where in rendered.text
    assert ("14\xa0h" if language == "fr" else "14:00") in rendered.text  # French: "14 h"
    # The referent's words are quoted and escaped: no line of them passes for the bot's own.
    assert "<blockquote>Fuite sous l'évier &lt;b&gt;vite&lt;/b&gt;</blockquote>" in rendered.text
    assert _buttons(rendered) == [[(claim, "cl:7"), (decline, "no:7")]]


def test_an_offer_in_a_group_has_no_not_for_me_and_a_full_one_no_button() -> None:
    group = _render(OfferCopy(PLUMBING, offer_id=11, direct=False), "fr")
    assert [label for row in _buttons(group) for label, _data in row] == ["✋ Je m’en occupe"]
    taken = RequestView(**{**PLUMBING.__dict__, "places_taken": 2, "status": RequestStatus.FULL})
    update = _render(OfferUpdate(taken, offer_id=11, direct=True), "en")
    assert update.keyboard is None
    assert update.text.endswith("✅ Taken. Thank you!")
    assert OfferUpdate.method == "edit_message_text"


def test_the_english_offer_reads_in_full() -> None:
    rendered = _render(OfferCopy(PLUMBING, offer_id=11, direct=True, distance_km=0.4), "en")
    assert rendered.text == (
        "🙋 Request #7: Plumbing\n"
        "<blockquote>Fuite sous l'évier &lt;b&gt;vite&lt;/b&gt;</blockquote>\n"
        "Where: Rue de Boigne, Centre-Ville (0.4 km from you)\n"
        "When: Thursday 26 November, 14:00\n"
        "👥 1 volunteer needed"
    )


@pytest.mark.parametrize(
    ("language", "when"),
    [
        ("en", "When: Thursday 26 November, in the afternoon"),
        ("fr", "Quand\u202f: jeudi 26 novembre, dans l’après-midi"),
        ("nl", "Wanneer: donderdag 26 november, in de namiddag"),
    ],
)
def test_a_part_of_the_day_reads_as_such_not_as_a_time(language: str, when: str) -> None:
    afternoon = RequestView(**{**PLUMBING.__dict__, "day_part": "afternoon"})
    text = _render(OfferCopy(afternoon, offer_id=11, direct=True), language).text
    assert when in text.split("\n")
    assert "14:00" not in text


@pytest.mark.parametrize(
    ("language", "thanks", "person", "buttons"),
    [
        (
            "en",
            "Thank you! You take request #7.",
            "Person: Mme Jeanne Martin",
            [[("✅ Done", "cs:done:21"), ("↩️ Release", "cs:release:21")]],
        ),
        (
            "fr",
            "Vous prenez en charge la demande n° 7",
            "Mme Jeanne Martin",
            [[("✅ C’est fait", "cs:done:21"), ("↩️ Me désister", "cs:release:21")]],
        ),
        (
            "nl",
            "U neemt hulpvraag nr. 7 aan.",
            "Persoon: Mme Jeanne Martin",
            [[("✅ Uitgevoerd", "cs:done:21"), ("↩️ Afzeggen", "cs:release:21")]],
        ),
    ],
)
def test_the_details_go_with_done_release_and_concern(
    language: str, thanks: str, person: str, buttons: list[list[tuple[str, str]]]
) -> None:
    rendered = _render(ClaimDetails(PLUMBING, 21, JEANNE, Contact("Rita", "+33 1")), language)
    assert rendered.parse_mode == "HTML"
    assert thanks in rendered.text
    for private in (person, "+33 4 79 00 00 00", "27 rue de Boigne", "code 1234", "Rita (+33 1)"):
        assert private in rendered.text
    rows = _buttons(rendered)
    assert rows[0] == buttons[0]
    assert [data for _label, data in rows[1]] == ["cs:concern:21"]
    # Writing to the referent through the bot, about this claim.
    assert [data for _label, data in rows[2]] == ["wr:claim:21"]


def test_details_of_a_purged_person_name_nobody() -> None:
    rendered = _render(ClaimDetails(PLUMBING, 21, None, None), "en")
    assert "Person:" not in rendered.text
    assert "Referent:" not in rendered.text


@pytest.mark.parametrize(
    ("language", "text", "cancel", "recurring"),
    [
        (
            "en",
            "Vince (no phone given) takes your request #7 (Plumbing).\n👥 1 volunteer needed",
            "Cancel the request",
            "🔁 Make it recurring",
        ),
        ("fr", "Vince (pas de téléphone communiqué)", "Annuler la demande", "🔁 En faire un"),
        ("nl", "Vince (geen telefoon opgegeven)", "De hulpvraag annuleren", "🔁 Terugkerend"),
    ],
)
def test_the_referent_hears_who_takes_their_request(
    language: str, text: str, cancel: str, recurring: str
) -> None:
    rendered = _render(ClaimTaken(PLUMBING, VINCE, recurring=False, claim_id=21), language)
    assert rendered.parse_mode is None
    assert text in rendered.text
    [[(write_label, write_data)], [cancel_button], [(recurring_label, recurring_data)]] = _buttons(
        rendered
    )
    cancel_label, cancel_data = cancel_button
    assert "Vince" in write_label
    assert write_data == "wr:claim:21"
    assert (cancel_label, cancel_data) == (cancel, "ra:cancel:7")
    assert recurring_label.startswith(recurring)
    assert recurring_data == "sr:make:7"
    # Already recurring: write to them, and Cancel.
    recurring_one = ClaimTaken(PLUMBING, VINCE, recurring=True, claim_id=21)
    assert len(_buttons(_render(recurring_one, language))) == 2


@pytest.mark.parametrize(
    ("language", "released", "could_not"),
    [
        (
            "en",
            "Vince released your request #7: it is offered again.",
            "Vince could not do your request #7: it is offered again.",
        ),
        (
            "fr",
            "Vince ne peut plus s’occuper de votre demande n° 7",
            "Vince n’a pas pu réaliser votre demande n° 7",
        ),
        ("nl", "Vince kan uw hulpvraag nr. 7 toch niet doen", "Vince kon uw hulpvraag nr. 7 niet"),
    ],
)
def test_a_place_given_back_is_told_to_the_referent(
    language: str, released: str, could_not: str
) -> None:
    assert released in _render(ClaimGivenBack(7, "Vince", could_not=False), language).text
    assert could_not in _render(ClaimGivenBack(7, "Vince", could_not=True), language).text
    assert _render(ClaimGivenBack(7, "Vince", could_not=False), language).keyboard is None


@pytest.mark.parametrize(
    ("language", "text"),
    [
        (
            "en",
            "⚠️ Vince (+33 6) reports a concern about request #7 (Plumbing). Please call them.",
        ),
        ("fr", "⚠️ Vince (+33 6) signale un souci concernant la demande n° 7 (Plomberie)."),
        ("nl", "⚠️ Vince (+33 6) meldt een zorg over hulpvraag nr. 7 (Loodgieterswerk)."),
    ],
)
def test_a_concern_names_the_volunteer_and_the_request(language: str, text: str) -> None:
    notice = ConcernRaised(7, "Plumbing", Contact("Vince", "+33 6"), "Door <locked> & no answer")
    rendered = _render(notice, language)
    assert text in rendered.text
    # The volunteer's own words, quoted and escaped (the text is HTML).
    assert rendered.text.endswith("<blockquote>Door &lt;locked&gt; &amp; no answer</blockquote>")
    assert rendered.html
    assert rendered.keyboard is None


@pytest.mark.parametrize(
    ("language", "tried", "labels"),
    [
        (
            "en",
            "Volunteers contacted: 4 · waves: 2 · group posts: 1 · “Not for me”: 1.",
            ["Widen the area", "Offer it again", "Cancel the request"],
        ),
        (
            "fr",
            "Bénévoles contacté·es\u202f: 4 · vagues\u202f: 2",
            ["Élargir la zone", "La proposer de nouveau", "Annuler la demande"],
        ),
        (
            "nl",
            "Gecontacteerde vrijwilligers: 4 · rondes: 2",
            ["Het gebied uitbreiden", "Opnieuw aanbieden", "De hulpvraag annuleren"],
        ),
    ],
)
def test_an_escalation_says_what_was_tried_and_offers_three_ways_out(
    language: str, tried: str, labels: list[str]
) -> None:
    rendered = _render(StillNotTaken(7, "Plumbing", 4, 2, 1, 1), language)
    assert tried in rendered.text
    rows = _buttons(rendered)
    assert [label for [(label, _data)] in rows] == labels
    assert [data for [(_label, data)] in rows] == ["ra:widen:7", "ra:resend:7", "ra:cancel:7"]


def test_the_escalation_and_the_open_card_say_what_was_tried_in_the_same_words() -> None:
    rendered = _render(StillNotTaken(7, "Plumbing", 4, 2, 1, 1), "fr")
    assert rendered.text == (
        "⏰ La demande n° 7 (Plomberie) n’est toujours pas prise en charge. Bénévoles "
        "contacté·es\u202f: 4 · vagues\u202f: 2 · publications en groupe\u202f: 1 · "
        "«\u202fPas pour moi\u202f»\u202f: 1. Que faire\u202f?"
    )
    english = _render(StillNotTaken(7, "Plumbing", 4, 2, 1, 1), "en").text
    tried = tried_line(4, 2, 1, 1, I18N.translator("en"))
    assert english == f"⏰ Request #7 (Plumbing) is still not taken. {tried} What should we do?"


def test_a_case_reads_in_html_with_its_two_buttons() -> None:
    case = CaseView(
        id=4,
        status=SignalStatus.OPEN,
        description="The lady <above> the bakery",
        place=None,
        latitude=None,
        longitude=None,
        neighbourhood="Centre-Ville",
        worry="Shutters closed",
        reporter_name="Sam",
        reporter_username=None,
        reporter_telegram_id=55,
        reporter_phone=None,
        assignee_id=None,
        assignee_name=None,
        outcome=None,
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    rendered = _render(CaseReported(case), "en")
    assert rendered.parse_mode == "HTML"
    assert "Who: The lady &lt;above&gt; the bakery" in rendered.text
    assert 'Reported by: <a href="tg://user?id=55">Sam</a>' in rendered.text
    assert _buttons(rendered) == [
        [("🤝 I'll follow up", "cs2:assign:4")],
        [("Close the case", "cs2:close:4")],
    ]


def test_the_messenger_turns_a_notice_into_its_outbox_call() -> None:
    messenger = Messenger(I18N, brigade_settings("sqlite://", timezone="Europe/Paris"))
    silent = OfferCopy(PLUMBING, offer_id=11, direct=True, silent=True)
    call = messenger.call(silent, Reader(100, member_id=9, language="en"))
    assert (call.chat_id, call.member_id, call.offer_id, call.method) == (
        100,
        9,
        11,
        "send_message",
    )
    assert call.payload["parse_mode"] == "HTML"
    assert call.payload["disable_notification"] is True
    assert call.payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "cl:7"
    group = messenger.call(OfferUpdate(PLUMBING, 11, direct=False), Reader(-500))
    assert (group.method, group.member_id) == ("edit_message_text", None)
    assert "Plomberie" in group.payload["text"]  # a group reads the town's language


def test_the_answers_to_taps() -> None:
    _ = I18N.translator("en")
    assert claim_answer(ClaimOutcome.FULL, _).alert
    assert not claim_answer(ClaimOutcome.CLAIMED, _).alert
    assert step_answer("failed", StepOutcome.DONE, _).text == "Done."
    assert step_answer("release", StepOutcome.DONE, _).text.startswith("Released")
    assert step_answer("concern", StepOutcome.ALREADY_DONE, _).alert
    assert step_answer("gohour", StepOutcome.DONE, _).text == "Noted, thank you!"
    assert step_answer("cancel", StepOutcome.STALE, _).text == "This has already been dealt with."
    # A "not done" after the confirmation window says why and what to do, in a box (fr: 174
    # characters; Telegram's limit for an answer is 200).
    too_late = step_answer("notdone", StepOutcome.TOO_LATE, I18N.translator("fr"))
    assert too_late.alert
    assert too_late.text.startswith("Trop tard pour rouvrir cette demande\u202f:")
    assert "/new" in too_late.text
    assert len(too_late.text) <= 200
