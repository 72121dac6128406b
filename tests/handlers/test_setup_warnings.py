"""What the bot says at start about a set-up that leaves people stuck, and how it speaks of a town
that has no name yet (bot/setup_checks.py, Settings.town)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.domain.vocabulary import Role
from bot.services.invites import CreatedInvite
from bot.setup_checks import DEFAULT_TOWN, NO_COORDINATOR
from testkit.harness import InProcessBrigade, brigade_settings, sqlite_url
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID

SETUP_LOG = "bot.setup_checks"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SETUP_LOG and r.levelno == 30]


async def test_a_fresh_install_warns_about_both(
    world: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=SETUP_LOG)
    settings = brigade_settings(sqlite_url(tmp_path), town_name="Brigade")
    async with InProcessBrigade(world, settings):
        pass
    assert _warnings(caplog) == [NO_COORDINATOR, DEFAULT_TOWN]
    assert "set BRIGADE_COORDINATOR_IDS" in NO_COORDINATOR
    assert "BRIGADE_TOWN_NAME" in DEFAULT_TOWN


async def test_a_coordinator_in_the_database_is_enough(
    world: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=SETUP_LOG)
    url = sqlite_url(tmp_path)
    # A first run names a coordinator in the settings, who invites a second one.
    async with InProcessBrigade(world, brigade_settings(url, coordinator_ids=[COORDINATOR_ID])):
        pass
    assert _warnings(caplog) == []
    async with InProcessBrigade(
        world, brigade_settings(url, coordinator_ids=[COORDINATOR_ID])
    ) as running:
        ana = world.add_user("Ana", language_code="fr")
        claire = world.add_user("Claire", user_id=COORDINATOR_ID)
        claire.send_command("start")
        await running.deliver()
        created = await running.services.invites.create(COORDINATOR_ID, Role.COORDINATOR)
        assert isinstance(created, CreatedInvite)
        ana.start(created.start_payload)
        await running.deliver()
        member = await running.services.members.find(ana.id)
        assert member is not None
        assert Role.COORDINATOR in member.roles
    # Later the settings name nobody: the coordinators of the database can still approve.
    caplog.clear()
    async with InProcessBrigade(world, brigade_settings(url)):
        pass
    assert _warnings(caplog) == []


async def test_without_a_town_name_the_texts_leave_the_town_out(
    world: FakeTelegram, tmp_path: Path
) -> None:
    settings = brigade_settings(
        sqlite_url(tmp_path), coordinator_ids=[COORDINATOR_ID], town_name="Brigade"
    )
    async with InProcessBrigade(world, settings) as running:
        zoe = world.add_user("Zoé", language_code="fr")
        tom = world.add_user("Tom", language_code="en")
        claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="fr")
        for person in (zoe, tom, claire):
            person.send_command("start")
        await running.deliver()
        assert "Vous n’êtes pas encore membre de la brigade. Pour aider" in zoe.last_message.text
        assert "You are not a member of the brigade yet." in tom.last_message.text
        assert "Vous coordonnez la brigade\u202f: vous validez" in claire.last_message.text
        texts = " ".join(p.last_message.text or "" for p in (zoe, tom, claire))
        assert "Brigade" not in texts
