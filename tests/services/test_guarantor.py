"""Issue 17 on SQLite and PostgreSQL: the directory's counts in a fixed number of statements,
the suspension's one transaction, the coordinators who cannot be removed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.app import build_services
from bot.context import Services
from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role, VolunteerStatus
from bot.messages.claims import DetailsRemoved
from bot.messages.standing import (
    ClaimWithdrawn,
    ConductConcernRaised,
    RequestsHandedOver,
    VolunteerSuspended,
)
from bot.pseudonyms import Pseudonyms
from bot.services.directory import MemberCard, MemberFilter
from bot.services.invites import CreatedInvite
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, ClaimOutcome, RequestDraft, StepOutcome
from bot.services.standing import Standing, StandingService
from bot.services.volunteers import VolunteerApplication
from storage.database import Database
from storage.models import (
    AuditEvent,
    Claim,
    ConductConcern,
    HelpRequest,
    Member,
    OutboxMessage,
    OutboxStatus,
)
from testkit.harness import TEST_TOKEN, brigade_settings
from testkit.messages import RecordingMessenger
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, approve_application, enrol, skill_id

REFERENT_ID = 5_000
PSEUDONYMS = Pseudonyms.from_secret(TEST_TOKEN)


@dataclass
class Person:
    """Enough of a Telegram user for the factories."""

    id: int
    first_name: str


@dataclass
class Town:
    """The services on the test's database, and what notices they sent."""

    services: Services
    sent: RecordingMessenger


@pytest.fixture
async def town(database: Database) -> Town:
    settings = brigade_settings(database.url, coordinator_ids=[COORDINATOR_ID])
    services = build_services(settings, database)
    recording = RecordingMessenger(services.i18n, settings)
    # The use cases under test, with a messenger that remembers what they sent.
    services = _with(services, recording)
    await services.members.identify(TelegramIdentity(COORDINATOR_ID, "Claire"))
    return Town(services, recording)


def _with(services: Services, messenger: RecordingMessenger) -> Services:
    from dataclasses import replace

    from bot.services.requests import RequestService

    settings, database = services.settings, services.database
    return replace(
        services,
        requests=RequestService(database, messenger, settings),
        standing=StandingService(database, messenger, settings, pseudonyms=PSEUDONYMS),
    )


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The queries run inside the block (transaction control aside)."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(str(args[2]))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _referent(town: Town) -> None:
    services = town.services
    await services.members.identify(TelegramIdentity(REFERENT_ID, "Rita"))
    created = await services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert isinstance(created, CreatedInvite)
    assert (await services.invites.redeem(created.token, REFERENT_ID)).outcome is Outcome.DONE


async def _volunteer(town: Town, telegram_id: int, name: str, km: float = 0.3) -> int:
    person = Person(telegram_id, name)
    member_id = await enrol(town, person, km=km)  # type: ignore[arg-type]
    await approve_application(town, person)  # type: ignore[arg-type]
    return member_id


async def _post(town: Town) -> int:
    plumbing = await skill_id(town.services.database, "plumbing")
    posted = await town.services.requests.post(
        REFERENT_ID,
        RequestDraft(
            skill_id=plumbing,
            description="Leaking tap",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            area_label="Rue de Boigne",
            places_needed=1,
            beneficiary=BeneficiaryDetails(
                name="Mme Jeanne Martin",
                phone="+33 4 79 00 00 00",
                address="27 rue de Boigne",
                latitude=CENTRE[0],
                longitude=CENTRE[1],
                access_notes=None,
                consent=True,
            ),
        ),
    )
    assert posted is not None
    return posted.request_id


async def _claimed(town: Town, volunteer_id: int) -> tuple[int, int]:
    """A new request claimed by this volunteer: (request id, claim id)."""
    request_id = await _post(town)
    result = await town.services.requests.claim(volunteer_id, request_id)
    assert result.outcome is ClaimOutcome.CLAIMED
    assert result.claim_id is not None
    return request_id, result.claim_id


async def test_the_card_counts_claims_by_outcome_in_a_fixed_number_of_statements(
    town: Town,
) -> None:
    await _referent(town)
    nour = await _volunteer(town, 601, "Nour Benali")
    for index in range(3):
        await _volunteer(town, 700 + index, f"Other {index}", km=0.4 + index / 10)
    requests = town.services.requests
    _r, released = await _claimed(town, 601)
    assert await requests.release(601, released) is StepOutcome.DONE
    _r, failed = await _claimed(town, 601)
    assert await requests.could_not(601, failed) is StepOutcome.DONE
    _r, done = await _claimed(town, 601)
    assert await requests.mark_done(601, done) is StepOutcome.DONE
    await _claimed(town, 601)  # held now

    directory = town.services.directory
    with statements(town.services.database) as run:
        card = await directory.card(COORDINATOR_ID, nour)
    assert isinstance(card, MemberCard)
    # The role check, the member with every count, the skills, the availability, the concerns,
    # the town's neighbourhood centres (the reach line) — a fixed number, whatever the counts.
    assert len(run) == 6, run
    counts = card.counts
    assert (counts.taken, counts.done, counts.released, counts.could_not, counts.active) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert card.roles == {Role.VOLUNTEER}
    assert card.status is VolunteerStatus.APPROVED
    assert card.decided_by == "Claire"

    # A page costs the same whatever the number of members on it.
    with statements(town.services.database) as run:
        page = await directory.page(COORDINATOR_ID, MemberFilter(), offset=0, limit=8)
    assert not isinstance(page, Outcome)
    assert len(run) == 3, run  # the role check, the count, the page
    assert page.total == 6  # Claire, Rita, Nour and three others
    by_name = {row.display_name: row for row in page.items}
    assert by_name["Nour Benali"].claims_taken == 4
    assert by_name["Rita"].roles == {Role.REFERENT}

    found = await directory.page(COORDINATOR_ID, MemberFilter(text="BENAL"), offset=0, limit=8)
    assert not isinstance(found, Outcome)
    assert [row.display_name for row in found.items] == ["Nour Benali"]
    by_phone = await directory.page(
        COORDINATOR_ID, MemberFilter(text="11 22 33"), offset=0, limit=8
    )
    assert not isinstance(by_phone, Outcome)
    assert by_phone.total == 4  # the volunteers' phone (tests/factories.py)
    referents = await directory.page(
        COORDINATOR_ID, MemberFilter(role=Role.REFERENT), offset=0, limit=8
    )
    assert not isinstance(referents, Outcome)
    assert [row.display_name for row in referents.items] == ["Rita"]
    assert await directory.page(REFERENT_ID, MemberFilter(), offset=0, limit=8) is (
        Outcome.NOT_ALLOWED
    )


async def test_a_suspension_is_one_transaction_that_frees_every_place_and_detail(
    town: Town,
) -> None:
    await _referent(town)
    nour = await _volunteer(town, 601, "Nour Benali")
    await _volunteer(town, 602, "Omar", km=0.5)
    held_request, held = await _claimed(town, 601)
    said_done_request, said_done = await _claimed(town, 601)
    assert await town.services.requests.mark_done(601, said_done) is StepOutcome.DONE
    async with town.services.database.transaction() as session:
        # The details messages as the sender leaves them once delivered.
        for claim_id, message_id in ((held, 9001), (said_done, 9002)):
            claim = await session.get(Claim, claim_id)
            assert claim is not None
            row = await session.get(OutboxMessage, claim.details_outbox_id)
            assert row is not None
            row.status, row.telegram_message_id = OutboxStatus.SENT, message_id

    standing = town.services.standing
    # A failure at the end (the notice to the volunteer) leaves everything as it was.
    original = town.sent.post

    async def failing(session: Any, letters: Any) -> Any:
        letters = list(letters)
        if any(isinstance(notice, VolunteerSuspended) for notice, _reader in letters):
            raise RuntimeError("boom")
        return await original(session, letters)

    town.sent.post = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await standing.suspend(COORDINATOR_ID, nour, "Rude")
    town.sent.post = original  # type: ignore[method-assign]
    async with town.services.database.read() as session:
        assert (await session.get(Member, nour)).volunteer_status is VolunteerStatus.APPROVED  # type: ignore[union-attr]
        assert (await session.get(Claim, held)).status is ClaimStatus.ACTIVE  # type: ignore[union-attr]
    town.sent.sent.clear()

    result = await standing.suspend(COORDINATOR_ID, nour, "Rude")
    assert result.outcome is Standing.DONE
    assert result.claims_released == 1
    async with town.services.database.read() as session:
        member = await session.get(Member, nour)
        claim = await session.get(Claim, held)
        request = await session.get(HelpRequest, held_request)
        audit = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "suspend"))
        ).scalar_one()
    assert member is not None
    assert member.volunteer_status is VolunteerStatus.SUSPENDED
    assert member.status_reason == "Rude"
    assert claim is not None
    assert claim.status is ClaimStatus.RELEASED
    assert request is not None
    assert (request.status, request.places_taken) == (RequestStatus.OPEN, 0)
    assert audit.detail == {"reason": "Rude", "claims_released": 1}
    removed = {notice.message_id for notice in town.sent.of(DetailsRemoved, to=601)}
    assert removed == {9001, 9002}  # the place given back, and the service said done
    assert town.sent.readers(VolunteerSuspended) == [601]
    assert town.sent.readers(ClaimWithdrawn) == [REFERENT_ID]
    assert town.sent.of(VolunteerSuspended)[0].reason == "Rude"
    assert said_done_request != held_request

    # Suspended: no claim, even through an offer that was made to them; no application.
    again = await town.services.requests.claim(601, held_request)
    assert again.outcome is ClaimOutcome.NOT_ALLOWED
    assert (await standing.suspend(COORDINATOR_ID, nour, None)).outcome is Standing.ALREADY_DONE
    submitted = await town.services.volunteers.submit(
        601,
        VolunteerApplication("Nour", CENTRE[0], CENTRE[1], 2, (1,), (), "2026-11"),
    )
    assert submitted is Outcome.NOT_ALLOWED

    assert (await standing.reinstate(COORDINATOR_ID, nour, None)).outcome is Standing.DONE
    assert (await town.services.requests.claim(601, held_request)).outcome is ClaimOutcome.CLAIMED
    assert await town.services.volunteers.reapply_from(601) is None  # the mark is lifted
    # Only a suspended volunteer is reinstated; only an approved one suspended.
    assert (await standing.reinstate(COORDINATOR_ID, nour, None)).outcome is (Standing.ALREADY_DONE)
    assert (await standing.suspend(REFERENT_ID, nour, None)).outcome is Standing.NOT_ALLOWED


async def test_roles_withdrawn_hand_requests_over_and_keep_a_coordinator(
    town: Town, database: Database
) -> None:
    await _referent(town)
    await _volunteer(town, 601, "Nour")
    request_id = await _post(town)
    standing = town.services.standing
    coordinator = await town.services.members.find(COORDINATOR_ID)
    rita = await town.services.members.find(REFERENT_ID)
    assert coordinator is not None
    assert rita is not None
    assert coordinator.id is not None
    assert rita.id is not None

    # Named in the settings: not from the chat.
    named = await standing.revoke(COORDINATOR_ID, coordinator.id, Role.COORDINATOR, None)
    assert named.outcome is Standing.BY_SETTINGS

    result = await standing.revoke(COORDINATOR_ID, rita.id, Role.REFERENT, "Left")
    assert result.outcome is Standing.DONE
    assert result.requests_handed_over == (request_id,)
    assert town.sent.of(RequestsHandedOver, to=COORDINATOR_ID)[0].request_ids == (request_id,)
    async with database.read() as session:
        request = await session.get(HelpRequest, request_id)
    assert request is not None
    assert request.referent_id == coordinator.id
    again = await standing.revoke(COORDINATOR_ID, rita.id, Role.REFERENT, None)
    assert again.outcome is Standing.ALREADY_DONE

    # Without the settings naming her, Claire is the last coordinator: she stays.
    unnamed = StandingService(
        database, town.sent, brigade_settings(database.url), pseudonyms=PSEUDONYMS
    )
    last = await unnamed.revoke(COORDINATOR_ID, coordinator.id, Role.COORDINATOR, None)
    assert last.outcome is Standing.LAST_COORDINATOR
    still = await town.services.members.find(COORDINATOR_ID)
    assert still is not None
    assert still.is_coordinator


async def test_erasing_oneself_is_no_way_back_for_a_suspended_volunteer(town: Town) -> None:
    await _referent(town)
    nour = await _volunteer(town, 601, "Nour")
    _request, claim_id = await _claimed(town, 601)
    assert await town.services.requests.mark_done(601, claim_id) is StepOutcome.DONE
    raised = await town.services.requests.report_conduct(REFERENT_ID, claim_id)
    assert raised is StepOutcome.DONE
    assert await town.services.requests.report_conduct(REFERENT_ID, claim_id) is (
        StepOutcome.ALREADY_DONE
    )
    # Only the request's referent raises it.
    assert await town.services.requests.report_conduct(601, claim_id) is StepOutcome.NOT_ALLOWED
    assert town.sent.readers(ConductConcernRaised) == [COORDINATOR_ID]
    card = await town.services.directory.card(COORDINATOR_ID, nour)
    assert isinstance(card, MemberCard)
    assert [(c.request_id, c.raised_by) for c in card.concerns] == [(_request, "Rita")]

    assert (await town.services.standing.suspend(COORDINATOR_ID, nour, None)).outcome is (
        Standing.DONE
    )
    assert await town.services.privacy.forget(601) is Outcome.DONE
    async with town.services.database.read() as session:
        left = (await session.execute(select(ConductConcern.id))).all()
    assert left == []
    # A new member row, the same person: the suspension is remembered under a pseudonym.
    await town.services.members.identify(TelegramIdentity(601, "Nour"))
    again = await town.services.volunteers.submit(
        601, VolunteerApplication("Nour", CENTRE[0], CENTRE[1], 2, (1,), (), "2026-11")
    )
    assert again is Outcome.TOO_SOON
    assert await town.services.volunteers.reapply_from(601) is not None


async def test_a_suspended_volunteer_cannot_claim_through_the_groups_copy(town: Town) -> None:
    await _referent(town)
    services = town.services
    neighbourhood = await services.neighbourhoods.create(
        COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.5
    )
    assert not isinstance(neighbourhood, Outcome)
    group_id = -100_123
    assert (
        await services.neighbourhoods.link_group(COORDINATOR_ID, neighbourhood.id, group_id)
        is Outcome.DONE
    )
    nour = await _volunteer(town, 601, "Nour")
    assert (await services.standing.suspend(COORDINATOR_ID, nour, None)).outcome is Standing.DONE
    request_id = await _post(town)
    async with services.database.read() as session:
        request = await session.get(HelpRequest, request_id)
    assert request is not None
    assert request.neighbourhood_id == neighbourhood.id  # posted in the group too
    refused = await services.requests.claim(601, request_id, in_chat=group_id)
    assert refused.outcome is ClaimOutcome.NOT_ALLOWED
    assert (await services.standing.reinstate(COORDINATOR_ID, nour, None)).outcome is (
        Standing.DONE
    )
    taken = await services.requests.claim(601, request_id, in_chat=group_id)
    assert taken.outcome is ClaimOutcome.CLAIMED
