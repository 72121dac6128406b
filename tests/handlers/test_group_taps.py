"""Forged taps: private-only buttons in a group, empty data, "not for me" on the wrong message.

Callback data is whatever a (modified) client sends. In a neighbourhood group only ✋ Claim and
the coordinator's Link buttons work; any other action is refused with a toast, and neither the
bot's post in the group nor anything stored changes.
"""

from __future__ import annotations

import copy

from sqlalchemy import func, select

from bot.callbacks import GROUP_ACTIONS, Action
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from bot.services.signals import Reported, SignalDraft
from bot.services.volunteers import VolunteerApplication
from storage.models import AuditEvent, Claim, ConversationState, HelpRequest, Member, Offer, Signal
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeGroup, FakeTelegram, FakeUser
from testkit.telegram.models import StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, approved_volunteer, skill_id

PRIVATE_ONLY = "This button only works in our private chat."

# Samples of every action that must not work in a group; the keys must cover bot.callbacks.
PRIVATE_TAPS: dict[Action, list[str]] = {
    Action.SET_LANGUAGE: ["lang:en", "lang:nl"],
    Action.JOIN: ["join"],
    Action.SIGNUP: ["su:skill:1", "su:charter:yes"],
    Action.VET: ["vet:reject:{nour_member}", "vet:approve:{nour_member}"],
    Action.VERIFY_SKILL: ["vsk:{nour_member}:1"],
    Action.INVITE: ["inv:referent"],
    Action.PROFILE: ["pf:edit:name", "pf:edit:phone"],
    Action.PAUSE: ["pz:1w", "pz:open"],
    Action.FORGET: ["fg:yes"],
    Action.NEIGHBOURHOOD: ["nbh:off:{neighbourhood}", "nbh:new:0"],
    Action.SKILL_ADMIN: ["ska:add:0", "ska:retire:{skill}"],
    Action.DECLINE: ["no:{request}"],
    Action.UNDO_DECLINE: ["un:{request}"],
    Action.CLAIM_STEP: ["cs:release:{claim}", "cs:done:{claim}", "cs:gohour:{claim}"],
    Action.VISIT: ["vr:worried:{claim}", "vr:none:{claim}"],
    Action.REFERENT_STEP: ["rs:confirm:{claim}", "rs:notdone:{claim}"],
    Action.REQUEST_ADMIN: ["ra:cancel:{request}", "ra:widen:{request}"],
    Action.POST: ["rq:post:x", "rq:benef:new"],
    Action.SIGNAL: ["sg:nb:1"],
    Action.CASE: ["cs2:assign:{case}"],
    Action.REPORT: ["rp:stats:month", "rp:open:0"],
    Action.ANNOUNCE: ["an:to:all"],
    Action.SERIES: ["sr:stop:1"],
    Action.WRITE: ["wr:claim:{claim}", "wr:help:0"],
    Action.SUPPORT: ["sup:send:1"],
    Action.PHONE: ["ph:ask:0", "ph:no:0"],
    Action.ASK: ["ak:send:x", "ak:skill:1"],
    Action.VALIDATE: ["va:approve:{request}", "va:decline:{request}"],
    Action.VALIDATION_STEP: ["vd:cancel:x"],
    Action.MINE: ["mi:cancelyes:{request}", "mi:editdesc:{request}", "mi:page:0"],
    Action.TASK: ["tk:where:{claim}", "tk:releaseyes:{claim}"],
    Action.NEARBY: ["nb:page:0"],
    Action.EDIT_REQUEST: ["re:places:2"],
    Action.CHARTER: ["chr:accept:1", "chr:later:0"],
    Action.CHARTER_ADMIN: ["cha:replace:fr", "cha:confirm:yes"],
    Action.CHECKIN: ["ci:yes", "ci:leave"],
    Action.MEMBERS: ["mb:card:{nour_member}", "mb:list:0_x_x_0_x_x", "mb:search:x"],
    Action.STANDING: ["st:suspend:{nour_member}", "st:yes:{nour_member}"],
    Action.MENU: ["mn:new", "mn:pending", "mn:mine"],
    Action.REGISTER: ["wg:card:1", "wg:removeyes:1", "wg:add:0", "wg:edit:1"],
    Action.REGISTER_STEP: ["wgs:save:x", "wgs:field:name"],
    Action.WATCH: ["wt:start:0", "wt:stopyes:1"],
    Action.WATCH_STEP: ["wts:start:x"],
    Action.WATCH_CALL: ["wc:well:1", "wc:none:1", "wc:needs:1", "wc:list:1"],
    Action.WATCH_ALERT: ["wa:go:1"],
    Action.WATCH_NEED: ["wn:1:1", "wn:0:1"],
    Action.WATCH_DRAFT: ["wd:post:1", "wd:edit:1", "wd:dismiss:1"],
}


def test_the_walk_covers_every_private_only_button() -> None:
    assert set(PRIVATE_TAPS) == set(Action) - GROUP_ACTIONS
    assert frozenset({Action.CLAIM, Action.LINK_GROUP}) == GROUP_ACTIONS


async def _post(brigade: InProcessBrigade, rita: FakeUser, description: str) -> int:
    posted = await brigade.services.requests.post(
        rita.id,
        RequestDraft(
            skill_id=await skill_id(brigade.services.database, "plumbing"),
            description=description,
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
                access_notes="3rd floor, code 1234",
                consent=True,
            ),
        ),
    )
    assert posted is not None
    await brigade.deliver()
    return posted.request_id


class Town:
    """A coordinator, a referent, two volunteers, a neighbourhood group and two offers."""

    def __init__(
        self,
        claire: FakeUser,
        rita: FakeUser,
        nour: FakeUser,
        farid: FakeUser,
        group: FakeGroup,
        ids: dict[str, int],
    ) -> None:
        self.claire, self.rita, self.nour, self.farid = claire, rita, nour, farid
        self.group = group
        self.ids = ids


async def _town(world: FakeTelegram, brigade: InProcessBrigade) -> Town:
    services = brigade.services
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    rita = world.add_user("Rita", language_code="en")
    nour = world.add_user("Nour", language_code="en")
    farid = world.add_user("Farid", language_code="en")
    for person in (claire, rita):
        person.send_command("start")
    await brigade.deliver()
    invite = await services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(invite, Outcome)
    rita.start(invite.start_payload)
    await brigade.deliver()
    neighbourhood = await services.neighbourhoods.create(
        COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.5
    )
    assert not isinstance(neighbourhood, Outcome)
    group = world.add_group("Brigade Centre-Ville", [claire, rita, nour, farid])
    linked = await services.neighbourhoods.link_group(COORDINATOR_ID, neighbourhood.id, group.id)
    assert linked is Outcome.DONE
    nour_member = await approved_volunteer(brigade, nour, 0.5)
    await approved_volunteer(brigade, farid, 0.8)
    # One request Nour has claimed (for the follow-up buttons), one still open.
    taken = await _post(brigade, rita, "Change a light bulb")
    assert (await services.requests.claim(nour.id, taken)).outcome.value == "claimed"
    request = await _post(brigade, rita, "Leaking tap under the sink")
    reported = await services.signals.report(
        farid.id, SignalDraft(description="Old man at no. 4", worry="Not seen for days")
    )
    assert isinstance(reported, Reported)
    await brigade.deliver()
    async with services.database.read() as session:
        claim = (await session.execute(select(Claim.id))).scalar_one()
    ids = {
        "nour_member": nour_member,
        "neighbourhood": neighbourhood.id,
        "skill": await skill_id(brigade.services.database, "plumbing"),
        "request": request,
        "claim": claim,
        "case": reported.signal_id,
    }
    return Town(claire, rita, nour, farid, group, ids)


def _offer_in(group: FakeGroup, request_id: int) -> StoredMessage:
    """The group's copy of an offer (in the town's language, French)."""
    return next(m for m in group.messages if f"Demande n° {request_id}\u202f:" in (m.text or ""))


def _look(message: StoredMessage) -> tuple[object, ...]:
    return copy.deepcopy((message.text, message.entities, message.reply_markup))


async def _stored(brigade: InProcessBrigade) -> tuple[object, ...]:
    """What a forged tap could change: members, offers, requests, claims, cases, conversations."""
    queries = [
        select(
            Member.id,
            Member.language,
            Member.volunteer_status,
            Member.paused_until,
            Member.forgotten_at,
        ).order_by(Member.id),
        select(Offer.id, Offer.declined_at).order_by(Offer.id),
        select(HelpRequest.id, HelpRequest.status, HelpRequest.places_taken).order_by(
            HelpRequest.id
        ),
        select(Claim.id, Claim.status).order_by(Claim.id),
        select(Signal.id, Signal.status, Signal.assigned_to_member_id).order_by(Signal.id),
        select(ConversationState.key, ConversationState.state).order_by(ConversationState.key),
        select(func.count()).select_from(AuditEvent),
    ]
    found = []
    async with brigade.services.database.read() as session:
        for query in queries:
            found.append([tuple(row) for row in (await session.execute(query)).all()])
    return tuple(found)


async def test_private_only_buttons_forged_in_a_group_change_nothing(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    town = await _town(world, brigade)
    offer = _offer_in(town.group, town.ids["request"])
    assert [b.callback_data for b in offer.buttons] == [f"cl:{town.ids['request']}"]
    posts, look, stored = len(town.group.messages), _look(offer), await _stored(brigade)

    for person in (town.claire, town.rita, town.nour, town.farid):
        for samples in PRIVATE_TAPS.values():
            for sample in samples:
                data = sample.format(**town.ids)
                answered = len(person.callback_answers)
                person.tap_data(offer, data)
                await brigade.deliver()
                assert len(town.group.messages) == posts, (person.first_name, data)
                assert _look(world.message(town.group.id, offer.message_id)) == look, data
                assert len(person.callback_answers) == answered + 1, data
                assert person.callback_answers[-1].text == PRIVATE_ONLY, data

    assert await _stored(brigade) == stored
    # Claim still works in the group.
    town.farid.tap_data(offer, f"cl:{town.ids['request']}")
    await brigade.deliver()
    assert "It's yours" in (town.farid.callback_answers[-1].text or "")
    world.assert_sound()


async def test_empty_callback_data_starts_nothing_and_is_answered_as_stale(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    town = await _town(world, brigade)
    ana = world.add_user("Ana", language_code="en")
    ana.send_command("help")
    await brigade.deliver()
    anchor, seen = ana.last_message, len(ana.inbox)
    stored = await _stored(brigade)

    ana.tap_data(anchor, "")
    await brigade.deliver()
    assert len(ana.inbox) == seen
    assert ana.callback_answers[-1].text == "This button is no longer valid."

    offer = _offer_in(town.group, town.ids["request"])
    posts = len(town.group.messages)
    town.nour.tap_data(offer, "")
    await brigade.deliver()
    assert len(town.group.messages) == posts
    assert town.nour.callback_answers[-1].text == "This button is no longer valid."
    assert await _stored(brigade) == stored


async def test_not_for_me_only_acts_on_the_persons_own_copy_of_that_request(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    town = await _town(world, brigade)
    other = await _post(brigade, town.rita, "Carry the shopping upstairs")
    nour = town.nour
    mine = next(m for m in nour.inbox if f"Request #{town.ids['request']}:" in (m.text or ""))
    another = next(m for m in nour.inbox if f"Request #{other}:" in (m.text or ""))
    before = (_look(mine), _look(another), await _stored(brigade))

    # "Not for me" about one request, forged on her copy of another one.
    nour.tap_data(another, f"no:{town.ids['request']}")
    await brigade.deliver()
    assert nour.callback_answers[-1].text == "This button is no longer valid."
    # … and on the group's copy.
    nour.tap_data(_offer_in(town.group, town.ids["request"]), f"no:{town.ids['request']}")
    await brigade.deliver()
    assert nour.callback_answers[-1].text == PRIVATE_ONLY
    after = (
        _look(world.message(nour.id, mine.message_id)),
        _look(world.message(nour.id, another.message_id)),
        await _stored(brigade),
    )
    assert after == before

    # On her own copy it works, and says so on that copy.
    nour.tap(world.message(nour.id, mine.message_id), "Not for me")
    await brigade.deliver()
    edited = world.message(nour.id, mine.message_id)
    assert (edited.text or "").endswith("You said this one is not for you.")
    assert nour.callback_answers[-1].text == "Understood. Thank you for answering!"


async def test_a_coordinators_cancel_in_a_group_leaves_their_private_rejection_alone(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    town = await _town(world, brigade)
    paul = world.add_user("Paul", language_code="en")
    services = brigade.services
    await services.members.identify(TelegramIdentity(paul.id, "Paul", language_code="en"))
    submitted = await services.volunteers.submit(
        paul.id,
        VolunteerApplication(
            display_name="Paul",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            radius_km=2,
            skill_ids=(await skill_id(brigade.services.database, "plumbing"),),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    claire = town.claire
    claire.send_command("help")
    await brigade.deliver()
    claire.tap_data(claire.last_message, f"vet:reject:{submitted.member_id}")
    await brigade.deliver()
    assert "Why is Paul's application not accepted?" in (claire.last_message.text or "")
    posts = len(town.group.messages)

    # The rejection waits for its reason per person, whatever the chat: a /cancel in the
    # group must neither end it nor answer there.
    claire.send_command("cancel", chat=town.group)
    await brigade.deliver()
    assert len(town.group.messages) == posts
    claire.send_text("Lives too far from the neighbourhood")
    await brigade.deliver()
    assert "they have been told" in (claire.last_message.text or "")
    member = await services.members.find(paul.id)
    assert member is not None
    assert member.volunteer_status is VolunteerStatus.REJECTED
