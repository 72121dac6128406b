"""The visit plan and the visit report on real databases: who may answer, when, and what is told.

Amount parsing is pinned here too (it is what the conversation feeds the use case).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import ClaimStatus, Role, VisitPlan, Wellbeing
from bot.messages.base import Notice, Reader
from bot.messages.claims import ConcernRaised
from bot.messages.visits import (
    AskVisitPlan,
    ExpenseAdvanced,
    ReceiptPhoto,
    VisitPlanned,
    VisitWorry,
    WantsMoreVisits,
)
from bot.money import MAX_EXPENSE_CENTS, money_text, parse_amount
from bot.services.requests import ClaimOutcome, RequestService, StepOutcome
from storage.database import Database
from storage.models import AuditEvent, Claim, Member, MemberRole, OutboxMessage
from testkit.clock import ManualClock
from testkit.messages import RecordingMessenger
from tests.services.test_privacy import personal_traces
from tests.services.test_requests import REFERENT, _draft, _recording, _town

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)  # 15:00 in Chambéry
MARC, EVE = 100, 101  # the two volunteers of `_town(database, 2)`
COORDINATOR = 9
N = TypeVar("N", bound=Notice)


@pytest.fixture
def clock() -> ManualClock:
    """Requests are posted and claimed at NOW."""
    return ManualClock(NOW)


async def _claimed(
    database: Database, *, when_kind: str = "asap", **settings: object
) -> tuple[RequestService, RecordingMessenger, int]:
    """Marc holds a place on a request of Rita's; a coordinator is known; the claim's id."""
    skill_id = await _town(database, 2)
    async with database.transaction() as session:
        coordinator = Member(telegram_id=COORDINATOR, display_name="Claire")
        session.add(coordinator)
        await session.flush()
        session.add(MemberRole(member_id=coordinator.id, role=Role.COORDINATOR))
    service, sent = _recording(database, **settings)
    draft = _draft(skill_id)
    draft = type(draft)(**{**draft.__dict__, "when_kind": when_kind})
    posted = await service.post(REFERENT, draft)
    assert posted is not None
    result = await service.claim(MARC, posted.request_id)
    assert result.outcome is ClaimOutcome.CLAIMED
    assert result.claim_id is not None
    return service, sent, result.claim_id


async def _claim(database: Database, claim_id: int) -> Claim:
    async with database.read() as session:
        claim = await session.get(Claim, claim_id)
    assert claim is not None
    return claim


# --- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("12,50", 1250),  # French and Dutch decimals
        ("12.5", 1250),  # English decimals, one digit
        ("12 €", 1200),
        ("€12.05", 1205),
        ("12,50 euros", 1250),
        ("8 EUR", 800),
        ("1 000,00", 100_000),  # a space between thousands, the limit itself
        ("1.000,00", 100_000),  # a dot between thousands (fr, nl)
        ("1,000.00", 100_000),  # a comma between thousands (en)
        ("0,99", 99),
    ],
)
def test_amounts_are_read_as_people_type_them(typed: str, cents: int) -> None:
    assert parse_amount(typed) == cents


@pytest.mark.parametrize(
    "typed",
    ["", "douze", "0", "0,00", "-5", "12,5,0", "12,505", "1 000,01", "12.345", "1,2,3", "5 $ 5"],
)
def test_nonsense_zero_and_huge_amounts_are_refused(typed: str) -> None:
    assert parse_amount(typed) is None


def test_amounts_read_in_each_readers_locale() -> None:
    assert money_text(1250, "EUR", "fr") == "12,50\xa0€"
    assert money_text(1250, "EUR", "en") == "€12.50"
    assert money_text(1250, "EUR", "nl") == "€\xa012,50"
    assert money_text(MAX_EXPENSE_CENTS, "EUR", "fr") == "1\u202f000,00\xa0€"


# --- "When will you go?" ---------------------------------------------------------------------


async def test_an_asap_claim_asks_when_and_the_referent_is_told_once(database: Database) -> None:
    service, sent, claim_id = await _claimed(database)
    assert sent.readers(AskVisitPlan) == [MARC]
    before = (await _claim(database, claim_id)).ask_done_at
    assert before == NOW + timedelta(hours=2)

    assert await service.plan_visit(MARC, claim_id, VisitPlan.TOMORROW) is StepOutcome.DONE
    [told] = sent.of(VisitPlanned, to=REFERENT)
    assert (told.volunteer_name, told.plan) == ("V0", VisitPlan.TOMORROW)
    claim = await _claim(database, claim_id)
    assert (claim.visit_plan, claim.visit_planned_at) == (VisitPlan.TOMORROW, NOW)
    # "Is it done?" waits for the announced day: tomorrow 21:00 in Chambéry, plus the usual hour.
    assert claim.ask_done_at == datetime(2026, 11, 23, 21, 0, tzinfo=UTC)

    # Answered once: a second tap (or another answer) changes nothing and tells nobody.
    again = await service.plan_visit(MARC, claim_id, VisitPlan.WITHIN_AN_HOUR)
    assert again is StepOutcome.ALREADY_DONE
    assert len(sent.of(VisitPlanned)) == 1
    assert (await _claim(database, claim_id)).visit_plan is VisitPlan.TOMORROW


async def test_within_the_hour_keeps_the_usual_follow_up(database: Database) -> None:
    service, _sent, claim_id = await _claimed(database)
    assert await service.plan_visit(MARC, claim_id, VisitPlan.WITHIN_AN_HOUR) is StepOutcome.DONE
    assert (await _claim(database, claim_id)).ask_done_at == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    ("asap_minutes", "usual_minutes", "asked_after"),
    [(30, 10, timedelta(minutes=30)), (30, 45, timedelta(minutes=45))],
)
async def test_an_asap_claim_is_followed_up_after_its_own_setting_never_sooner_than_the_usual(
    database: Database, asap_minutes: int, usual_minutes: int, asked_after: timedelta
) -> None:
    _service, _sent, claim_id = await _claimed(
        database,
        asap_ask_done_after_minutes=asap_minutes,
        ask_done_after_minutes=usual_minutes,
    )
    assert (await _claim(database, claim_id)).ask_done_at == NOW + asked_after


async def test_only_the_claimer_plans_only_while_the_claim_is_active(database: Database) -> None:
    service, sent, claim_id = await _claimed(database)
    # Another volunteer, the referent, a stranger, a claim that does not exist.
    assert await service.plan_visit(EVE, claim_id, VisitPlan.TODAY) is StepOutcome.NOT_ALLOWED
    assert await service.plan_visit(REFERENT, claim_id, VisitPlan.TODAY) is (
        StepOutcome.NOT_ALLOWED
    )
    assert await service.plan_visit(424, claim_id, VisitPlan.TODAY) is StepOutcome.NOT_ALLOWED
    assert await service.plan_visit(MARC, 999, VisitPlan.TODAY) is StepOutcome.NOT_FOUND
    # Released: the question under the details is stale.
    assert await service.release(MARC, claim_id) is StepOutcome.DONE
    assert await service.plan_visit(MARC, claim_id, VisitPlan.TODAY) is StepOutcome.STALE
    assert sent.of(VisitPlanned) == []
    assert (await _claim(database, claim_id)).visit_plan is None


async def test_a_request_with_a_time_asks_no_plan_and_refuses_a_forged_one(
    database: Database,
) -> None:
    service, sent, claim_id = await _claimed(database, when_kind="today")
    assert sent.of(AskVisitPlan) == []
    assert await service.plan_visit(MARC, claim_id, VisitPlan.TODAY) is StepOutcome.NOT_FOUND
    assert sent.of(VisitPlanned) == []


# --- the visit report ------------------------------------------------------------------------


async def test_a_worried_report_alerts_the_referent_and_coordinators_at_once(
    database: Database,
) -> None:
    service, sent, claim_id = await _claimed(database)
    sentence = "Elle n'avait plus de chauffage et semblait perdue."
    # Before Done there is no report to give.
    early = await service.record_wellbeing(MARC, claim_id, Wellbeing.WORRIED, sentence)
    assert early is StepOutcome.STALE
    assert await service.mark_done(MARC, claim_id) is StepOutcome.DONE

    assert await service.record_wellbeing(EVE, claim_id, Wellbeing.WORRIED, sentence) is (
        StepOutcome.NOT_ALLOWED
    )
    outcome = await service.record_wellbeing(MARC, claim_id, Wellbeing.WORRIED, sentence)
    assert outcome is StepOutcome.DONE
    assert sorted(sent.readers(VisitWorry)) == [REFERENT, COORDINATOR]
    assert {notice.sentence for notice in sent.of(VisitWorry)} == {sentence}
    rendered = sent.rendered(*_letter(sent, VisitWorry, REFERENT))
    assert "<blockquote>Elle n'avait plus de chauffage" in rendered.text

    claim = await _claim(database, claim_id)
    assert claim.status is ClaimStatus.DONE  # nobody confirmed: the alert did not wait
    assert (claim.wellbeing, claim.concern_at) == (Wellbeing.WORRIED, NOW)
    # It is the claim's concern: "Report a concern" now says it was sent, and alerts nobody.
    assert await service.concern(MARC, claim_id, "The door is locked") is StepOutcome.ALREADY_DONE
    assert sent.of(ConcernRaised) == []
    # One report per claim: a second one (a double tap, a replay) tells nobody again.
    again = await service.record_wellbeing(MARC, claim_id, Wellbeing.WORRIED, "encore")
    assert again is StepOutcome.ALREADY_DONE
    assert len(sent.of(VisitWorry)) == 2
    async with database.read() as session:
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.entity == "claim")
            )
        ).all()
    assert ("concern", {"request_id": claim.request_id, "wellbeing": "worried"}) in events
    # The sentence waits only in the outbox rows that carry it (blanked once sent): no other
    # table holds it, the audit log included.
    assert set(await personal_traces(database, ["chauffage"])) == {"outbox"}


async def test_an_earlier_concern_does_not_hold_back_the_worried_sentence(
    database: Database,
) -> None:
    service, sent, claim_id = await _claimed(database)
    assert await service.concern(MARC, claim_id, "The door is locked") is StepOutcome.DONE
    assert await service.mark_done(MARC, claim_id) is StepOutcome.DONE
    outcome = await service.record_wellbeing(MARC, claim_id, Wellbeing.WORRIED, "Elle tombe.")
    assert outcome is StepOutcome.DONE
    assert sorted(sent.readers(VisitWorry)) == [REFERENT, COORDINATOR]
    assert (await _claim(database, claim_id)).concern_at == NOW  # the first one's time


async def test_more_visits_is_told_to_the_referent(database: Database) -> None:
    service, sent, claim_id = await _claimed(database)
    assert await service.mark_done(MARC, claim_id) is StepOutcome.DONE
    more = await service.record_wellbeing(MARC, claim_id, Wellbeing.WANTS_MORE_VISITS)
    assert more is StepOutcome.DONE
    assert sent.readers(WantsMoreVisits) == [REFERENT]
    assert sent.of(VisitWorry) == []
    assert (await _claim(database, claim_id)).concern_at is None


async def test_fine_is_stored_and_told_to_nobody(database: Database) -> None:
    service, sent, claim_id = await _claimed(database)
    assert await service.mark_done(MARC, claim_id) is StepOutcome.DONE
    # The referent may confirm before the report ends: it still takes the answer.
    assert await service.confirm(REFERENT, claim_id, done=True) is StepOutcome.DONE
    told = len(sent.sent)
    assert await service.record_wellbeing(MARC, claim_id, Wellbeing.FINE) is StepOutcome.DONE
    assert len(sent.sent) == told
    assert (await _claim(database, claim_id)).wellbeing is Wellbeing.FINE


def _letter(sent: RecordingMessenger, kind: type[N], to: int) -> tuple[N, Reader]:
    """The one notice of a kind sent to a chat, and its reader."""
    [letter] = [(n, r) for n, r in sent.sent if isinstance(n, kind) and r.chat_id == to]
    return letter  # type: ignore[return-value]


async def test_money_advanced_reaches_the_referent_with_its_receipt(database: Database) -> None:
    service, sent, claim_id = await _claimed(database)
    assert await service.mark_done(MARC, claim_id) is StepOutcome.DONE
    # No receipt without an advance; no advance of nonsense.
    assert await service.send_receipt(MARC, claim_id, "AgAC-file") is StepOutcome.STALE
    assert await service.record_expense(MARC, claim_id, -1) is StepOutcome.NOT_FOUND
    assert await service.record_expense(MARC, claim_id, MAX_EXPENSE_CENTS + 1) is (
        StepOutcome.NOT_FOUND
    )
    assert await service.record_expense(EVE, claim_id, 1250) is StepOutcome.NOT_ALLOWED

    assert await service.record_expense(MARC, claim_id, 1250) is StepOutcome.DONE
    advanced, rita = _letter(sent, ExpenseAdvanced, REFERENT)
    assert advanced.cents == 1250
    # Rita reads French: the amount in her locale and the town's currency.
    text = sent.rendered(advanced, rita).text
    assert "12,50\xa0€" in text
    assert await service.record_expense(MARC, claim_id, 999) is StepOutcome.ALREADY_DONE

    assert await service.send_receipt(EVE, claim_id, "AgAC-file") is StepOutcome.NOT_ALLOWED
    assert await service.send_receipt(MARC, claim_id, "AgAC-file") is StepOutcome.DONE
    assert await service.send_receipt(MARC, claim_id, "AgAC-file") is StepOutcome.ALREADY_DONE
    call = sent.call(*_letter(sent, ReceiptPhoto, REFERENT))
    assert (call.method, call.payload["photo"]) == ("send_photo", "AgAC-file")
    assert "caption" in call.payload
    assert "text" not in call.payload
    claim = await _claim(database, claim_id)
    assert (claim.expense_cents, claim.receipt_sent) == (1250, True)
    async with database.read() as session:
        rows = (await session.execute(select(OutboxMessage.payload))).scalars().all()
    # The file id waits in its outbox row only until it is sent (then the payload is blanked).
    assert sum("AgAC-file" in str(payload) for payload in rows) == 1


async def test_a_released_claim_takes_no_report(database: Database) -> None:
    service, sent, claim_id = await _claimed(database)
    assert await service.release(MARC, claim_id) is StepOutcome.DONE
    assert await service.record_minutes(MARC, claim_id, 60) is StepOutcome.STALE
    assert await service.record_wellbeing(MARC, claim_id, Wellbeing.FINE) is StepOutcome.STALE
    assert await service.record_expense(MARC, claim_id, 500) is StepOutcome.STALE
    assert sent.of(ExpenseAdvanced) == []
    claim = await _claim(database, claim_id)
    assert (claim.wellbeing, claim.expense_cents) == (None, None)
