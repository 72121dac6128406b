"""Issue 14, items 5 and 6, over HTTP: "When will you go?" after an as-soon-as-possible claim,
and the visit report after Done (time, how the person seemed, money advanced with a receipt)
reaching the referent and the coordinators, then /stats and /export."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import ClaimStatus, VisitPlan, Wellbeing
from bot.services.outcomes import Outcome
from bot.services.reports import Period
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import Claim
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, new_referent, new_volunteer, skill_id, the_coordinator
from tests.services.test_privacy import personal_traces

pytestmark = pytest.mark.e2e
WORRY = "Madame Lucienne Brossard had no heating and seemed confused about the day"


async def _post(live: PollingBrigade, rita: FakeUser, when_kind: str = "asap") -> int:
    draft = RequestDraft(
        skill_id=await skill_id(live.services.database, "shopping"),
        description="Groceries for the week",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        when_kind=when_kind,
        beneficiary=BeneficiaryDetails(
            name="Mme Lucienne Brossard",
            phone="+33 4 79 11 11 11",
            address="3 rue de Boigne, Chambéry",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            consent=True,
        ),
    )
    posted = await live.services.requests.post(rita.id, draft)
    assert posted is not None
    return posted.request_id


async def _claim(marc: FakeUser, request_id: int) -> None:
    marc.tap(await marc.expect_message(f"Request #{request_id}"), "I'll do it")


async def test_the_visit_plan_and_the_visit_report_reach_the_referent_and_the_figures(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    marc = await new_volunteer(live, world, "Marc", skills=["shopping"])
    request_id = await _post(live, rita)
    await _claim(marc, request_id)

    # "As soon as possible": Marc is asked when he will go; Rita is told his answer.
    details = await marc.expect_message("Here are the private details")
    question = await marc.expect_message(f"When do you think you will go for request #{request_id}")
    assert question.labels == [
        "Within an hour",
        "Later today",
        "Tomorrow",
        "I'll get in touch with the referent",
    ]
    marc.tap(question, "Within an hour")
    told = await rita.expect_message(f"Marc expects to go within the hour — request #{request_id}")
    assert "+33" not in (told.text or "")
    await world.wait_for(lambda: "→ Within an hour" in (question.text or ""), what="choice shown")
    assert question.labels == []
    # A second tap on the spent question (a forged one: the buttons are gone) changes nothing.
    claim_id = int((details.rows[0][0].callback_data or "").rsplit(":", 1)[1])
    answered = len(marc.callback_answers)
    marc.tap_data(question, f"cs:gotomorrow:{claim_id}")
    await world.wait_for(lambda: len(marc.callback_answers) > answered)
    assert marc.callback_answers[-1].text == "This has already been done."

    # Done: Rita is asked to confirm; Marc's report begins, one question per message.
    marc.tap(details, "Done")
    await rita.expect_message("Marc says your request")
    time_question = await marc.expect_message("How long did it take, roughly?")
    marc.tap(time_question, "1 hour")
    mood = await marc.expect_message("How did the person seem?")
    assert "→ 1 hour" in (time_question.text or "")
    assert mood.labels == [
        "😊 Fine",
        "🙂 Would like more visits",
        "😟 I am worried",
        "Skip",
    ]
    marc.tap(mood, "😟 I am worried")
    await marc.expect_message("What worries you?")
    assert "→ 😟 I am worried" in (mood.text or "")
    marc.send_sticker()  # not a sentence: said so, and asked again
    await marc.expect_message("Sorry, I did not understand that answer.")
    await marc.expect_message("What worries you?")
    marc.send_text("x" * 1001)  # too long: refused, nothing sent
    await marc.expect_message("1000 characters at most")
    marc.send_text(WORRY)

    # At once, before any confirmation: Rita and the coordinators read it in Marc's words.
    alert = await rita.expect_message(f"After request #{request_id} (Shopping), Marc")
    assert WORRY in (alert.text or "")
    coordinator_alert = await claire.expect_message("is worried about the person")
    assert WORRY in (coordinator_alert.text or "")
    await marc.expect_message("The referent and the coordinators have been alerted")
    async with live.services.database.read() as session:
        claim = (await session.execute(select(Claim))).scalar_one()
    assert claim.status is ClaimStatus.DONE  # not confirmed yet
    assert claim.wellbeing is Wellbeing.WORRIED
    assert claim.concern_at is not None  # the worried report is the claim's concern
    assert claim.visit_plan is VisitPlan.WITHIN_AN_HOUR

    # Money advanced, typed the French way; nonsense refused first.
    money = await marc.expect_message("Did you advance money for the person?")
    assert money.labels == ["No"]
    marc.send_text("douze euros")
    await marc.expect_message("Please type an amount such as")
    marc.send_text("12,50 €")
    await marc.expect_message("Noted: €12.50. The referent has been told.")
    await rita.expect_message(f"For request #{request_id}, Marc advanced €12.50.")
    await marc.expect_message("Do you have the receipt?")
    marc.send_photo(caption="ticket")
    receipt = await rita.expect_message(f"Marc's receipt for request #{request_id}")
    assert "photo" in receipt.content
    await marc.expect_message("The receipt has been sent to the referent.")
    await marc.expect_message("Thank you for your report!")

    await live.settle()
    async with live.services.database.read() as session:
        claim = (await session.execute(select(Claim))).scalar_one()
    assert (claim.expense_cents, claim.receipt_sent) == (1250, True)
    # The worried sentence lives in no table (the outbox rows that carried it are blanked).
    assert await personal_traces(live.services.database, ["no heating", "confused"]) == {}

    # /stats: the visit by how the person seemed, and the money advanced this month.
    claire.send_command("stats")
    figures = await claire.expect_message("Figures: which period?")
    claire.tap(figures, "This month")  # no neighbourhood to choose in this town
    await world.wait_for(lambda: "Visit reports" in (figures.text or ""), what="figures")
    text = figures.text or ""
    assert "Visit reports: 1" in text
    assert "• 😊 fine: 0 · 🙂 would like more visits: 0 · 😟 worried: 1 · no answer: 0" in text
    month = live.services.clock().strftime("%B %Y")
    assert f"• {month}: €12.50 (visits: 1)" in text, text

    # /export: the claims carry the answers; the visits file adds them up by month.
    claire.send_command("export")
    claire.tap(await claire.expect_message("Export which period?"), "All time")
    progress = await claire.expect_message("Preparing the export…")
    await world.wait_for(lambda: "Export ready" in (progress.text or ""), timeout=30)
    files = {m.file.filename: m.file for m in claire.inbox if m.file is not None}
    visits_file = files["brigade-visits-all.csv"]
    assert visits_file is not None
    rows = list(csv.DictReader(io.StringIO(visits_file.content.decode("utf-8-sig"))))
    assert rows == [
        {
            "month": live.services.clock().strftime("%Y-%m"),
            "visits": "1",
            "fine": "0",
            "more_visits": "0",
            "worried": "1",
            "no_answer": "0",
            "expenses": "1",
            "expenses_total": "12.50",
            "currency": "EUR",
        }
    ]
    claims_file = files["brigade-claims-all.csv"]
    assert claims_file is not None
    [claim_row] = csv.DictReader(io.StringIO(claims_file.content.decode("utf-8-sig")))
    assert (claim_row["wellbeing"], claim_row["expense_cents"], claim_row["receipt_sent"]) == (
        "worried",
        "1250",
        "True",
    )
    assert all(WORRY not in (f.content.decode("utf-8-sig", "replace")) for f in files.values())


async def test_more_visits_and_no_money_reach_the_referent_and_a_slot_asks_no_plan(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    await the_coordinator(world)
    rita = await new_referent(live, world)
    marc = await new_volunteer(live, world, "Marc", skills=["shopping"])
    request_id = await _post(live, rita, when_kind="today")
    await _claim(marc, request_id)
    details = await marc.expect_message("Here are the private details")
    marc.tap(details, "Done")
    marc.tap(await marc.expect_message("How long did it take"), "Skip")
    marc.tap(await marc.expect_message("How did the person seem?"), "🙂 Would like more visits")
    told = await rita.expect_message("says the person would like more visits")
    assert "/series" in (told.text or "")
    money = await marc.expect_message("Did you advance money")
    marc.tap(money, "No")
    await marc.expect_message("Thank you for your report!")
    await live.settle()
    # A "today" request says when: no plan was asked.
    assert not any("When do you think" in (m.text or "") for m in marc.inbox)
    assert not any("advanced" in (m.text or "") for m in rita.inbox)
    async with live.services.database.read() as session:
        claim = (await session.execute(select(Claim))).scalar_one()
    assert (claim.wellbeing, claim.expense_cents, claim.minutes_spent) == (
        Wellbeing.WANTS_MORE_VISITS,
        0,
        None,
    )
    # The report is over: its buttons (even tapped from an old client) answer so, change nothing.
    assert "→ No" in (money.text or "")
    claim_id = int((details.rows[0][0].callback_data or "").rsplit(":", 1)[1])
    marc.tap_data(money, f"vr:none:{claim_id}")
    await world.wait_for(lambda: "no longer valid" in (marc.callback_answers[-1].text or ""))
    stats = await live.services.reports.stats(COORDINATOR_ID, Period.THIS_MONTH)
    assert not isinstance(stats, Outcome)
    assert stats.visits is not None
    assert (stats.visits.more_visits, stats.visits.expenses) == (1, 0)
