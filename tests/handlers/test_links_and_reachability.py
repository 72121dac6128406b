"""Links that are not (or no longer) valid get a clear answer; blocking the bot is noticed."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Member
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram


async def test_an_unknown_start_link_is_explained_then_the_person_is_greeted(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    tom = world.add_user("Tom", language_code="en")
    tom.start("i-forged")
    await brigade.deliver()
    assert tom.last_message.text == (
        "This invitation link is not valid. Check that you copied it whole."
    )
    tom.start("something-else")
    await brigade.deliver()
    texts = [m.text or "" for m in tom.inbox[-2:]]
    assert texts[0].startswith("This link is not valid.")
    assert texts[1].startswith("Hello Tom!")


async def test_a_stale_neighbourhood_link_still_lets_the_person_sign_up(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    lea = world.add_user("Léa", language_code="en")
    lea.start("n-999")
    await brigade.deliver()
    texts = [m.text or "" for m in lea.inbox]
    assert texts[0].startswith("This neighbourhood link is no longer valid.")
    assert "What name should the coordinators" in texts[1]


async def _reachable(brigade: InProcessBrigade, telegram_id: int) -> bool:
    async with brigade.services.database.read() as session:
        return bool(
            (
                await session.execute(
                    select(Member.reachable).where(Member.telegram_id == telegram_id)
                )
            ).scalar_one()
        )


async def test_blocking_and_unblocking_the_bot_is_followed(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    ana = world.add_user("Ana", language_code="en")
    ana.send_command("start")
    await brigade.deliver()
    assert await _reachable(brigade, ana.id)
    ana.block_bot()
    await brigade.deliver()
    assert not await _reachable(brigade, ana.id)
    ana.unblock_bot()
    await brigade.deliver()
    assert await _reachable(brigade, ana.id)
