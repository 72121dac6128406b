"""Pauses of a process's event loop and garbage collector, for the soak benchmark.

The soak measures a latency from the moment the harness sends an update to the moment its fake
Bot API receives the answer: a pause of the harness itself (a full garbage collection over its
growing record of calls, a long step of its own) counts as the bot's. These record both
processes' pauses, so that a slow minute can be told apart: the bot's, or the harness's. Only
aggregates are kept (the young generation is collected thousands of times a minute).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any


class GcPauses:
    """Collections of Python's cyclic garbage collector in this process, timed."""

    def __init__(self) -> None:
        self._started = 0.0
        # Per generation: how many collections, the longest and the total, in seconds.
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.total = [0.0, 0.0, 0.0]
        self._since_take = [0.0, 0.0, 0.0]

    def install(self) -> GcPauses:
        """Start recording (gc.callbacks); returns self."""
        gc.callbacks.append(self._on_collection)
        return self

    def uninstall(self) -> None:
        """Stop recording."""
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = int(info["generation"])
        self.count[generation] += 1
        self.total[generation] += took
        self.longest[generation] = max(self.longest[generation], took)
        self._since_take[generation] = max(self._since_take[generation], took)

    def take_longest(self) -> float:
        """The longest collection since the last take, in seconds."""
        return max(self.take_longest_by_generation().values()) / 1000

    def take_longest_by_generation(self) -> dict[str, float]:
        """Per generation, the longest collection since the last take, in milliseconds."""
        found = {str(g): round(took * 1000, 1) for g, took in enumerate(self._since_take)}
        self._since_take = [0.0, 0.0, 0.0]
        return found

    def summary(self) -> dict[str, dict[str, float]]:
        """Per generation: collections, the longest and the total, in milliseconds."""
        return {
            str(generation): {
                "count": self.count[generation],
                "max ms": round(self.longest[generation] * 1000, 1),
                "total ms": round(self.total[generation] * 1000, 1),
            }
            for generation in range(3)
        }


class LoopStalls:
    """How late this process's event loop wakes a task that sleeps `tick` seconds."""

    def __init__(self, tick: float = 0.01) -> None:
        self.tick = tick
        self.longest = 0.0
        self._longest_since_take = 0.0

    async def run(self) -> None:
        """Measure until cancelled."""
        while True:
            asked = time.monotonic() + self.tick
            await asyncio.sleep(self.tick)
            late = max(time.monotonic() - asked, 0.0)
            self.longest = max(self.longest, late)
            self._longest_since_take = max(self._longest_since_take, late)

    def take_longest(self) -> float:
        """The latest wake-up since the last call, in seconds."""
        longest, self._longest_since_take = self._longest_since_take, 0.0
        return longest
