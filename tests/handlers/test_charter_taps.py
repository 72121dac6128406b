"""The charter's and the check-in's buttons: refused from a group, forged or stale, to the wrong
person; /charter as each role reads it."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.domain.vocabulary import Role
from bot.services.invites import CreatedInvite
from storage.models import AuditEvent, Charter, Member
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID
from tests.factories import new_volunteer


async def _counts(brigade: InProcessBrigade) -> tuple[int, int, int]:
    async with brigade.services.database.read() as session:
        return (
            (await session.execute(select(func.count()).select_from(Charter))).scalar_one(),
            (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one(),
            (
                await session.execute(
                    select(func.count()).where(Member.checkin_answered_at.is_not(None))
                )
            ).scalar_one(),
        )


async def test_forged_and_group_taps_on_the_charter_change_nothing(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await brigade.deliver()
    vera = await new_volunteer(brigade, world, "Vera")
    rita = world.add_user("Rita", language_code="en")
    created = await brigade.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert isinstance(created, CreatedInvite)
    rita.start(created.start_payload)
    await brigade.deliver()
    group = world.add_group("Voisins", [claire, vera, rita])
    vera.send_command("link", chat=group)
    await brigade.deliver()
    group_post = group.last_message
    before = await _counts(brigade)

    # A coordinator's "Replace" tapped in a group: only works in the private chat.
    claire.send_command("charter")
    await brigade.deliver()
    card = claire.last_message
    assert card.labels == ["✏️ Replace (fr)", "✏️ Replace (en)", "✏️ Replace (nl)"]
    for data in ("cha:replace:fr", "cha:confirm:yes", "chr:accept:0", "ci:yes"):
        claire.tap_data(group_post, data)
        await brigade.deliver()
        assert "private chat" in (claire.callback_answers[-1].text or ""), data

    # A volunteer's forged coordinator taps are refused; forged versions and check-ins too.
    vera.send_command("help")
    await brigade.deliver()
    anchor = vera.last_message
    for data, expected in [
        ("cha:replace:fr", "coordinator"),
        ("cha:confirm:yes", "coordinator"),
        ("chr:accept:7", "no longer the one in force"),
        ("chr:bogus:0", "no longer valid"),
        ("ci:yes", "no longer valid"),
        ("ci:leave", "no longer valid"),
    ]:
        answered = len(vera.callback_answers)
        vera.tap_data(anchor, data)
        await brigade.deliver()
        assert len(vera.callback_answers) == answered + 1, data
        assert expected in (vera.callback_answers[-1].text or ""), (data, vera.callback_answers)
    # A referent is neither volunteer nor coordinator: the text, no buttons, no acceptance.
    rita.tap_data(rita.last_message, "chr:accept:0")
    await brigade.deliver()
    assert "volunteers" in (rita.callback_answers[-1].text or "")
    rita.send_command("charter")
    await brigade.deliver()
    assert "join the brigade: /join" in (rita.last_message.text or "")
    assert rita.last_message.labels == []
    assert await _counts(brigade) == before
