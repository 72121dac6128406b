"""Availability end to end over HTTP: a volunteer not free at a request's time is not in the
first offer, a nearer-or-not one who is free gets it; the last wave reaches them; the profile, the
application card and the member card say the availability as presets."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.availability import PERIODS, period_at
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram
from tests.e2e.test_request_lifecycle import _draft, _town
from tests.factories import new_volunteer, skill_id

pytestmark = pytest.mark.e2e


async def test_a_volunteer_not_free_then_gets_no_first_offer_and_one_free_does(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, _group = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", km=0.3, skills=["plumbing"])  # nearest
    bob = await new_volunteer(live, world, "Bob", km=0.6, skills=["plumbing"])
    starts_at = live.clock() + timedelta(days=3)
    local = starts_at.astimezone(live.settings.tz)
    other_day = (local.weekday() + 1) % 7
    # Ana: free every part of another day only. Bob: free at the request's very slot.
    await live.services.profile.set_availability(ana.id, [(other_day, p) for p in PERIODS])
    await live.services.profile.set_availability(bob.id, [(local.weekday(), period_at(local))])
    draft = replace(
        _draft(await skill_id(live.services.database, "plumbing")),
        when_kind="slot",
        starts_at=starts_at,
    )
    posted = await live.services.requests.post(rita.id, draft)
    assert posted is not None
    assert (posted.offered, posted.remaining_candidates) == (1, 1)
    await bob.expect_message(f"Request #{posted.request_id}")
    await live.settle()  # a wrong delivery has happened by now
    assert not any(f"#{posted.request_id}" in (m.text or "") for m in ana.inbox)
    # The last wave, when it is due: Ana is asked too, before anyone alerts a coordinator.
    assert await live.services.requests.next_wave(posted.request_id) == 1
    await ana.expect_message(f"Request #{posted.request_id}")


async def test_nearby_lists_a_request_at_an_unusual_time_last_and_says_so(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, _group = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", km=0.3, skills=["plumbing"])
    plumbing = await skill_id(live.services.database, "plumbing")
    starts_at = live.clock() + timedelta(days=3)
    local = starts_at.astimezone(live.settings.tz)
    await live.services.profile.set_availability(ana.id, [((local.weekday() + 1) % 7, "morning")])
    timed = await live.services.requests.post(
        rita.id, replace(_draft(plumbing), when_kind="slot", starts_at=starts_at)
    )
    # Ana is free now (the asap request's slot), never on the timed request's day.
    now = live.clock().astimezone(live.settings.tz)
    await live.services.profile.set_availability(
        ana.id, [((local.weekday() + 1) % 7, "morning"), (now.weekday(), period_at(now))]
    )
    asap = await live.services.requests.post(rita.id, _draft(plumbing))
    assert timed is not None
    assert asap is not None
    ana.send_command("nearby")
    page = await ana.expect_message("2 open requests")
    text = page.text or ""
    # The one she is usually free for first, though at the same place; the other marked.
    assert text.index(f"#{asap.request_id}") < text.index(f"#{timed.request_id}")
    assert text.count("🕓 At a time you are usually not free") == 1
    assert text.index("🕓 At a time") > text.index(f"#{timed.request_id}")
