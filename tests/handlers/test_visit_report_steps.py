"""The visit report at the Telegram edge: it survives a restart, refuses what does not fit (a
sticker for an amount, someone else's buttons), ends when the claim no longer takes a report,
and expires with the drafts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import Role, Wellbeing
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.database import Database
from storage.models import Claim
from testkit.clock import ManualClock
from testkit.harness import InProcessBrigade, brigade_settings
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, approved_volunteer, skill_id


@pytest.fixture
def clock() -> ManualClock:
    """Ticking: the outbox sender puts a busy chat's rows back for a second or two."""
    return ManualClock(ticking=True)


@asynccontextmanager
async def _running(world: FakeTelegram, database: Database) -> AsyncIterator[InProcessBrigade]:
    """The real application on the test's database (start it again for a restart)."""
    settings = brigade_settings(database.url, coordinator_ids=[COORDINATOR_ID])
    async with InProcessBrigade(world, settings, database=database) as running:
        yield running


async def _town(world: FakeTelegram, town: InProcessBrigade) -> tuple[FakeUser, FakeUser, FakeUser]:
    """Rita (referent), Marc and Eve (volunteers who shop); Marc holds Rita's request, done."""
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await town.deliver()
    invite = await town.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(invite, Outcome)
    rita = world.add_user("Rita", language_code="en")
    rita.start(invite.start_payload)
    await town.deliver()
    marc = world.add_user("Marc", language_code="en")
    eve = world.add_user("Eve", language_code="en")
    await approved_volunteer(town, marc, 0.3, "shopping")
    await approved_volunteer(town, eve, 0.4, "shopping")
    draft = RequestDraft(
        skill_id=await skill_id(town.services.database, "shopping"),
        description="Groceries",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        beneficiary=BeneficiaryDetails(
            "Mme Brossard", None, "3 rue de Boigne", CENTRE[0], CENTRE[1], consent=True
        ),
    )
    assert await town.services.requests.post(rita.id, draft) is not None
    await town.deliver()
    marc.tap("I'll do it")
    await town.deliver()
    marc.tap("✅ Done")
    await town.deliver()
    assert marc.last_message.text == "How long did it take, roughly?"
    return rita, marc, eve


async def _claim(town: InProcessBrigade) -> Claim:
    async with town.services.database.read() as session:
        return (await session.execute(select(Claim))).scalar_one()


async def test_the_report_goes_on_after_a_restart_and_refuses_what_does_not_fit(
    world: FakeTelegram, database: Database
) -> None:
    async with _running(world, database) as town:
        rita, marc, eve = await _town(world, town)
        marc.tap("1 hour")
        await town.deliver()
        claim_id = (await _claim(town)).id
        # Eve forges Marc's buttons on her own copy of the offer: she has no report going, and
        # the claim is not hers.
        offer = eve.last_message
        eve.tap_data(offer, f"vr:worried:{claim_id}")
        eve.tap_data(offer, f"cs:done:{claim_id}")
        await town.deliver()
        assert [a.text for a in eve.callback_answers[-2:]] == [
            "This button is no longer valid.",
            "This action is not available to you.",
        ]

    # The bot restarts: Marc's next answer continues where he was.
    async with _running(world, database) as town:
        marc.tap("😊 Fine")
        await town.deliver()
        assert (await _claim(town)).wellbeing is Wellbeing.FINE
        assert (marc.last_message.text or "").startswith("Did you advance money for the person?")
        marc.send_sticker()
        await town.deliver()
        texts = [m.text for m in marc.inbox[-2:]]
        assert texts[0] == "Sorry, I did not understand that answer."
        assert (texts[1] or "").startswith("Did you advance money for the person?")
        marc.send_text("beaucoup")
        await town.deliver()
        assert (marc.last_message.text or "").startswith("Please type an amount such as €12.50")
        assert (await _claim(town)).expense_cents is None
        marc.send_text("7.5")
        await town.deliver()
        assert "Marc advanced €7.50" in (rita.last_message.text or "")
        marc.tap("No receipt")
        await town.deliver()
        assert marc.last_message.text == "Thank you for your report! 💛"
        claim = await _claim(town)
        assert (claim.minutes_spent, claim.expense_cents, claim.receipt_sent) == (60, 750, False)
        assert not any("worried" in (m.text or "") for m in rita.inbox)


async def test_a_claim_said_not_done_takes_no_more_report(
    world: FakeTelegram, database: Database
) -> None:
    async with _running(world, database) as town:
        rita, marc, _eve = await _town(world, town)
        rita.tap("❌ Not done")  # asked first, in the message
        await town.deliver()
        rita.tap("Yes, it was not done")
        await town.deliver()
        marc.tap("30 min")
        await town.deliver()
        assert marc.callback_answers[-1].text == "This has already been dealt with."
        assert (await _claim(town)).minutes_spent is None
        # The report ended: the question lost its buttons, the next tap is answered as stale.
        assert marc.inbox[-1].buttons == []


async def test_an_abandoned_report_expires_with_the_drafts(
    world: FakeTelegram, database: Database, clock: ManualClock
) -> None:
    async with _running(world, database) as town:
        _rita, marc, _eve = await _town(world, town)
        question = marc.last_message
        received = len(marc.inbox)
        clock.advance(hours=town.services.settings.draft_ttl_hours + 1)
        await town.run_timers()
        # The report keeps each answer as it is given: it ends without a word.
        assert len(marc.inbox) == received
        marc.tap(question, "2 hours")
        await town.deliver()
        answer = marc.callback_answers[-1]
        assert "put away" not in (answer.text or "")
        assert (await _claim(town)).minutes_spent is None
