"""Every coordinator command and button, tried by a volunteer and by a referent, is refused."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.callbacks import COORDINATOR_ACTIONS, Action
from bot.commands import COMMANDS
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.volunteers import VolunteerApplication
from storage.models import AuditEvent, Invite, Member, Skill
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID

# One sample of each coordinator-only button; the set must match bot.callbacks exactly.
SAMPLE_TAPS: dict[Action, list[str]] = {
    Action.VET: ["vet:approve:{pending}", "vet:reject:{pending}"],
    Action.VERIFY_SKILL: ["vsk:{pending}:1"],
    Action.INVITE: ["inv:referent", "inv:coordinator"],
    Action.LINK_GROUP: ["lnk:{neighbourhood}"],
    Action.NEIGHBOURHOOD: ["nbh:off:{neighbourhood}", "nbh:new:0", "nbh:radius:10"],
    Action.SKILL_ADMIN: ["ska:retire:1", "ska:restore:1", "ska:add:0", "ska:verify:1"],
    Action.REPORT: ["rp:stats:month", "rp:export:all", "rp:open:0", "rp:stuck:0"],
    Action.ANNOUNCE: ["an:to:all", "an:send:yes"],
    Action.CHARTER_ADMIN: ["cha:replace:fr", "cha:publish:x", "cha:confirm:yes"],
    Action.MEMBERS: [
        "mb:list:0_x_x_0_x_x",
        "mb:list:1_v_s_1_1_1",
        "mb:card:{pending}",
        "mb:search:x",
    ],
    Action.STANDING: [
        "st:suspend:{pending}",
        "st:reinstate:{pending}",
        "st:unref:{pending}",
        "st:uncoord:{pending}",
        "st:yes:{pending}",
        "st:no:{pending}",
    ],
    Action.WATCH: ["wt:start:0", "wt:show:1", "wt:stop:1", "wt:stopyes:1", "wt:report:1"],
    Action.WATCH_STEP: ["wts:kind:heat", "wts:start:x"],
}
COORDINATOR_COMMANDS = [c.name for c in COMMANDS if c.roles == frozenset({Role.COORDINATOR})]


def test_the_walk_covers_every_coordinator_button_and_command() -> None:
    assert set(SAMPLE_TAPS) == COORDINATOR_ACTIONS
    assert set(COORDINATOR_COMMANDS) == {
        "pending",
        "invite",
        "neighbourhoods",
        "skills",
        "open",
        "stuck",
        "stats",
        "export",
        "announce",
        "members",
        "watch",
    }


async def _seed(brigade: InProcessBrigade) -> dict[str, int]:
    services = brigade.services
    await services.members.identify(TelegramIdentity(COORDINATOR_ID, "Claire"))
    view = await services.neighbourhoods.create(COORDINATOR_ID, "Massillon", 49.5, 0.12, 1)
    assert not isinstance(view, Outcome)
    await services.members.identify(TelegramIdentity(555, "Pending Paul"))
    submitted = await services.volunteers.submit(
        555,
        VolunteerApplication(
            display_name="Pending Paul",
            latitude=49.5,
            longitude=0.12,
            radius_km=2,
            skill_ids=(1,),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    return {"pending": submitted.member_id, "neighbourhood": view.id}


async def _volunteer(world: FakeTelegram, brigade: InProcessBrigade) -> FakeUser:
    vera = world.add_user("Vera", language_code="en")
    services = brigade.services
    await services.members.identify(TelegramIdentity(vera.id, "Vera"))
    submitted = await services.volunteers.submit(
        vera.id,
        VolunteerApplication(
            display_name="Vera",
            latitude=49.5,
            longitude=0.12,
            radius_km=2,
            skill_ids=(2,),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    await services.volunteers.decide(COORDINATOR_ID, submitted.member_id, approve=True)
    return vera


async def _referent(world: FakeTelegram, brigade: InProcessBrigade) -> FakeUser:
    rita = world.add_user("Rita", language_code="en")
    rita.send_command("start")
    await brigade.deliver()
    created = await brigade.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(created, Outcome)
    rita.start(created.start_payload)
    await brigade.deliver()
    return rita


async def _state(brigade: InProcessBrigade) -> tuple[object, ...]:
    async with brigade.services.database.read() as session:
        return (
            (
                await session.execute(
                    select(Member.volunteer_status).where(Member.telegram_id == 555)
                )
            ).scalar_one(),
            (await session.execute(select(func.count()).select_from(Invite))).scalar_one(),
            (
                await session.execute(select(func.count()).where(Skill.retired_at.is_not(None)))
            ).scalar_one(),
            (await session.execute(select(func.count()).select_from(Skill))).scalar_one(),
            [
                (v.name, v.group_chat_id, v.post_to_group)
                for v in await brigade.services.neighbourhoods.all()
            ],
            (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one(),
        )


async def test_volunteers_and_referents_are_refused_every_coordinator_action(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    ids = await _seed(brigade)
    people = [await _volunteer(world, brigade), await _referent(world, brigade)]
    roles = [await brigade.services.members.find(p.id) for p in people]
    assert [r.roles if r else None for r in roles] == [{Role.VOLUNTEER}, {Role.REFERENT}]
    group = world.add_group("Voisins", people)
    before = await _state(brigade)

    for person in people:
        for command in COORDINATOR_COMMANDS:
            person.send_command(command)
            await brigade.deliver()
            assert "reserved for the brigade's coordinators" in (person.last_message.text or ""), (
                person.first_name,
                command,
            )
        person.send_command("link", chat=group)
        await brigade.deliver()
        assert (
            group.last_message.text == "Only a coordinator can link this group to a neighbourhood."
        )

        person.send_command("help")
        await brigade.deliver()
        anchor = person.last_message
        group_anchor = group.last_message
        for action, samples in SAMPLE_TAPS.items():
            for sample in samples:
                data = sample.format(**ids)
                answered = len(person.callback_answers)
                person.tap_data(group_anchor if action is Action.LINK_GROUP else anchor, data)
                await brigade.deliver()
                assert len(person.callback_answers) == answered + 1, data
                answer = person.callback_answers[-1].text or ""
                assert "coordinator" in answer, (person.first_name, data, answer)

    assert await _state(brigade) == before
    member = await brigade.services.members.find(555)
    assert member is not None
    assert member.volunteer_status is VolunteerStatus.PENDING


# Commands for one role that are not a coordinator's: /mine (referents and coordinators, for the
# requests they posted), /tasks and /nearby (approved volunteers). Each use case checks the role
# in the database; the others get a clear sentence and nothing is written.
ROLE_ANSWERS = {
    "mine": "This is for referents",
    "tasks": "This is for approved volunteers",
    "nearby": "This is for approved volunteers",
}
OWN_COMMITMENTS = {
    command.name: {role for role in command.roles if role is not None}
    for command in COMMANDS
    if command.name in ROLE_ANSWERS
}
# Buttons of those lists, with ids nobody holds: refused, never acted on.
OWN_COMMITMENT_TAPS = ["mi:cancelyes:1", "mi:show:1", "tk:releaseyes:1", "tk:where:1", "tk:done:1"]


def test_the_role_walk_covers_the_commitment_commands() -> None:
    assert {
        "mine": {Role.REFERENT, Role.COORDINATOR},
        "tasks": {Role.VOLUNTEER},
        "nearby": {Role.VOLUNTEER},
    } == OWN_COMMITMENTS


async def test_the_commitment_commands_and_buttons_refuse_the_other_roles(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    await _seed(brigade)
    people = {
        Role.VOLUNTEER: await _volunteer(world, brigade),
        Role.REFERENT: await _referent(world, brigade),
    }
    newcomer = world.add_user("Nina", language_code="en")
    before = await _state(brigade)
    for command, roles in OWN_COMMITMENTS.items():
        outsiders = [p for role, p in people.items() if role not in roles] + [newcomer]
        for person in outsiders:
            person.send_command(command)
            await brigade.deliver()
            assert ROLE_ANSWERS[command] in (person.last_message.text or ""), (person, command)
    for person in [*people.values(), newcomer]:
        anchor = person.last_message
        for data in OWN_COMMITMENT_TAPS:
            answered = len(person.callback_answers)
            person.tap_data(anchor, data)
            await brigade.deliver()
            assert len(person.callback_answers) == answered + 1, data
            answer = person.callback_answers[-1].text or ""
            assert "not available to you" in answer or "no longer valid" in answer, (data, answer)
    assert await _state(brigade) == before
