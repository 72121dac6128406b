"""Membership use cases on real databases: invitations, neighbourhoods, applications, vetting."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.services.invites import InviteService
from bot.services.members import MemberService, TelegramIdentity
from bot.services.neighbourhoods import NeighbourhoodService
from bot.services.outcomes import Outcome
from bot.services.volunteers import VolunteerApplication, card_batch
from storage import migrate
from storage.database import Database
from storage.models import AuditEvent, Invite, OutboxMessage, OutboxStatus, Skill
from testkit.clock import ManualClock
from tests.factories import vetting_service

COORDINATOR = 1000
REFERENT = 2000


@pytest.fixture
def clock() -> ManualClock:
    """This module's tests start on the Sunday before the others'."""
    return ManualClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))


async def _people(database: Database, *telegram_ids: int) -> MemberService:
    members = MemberService(database, coordinator_ids=[COORDINATOR])
    for telegram_id in telegram_ids:
        await members.identify(TelegramIdentity(telegram_id, f"User {telegram_id}"))
    return members


async def _skill_ids(database: Database, *codes: str) -> tuple[int, ...]:
    async with database.read() as session:
        rows = await session.execute(select(Skill.id).where(Skill.code.in_(codes)))
        return tuple(sorted(rows.scalars()))


async def _apply(database: Database, telegram_id: int, **overrides: object) -> int:
    values: dict[str, object] = {
        "display_name": "Marc",
        "latitude": 45.566,
        "longitude": 5.921,
        "radius_km": 2.0,
        "skill_ids": await _skill_ids(database, "plumbing", "electricity"),
        "availability": ((0, "morning"), (5, "afternoon")),
        "charter_version": "2026-11",
    }
    values.update(overrides)
    result = await vetting_service(database).submit(
        telegram_id,
        VolunteerApplication(**values),  # type: ignore[arg-type]
    )
    assert not isinstance(result, Outcome), result
    return result.member_id


async def test_a_referent_invitation_works_once_and_only_for_its_role(database: Database) -> None:
    await _people(database, COORDINATOR, REFERENT, 3000)
    invites = InviteService(database)
    created = await invites.create(COORDINATOR, Role.REFERENT)
    assert not isinstance(created, Outcome)
    assert created.start_payload.startswith("i-")
    assert len(created.start_payload) <= 64

    first = await invites.redeem(created.token, REFERENT)
    assert (first.outcome, first.role) == (Outcome.DONE, Role.REFERENT)
    members = MemberService(database, [])
    referent = await members.find(REFERENT)
    assert referent is not None
    assert referent.roles == {Role.REFERENT}

    again = await invites.redeem(created.token, REFERENT)
    assert again.outcome is Outcome.ALREADY_DONE
    someone_else = await invites.redeem(created.token, 3000)
    assert (someone_else.outcome, someone_else.role) == (Outcome.ALREADY_DONE, None)
    other = await members.find(3000)
    assert other is not None
    assert other.roles == frozenset()
    assert (await invites.redeem("forged-token", 3000)).outcome is Outcome.NOT_FOUND


async def test_an_expired_invitation_is_refused(clock: ManualClock, database: Database) -> None:
    await _people(database, COORDINATOR, REFERENT)
    invites = InviteService(database, ttl=timedelta(hours=48))
    created = await invites.create(COORDINATOR, Role.COORDINATOR)
    assert not isinstance(created, Outcome)
    clock.now += timedelta(hours=49)
    assert (await invites.redeem(created.token, REFERENT)).outcome is Outcome.EXPIRED


async def test_only_coordinators_invite(database: Database) -> None:
    await _people(database, COORDINATOR, REFERENT)
    invites = InviteService(database)
    assert await invites.create(REFERENT, Role.REFERENT) is Outcome.NOT_ALLOWED
    assert await invites.create(COORDINATOR, Role.VOLUNTEER) is Outcome.INVALID


async def test_two_people_racing_for_one_invitation_give_one_winner(database: Database) -> None:
    racers = list(range(5000, 5010))
    await _people(database, COORDINATOR, *racers)
    invites = InviteService(database)
    created = await invites.create(COORDINATOR, Role.REFERENT)
    assert not isinstance(created, Outcome)
    results = await asyncio.gather(*(invites.redeem(created.token, racer) for racer in racers))
    assert [r.outcome for r in results].count(Outcome.DONE) == 1


async def test_neighbourhoods_are_created_by_coordinators_and_ranked_by_distance(
    database: Database,
) -> None:
    await _people(database, COORDINATOR, REFERENT)
    service = NeighbourhoodService(database)
    covet = await service.create(COORDINATOR, "  Le   Covet ", 45.5580, 5.9250, 1.5)
    assert not isinstance(covet, Outcome)
    assert covet.name == "Le Covet"
    centre = await service.create(COORDINATOR, "Centre-ville", 45.5660, 5.9210, 1.0)
    assert not isinstance(centre, Outcome)
    assert await service.create(COORDINATOR, "Le Covet", 45.0, 5.0, 1.0) is Outcome.INVALID
    assert await service.create(COORDINATOR, "Nowhere", 95.0, 5.0, 1.0) is Outcome.INVALID
    assert await service.create(REFERENT, "Biollay", 45.55, 5.93, 1.0) is Outcome.NOT_ALLOWED
    ranked = await service.nearest(45.5655, 5.9215)
    assert [view.name for view, _ in ranked] == ["Centre-ville", "Le Covet"]
    assert ranked[0][1] < 0.1 < ranked[1][1]


async def test_a_group_is_linked_by_a_coordinator_only(database: Database) -> None:
    await _people(database, COORDINATOR, REFERENT)
    service = NeighbourhoodService(database)
    first = await service.create(COORDINATOR, "Massillon", 49.5, 0.12, 1.0)
    second = await service.create(COORDINATOR, "Saint-Léon", 49.49, 0.11, 1.0)
    assert not isinstance(first, Outcome)
    assert not isinstance(second, Outcome)
    assert await service.link_group(REFERENT, first.id, -100123) is Outcome.NOT_ALLOWED
    assert await service.by_group_chat(-100123) is None
    assert await service.link_group(COORDINATOR, first.id, -100123) is Outcome.DONE
    assert await service.link_group(COORDINATOR, first.id, -100123) is Outcome.ALREADY_DONE
    # Moving the group to another neighbourhood frees the first one.
    assert await service.link_group(COORDINATOR, second.id, -100123) is Outcome.DONE
    linked = await service.by_group_chat(-100123)
    assert linked is not None
    assert linked.name == "Saint-Léon"
    assert await service.link_group(COORDINATOR, 999, -100124) is Outcome.NOT_FOUND


async def test_an_application_is_pending_with_its_charter_then_approved_once(
    clock: ManualClock,
    database: Database,
) -> None:
    await _people(database, COORDINATOR, 7000, 8000)
    member_id = await _apply(database, 7000)
    vetting = vetting_service(database)
    queue = await vetting.pending(COORDINATOR)
    assert not isinstance(queue, Outcome)
    assert [view.member_id for view in queue] == [member_id]
    view = queue[0]
    assert view.status is VolunteerStatus.PENDING
    assert view.charter_version == "2026-11"
    assert view.charter_accepted_at is not None
    assert {(s.label, s.requires_verification, s.verified) for s in view.skills} == {
        ("Plumbing", False, False),
        ("Small electrical work", True, False),
    }
    assert view.availability == [(0, "morning"), (5, "afternoon")]

    assert await vetting.pending(8000) is Outcome.NOT_ALLOWED
    assert (await vetting.decide(8000, member_id, approve=True)).outcome is Outcome.NOT_ALLOWED
    decisions = await asyncio.gather(
        vetting.decide(COORDINATOR, member_id, approve=True),
        vetting.decide(COORDINATOR, member_id, approve=False, reason="late"),
    )
    assert sorted(d.outcome for d in decisions) == [Outcome.ALREADY_DONE, Outcome.DONE]
    winner = next(d for d in decisions if d.outcome is Outcome.DONE)
    assert winner.volunteer_telegram_id == 7000
    assert await vetting.pending(COORDINATOR) == []

    electricity = (await _skill_ids(database, "electricity"))[0]
    assert await vetting.verify_skill(8000, member_id, electricity) is Outcome.NOT_ALLOWED
    assert await vetting.verify_skill(COORDINATOR, member_id, electricity) is Outcome.DONE
    assert await vetting.verify_skill(COORDINATOR, member_id, electricity) is Outcome.ALREADY_DONE
    async with database.read() as session:
        actions = (
            (
                await session.execute(
                    select(AuditEvent.action).where(AuditEvent.entity_id == member_id)
                )
            )
            .scalars()
            .all()
        )
    assert actions[0] == "apply"
    assert actions[-1] == "verify_skill"
    assert len([a for a in actions if a in {"approve", "reject"}]) == 1


async def test_a_rejected_volunteer_is_told_the_reason(database: Database) -> None:
    await _people(database, COORDINATOR, 7100)
    member_id = await _apply(database, 7100)
    decision = await vetting_service(database).decide(
        COORDINATOR, member_id, approve=False, reason="Pas de quartier couvert"
    )
    assert (decision.outcome, decision.volunteer_telegram_id) == (Outcome.DONE, 7100)
    view = await vetting_service(database).application(COORDINATOR, member_id)
    assert not isinstance(view, Outcome)
    assert view.status is VolunteerStatus.REJECTED


@pytest.mark.parametrize(
    "overrides",
    [
        {"skill_ids": ()},
        {"skill_ids": (99999,)},
        {"latitude": 123.0},
        {"availability": ((7, "morning"),)},
        {"availability": ((1, "night"),)},
        {"display_name": "   "},
    ],
)
async def test_an_impossible_application_is_refused(
    database: Database, overrides: dict[str, object]
) -> None:
    await _people(database, COORDINATOR, 7200)
    values: dict[str, object] = {
        "display_name": "Marc",
        "latitude": 45.5,
        "longitude": 5.9,
        "radius_km": 2.0,
        "skill_ids": await _skill_ids(database, "plumbing"),
        "availability": (),
        "charter_version": "2026-11",
    } | overrides
    result = await vetting_service(database).submit(
        7200,
        VolunteerApplication(**values),  # type: ignore[arg-type]
    )
    assert result is Outcome.INVALID


async def test_the_database_never_holds_a_working_invitation_link(database: Database) -> None:
    """Reading the file and opening the link made the reader a coordinator: only a hash stays."""
    await _people(database, COORDINATOR, REFERENT)
    invites = InviteService(database)
    created = await invites.create(COORDINATOR, Role.COORDINATOR)
    assert not isinstance(created, Outcome)
    async with database.read() as session:
        stored = (await session.execute(select(Invite))).scalar_one()
        dumped = " ".join(str(v) for v in stored.__dict__.values())
    assert created.token not in dumped
    assert stored.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    # What the database holds is no link: opening it finds nothing.
    assert (await invites.redeem(stored.token_hash, REFERENT)).outcome is Outcome.NOT_FOUND
    assert (await invites.redeem(created.token, REFERENT)).outcome is Outcome.DONE


async def test_links_sent_before_the_upgrade_keep_working(database_url: str) -> None:
    """Migration 0007 hashes the tokens in place: an open invitation still opens."""
    database = Database(database_url, clock=ManualClock())
    try:
        await migrate.upgrade(database, "0006")
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO members (id, telegram_id, display_name, radius_km, reachable,"
                    " created_at, updated_at) VALUES (1, :tid, 'Rita', 2, true, :t, :t)"
                ),
                {"tid": REFERENT, "t": datetime(2026, 11, 1)},
            )
            await connection.execute(
                text(
                    "INSERT INTO invites (token, role, created_at, expires_at)"
                    " VALUES ('old-link-token-0001', 'coordinator', :t, :later)"
                ),
                {"t": datetime(2026, 11, 1), "later": datetime(2026, 12, 31)},
            )
        await migrate.upgrade(database)
        redeemed = await InviteService(database).redeem("old-link-token-0001", REFERENT)
        assert (redeemed.outcome, redeemed.role) == (Outcome.DONE, Role.COORDINATOR)
    finally:
        await database.dispose()


async def test_a_verified_skill_queues_an_edit_of_every_other_copy_of_the_card(
    database: Database,
) -> None:
    await _people(database, COORDINATOR, 7200)
    member_id = await _apply(database, 7200)
    vetting = vetting_service(database)
    await vetting.cards_sent(member_id, [(COORDINATOR, 501), (COORDINATOR, 502)])
    approved = await vetting.decide(COORDINATOR, member_id, approve=True, tapped=(COORDINATOR, 501))
    assert approved.outcome is Outcome.DONE
    decision_edits = await _edits(database)
    electricity = (await _skill_ids(database, "electricity"))[0]

    outcome = await vetting.verify_skill(
        COORDINATOR, member_id, electricity, tapped=(COORDINATOR, 501)
    )

    assert outcome is Outcome.DONE
    edits = (await _edits(database))[len(decision_edits) :]
    # The tapped copy is the handler's to edit; the other one is queued, verified, no button left.
    assert [(edit.chat_id, edit.payload["message_id"]) for edit in edits] == [(COORDINATOR, 502)]
    assert "Small electrical work (verified)" in edits[0].payload["text"]
    assert edits[0].payload["text"].endswith("Skill verified.")
    assert edits[0].payload["reply_markup"] is None


async def test_a_card_listed_while_the_decision_was_taken_is_edited_to_show_it(
    database: Database,
) -> None:
    await _people(database, COORDINATOR, 7250)
    member_id = await _apply(database, 7250)
    vetting = vetting_service(database)
    await vetting.cards_sent(member_id, [(COORDINATOR, 601)])
    # /pending read the application as pending and sent its card; the decision was taken on
    # another copy before that card was recorded.
    decided = await vetting.decide(COORDINATOR, member_id, approve=True, tapped=(COORDINATOR, 601))
    assert decided.outcome is Outcome.DONE
    assert await _edits(database) == []

    await vetting.cards_sent(member_id, [(COORDINATOR, 602)])

    edits = await _edits(database)
    assert [(edit.chat_id, edit.payload["message_id"]) for edit in edits] == [(COORDINATOR, 602)]
    assert edits[0].payload["text"].endswith("Approved by User 1000.")
    # Approve and Reject are gone; what is left is the skill still to verify.
    buttons = [
        b["text"] for row in edits[0].payload["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons == ["Verify: Small electrical work"]


async def _edits(database: Database) -> list[OutboxMessage]:
    """The queued edits, oldest first."""
    async with database.read() as session:
        return list(
            (
                await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.method == "edit_message_text")
                    .order_by(OutboxMessage.id)
                )
            ).scalars()
        )


async def test_an_application_queues_its_card_to_coordinators_and_the_decision_to_the_volunteer(
    database: Database,
) -> None:
    await _people(database, COORDINATOR, 7300)
    member_id = await _apply(database, 7300)
    vetting = vetting_service(database)
    await vetting.send_card(member_id)
    async with database.read() as session:
        cards = (
            (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.batch_key.is_not(None))
                )
            )
            .scalars()
            .all()
        )
    # One card, to the one coordinator, through the outbox, under the card's batch key.
    assert [(card.chat_id, card.status, card.batch_key) for card in cards] == [
        (COORDINATOR, OutboxStatus.PENDING, card_batch(member_id))
    ]
    assert cards[0].payload["text"].startswith("New volunteer application.\n\n")
    assert [
        b["text"] for row in cards[0].payload["reply_markup"]["inline_keyboard"] for b in row
    ] == [
        "✅ Approve",
        "❌ Reject",
    ]

    decided = await vetting.decide(COORDINATOR, member_id, approve=False, reason="Not in our town")
    await vetting.tell_decision(member_id)

    assert decided.outcome is Outcome.DONE
    async with database.read() as session:
        card = await session.get(OutboxMessage, cards[0].id)
        told = (
            (await session.execute(select(OutboxMessage).where(OutboxMessage.chat_id == 7300)))
            .scalars()
            .all()
        )
    # The card not delivered yet goes out decided: no Approve / Reject left on it.
    assert card is not None
    assert card.status is OutboxStatus.PENDING
    assert card.payload["text"].endswith(f"\n\nNot accepted by User {COORDINATOR}.")
    assert "✅ Approve" not in str(card.payload["reply_markup"])
    assert [row.payload["text"] for row in told] == [
        "Your volunteer application was not accepted.\nThe coordinator's reason: Not in our town"
    ]
