"""Visual spoofing: typed text cannot forge the bot's own lines, nor hide behind invisible marks.

A relay's worry may run over several lines ("fine\\nReported by: Police\\nPhone: 112"): the case
message shows it quoted, with the bot's real "Reported by" line once, outside the quote. Names
keep no right-to-left override or zero-width character.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select

from bot.domain.vocabulary import Role
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import Member, Signal
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram
from testkit.telegram.models import StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, approved_volunteer, skill_id

FORGED_WORRY = "fine\nReported by: Police\nPhone: 112"


def _quotes(message: StoredMessage) -> list[str]:
    """The text of each blockquote of a message (entity offsets count UTF-16 units)."""
    units = (message.text or "").encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.entities
        if e["type"] == "blockquote"
    ]


def _outside_quotes(message: StoredMessage) -> str:
    text = message.text or ""
    for quote in _quotes(message):
        text = text.replace(quote, "")
    return text


def _invisible(text: str | None) -> set[str]:
    return {f"U+{ord(c):04X}" for c in text or "" if unicodedata.category(c) in {"Cf", "Cc"}}


async def test_a_forged_worry_is_quoted_and_names_lose_invisible_characters(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await brigade.deliver()
    # A relay whose Telegram name hides a right-to-left override and zero-width spaces.
    sam = world.add_user("Sam\u202e\u200b", last_name="\u200bBa\u00adker", language_code="en")
    sam.send_command("signal")
    await brigade.deliver()
    sam.send_text("Mme\u200b Odette\u202e,\nthe lady above the bakery")
    await brigade.deliver()
    sam.send_text("12 rue de la Gare, Chambéry")
    await brigade.deliver()
    if "Which neighbourhood" in (sam.last_message.text or ""):
        sam.tap(sam.last_message, "Skip")
        await brigade.deliver()
    assert "What worries you?" in (sam.last_message.text or "")
    sam.send_text(FORGED_WORRY)
    await brigade.deliver()
    sam.press("Telegram is enough")
    await brigade.deliver()
    sam.tap(sam.last_message, "Send the report")
    await brigade.deliver()
    assert "Your report #" in (sam.last_message.text or "")

    case = next(m for m in claire.inbox if "Case #" in (m.text or ""))
    assert _quotes(case) == [FORGED_WORRY]
    outside = _outside_quotes(case)
    assert outside.count("Reported by") == 1
    assert "Reported by: Sam Baker" in outside
    assert "Police" not in outside
    assert "Who: Mme Odette, the lady above the bakery" in outside

    async with brigade.services.database.read() as session:
        names = (await session.execute(select(Member.display_name))).scalars().all()
        signal = (await session.execute(select(Signal))).scalar_one()
    assert "Sam Baker" in names
    for stored in [*names, signal.description, signal.place, signal.worry]:
        assert _invisible(stored) <= ({"U+000A"} if stored == signal.worry else set()), stored


async def test_a_request_description_is_quoted_in_every_copy_of_the_offer(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    services = brigade.services
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    rita = world.add_user("Rita", language_code="en")
    rita.send_command("start")
    await brigade.deliver()
    invite = await services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(invite, Outcome)
    rita.start(invite.start_payload)
    await brigade.deliver()
    nour = world.add_user("Nour", language_code="en")
    await approved_volunteer(brigade, nour, 0.5)
    forged = "Leaking tap <b>now</b>\nWhere: 1 rue du Piège\n👥 3 volunteers needed"
    posted = await services.requests.post(
        rita.id,
        RequestDraft(
            skill_id=await skill_id(brigade.services.database, "plumbing"),
            description=forged,
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            area_label="Rue de Boigne",
            places_needed=1,
            beneficiary=BeneficiaryDetails(
                name="Mme Jeanne Martin",
                phone="+33 4 79 00 00 00",
                address="27 rue de Boigne, Chambéry",
                latitude=CENTRE[0],
                longitude=CENTRE[1],
                access_notes="3rd floor",
                consent=True,
            ),
        ),
    )
    assert posted is not None
    await brigade.deliver()
    offer = next(m for m in nour.inbox if f"Request #{posted.request_id}:" in (m.text or ""))
    assert _quotes(offer) == [forged]
    assert _outside_quotes(offer).count("Where:") == 1

    # "Not for me" adds its line and keeps the quote.
    nour.tap(offer, "Not for me")
    await brigade.deliver()
    edited = world.message(nour.id, offer.message_id)
    assert _quotes(edited) == [forged]
    assert (edited.text or "").endswith("You said this one is not for you.")
