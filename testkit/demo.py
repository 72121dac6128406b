"""Offline demo: the real Brigade bot, polling a fake Bot API, in a small seeded town.

    python -m testkit.demo            # or: make demo

Nothing leaves this machine: the bot talks HTTP to a fake Telegram on 127.0.0.1 and geocodes with
a fake geocoder; the database is a temporary SQLite file. The scenario is played by simulated
people and printed as a transcript.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.charter import CHARTER_VERSION
from bot.domain.vocabulary import Role
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.volunteers import VolunteerApplication
from storage.clock import Clock
from storage.models import Skill
from testkit.clock import ManualClock
from testkit.harness import PollingBrigade, sqlite_url
from testkit.telegram import FakeBotApiServer, FakeGroup, FakeTelegram, FakeUser, StoredMessage

COORDINATOR_ID = 9001
# A made-up token: the fake Bot API accepts it, Telegram never sees it.
DEMO_TOKEN = "123456:BRIGADE-DEMO-TOKEN"  # noqa: S105
TIMEOUT = 10.0
# An invitation's single-use secret: random on every run, so the transcript shows it masked.
INVITE_SECRET = re.compile(r"\bi-[A-Za-z0-9_-]{16,}")

# (name, language, neighbourhood, latitude, longitude, skill codes)
VOLUNTEERS: tuple[tuple[str, str, str, float, float, tuple[str, ...]], ...] = (
    ("Marc", "fr", "Centre-Ville", 45.5671, 5.9212, ("plumbing", "odd_jobs")),
    ("Sophie", "fr", "Centre-Ville", 45.5682, 5.9190, ("shopping", "visit")),
    ("Karim", "fr", "Centre-Ville", 45.5650, 5.9230, ("electricity", "odd_jobs")),
    ("Élise", "fr", "Centre-Ville", 45.5699, 5.9177, ("phone_call", "visit")),
    ("Jules", "fr", "Centre-Ville", 45.5663, 5.9251, ("digital", "paperwork")),
    ("Nadia", "fr", "Centre-Ville", 45.5640, 5.9199, ("appointment", "shopping")),
    ("Paul", "fr", "Centre-Ville", 45.5708, 5.9220, ("gardening", "odd_jobs")),
    ("Inès", "fr", "Centre-Ville", 45.5677, 5.9160, ("outing", "visit")),
    ("Hugo", "en", "Centre-Ville", 45.5675, 5.9199, ("plumbing",)),
    ("Lucie", "fr", "Centre-Ville", 45.5690, 5.9240, ("shopping", "phone_call")),
    ("Bram", "nl", "Le Biollay", 45.5575, 5.9100, ("odd_jobs", "plumbing")),
    ("Fatou", "fr", "Le Biollay", 45.5562, 5.9081, ("visit", "phone_call")),
    ("Louis", "fr", "Le Biollay", 45.5551, 5.9068, ("shopping",)),
    ("Camille", "fr", "Le Biollay", 45.5589, 5.9112, ("digital",)),
    ("Yann", "fr", "Le Biollay", 45.5570, 5.9055, ("electricity",)),
    ("Aïcha", "fr", "Le Biollay", 45.5545, 5.9090, ("appointment", "outing")),
    ("Théo", "fr", "Le Biollay", 45.5580, 5.9070, ("gardening",)),
    ("Rose", "fr", "Le Biollay", 45.5559, 5.9120, ("paperwork", "visit")),
    ("Malik", "fr", "Le Biollay", 45.5566, 5.9040, ("odd_jobs",)),
)
NEIGHBOURHOODS = (("Centre-Ville", 45.5670, 5.9210, 1.2), ("Le Biollay", 45.5560, 5.9075, 1.2))


@dataclass
class Transcript:
    """Prints what each person sees, chat by chat, in the order the scenario looks at it."""

    world: FakeTelegram
    out: TextIO
    names: dict[int, str] = field(default_factory=dict)
    # Waits until the bot is idle (every update handled, the outbox drained), so that a chat is
    # printed as it stands once everything said has arrived: the same transcript on every run.
    settle: Callable[[], Awaitable[None]] | None = None
    _seen: dict[int, int] = field(default_factory=dict)

    def title(self, text: str) -> None:
        """A scene heading."""
        print(f"\n=== {text} ===", file=self.out)

    def note(self, text: str) -> None:
        """A narrator's line."""
        print(f"  ({text})", file=self.out)

    async def show(self, chats: Iterable[FakeUser | FakeGroup]) -> None:
        """Print the messages of these chats not printed yet, once the bot is idle."""
        if self.settle is not None:
            await self.settle()
        for chat in chats:
            messages = self.world.messages_in(chat.id, include_users=True)
            for message in messages:
                if message.message_id <= self._seen.get(chat.id, 0):
                    continue
                self._print(chat, message)
                self._seen[chat.id] = message.message_id

    def _print(self, chat: FakeUser | FakeGroup, message: StoredMessage) -> None:
        where = chat.title if isinstance(chat, FakeGroup) else chat.first_name
        if message.from_bot:
            who = f"bot → {where}"
        else:
            sender = str(message.sender.get("first_name", "?"))
            who = f"{sender} → bot" + (f" (in {where})" if isinstance(chat, FakeGroup) else "")
        body = INVITE_SECRET.sub(
            "i-<secret>", message.text or message.caption or _describe(message)
        )
        print(f"[{who}]", file=self.out)
        for line in body.splitlines() or [""]:
            print(f"    {line}", file=self.out)
        if message.labels:
            print("    " + "  ".join(f"[{label}]" for label in message.labels), file=self.out)


def _describe(message: StoredMessage) -> str:
    content = message.content
    if "location" in content:
        location = content["location"]
        return f"📍 location {location['latitude']:.4f}, {location['longitude']:.4f}"
    if "contact" in content:
        return f"📱 contact {content['contact'].get('phone_number', '')}"
    if "sticker" in content:
        return "(sticker)"
    return "(message)"


async def _seed(brigade: PollingBrigade) -> dict[str, int]:
    """Neighbourhoods and twenty approved volunteers, straight through the use cases."""
    services = brigade.services
    ids: dict[str, int] = {}
    for name, latitude, longitude, radius in NEIGHBOURHOODS:
        view = await services.neighbourhoods.create(
            COORDINATOR_ID, name, latitude, longitude, radius
        )
        assert not isinstance(view, Outcome), view
        ids[name] = view.id
    async with services.database.read() as session:
        skills = dict((await session.execute(select(Skill.code, Skill.id))).all())
    return ids | {f"skill:{code}": skill_id for code, skill_id in skills.items()}


async def _seed_volunteers(
    brigade: PollingBrigade, world: FakeTelegram, ids: dict[str, int]
) -> list[FakeUser]:
    services = brigade.services
    people = []
    for name, language, neighbourhood, latitude, longitude, codes in VOLUNTEERS:
        person = world.add_user(name, language_code=language)
        people.append(person)
        await services.members.identify(TelegramIdentity(person.id, name, language_code=language))
        submitted = await services.volunteers.submit(
            person.id,
            VolunteerApplication(
                display_name=name,
                latitude=latitude,
                longitude=longitude,
                radius_km=2.0,
                skill_ids=tuple(ids[f"skill:{code}"] for code in codes),
                availability=((5, "morning"), (6, "afternoon")),
                charter_version=CHARTER_VERSION,
                neighbourhood_id=ids[neighbourhood],
            ),
        )
        assert not isinstance(submitted, Outcome), submitted
        decision = await services.volunteers.decide(
            COORDINATOR_ID, submitted.member_id, approve=True
        )
        assert decision.outcome is Outcome.DONE
    return people


async def play(
    out: TextIO = sys.stdout,
    *,
    clock: Clock | None = None,
    after: Callable[[PollingBrigade], Awaitable[None]] | None = None,
) -> int:
    """Seed the town, play the scenario, print the transcript; returns an exit status.

    `clock` replaces the demo's (a fixed date, frozen: every run prints the same times); `after`
    looks at the bot before it stops.
    """
    world = FakeTelegram(token=DEMO_TOKEN)
    transcript = Transcript(world, out)
    with tempfile.TemporaryDirectory(prefix="brigade-demo-") as folder:
        server = FakeBotApiServer(world)
        await server.start()
        try:
            brigade = PollingBrigade.for_server(
                world,
                server,
                sqlite_url(Path(folder)),
                coordinator_ids=[COORDINATOR_ID],
                bot_token=DEMO_TOKEN,
                clock=clock or ManualClock(),
            )
            async with brigade:
                await _scenario(world, brigade, transcript)
                if after is not None:
                    await after(brigade)
        finally:
            await server.stop()
    world.assert_sound()
    print("\nThe demo ran offline against the fake Bot API: every step above succeeded.", file=out)
    return 0


async def _scenario(world: FakeTelegram, brigade: PollingBrigade, t: Transcript) -> None:
    t.settle = brigade.settle
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="fr")

    t.title("Claire, the town's coordinator, opens the bot")
    claire.send_command("start")
    await claire.expect_message(timeout=TIMEOUT)
    await t.show([claire])

    ids = await _seed(brigade)
    t.note(
        "seeded: neighbourhoods Centre-Ville and Le Biollay, the skills catalogue, and "
        f"{len(VOLUNTEERS)} approved volunteers"
    )
    volunteers = await _seed_volunteers(brigade, world, ids)
    groups = []
    for name, _lat, _lon, _radius in NEIGHBOURHOODS:
        members = [
            claire,
            *(v for v, spec in zip(volunteers, VOLUNTEERS, strict=True) if spec[2] == name),
        ]
        group = world.add_group(f"Brigade {name}", members)
        groups.append(group)
        outcome = await brigade.services.neighbourhoods.link_group(
            COORDINATOR_ID, ids[name], group.id
        )
        assert outcome is Outcome.DONE
    t.note("one group chat per neighbourhood, linked to it")

    t.title("Claire invites a referent (a social worker)")
    claire.send_command("invite")
    await claire.expect_message(timeout=TIMEOUT)
    claire.tap("référent")
    await world.wait_for(lambda: "t.me/" in (claire.last_message.text or ""), timeout=TIMEOUT)
    await t.show([claire])
    link = claire.last_message.text or ""
    payload = link.rsplit("start=", 1)[1].split()[0]
    nora = world.add_user("Nora", language_code="fr")
    nora.start(payload)
    await nora.expect_message(timeout=TIMEOUT)
    await t.show([nora])
    tom = world.add_user("Tom", language_code="fr")
    tom.start(payload)
    await tom.expect_message(timeout=TIMEOUT)
    t.note("Tom tries the same link: it worked once, for Nora only")
    await t.show([tom])

    t.title("A new neighbour, Léa, joins the brigade")
    lea = world.add_user("Léa", language_code="fr", phone_number="+33 6 98 76 54 32")
    lea.send_command("start")
    await lea.expect_message(timeout=TIMEOUT)
    lea.tap("Devenir bénévole")
    await lea.expect_message(timeout=TIMEOUT)
    lea.press("Utiliser «\u202fLéa\u202f»")
    await lea.expect_message(timeout=TIMEOUT)
    lea.press("📱")
    await lea.expect_message(timeout=TIMEOUT)
    lea.send_text("27 rue de Boigne, Chambéry")
    await lea.expect_message("En quoi pouvez-vous aider", timeout=TIMEOUT)
    for skill in ("Courses", "Visite"):
        lea.tap(skill)
        await world.wait_for(
            lambda skill=skill: any(  # type: ignore[misc]
                label.startswith("✅") and skill in label for label in lea.last_message.labels
            ),
            timeout=TIMEOUT,
        )
    lea.tap("Terminé")
    summary = await lea.expect_message(timeout=TIMEOUT)
    lea.tap(summary, "J’accepte la charte")
    await lea.expect_message(timeout=TIMEOUT)
    await t.show([lea])

    t.title("Claire receives the application and approves it")
    card = await claire.expect_message(timeout=TIMEOUT)
    await t.show([claire])
    claire.tap(card, "Valider")
    await lea.expect_message(timeout=TIMEOUT)
    await world.wait_for(lambda: not card.labels, timeout=TIMEOUT)
    await t.show([lea])
    t.note(
        "the card in Claire's chat now says who approved it: " + (card.text or "").splitlines()[-1]
    )

    t.title("Nora posts a request for Mme Martin, who has a leaking tap")
    # /new as Nora types it: 8 actions for someone new (consent first, the name and phone in one
    # message, the address with what helps to get in on the next line, defaults on the preview).
    nora.send_command("new")
    await nora.expect_message("Pour qui", timeout=TIMEOUT)
    nora.tap("➕ Une nouvelle personne")
    await nora.expect_message("accepte", timeout=TIMEOUT)
    nora.tap("Oui, la personne est d’accord")
    await nora.expect_message("nom et le numéro", timeout=TIMEOUT)
    nora.send_text("Mme Jeanne Martin 04 79 00 00 00")
    await nora.expect_message("Où habite", timeout=TIMEOUT)
    nora.send_text("27 rue de Boigne, Chambéry\n3e étage, code 1234")
    await nora.expect_message("type d’aide", timeout=TIMEOUT)
    nora.tap("Plomberie")
    await nora.expect_message("Décrivez", timeout=TIMEOUT)
    nora.send_text("Le robinet de la cuisine fuit depuis hier.")
    preview = await nora.expect_message("Vérifiez la demande", timeout=TIMEOUT)
    nora.tap(preview, "✅ Publier la demande")
    posted = await nora.expect_message("publiée", timeout=TIMEOUT)
    request_id = int((posted.text or "").split("n°", 1)[1].split()[0].strip(".,"))
    await t.show([nora])
    t.note(f"{world.actions[nora.id] - 1} actions from /new to the posted request")
    plumbers = [v for v, spec in zip(volunteers, VOLUNTEERS, strict=True) if "plumbing" in spec[5]]
    marc, hugo = plumbers[0], plumbers[1]
    marc_offer = await marc.expect_message(f"n° {request_id}", timeout=TIMEOUT)
    hugo_offer = await hugo.expect_message(f"#{request_id}", timeout=TIMEOUT)
    await groups[0].expect_message(f"n° {request_id}", timeout=TIMEOUT)
    await t.show([marc, hugo, groups[0]])

    t.title("Marc and Hugo tap at the same moment: one place")
    marc.tap(marc_offer, "Je m’en occupe")
    hugo.tap(hugo_offer, "I'll do it")
    await world.wait_for(
        lambda: bool(marc.callback_answers and hugo.callback_answers), timeout=TIMEOUT
    )
    for person in (marc, hugo):
        t.note(f"{person.first_name}'s tap is answered: {person.callback_answers[-1].text}")

    def has_details(person: FakeUser) -> bool:
        return any("Jeanne Martin" in (m.text or "") for m in person.inbox)

    await world.wait_for(lambda: has_details(marc) or has_details(hugo), timeout=TIMEOUT)
    winner = marc if has_details(marc) else hugo
    details = next(m for m in winner.inbox if "Jeanne Martin" in (m.text or ""))
    await world.wait_for(lambda: not marc_offer.labels and not hugo_offer.labels, timeout=TIMEOUT)
    await nora.expect_message(timeout=TIMEOUT)
    # Every copy edited (the group's too) before anyone says so: the outbox drained.
    await t.show([winner, nora])
    t.note("every copy of the offer, in each chat and in the group, now says it is taken:")
    t.note((groups[0].last_message.text or "").splitlines()[-1])

    t.title(f"{winner.first_name} fixes the tap; Nora confirms")
    winner.tap(details, "✅")
    await nora.expect_message(timeout=TIMEOUT)
    # "How long did it take?" The question of when they will go, sent with the details, is
    # paced by the outbox and may come after it when the tap on ✅ is quick (a demo's is).
    asked = await winner.expect_message(timeout=TIMEOUT)
    while asked.find_button("1") is None:
        asked = await winner.expect_message(timeout=TIMEOUT)
    winner.tap(asked, "1")
    await world.wait_for(lambda: bool(winner.callback_answers), timeout=TIMEOUT)
    await brigade.settle()
    nora.tap(nora.last_message, "✅")
    await winner.expect_message(timeout=TIMEOUT)
    await t.show([winner, nora])

    t.title("Bram, from Brussels, prefers Dutch")
    bram = volunteers[10]
    bram.send_command("language")
    await bram.expect_message("Kies uw taal", timeout=TIMEOUT)
    bram.tap("Nederlands")
    await world.wait_for(lambda: "Taal" in (bram.last_message.text or ""), timeout=TIMEOUT)
    bram.send_command("help")
    await bram.expect_message("Uw opdrachten", timeout=TIMEOUT)
    await t.show([bram])

    staff = await brigade.services.members.staff()
    referents = [m.display_name for m in staff if Role.REFERENT in m.roles]
    t.note(f"referents now: {', '.join(referents)}; groups: {', '.join(g.title for g in groups)}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo and print its transcript."""
    parser = argparse.ArgumentParser(prog="python -m testkit.demo", description=__doc__)
    parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(play())


if __name__ == "__main__":
    sys.exit(main())
