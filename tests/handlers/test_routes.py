"""One route for buttons and commands: forged data, roles, values a step does not offer."""

from __future__ import annotations

from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID
from tests.factories import approved_volunteer

NO_LONGER_VALID = "This button is no longer valid."


async def test_forged_data_is_answered_as_stale_before_any_handler(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    ana = world.add_user("Ana", language_code="en")
    ana.send_command("language")
    await brigade.deliver()
    menu = ana.last_message
    for forged in ("lang:", "lang:NL", "lang:nl:x", "pz:1w:2", "cs2:assign:x"):
        answered = len(ana.callback_answers)
        ana.tap_data(menu, forged)
        await brigade.deliver()
        assert len(ana.callback_answers) == answered + 1, forged
        assert ana.callback_answers[-1].text == NO_LONGER_VALID, forged
    assert menu.text == "Choose your language:"  # nothing was edited


async def test_a_role_is_checked_by_the_route_whatever_the_verb(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    vera = world.add_user("Vera", language_code="en")
    await approved_volunteer(brigade, vera, 0.5)
    vera.send_command("help")
    await brigade.deliver()
    for data in ("nbh:zz:1", "ska:zz:1", "vet:zz:1", "an:count:1"):
        vera.tap_data(vera.last_message, data)
        await brigade.deliver()
        answer = vera.callback_answers[-1]
        assert answer.text == "This action is reserved for the brigade's coordinators.", data
        assert answer.show_alert, data
    vera.send_command("invite")
    await brigade.deliver()
    assert vera.last_message.text == "This action is reserved for the brigade's coordinators."


async def test_a_value_the_step_does_not_offer_is_stale_and_the_step_stays(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("neighbourhoods")
    await brigade.deliver()
    claire.tap(claire.last_message, "➕ New neighbourhood")
    await brigade.deliver()
    claire.send_text("Bissy")
    await brigade.deliver()
    claire.send_location(45.58, 5.90)
    await brigade.deliver()
    radii = claire.last_message
    assert (radii.text or "").startswith("How large is the neighbourhood")
    claire.tap_data(radii, "nbh:radius:7")  # 0.7 km is not offered
    await brigade.deliver()
    assert claire.callback_answers[-1].text == NO_LONGER_VALID
    claire.tap(radii, "2 km")
    await brigade.deliver()
    created = [m.text or "" for m in claire.inbox[-2:]]
    assert created[0] == "Neighbourhood Bissy created."
    assert created[1].startswith("Neighbourhoods of")
    views = await brigade.services.neighbourhoods.all()
    assert [(view.name, view.radius_km) for view in views] == [("Bissy", 2.0)]


async def test_the_state_is_kept_by_ptb_only(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    bob = world.add_user("Bob", language_code="en")
    bob.send_command("join")
    await brigade.deliver()
    bob.send_text("Bob Leroy")
    await brigade.deliver()
    draft = brigade.app.user_data[bob.id]["signup"]
    assert draft["name"] == "Bob Leroy"
    assert not any(key.startswith("_") for key in draft)


async def test_a_language_forged_onto_a_document_is_confirmed_in_a_message_of_its_own(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    vera = world.add_user("Vera", language_code="en")
    await approved_volunteer(brigade, vera, 0.5)
    vera.send_command("mydata")
    await brigade.deliver()
    document = vera.last_message
    assert document.file is not None
    assert document.text is None
    vera.tap_data(document, "lang:nl")
    await brigade.deliver()
    # The document is left as it was; the confirmation arrives in Dutch, with the keyboard.
    assert document.history == []
    assert document.file is not None
    confirmation = vera.last_message
    assert confirmation is not document
    assert confirmation.text == "Taal ingesteld: Nederlands."
    assert "✓ Nederlands" in confirmation.labels
    world.assert_sound()
