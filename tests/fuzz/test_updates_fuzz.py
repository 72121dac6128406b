"""Fuzzing the real application with random sequences of updates from several people.

A small town is seeded once (a coordinator from settings, a referent invited the real way, four
approved volunteers and one pending, a neighbourhood group, two open requests whose beneficiaries
carry recognisable private details, one of them already taken). Every example starts from a copy
of that database and of what each person's chat showed, with a fresh application fed in-process
(`InProcessBrigade`), and plays 1–`MAX_STEPS` random actions: any text (unicode, empty, 4096
characters), stickers, photos, locations at the poles and on the antimeridian, contacts, commands
in and out of order, taps on the buttons people see, on buttons from before an edit, and forged
callback data (random ≤ 64 bytes, other requests' ids, other people's claim ids), in private chats
and in the group; people also block and unblock the bot.

After every update: nothing reached the error handler or was logged as an error, the simulated
Telegram neither crashed nor saw an unsupported call, every request holds
places_taken ≤ places_needed and exactly as many claims holding a place, and every request and
claim moved only as bot/domain/lifecycle.py allows. At the end of each example: the beneficiaries'
details went only to claimers of their requests and to their referent (every text, caption,
callback answer and uploaded file the bot sent is searched).

`BRIGADE_FUZZ_EXAMPLES` (default 50, about 30 s here) and `BRIGADE_FUZZ_STEPS` (default 12) size
the run; `BRIGADE_FUZZ_SHRINK=1` lets hypothesis shrink a failure (minutes). A failure lists every
step. Sequences the fuzzer found are replayed as plain tests at the end of this file.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.callbacks import Action
from bot.domain.lifecycle import HOLDING_PLACE, claim_may_go, request_may_go
from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from bot.services.volunteers import VolunteerApplication
from storage.models import AuditEvent, Beneficiary, Claim, HelpRequest, Member, Skill
from testkit.harness import TEST_TOKEN, InProcessBrigade, brigade_settings, sqlite_url
from testkit.telegram import FakeGroup, FakeTelegram, FakeUser, StoredMessage, UploadedFile
from testkit.telegram.models import inline_rows
from tests.conftest import COORDINATOR_ID

MAX_EXAMPLES = int(os.environ.get("BRIGADE_FUZZ_EXAMPLES", "50"))
MAX_STEPS = int(os.environ.get("BRIGADE_FUZZ_STEPS", "12"))
CENTRE = (45.5670, 5.9210)
GROUP_ID = -1_000_555_000_001
# Far above the updates that seeded the template.
FIRST_EXAMPLE_UPDATE_ID = 100_000

# Two beneficiaries with details nobody would type by chance: (name, phone, address, notes).
BENEFICIARIES = (
    ("Odette Quenouille", "+33 4 79 11 11 11", "5 impasse des Lilas, Chambéry", "digicode 4417QX"),
    ("Gaspard Tournesol", "+33 4 79 22 22 22", "12 quai des Orfèvres, Chambéry", "digicode 9023KW"),
)


@dataclass(frozen=True)
class Person:
    """Someone of the seeded town, as the fake knows them."""

    name: str
    user_id: int
    language: str
    in_group: bool


@dataclass
class Template:
    """The seeded database and what every chat showed once the town was set up."""

    database: Path
    people: list[Person]
    chats: dict[int, Any]  # chat id → ChatState, deep-copied into each example's world
    member_telegram_ids: dict[int, int]  # member id → telegram id (kept even after /forget)
    # beneficiary name → its secrets
    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)


# ------------------------------------------------------------------------------ the seeded town


async def _seed(folder: Path) -> Template:
    world = FakeTelegram(token=TEST_TOKEN)
    path = folder / "template.sqlite3"
    settings = brigade_settings(sqlite_url(folder, path.name), coordinator_ids=[COORDINATOR_ID])
    people: list[Person] = []

    def person(name: str, language: str, *, user_id: int | None = None, group: bool) -> FakeUser:
        user = world.add_user(name, user_id=user_id, language_code=language)
        people.append(Person(name, user.id, language, group))
        return user

    async with InProcessBrigade(world, settings) as brigade:
        services = brigade.services
        claire = person("Claire", "en", user_id=COORDINATOR_ID, group=True)
        rita = person("Rita", "fr", group=True)
        claire.send_command("start")
        rita.send_command("start")
        await brigade.deliver()
        invite = await services.invites.create(COORDINATOR_ID, Role.REFERENT)
        assert not isinstance(invite, Outcome)
        rita.start(invite.start_payload)
        await brigade.deliver()
        async with services.database.read() as session:
            skills = dict((await session.execute(select(Skill.code, Skill.id))).all())
        volunteers = [
            (person("Ana", "en", group=True), 0.3, True),
            (person("Bob", "en", group=True), 0.6, True),
            (person("Chloé", "fr", group=False), 0.9, True),
            (person("Dirk", "nl", group=False), 0.4, True),
            (person("Paul", "en", group=False), 0.2, False),  # pending
        ]
        for user, km, approve in volunteers:
            await services.members.identify(
                TelegramIdentity(user.id, user.first_name, language_code=user.language_code)
            )
            submitted = await services.volunteers.submit(
                user.id,
                VolunteerApplication(
                    display_name=user.first_name,
                    latitude=CENTRE[0],
                    longitude=CENTRE[1] + km / 78.0,
                    radius_km=2.0,
                    skill_ids=(skills["plumbing"], skills["shopping"]),
                    availability=(),
                    charter_version="2026-11",
                    phone="+33 6 11 22 33 44",
                ),
            )
            assert not isinstance(submitted, Outcome), submitted
            if approve:
                await services.volunteers.decide(COORDINATOR_ID, submitted.member_id, approve=True)
        person("Zoé", "fr", group=True)  # a newcomer: never talked to the bot
        group = world.add_group(
            "Brigade Centre-Ville",
            [world.users[p.user_id] for p in people if p.in_group],
            chat_id=GROUP_ID,
        )
        neighbourhood = await services.neighbourhoods.create(
            COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.5
        )
        assert not isinstance(neighbourhood, Outcome)
        linked = await services.neighbourhoods.link_group(
            COORDINATOR_ID, neighbourhood.id, group.id
        )
        assert linked is Outcome.DONE
        secrets: dict[str, tuple[str, ...]] = {}
        request_ids = []
        for (name, phone, address, notes), (skill, places) in zip(
            BENEFICIARIES, (("plumbing", 2), ("shopping", 1)), strict=True
        ):
            secrets[name] = (name, name.split()[-1], phone, address.split(",")[0], notes)
            posted = await services.requests.post(
                rita.id,
                RequestDraft(
                    skill_id=skills[skill],
                    description="Fuzzing request",
                    latitude=CENTRE[0],
                    longitude=CENTRE[1],
                    area_label="Rue de Boigne",
                    places_needed=places,
                    beneficiary=BeneficiaryDetails(
                        name=name,
                        phone=phone,
                        address=address,
                        latitude=CENTRE[0],
                        longitude=CENTRE[1],
                        access_notes=notes,
                        consent=True,
                    ),
                ),
            )
            assert posted is not None
            request_ids.append(posted.request_id)
        await brigade.deliver()
        # Ana takes the second request: a claim, its private details and its buttons exist.
        ana = world.users[volunteers[0][0].id]
        offer = next(
            m
            for m in ana.inbox
            if any(b.callback_data == f"cl:{request_ids[1]}" for b in m.buttons)
        )
        ana.tap_data(offer, f"cl:{request_ids[1]}")
        await brigade.deliver()
        assert any("Tournesol" in (m.text or "") for m in ana.inbox), world.describe()
        async with services.database.read() as session:
            members = {
                member_id: telegram_id
                for member_id, telegram_id in await session.execute(
                    select(Member.id, Member.telegram_id)
                )
            }
    chats = {p.user_id: copy.deepcopy(world.chat_state(p.user_id)) for p in people}
    chats[GROUP_ID] = copy.deepcopy(world.chat_state(GROUP_ID))
    return Template(
        database=path,
        people=people,
        chats=chats,
        member_telegram_ids={mid: tid for mid, tid in members.items() if tid is not None},
        secrets=secrets,
    )


def _world(template: Template) -> tuple[FakeTelegram, FakeGroup]:
    """A fresh fake whose people and chats are the template's (same ids, same messages).

    Its update ids continue after the template's: the bot remembers the ids it handled and skips
    a re-delivered one, as it must.
    """
    world = FakeTelegram(token=TEST_TOKEN, first_update_id=FIRST_EXAMPLE_UPDATE_ID)
    for p in template.people:
        world.add_user(p.name, user_id=p.user_id, language_code=p.language)
    group = world.add_group(
        "Brigade Centre-Ville",
        [world.users[p.user_id] for p in template.people if p.in_group],
        chat_id=GROUP_ID,
    )
    for chat_id, saved in template.chats.items():
        state = world.chat_state(chat_id)
        state.messages = copy.deepcopy(saved.messages)
        state.next_message_id = saved.next_message_id
        state.reply_keyboard = copy.deepcopy(saved.reply_keyboard)
    return world, group


class ErrorLog(logging.Handler):
    """Keeps every record logged at ERROR or above (the error handler logs there)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Fuzzing:
    """What one test keeps across examples: its event loop, its folder and the template.

    Not a dataclass: hypothesis prints a failing example's arguments, and this one is long.
    """

    def __init__(
        self, runner: asyncio.Runner, folder: Path, template: Template, errors: ErrorLog
    ) -> None:
        self.runner = runner
        self.folder = folder
        self.template = template
        self.errors = errors

    def __repr__(self) -> str:
        return f"Fuzzing(folder={self.folder})"


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzing]:
    """Seed the town once; one event loop for every example (hypothesis calls a sync test)."""
    folder = tmp_path_factory.mktemp("fuzz")
    errors = ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    with asyncio.Runner() as runner:
        template = runner.run(_seed(folder))
        errors.records.clear()
        try:
            yield Fuzzing(runner, folder, template, errors)
        finally:
            root.removeHandler(errors)


# ------------------------------------------------------------------------------ random input

LONG_TEXTS = ("x" * 4096, "é" * 4096, "🙂" * 2048, ("ligne\n" * 700)[:4096], " " * 4096)
PLAUSIBLE = (
    "1",
    "2",
    "3",
    "0",
    "-1",
    "yes",
    "oui",
    "Ana",
    "+33 6 12 34 56 78",
    "06 12 34 56 78",
    "12 rue de la Gare",
    "27 rue de Boigne, Chambéry",
    "nowhere at all",
    "Plumbing",
    "⬅ Back",
    "⬅ Retour",
    "Cancel",
    "demain",
    "31/02/2026",
    "<b>bold</b> *markdown* _x_ [a](b) `code`",
    "\\",
    "\u200b",
    "\x00",
    "@brigade_test_bot",
)
COMMANDS = (
    "start",
    "new",
    "join",
    "cancel",
    "help",
    "profile",
    "pause",
    "resume",
    "forget",
    "mydata",
    "language",
    "pending",
    "invite",
    "neighbourhoods",
    "skills",
    "link",
    "signal",
    "stats",
    "open",
    "frobnicate",
)
SPECIAL_POINTS = (
    (90.0, 0.0),
    (-90.0, 0.0),
    (90.0, 180.0),
    (0.0, 180.0),
    (0.0, -180.0),
    (45.567, 179.99999),
    (-45.567, -179.99999),
    (0.0, 0.0),
    CENTRE,
    (CENTRE[0], CENTRE[1] + 0.01),
)

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(LONG_TEXTS),
    st.just(""),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200),
)
command_args = st.one_of(
    st.just(""),
    st.sampled_from(("inv_", "inv_AAAA", "inv_" + "z" * 60, "x" * 64, "1", "-1")),
    st.text(max_size=20),
)
points = st.one_of(
    st.sampled_from(SPECIAL_POINTS),
    st.tuples(
        st.floats(-90, 90, allow_nan=False, allow_infinity=False),
        st.floats(-180, 180, allow_nan=False, allow_infinity=False),
    ),
)
phones = st.one_of(
    st.none(),
    st.sampled_from(("+33612345678", "0612345678", "+", "1" * 40, "not a phone", "+1 (555) 0100")),
    st.text(min_size=1, max_size=20),
)
ACTION_WORDS = [action.value for action in Action]
WORDS = (
    "done",
    "release",
    "failed",
    "notyet",
    "concern",
    "confirm",
    "notdone",
    "cancel",
    "resend",
    "widen",
    "approve",
    "reject",
    "verify",
    "yes",
    "no",
    "add",
    "name",
    "fr",
    "en",
    "de",
    "referent",
    "coordinator",
    "volunteer",
    "week",
    "day",
    "next",
    "back",
    "post",
)


def _forged(ids: list[int]) -> st.SearchStrategy[str]:
    """Callback data: random bytes-limited strings, and well-formed data with others' ids."""
    number = st.one_of(st.sampled_from(ids or [1]), st.integers(0, 10**19), st.just(0))
    part = st.one_of(number.map(str), st.sampled_from(WORDS), st.text(max_size=8))
    structured = st.builds(
        lambda head, args: ":".join([head, *args]),
        st.sampled_from(ACTION_WORDS),
        st.lists(part, max_size=3),
    )
    raw = st.text(min_size=1, max_size=64)
    return st.one_of(structured, raw).filter(lambda d: 1 <= len(d.encode()) <= 64)


KINDS = (
    "text",
    "text",
    "command",
    "command",
    "sticker",
    "photo",
    "location",
    "contact",
    "tap",
    "tap",
    "tap",
    "stale tap",
    "forged tap",
    "press",
    "group",
    "block",
)


# ------------------------------------------------------------------------------ one example


@dataclass
class Example:
    """One example's world, app and bookkeeping."""

    world: FakeTelegram
    group: FakeGroup
    brigade: InProcessBrigade
    template: Template
    errors: ErrorLog
    log: list[str] = field(default_factory=list)
    taps: dict[str, int] = field(default_factory=dict)  # callback query id → who tapped
    requests: dict[int, RequestStatus] = field(default_factory=dict)
    claims: dict[int, ClaimStatus] = field(default_factory=dict)
    # The fuzzing tolerates the known bugs (so it finds others); their replays do not.
    tolerate_known_bugs: bool = True

    def fail(self, problem: str) -> None:
        """Stop the example with the steps that led here."""
        steps = "\n".join(f"  {i + 1}. {s}" for i, s in enumerate(self.log))
        raise AssertionError(f"{problem}\nsteps:\n{steps}")


def _buttons(messages: list[StoredMessage], *, history: bool) -> list[tuple[StoredMessage, str]]:
    """(message, callback data) of the buttons shown now, or shown before an edit."""
    found: list[tuple[StoredMessage, str]] = []
    for message in messages:
        markups = [v.reply_markup for v in message.history] if history else [message.reply_markup]
        for markup in markups:
            for row in inline_rows(markup):
                found.extend((message, b.callback_data) for b in row if b.callback_data)
    return found


async def _step(ex: Example, data: st.DataObject) -> None:
    people = ex.template.people
    who = data.draw(st.sampled_from(people), label="who")
    user = ex.world.users[who.user_id]
    kind = data.draw(st.sampled_from(KINDS), label="action")
    if user.blocked and kind not in ("block", "group"):
        # A client that blocked the bot cannot write to it before unblocking it.
        kind = "block"
    if kind == "block":
        if user.blocked:
            user.unblock_bot()
            ex.log.append(f"{who.name} unblocks the bot")
        else:
            user.block_bot()
            ex.log.append(f"{who.name} blocks the bot")
        return
    if kind == "group":
        if not who.in_group:
            kind = "text"
        else:
            sub = data.draw(st.sampled_from(("text", "command", "tap")), label="in group")
            if sub == "tap":
                buttons = _buttons(ex.group.messages, history=False)
                if buttons:
                    message, callback = data.draw(st.sampled_from(buttons), label="group button")
                    _tap(ex, user, message, callback, f"{who.name} taps {callback!r} in the group")
                    return
                sub = "command"
            if sub == "text":
                text = data.draw(texts, label="text")
                user.send_text(text, chat=ex.group)
                ex.log.append(f"{who.name} writes {text[:60]!r} in the group")
            else:
                command = data.draw(st.sampled_from(COMMANDS), label="command")
                user.send_command(command, chat=ex.group)
                ex.log.append(f"{who.name} sends /{command} in the group")
            return
    mine = [m for m in ex.world.messages_in(user.id)]
    if kind == "tap":
        buttons = _buttons(mine, history=False)
        if buttons:
            message, callback = data.draw(st.sampled_from(buttons), label="button")
            _tap(ex, user, message, callback, f"{who.name} taps {callback!r}")
            return
        kind = "forged tap"
    if kind == "stale tap":
        old = _buttons(mine, history=True)
        # Other people's buttons too: their claim ids and steps, pressed on one's own message.
        others = [
            callback
            for p in people
            if p.user_id != user.id
            for _m, callback in _buttons(ex.world.messages_in(p.user_id), history=False)
        ]
        choices = [callback for _m, callback in old] + others
        if mine and choices:
            callback = data.draw(st.sampled_from(choices), label="stale data")
            message = data.draw(st.sampled_from(mine), label="on message")
            _tap(ex, user, message, callback, f"{who.name} taps stale/other data {callback!r}")
            return
        kind = "forged tap"
    if kind == "forged tap":
        if mine:
            ids = sorted(set(ex.requests) | set(ex.claims) | set(ex.template.member_telegram_ids))
            callback = data.draw(_forged(ids), label="forged data")
            message = data.draw(st.sampled_from(mine), label="on message")
            _tap(ex, user, message, callback, f"{who.name} taps forged data {callback!r}")
            return
        kind = "command"
    if kind == "press":
        keyboard = [label for row in user.reply_keyboard for label in row]
        if keyboard:
            label = data.draw(st.sampled_from(keyboard), label="keyboard button")
            try:
                user.press(label)
            except AssertionError:  # a request_location button: share a location instead
                latitude, longitude = data.draw(points, label="point")
                user.send_location(latitude, longitude)
                ex.log.append(f"{who.name} shares the location {latitude}, {longitude}")
                return
            ex.log.append(f"{who.name} presses the keyboard button {label!r}")
            return
        kind = "text"
    if kind == "text":
        text = data.draw(texts, label="text")
        user.send_text(text)
        ex.log.append(f"{who.name} writes {text[:60]!r} ({len(text)} chars)")
    elif kind == "command":
        command = data.draw(st.sampled_from(COMMANDS), label="command")
        args = data.draw(command_args, label="args")
        user.send_command(command, args)
        ex.log.append(f"{who.name} sends /{command} {args!r}")
    elif kind == "sticker":
        user.send_sticker()
        ex.log.append(f"{who.name} sends a sticker")
    elif kind == "photo":
        caption = data.draw(st.one_of(st.none(), texts), label="caption")
        user.send_photo(caption=caption[:1024] if caption else None)
        ex.log.append(f"{who.name} sends a photo")
    elif kind == "location":
        latitude, longitude = data.draw(points, label="point")
        user.send_location(latitude, longitude)
        ex.log.append(f"{who.name} shares the location {latitude}, {longitude}")
    elif kind == "contact":
        phone = data.draw(phones, label="phone")
        user.send_contact(phone)
        ex.log.append(f"{who.name} shares a contact {phone!r}")


def _tap(ex: Example, user: FakeUser, message: StoredMessage, callback: str, what: str) -> None:
    update = user.tap_data(message, callback)
    ex.taps[str(update["callback_query"]["id"])] = user.id
    ex.log.append(what)


async def _snapshot(ex: Example) -> None:
    """Check the places and every move of a request or claim since the last look."""
    first = not ex.requests
    async with ex.brigade.services.database.read() as session:
        requests = (await session.execute(select(HelpRequest))).scalars().all()
        claims = (await session.execute(select(Claim))).scalars().all()
    holding: dict[int, int] = {}
    done: dict[int, int] = {}
    for claim in claims:
        if claim.status in HOLDING_PLACE:
            holding[claim.request_id] = holding.get(claim.request_id, 0) + 1
        if claim.status is ClaimStatus.DONE:
            done[claim.request_id] = done.get(claim.request_id, 0) + 1
        before = ex.claims.get(claim.id)
        if before is None and not first and claim.status is not ClaimStatus.ACTIVE:
            ex.fail(f"claim #{claim.id} was born {claim.status}")
        if before is not None and before != claim.status and not claim_may_go(before, claim.status):
            ex.fail(f"claim #{claim.id} went {before} → {claim.status}")
        ex.claims[claim.id] = claim.status
    for request in requests:
        taken, needed = request.places_taken, request.places_needed
        counted = holding.get(request.id, 0)
        if not 0 <= taken <= needed or taken != counted:
            ex.fail(
                f"request #{request.id}: places_taken {taken}, places_needed {needed}, "
                f"claims holding a place {holding.get(request.id, 0)}"
            )
        if request.status is RequestStatus.FULL and taken != needed:
            ex.fail(f"request #{request.id} is full with {taken}/{needed} places taken")
        if request.status is RequestStatus.OPEN and taken >= needed:
            ex.fail(f"request #{request.id} is open with {taken}/{needed} places taken")
        before_request = ex.requests.get(request.id)
        if before_request is None and not first and request.status is not RequestStatus.OPEN:
            ex.fail(f"request #{request.id} was born {request.status}")
        if (
            before_request is not None
            and before_request != request.status
            and not request_may_go(before_request, request.status)
        ):
            ex.fail(f"request #{request.id} went {before_request} → {request.status}")
        ex.requests[request.id] = request.status


async def _audited_moves_are_legal(ex: Example) -> None:
    async with ex.brigade.services.database.read() as session:
        events = (await session.execute(select(AuditEvent))).scalars().all()
    for audited in events:
        moved_from, moved_to = audited.from_state, audited.to_state
        if not (moved_from and moved_to) or moved_from == moved_to:
            continue
        if audited.entity == "request":
            legal = request_may_go(RequestStatus(moved_from), RequestStatus(moved_to))
        elif audited.entity == "claim":
            legal = claim_may_go(ClaimStatus(moved_from), ClaimStatus(moved_to))
        else:
            continue
        if not legal:
            ex.fail(
                f"audit: {audited.entity} #{audited.entity_id} {audited.action}: "
                f"{audited.from_state} → {audited.to_state}"
            )


def _texts_sent(ex: Example) -> list[tuple[int | str | None, str]]:
    """(recipient chat, text) of everything the bot showed anyone in this example."""
    sent: list[tuple[int | str | None, str]] = []
    for call in ex.world.calls:
        if not call.ok:
            continue
        params = call.params
        if call.method == "answerCallbackQuery":
            who = ex.taps.get(str(params.get("callback_query_id")))
            sent.append((who, str(params.get("text", ""))))
            continue
        pieces = [str(params.get(key, "")) for key in ("text", "caption")]
        for value in params.values():
            if isinstance(value, UploadedFile):
                pieces.append(value.content.decode("utf-8", errors="replace"))
        sent.append((call.chat_id, "\n".join(pieces)))
    return sent


async def _private_details_stayed_private(ex: Example) -> None:
    async with ex.brigade.services.database.read() as session:
        rows = (
            await session.execute(
                select(Beneficiary.name, HelpRequest.referent_id, Claim.volunteer_id)
                .join(HelpRequest, HelpRequest.beneficiary_id == Beneficiary.id)
                .outerjoin(Claim, Claim.request_id == HelpRequest.id)
            )
        ).all()
    known = ex.template.member_telegram_ids
    allowed: dict[str, set[int]] = {}
    for name, referent_id, volunteer_id in rows:
        chats = allowed.setdefault(name, set())
        for member_id in (referent_id, volunteer_id):
            if member_id is not None and member_id in known:
                chats.add(known[member_id])
    for chat, text in _texts_sent(ex):
        for name, secrets in ex.template.secrets.items():
            leaked = [s for s in secrets if s in text]
            if leaked and chat not in allowed.get(name, set()):
                ex.fail(
                    f"{name}'s details {leaked} were sent to chat {chat}, which is neither a "
                    f"claimer nor the referent ({sorted(allowed.get(name, set()))}):\n{text[:500]}"
                )


def _restore(template: Template, path: Path) -> Path:
    """A copy of the template's database at `path` (the previous example's files removed)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template.database, path)
    return path


@asynccontextmanager
async def _example(fuzz: Fuzzing, *, tolerate_known_bugs: bool = True) -> AsyncIterator[Example]:
    """The template's database and chats, a fresh application on them, the first snapshot."""
    template = fuzz.template
    path = _restore(template, fuzz.folder / "example.sqlite3")
    world, group = _world(template)
    settings = brigade_settings(
        sqlite_url(fuzz.folder, path.name), coordinator_ids=[COORDINATOR_ID]
    )
    fuzz.errors.records.clear()
    async with InProcessBrigade(world, settings) as brigade:
        ex = Example(world, group, brigade, template, fuzz.errors)
        ex.tolerate_known_bugs = tolerate_known_bugs
        await _snapshot(ex)
        yield ex


async def _deliver_and_check(ex: Example) -> None:
    """Run what was queued, then every per-update invariant."""
    try:
        await ex.brigade.deliver()
    except TimeoutError:
        ex.fail("the outbox did not drain within 10 s")
    if ex.errors.records:
        record = ex.errors.records[0]
        trace = ""
        if record.exc_info:
            trace = "\n" + logging.Formatter().formatException(record.exc_info)
        ex.fail(f"logged at {record.levelname} by {record.name}: {record.getMessage()}{trace}")
    if ex.world.internal_errors or ex.world.unsupported_calls:
        ex.fail(f"the fake says:\n{ex.world.describe()}")
    await _snapshot(ex)


async def _play(fuzz: Fuzzing, data: st.DataObject) -> None:
    async with _example(fuzz) as ex:
        steps = data.draw(st.integers(1, MAX_STEPS), label="steps")
        for _ in range(steps):
            await _step(ex, data)
            await _deliver_and_check(ex)
        await _audited_moves_are_legal(ex)
        await _private_details_stayed_private(ex)
        # What the examples reached (pytest --hypothesis-show-statistics).
        event(f"claims at the end: {len(ex.claims)}")
        event(f"requests at the end: {len(ex.requests)}")
        for status in set(ex.requests.values()):
            event(f"a request ended {status}")


PHASES = tuple(Phase) if os.environ.get("BRIGADE_FUZZ_SHRINK") else (Phase.reuse, Phase.generate)


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # Shrinking a failing sequence takes minutes; the failure message lists every step anyway.
    # BRIGADE_FUZZ_SHRINK=1 turns it on to get the smallest example.
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_updates_from_several_people_keep_every_invariant(
    fuzzing: Fuzzing, data: st.DataObject
) -> None:
    fuzzing.runner.run(asyncio.wait_for(_play(fuzzing, data), timeout=120))


def test_the_template_is_what_the_fuzzer_expects(fuzzing: Fuzzing) -> None:
    """The seeded town has the people, requests and private details the invariants rely on."""
    template = fuzzing.template
    assert {p.name for p in template.people} >= {"Claire", "Rita", "Ana", "Zoé"}
    ana = next(p for p in template.people if p.name == "Ana")
    rita = next(p for p in template.people if p.name == "Rita")
    assert any("Tournesol" in (m.text or "") for m in template.chats[ana.user_id].messages.values())
    # While seeding too, the details went only to the claimer (Ana) and the referent (Rita).
    for chat_id, state in template.chats.items():
        for message in state.messages.values():
            for secrets in template.secrets.values():
                if any(s in (message.text or "") for s in secrets):
                    assert chat_id in (ana.user_id, rita.user_id), message.summary()


# ------------------------------------------------------------------------------ findings
# Sequences the fuzzer found (or that narrow down what it found), replayed step by step: each
# step is (who, the start of the callback data of the newest button they see), then every
# invariant is checked as in the fuzzing.


async def _replay(fuzz: Fuzzing, script: list[tuple[str, str]]) -> Example:
    async with _example(fuzz, tolerate_known_bugs=False) as ex:
        for name, prefix in script:
            who = next(p for p in fuzz.template.people if p.name == name)
            user = ex.world.users[who.user_id]
            message, callback = next(
                (m, c)
                for m, c in reversed(_buttons(user.inbox, history=False))
                if c.startswith(prefix)
            )
            _tap(ex, user, message, callback, f"{name} taps {callback!r}")
            await _deliver_and_check(ex)
        await _audited_moves_are_legal(ex)
        await _private_details_stayed_private(ex)
        return ex


def test_cancelling_a_taken_request_gives_its_places_back(fuzzing: Fuzzing) -> None:
    """Found by the fuzzer: request #2 (1 place) is Ana's; Rita cancels it from the notice
    "Ana takes your request #2". Ana's claim was cancelled but places_taken stayed at 1."""
    fuzzing.runner.run(_replay(fuzzing, [("Rita", "ra:cancel:2")]))


def test_cancelling_a_request_whose_claimer_said_done(fuzzing: Fuzzing) -> None:
    """Request #1 needs 2: Bob takes it and says it is done (his claim is `done`, the request
    still open); then Rita cancels it. A done claim still holds its place."""
    fuzzing.runner.run(
        _replay(
            fuzzing,
            [("Bob", "cl:1"), ("Bob", "cs:done:"), ("Rita", "ra:cancel:1")],
        )
    )
