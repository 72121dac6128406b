"""Group commit: writes arriving together share a batch; each caller gets its own result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.batching import GroupCommit


class _Recorder:
    """A write that records its batches and can be held open, like a slow transaction."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False

    async def write(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise OSError("database unreachable")
        return [item * 10 for item in items]


async def test_an_idle_caller_is_written_at_once_alone() -> None:
    recorder = _Recorder()
    commits = GroupCommit(recorder.write)
    assert await commits.submit(1) == 10
    assert await commits.submit(2) == 20
    assert recorder.batches == [[1], [2]]


async def test_writes_arriving_during_a_write_go_together_in_the_next_one() -> None:
    recorder = _Recorder()
    recorder.gate.clear()
    commits = GroupCommit(recorder.write)
    first = asyncio.create_task(commits.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert recorder.batches == [[1]]  # under way, held open
    crowd = [asyncio.create_task(commits.submit(n)) for n in range(2, 22)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == 10
    assert await asyncio.gather(*crowd) == [n * 10 for n in range(2, 22)]
    assert recorder.batches == [[1], list(range(2, 22))]
    assert (commits.batches, commits.items) == (2, 21)


async def test_batches_never_exceed_the_maximum() -> None:
    recorder = _Recorder()
    commits = GroupCommit(recorder.write, max_batch=4)
    results = await asyncio.gather(*(commits.submit(n) for n in range(10)))
    assert results == [n * 10 for n in range(10)]
    assert [len(batch) for batch in recorder.batches] == [4, 4, 2]


async def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs() -> None:
    recorder = _Recorder()
    recorder.gate.clear()
    commits = GroupCommit(recorder.write)
    first = asyncio.create_task(commits.submit(1))
    await asyncio.sleep(0)
    recorder.fail_next = True
    later = asyncio.create_task(commits.submit(2))
    await asyncio.sleep(0)
    recorder.gate.set()
    with pytest.raises(OSError, match="unreachable"):
        await first
    assert await later == 20
    assert await commits.submit(3) == 30


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    recorder = _Recorder()
    recorder.gate.clear()
    commits = GroupCommit(recorder.write)
    first = asyncio.create_task(commits.submit(1))
    await asyncio.sleep(0)
    leaving = asyncio.create_task(commits.submit(2))
    staying = asyncio.create_task(commits.submit(3))
    await asyncio.sleep(0)
    leaving.cancel()
    recorder.gate.set()
    assert await first == 10
    assert await staying == 30
    assert leaving.cancelled()
    assert recorder.batches == [[1], [2, 3]]  # the cancelled caller's item was still written


async def test_a_write_returning_the_wrong_number_of_results_is_an_error() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        return []

    with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
        await GroupCommit(short).submit(1)
