"""How writing through the bot reads: the write buttons, the header, and a copy that carries
no content of its own (the outbox row names the original message; it holds no text)."""

from __future__ import annotations

import pytest

from bot.i18n import I18n
from bot.messages.base import Reader, Town
from bot.messages.correspondence import (
    CopiedMessage,
    LetterAboutClaim,
    Opening,
    Side,
    refusal,
    write_button,
)
from bot.messages.messenger import Messenger
from bot.services.outcomes import Outcome
from testkit.harness import brigade_settings

I18N = I18n("fr")
SETTINGS = brigade_settings("sqlite+aiosqlite:///unused.sqlite3")
TOWN = Town.of(SETTINGS)


@pytest.mark.parametrize(
    ("language", "to_referent", "to_nour", "header", "closed"),
    [
        (
            "en",
            "💬 Write to the referent",
            "💬 Write to Nour",
            "💬 Rita writes to you about request #7:",
            "The conversation about request #7 is closed",
        ),
        (
            "fr",
            "💬 Écrire à la personne référente",
            "💬 Écrire à Nour",
            "💬 Rita vous écrit au sujet de la demande n° 7\u202f:",
            "La conversation sur la demande n° 7 est close",
        ),
        (
            "nl",
            "💬 Bericht aan de referent",
            "💬 Bericht aan Nour",
            "💬 Rita schrijft u over hulpvraag nr. 7:",
            "Het gesprek over hulpvraag nr. 7 is gesloten",
        ),
    ],
)
def test_the_write_buttons_the_header_and_the_closed_answer_in_each_language(
    language: str, to_referent: str, to_nour: str, header: str, closed: str
) -> None:
    _ = I18N.translator(language)
    referent_button = write_button(_, 21, to=Side.REFERENT)
    assert (referent_button.text, referent_button.callback_data) == (to_referent, "wr:claim:21")
    assert write_button(_, 21, to=Side.VOLUNTEER, name="Nour").text == to_nour
    assert LetterAboutClaim("Rita", 7).render(_, TOWN).text == header
    assert refusal(Opening(Outcome.EXPIRED, Side.REFERENT, request_id=7), _).startswith(closed)


def test_a_copy_names_the_original_message_and_holds_no_text() -> None:
    call = Messenger(I18N, SETTINGS).call(
        CopiedMessage(from_chat_id=555, message_id=42, reply_verb="claim", reply_target=21),
        Reader(chat_id=777, member_id=3, language="en"),
    )
    assert call.method == "copy_message"
    assert call.chat_id == 777
    assert set(call.payload) == {"from_chat_id", "message_id", "reply_markup"}
    assert (call.payload["from_chat_id"], call.payload["message_id"]) == (555, 42)
    [[reply]] = call.payload["reply_markup"]["inline_keyboard"]
    assert (reply["text"], reply["callback_data"]) == ("↩ Reply", "wr:claim:21")
