"""The real bot as a subprocess against a fake Bot API in the test process, and a seeded town."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select

from bot.app import build_services
from bot.context import Services
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.services.requests import BeneficiaryDetails, RequestDraft
from bot.settings import Settings
from storage import migrate
from storage.models import Member, MemberRole, OutboxMessage, OutboxStatus, Skill, VolunteerSkill
from testkit.harness import TEST_TOKEN, brigade_settings
from testkit.telegram import FakeBotApiServer, FakeTelegram, FakeUser
from tests.factories import CENTRE, east

REPO = Path(__file__).resolve().parents[2]
SECRET = "reliability-S3cret-0123456789abcdef"  # 35 characters: a webhook needs 32+
# A guard against a hung subprocess, never a performance requirement.
PATIENCE = 90.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api_root(server: FakeBotApiServer) -> str:
    """What BRIGADE_BOT_API_BASE_URL must be for the bot to reach the fake server."""
    return server.base_url.removesuffix("/bot")


class BotProcess:
    """`python -m bot` in a subprocess, its output in a log file shown when a test fails."""

    def __init__(
        self,
        name: str,
        folder: Path,
        *,
        api_base_url: str,
        database_url: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self.cwd = folder  # no .env file there: only the variables below count
        base = {key: value for key, value in os.environ.items() if not key.startswith("BRIGADE_")}
        self.env = base | {
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "BRIGADE_BOT_TOKEN": TEST_TOKEN,
            "BRIGADE_BOT_API_BASE_URL": api_base_url,
            "BRIGADE_DATABASE_URL": database_url,
            "BRIGADE_GEOCODER": "none",
            "BRIGADE_TOWN_NAME": "Chambéry",
            "BRIGADE_LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self.started_at = 0.0
        self.runs = 0

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        """Start (or restart) the bot; its output goes to the log file."""
        assert not self.alive
        if self._log is not None:
            self._log.close()
        self.runs += 1
        self._log = self.log_path.open("ab")
        self._log.write(f"\n===== run {self.runs} =====\n".encode())
        self._log.flush()
        self.started_at = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM: what systemd, Docker and Kubernetes send to stop a service."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def wait(self, timeout: float = PATIENCE) -> int:  # noqa: ASYNC109 - a guard
        """Wait for the process to end; its exit status (negative: killed by that signal)."""
        assert self.process is not None
        try:
            async with asyncio.timeout(timeout):
                return await self.process.wait()
        except TimeoutError:
            raise AssertionError(f"{self.name} did not exit\n{self.output()}") from None

    async def stop(self) -> None:
        """Make sure the process is gone (test teardown)."""
        if self.alive:
            self.kill()
            await self.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        """Everything the process printed (for failure messages)."""
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except FileNotFoundError:
            return "(no output)"


async def wait_until_polling(world: FakeTelegram, bot: BotProcess) -> None:
    """Wait until the bot asks for updates (it is up: migrated, sender started)."""
    seen = len(world.calls)

    def polling() -> bool:
        assert bot.alive, f"{bot.name} exited\n{bot.output()}"
        calls = world.calls[seen:] + world.active_calls
        return any(call.method == "getUpdates" for call in calls)

    await world.wait_for(polling, PATIENCE, what=f"{bot.name} to poll")


def bot_status(bot: BotProcess) -> str:
    """The process's state and output, for assertion messages."""
    code = None if bot.process is None else bot.process.returncode
    return f"{bot.name}: exit status {code}\n{bot.output()}"


# --------------------------------------------------------------------------------- the town


@dataclass
class Town:
    """A referent and volunteers who all fit a plumbing request at the centre."""

    referent: FakeUser
    volunteers: list[FakeUser]
    skill_id: int


def settings_for(database_url: str, server: FakeBotApiServer, **overrides: Any) -> Settings:
    """The test process's settings: same database and fake API as the bot subprocess."""
    return brigade_settings(database_url, api_base_url=api_root(server), **overrides)


async def seed_town(services: Services, world: FakeTelegram, volunteers: int) -> Town:
    """Migrate, then add a referent and `volunteers` approved plumbers within reach."""
    await migrate.upgrade(services.database)
    referent = world.add_user("Rita", language_code="en")
    people = [world.add_user(f"Vol{i:03d}", language_code="en") for i in range(volunteers)]
    async with services.database.transaction() as session:
        skill_id = (
            await session.execute(select(Skill.id).where(Skill.code == "plumbing"))
        ).scalar_one()
        rita = Member(telegram_id=referent.id, display_name="Rita", telegram_language="en")
        session.add(rita)
        await session.flush()
        session.add(MemberRole(member_id=rita.id, role=Role.REFERENT))
        for index, person in enumerate(people):
            latitude, longitude = east(0.2 + (index % 10) * 0.1)
            member = Member(
                telegram_id=person.id,
                display_name=person.first_name,
                telegram_language="en",
                latitude=latitude,
                longitude=longitude,
                radius_km=3.0,
                volunteer_status=VolunteerStatus.APPROVED,
            )
            session.add(member)
            await session.flush()
            session.add(MemberRole(member_id=member.id, role=Role.VOLUNTEER))
            session.add(VolunteerSkill(member_id=member.id, skill_id=skill_id))
    return Town(referent, people, skill_id)


def plumbing_draft(skill_id: int) -> RequestDraft:
    """A request every seeded volunteer fits."""
    return RequestDraft(
        skill_id=skill_id,
        description="Leaking tap under the sink",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            consent=True,
        ),
    )


async def post_request(services: Services, town: Town) -> int:
    """Post the request through the service: its offers become outbox rows in one commit."""
    posted = await services.requests.post(town.referent.id, plumbing_draft(town.skill_id))
    assert posted is not None
    return posted.request_id


def offers_in(world: FakeTelegram, person: FakeUser, request_id: int) -> int:
    """How many copies of the request's offer this person received."""
    marker = f"Request #{request_id}"
    return sum(marker in (message.text or "") for message in world.messages_in(person.id))


def offer_counts(world: FakeTelegram, people: Sequence[FakeUser], request_id: int) -> list[int]:
    """Offers received, person by person."""
    return [offers_in(world, person, request_id) for person in people]


async def outbox_summary(services: Services) -> dict[str, int]:
    """Rows by status, plus pending rows still leased by someone."""
    async with services.database.read() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        summary = {str(status): int(count) for status, count in rows}
        leased = await session.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.lease_owner.is_not(None),
            )
        )
        summary["leased"] = int(leased.scalar_one())
    return summary


def new_services(settings: Settings) -> Services:
    """The test process's own services on the shared database (no sender runs here)."""
    return build_services(settings)


async def drained(services: Services, timeout: float = PATIENCE) -> dict[str, int]:  # noqa: ASYNC109
    """Wait until no outbox row is pending any more; the final summary."""
    async with asyncio.timeout(timeout):
        while True:
            summary = await outbox_summary(services)
            if not summary.get("pending"):
                return summary
            await asyncio.sleep(0.2)


async def until_listening(port: int, bot: BotProcess) -> None:
    """Wait until a webhook process accepts connections on its port."""
    async with asyncio.timeout(PATIENCE):
        while True:
            assert bot.alive, bot_status(bot)
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return
