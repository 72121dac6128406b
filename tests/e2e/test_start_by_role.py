"""/start over HTTP: each role gets the buttons of what it does most, and each button opens the
command it stands for (a stale or forged one is answered, never obeyed)."""

from __future__ import annotations

import pytest

from bot.messages.commitments import NOT_A_REFERENT
from handlers.common import NOT_A_COORDINATOR
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram
from tests.factories import new_referent, new_volunteer, the_coordinator

pytestmark = pytest.mark.e2e


async def test_a_coordinator_sees_the_applications_waiting_and_opens_them(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    await new_volunteer(live, world, "Marc", approve=False)
    claire.send_command("start")
    greeting = await claire.expect_message("You coordinate the brigade of Chambéry")
    assert greeting.labels == ["📝 Applications waiting: 1", "📋 Open requests", "📊 Figures"]

    claire.tap(greeting, "📝 Applications waiting: 1")
    await claire.expect_message("1 application waiting:")
    card = await claire.expect_message("Marc")
    assert "✅ Approve" in card.labels
    claire.tap(greeting, "📋 Open requests")
    await claire.expect_message("Every request has its volunteers.")
    claire.tap(greeting, "📊 Figures")
    await claire.expect_message("Figures: which period?")


async def test_a_referent_posts_and_lists_from_the_greeting(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    rita.send_command("start")
    greeting = await rita.expect_message("As a referent")
    assert greeting.labels == ["➕ New request", "🗂 My requests"]

    rita.tap(greeting, "🗂 My requests")
    await rita.expect_message("You have no request in progress")
    rita.tap(greeting, "➕ New request")
    question = await rita.expect_message("Who is the request for?")
    assert "➕ Someone new" in question.labels
    # Half-way, the same button starts over, as /new does.
    rita.tap(question, "➕ Someone new")
    await rita.expect_message("name")
    rita.tap(greeting, "➕ New request")
    await rita.expect_message("Who is the request for?")
    assert rita.callback_answers[-1].text is None  # answered, and not as a stale button


async def test_a_volunteer_sees_what_is_near_and_their_tasks(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    marc = await new_volunteer(live, world, "Marc")
    marc.send_command("start")
    greeting = await marc.expect_message("As a volunteer")
    assert greeting.labels == ["📍 Requests near me", "✅ My tasks"]

    marc.tap(greeting, "📍 Requests near me")
    await marc.expect_message("Nothing open near you right now (within 2 km)")
    marc.tap(greeting, "✅ My tasks")
    await marc.expect_message("You have no request in progress.")

    # A button of another role's greeting, forged: refused with the reason, nothing opened.
    marc.tap_data(greeting, "mn:pending")
    marc.tap_data(greeting, "mn:mine")
    await world.wait_for(lambda: len(marc.callback_answers) >= 4, what="the refusals")
    refusals = marc.callback_answers[-2:]
    assert [(a.text, a.show_alert) for a in refusals] == [
        (NOT_A_COORDINATOR, True),
        (NOT_A_REFERENT, True),
    ]
    await live.settle()
    assert "application" not in (marc.last_message.text or "")


async def test_a_newcomer_is_offered_to_become_a_volunteer_in_french(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    zoe = world.add_user("Zoé", language_code="fr")
    zoe.send_command("start")
    greeting = await zoe.expect_message("pas encore membre de la brigade (Chambéry)")
    assert greeting.labels == ["🙋 Devenir bénévole"]
    zoe.tap(greeting, "🙋 Devenir bénévole")
    await zoe.expect_message("Bienvenue dans la brigade")
