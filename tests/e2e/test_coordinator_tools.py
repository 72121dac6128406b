"""Coordinators' tools end to end: neighbourhoods, group linking, the skills catalogue."""

from __future__ import annotations

import pytest

from bot.domain.vocabulary import Role
from bot.services.outcomes import Outcome
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID

pytestmark = pytest.mark.e2e


async def test_a_coordinator_creates_neighbourhoods_by_pin_and_by_address(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("neighbourhoods")
    screen = await claire.expect_message("Neighbourhoods of Chambéry")
    assert "None yet." in (screen.text or "")
    claire.tap("New neighbourhood")
    await claire.expect_message("Name of the new neighbourhood?")
    claire.send_text("Centre-Ville")
    await claire.expect_message("Where is its centre?")
    claire.send_location(45.567, 5.921)
    await claire.expect_message("How large")
    claire.tap("1 km")
    await claire.expect_message("Neighbourhood Centre-Ville created.")
    listing = await claire.expect_message("Neighbourhoods of Chambéry")
    assert "Centre-Ville — 1 km, volunteers: 0, no group yet" in (listing.text or "")
    assert "start=n-1" in (listing.text or "")

    claire.tap("New neighbourhood")
    await claire.expect_message("Name of the new neighbourhood?")
    claire.send_text("Le Biollay")
    await claire.expect_message("Where is its centre?")
    claire.send_text("Le Biollay, Chambéry")
    await claire.expect_message("Found:")
    await claire.expect_message("How large")
    claire.tap("0.5 km")
    await claire.expect_message("Neighbourhood Le Biollay created.")
    views = await live.services.neighbourhoods.all()
    assert [(v.name, v.radius_km) for v in views] == [("Centre-Ville", 1.0), ("Le Biollay", 0.5)]

    # Turning group posts off for one neighbourhood.
    listing = await claire.expect_message("Neighbourhoods of Chambéry")
    claire.tap(listing, "Stop group posts: Le Biollay")
    await world.wait_for(lambda: "Post in group: Le Biollay" in listing.labels)
    views = await live.services.neighbourhoods.all()
    assert [v.post_to_group for v in views] == [True, False]


async def test_a_group_is_linked_by_a_coordinator_and_refused_for_anyone_else(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    nora = world.add_user("Nora", language_code="en")
    claire.send_command("start")
    await claire.expect_message()
    created = await live.services.neighbourhoods.create(COORDINATOR_ID, "Massillon", 49.5, 0.12, 1)
    assert not isinstance(created, Outcome)
    group = world.add_group("Voisins de Massillon", [claire, nora])

    nora.send_command("link", chat=group)
    refusal = await group.expect_message("Only a coordinator")
    assert refusal.text == "Only a coordinator can link this group to a neighbourhood."

    claire.send_command("link", chat=group)
    offer = await group.expect_message("Which neighbourhood is this group for?")
    tap = nora.tap(offer, "Massillon")  # a non-coordinator taps the coordinator's buttons
    assert "Only a coordinator" in await nora.answer_to(tap)
    assert await live.services.neighbourhoods.by_group_chat(group.id) is None

    claire.tap(offer, "Massillon")
    await world.wait_for(
        lambda: "is now the group of the neighbourhood Massillon" in (offer.text or "")
    )
    linked = await live.services.neighbourhoods.by_group_chat(group.id)
    assert linked is not None
    assert linked.name == "Massillon"


async def test_the_bot_says_when_it_cannot_post_in_a_group(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await claire.expect_message()
    group = world.add_group("Muted group", [claire], bot_status="restricted")
    claire.send_command("link", chat=group)
    notice = await claire.expect_message("I cannot post in the group")
    assert "“Muted group”" in (notice.text or "")
    assert world.messages_in(group.id) == []


async def test_a_coordinator_adds_and_retires_skills(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("skills")
    catalogue = await claire.expect_message("The skills catalogue")
    assert "• Small electrical work ⚠" in (catalogue.text or "")
    claire.tap("Add a skill")
    await claire.expect_message("Name of the new skill")
    claire.send_text("Pet sitting")
    await claire.expect_message("Must a coordinator check each volunteer")
    claire.tap("No")
    listing = await claire.expect_message("Skill added.")
    assert "• Pet sitting" in (listing.text or "")
    claire.tap(listing, "Retire: Gardening")
    await world.wait_for(lambda: "Restore: Gardening" in listing.labels)
    assert "Gardening" not in [s.label for s in await live.services.skills.active()]
    assert "Pet sitting" in [s.label for s in await live.services.skills.active()]
    members = await live.services.members.staff()
    assert [m.roles for m in members] == [frozenset({Role.COORDINATOR})]
