"""Coordinators' views and figures over HTTP: /open, /stuck, /stats, /export, /announce."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from bot.domain.vocabulary import Role
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, ClaimOutcome, RequestDraft, StepOutcome
from storage.models import Claim, OutboxMessage
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser, StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, east, new_volunteer, skill_id, the_coordinator

pytestmark = pytest.mark.e2e
SECRETS = ("Jeanne", "Martin", "+33 4 79", "27 rue", "code 1234", "+33 6 11")


class Town:
    """A coordinator, a referent, two neighbourhoods and their volunteers."""

    def __init__(self, claire: FakeUser, rita: FakeUser, centre: int, biollay: int) -> None:
        self.claire = claire
        self.rita = rita
        self.centre = centre
        self.biollay = biollay


async def _town(live: PollingBrigade, world: FakeTelegram) -> Town:
    claire = await the_coordinator(world)
    rita = world.add_user("Rita", language_code="en")
    rita.send_command("start")
    await rita.expect_message()
    invite = await live.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(invite, Outcome)
    rita.start(invite.start_payload)
    await rita.expect_message("You are now a referent")
    centre = await live.services.neighbourhoods.create(COORDINATOR_ID, "Centre-Ville", *CENTRE, 1)
    biollay = await live.services.neighbourhoods.create(COORDINATOR_ID, "Biollay", *east(3.0), 1)
    assert not isinstance(centre, Outcome)
    assert not isinstance(biollay, Outcome)
    return Town(claire, rita, centre.id, biollay.id)


async def _post(live: PollingBrigade, town: Town) -> int:
    posted = await live.services.requests.post(
        town.rita.id,
        RequestDraft(
            skill_id=await skill_id(live.services.database, "plumbing"),
            description="Leaking tap at Jeanne's",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            area_label="Rue de Boigne",
            neighbourhood_id=town.centre,
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
    return posted.request_id


async def _claim_and_do(live: PollingBrigade, volunteer: FakeUser, request_id: int) -> int:
    claimed = await live.services.requests.claim(volunteer.id, request_id)
    assert claimed.outcome is ClaimOutcome.CLAIMED
    assert claimed.claim_id is not None
    done = await live.services.requests.mark_done(volunteer.id, claimed.claim_id, minutes=30)
    assert done is StepOutcome.DONE
    return claimed.claim_id


def _rows(message: StoredMessage) -> list[dict[str, str]]:
    assert message.file is not None
    return list(csv.DictReader(io.StringIO(message.file.content.decode("utf-8-sig"), newline="")))


async def test_open_lists_an_unclaimed_request_with_its_buttons(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    town = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", neighbourhood_id=town.centre)
    request_id = await _post(live, town)
    await ana.expect_message(f"#{request_id}")

    town.claire.send_command("open")
    listing = await town.claire.expect_message("Requests not yet fully taken: 1")
    text = listing.text or ""
    assert f"#{request_id} · Plumbing · Rue de Boigne, Centre-Ville" in text
    assert "places left: 1/1" in text
    assert "Volunteers contacted: 1 · waves: 1 · group posts: 0 · “Not for me”: 0." in (text)
    assert all(secret not in text for secret in SECRETS), text
    assert [b.callback_data for b in listing.rows[0]] == [
        f"ra:resend:{request_id}",
        f"ra:widen:{request_id}",
        f"ra:cancel:{request_id}",
    ]
    assert listing.labels == [f"#{request_id}: offer again", "Widen", "Cancel", "🔄 Refresh"]

    town.claire.tap(listing, "Cancel")
    await world.wait_for(lambda: "Yes, cancel it" in listing.labels, what="asked first")
    town.claire.tap(listing, "Yes, cancel it")
    await world.wait_for(lambda: len(town.claire.callback_answers) >= 2)
    assert "Request cancelled" in (town.claire.callback_answers[-1].text or "")
    town.claire.tap(listing, "🔄 Refresh")
    await world.wait_for(
        lambda: "Every request has its volunteers" in (listing.text or ""), what="refreshed list"
    )


async def test_stuck_shows_a_done_but_unconfirmed_claim_and_reminds_the_referent(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    town = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", neighbourhood_id=town.centre)
    request_id = await _post(live, town)
    claim_id = await _claim_and_do(live, ana, request_id)
    question = await town.rita.expect_message("Ana says your request")

    town.claire.send_command("stuck")
    await town.claire.expect_message("No claim is waiting too long")

    async with live.services.database.transaction() as session:
        await session.execute(
            update(Claim)
            .where(Claim.id == claim_id)
            .values(done_at=live.clock() - timedelta(hours=50))
        )
    town.claire.send_command("stuck")
    listing = await town.claire.expect_message("Claims waiting too long: 1")
    text = listing.text or ""
    assert f"#{request_id} (Plumbing): Ana → referent Rita" in text
    assert "Said done 2 days ago, not confirmed by the referent." in text
    remind = town.claire.tap(listing, f"Remind the referent of #{request_id}")
    reminder = await town.rita.expect_message("Reminder from the coordinators")
    assert f"Ana said request #{request_id} (Plumbing) was done" in (reminder.text or "")
    assert reminder.labels == ["✅ Confirmed", "❌ Not done", "⚠️ About the volunteer's conduct"]
    assert await town.claire.answer_to(remind) == "Reminder sent to the referent."
    town.rita.tap(reminder, "Confirmed")
    await ana.expect_message("Thank you for your help")
    await world.wait_for(lambda: "✅ Confirmed by Rita." in (reminder.text or ""), what="shown")
    # The first question, answered on the reminder: its answers are spent there too.
    answers = len(town.rita.callback_answers)
    town.rita.tap(question, "Confirmed")
    await world.wait_for(lambda: len(town.rita.callback_answers) > answers, what="answered")
    assert town.rita.callback_answers[-1].text == "This has already been dealt with."
    await world.wait_for(
        lambda: question.labels == ["⚠️ About the volunteer's conduct"], what="answers gone"
    )
    town.claire.tap(listing, "🔄 Refresh")
    await world.wait_for(lambda: "No claim is waiting too long" in (listing.text or ""))


async def test_stats_answers_with_the_figures(world: FakeTelegram, live: PollingBrigade) -> None:
    town = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", neighbourhood_id=town.centre)
    first = await _post(live, town)
    claim_id = await _claim_and_do(live, ana, first)
    assert await live.services.requests.confirm(town.rita.id, claim_id, done=True) is (
        StepOutcome.DONE
    )
    second = await _post(live, town)
    assert await live.services.requests.cancel(town.rita.id, second) is StepOutcome.DONE

    town.claire.send_command("stats")
    question = await town.claire.expect_message("Figures: which period?")
    assert question.labels == ["This month", "Last month", "This year", "All time"]
    town.claire.tap(question, "This month")
    await world.wait_for(lambda: "which neighbourhood?" in (question.text or ""))
    assert question.labels == ["All neighbourhoods", "Biollay", "Centre-Ville", "◀ Other period"]
    town.claire.tap(question, "All neighbourhoods")
    await world.wait_for(lambda: "Requests created" in (question.text or ""), what="figures")
    text = question.text or ""
    for line in (
        "Requests created: 2",
        "• taken by a volunteer: 1",
        "• done: 1",
        "• confirmed (closed): 1",
        "• cancelled: 1",
        "• expired: 0",
        "Completion rate: 100%",
        "Active volunteers: 1",
        "Hours given: 30 min — services done: 1",
        "• Plumbing — created: 2, taken: 1, confirmed: 1",
        "• Centre-Ville — created: 2, taken: 1, confirmed: 1; active volunteers: 1; hours: 30 min",
        "• Biollay — created: 0, taken: 0, confirmed: 0; active volunteers: 0; hours: 0 h",
    ):
        assert line in text, (line, text)
    assert "Median time to first claim: 0 min" in text

    town.claire.tap(question, "Other figures")
    await world.wait_for(lambda: "which period?" in (question.text or ""))
    town.claire.tap(question, "All time")
    await world.wait_for(lambda: "which neighbourhood?" in (question.text or ""))
    town.claire.tap(question, "Biollay")
    await world.wait_for(lambda: "Requests created: 0" in (question.text or ""))
    assert "Biollay" in (question.text or "")
    assert "Completion rate: —" in (question.text or "")


async def test_export_sends_csv_documents_and_a_png_chart(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    town = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", neighbourhood_id=town.centre)
    request_id = await _post(live, town)
    claim_id = await _claim_and_do(live, ana, request_id)

    town.claire.send_command("export")
    question = await town.claire.expect_message("Export which period?")
    town.claire.tap(question, "All time")
    progress = await town.claire.expect_message("Preparing the export…")
    await world.wait_for(lambda: "Export ready" in (progress.text or ""), timeout=30)
    steps = [version.text for version in progress.history]
    assert steps[0] is not None
    assert steps[0].startswith("Preparing the export… 0/")
    files = {m.file.filename: m for m in town.claire.inbox if m.file is not None}
    csv_names = sorted(name for name in files if name and name.endswith(".csv"))
    assert csv_names[:1] == ["brigade-claims-all.csv"]
    assert "brigade-requests-all.csv" in csv_names
    assert any(name.startswith("brigade-volunteers-") for name in csv_names)
    for name in csv_names:
        stored = files[name].file
        assert stored is not None
        assert stored.content.startswith(b"\xef\xbb\xbf")
        text = stored.content.decode("utf-8-sig")
        assert all(secret not in text for secret in [*SECRETS, "Ana"]), (name, text)
        list(csv.reader(io.StringIO(text, newline="")))
    requests = _rows(files["brigade-requests-all.csv"])
    assert [(r["id"], r["status"], r["area_label"]) for r in requests] == [
        (str(request_id), "completed", "Rue de Boigne")
    ]
    claims = _rows(files["brigade-claims-all.csv"])
    assert [(c["id"], c["status"], c["minutes_spent"]) for c in claims] == [
        (str(claim_id), "done", "30")
    ]
    # The same tables in one workbook, headers and statuses in words.
    workbook = files["brigade-all.xlsx"].file
    assert workbook is not None
    book = load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames[:4] == ["Requests", "Claims", "Visit reports", "Volunteers"]
    [header, row] = list(book["Requests"].iter_rows(values_only=True))
    assert (header[0], header[2], row[0], row[2]) == ("No.", "Status", request_id, "done")
    photos = [m for m in town.claire.inbox if "photo" in m.content]
    assert len(photos) == 1
    assert photos[0].file is not None
    png = photos[0].file.content
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "per neighbourhood and month" in (photos[0].caption or "")


async def test_announce_to_one_neighbourhood_reaches_exactly_its_approved_volunteers(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    town = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", neighbourhood_id=town.centre)
    bob = await new_volunteer(live, world, "Bob", neighbourhood_id=town.centre, km=0.6)
    chloe = await new_volunteer(live, world, "Chloe", neighbourhood_id=town.biollay, km=3.0)
    paul = await new_volunteer(live, world, "Paul", neighbourhood_id=town.centre, approve=False)
    claire = town.claire

    claire.send_command("announce")
    choice = await claire.expect_message("Who should receive the announcement?")
    assert choice.labels == ["All volunteers (3)", "Biollay (1)", "Centre-Ville (2)", "✖ Cancel"]
    claire.tap(choice, "Centre-Ville (2)")
    await claire.expect_message("Now send the text of the announcement")
    claire.send_text("x" * 3501)
    await claire.expect_message("This text is too long (3501/3500 characters)")
    claire.send_text("Meeting on Thursday at 6 pm at the town hall.")
    preview = await claire.expect_message("Preview — to the volunteers of Centre-Ville (2):")
    assert "Meeting on Thursday" in (preview.text or "")
    claire.tap(preview, "Send to 2")
    queued = await claire.expect_message("Queued for 2 volunteers")

    for volunteer in (ana, bob):
        received = await volunteer.expect_message("Meeting on Thursday")
        assert (received.text or "").startswith("📣 A message from the coordinators of Chambéry:")
    await live.settle()  # a wrong delivery has happened by now
    for outsider in (chloe, paul, town.rita):
        assert not any("Meeting on Thursday" in (m.text or "") for m in outsider.inbox), outsider
    assert [m for m in claire.inbox if "Meeting on Thursday" in (m.text or "")] == [preview]
    async with live.services.database.read() as session:
        keys = (
            await session.execute(
                select(OutboxMessage.batch_key, func.count())
                .where(OutboxMessage.batch_key.is_not(None))
                .group_by(OutboxMessage.batch_key)
            )
        ).all()
    assert len(keys) == 1
    assert keys[0][0].startswith("announce:")
    assert keys[0][1] == 2

    claire.tap(queued, "Refresh")
    await world.wait_for(
        lambda: "delivered: 2/2 · waiting: 0" in (queued.text or ""),
        what="delivered count",
    )
    # A second tap on Send (an old copy of the button) finds nothing to send.
    assert preview.labels == []
    answered = len(claire.callback_answers)
    claire.tap_data(preview, "an:send:yes")
    await world.wait_for(lambda: len(claire.callback_answers) > answered)
    assert "no longer valid" in (claire.callback_answers[-1].text or "")
    await live.settle()
    async with live.services.database.read() as session:
        total = (
            await session.execute(select(func.count()).where(OutboxMessage.batch_key.is_not(None)))
        ).scalar_one()
    assert total == 2
