"""`python -m bot` with a profiler the benchmark switches on and off, and its pacing optionally
lifted.

    python -m bench.profiled OUT        # the bot, as `python -m bot`, profiled on signal
    python -m bench.profiled            # the bot, as `python -m bot` (with BENCH_UNPACED below)
    python -m bench.profiled --top OUT  # a saved profile's top functions

SIGUSR1 starts cProfile, SIGUSR2 stops it and writes the statistics to OUT (pstats format), so
a profile covers the measured phase only (not start-up, seeding or the offers' broadcast).
`--top` prints the functions by cumulative time, then by own time.

With BENCH_UNPACED=1 the bot sends as fast as the fake Bot API takes its calls: every budget of
the outbox sender (overall, per chat, per group), which the direct answers share, is made
practically endless. Only `bench throughput` uses it, to compare Brigade's cost per update with
a bare PTB bot's on equal terms: paced at 30 messages a second, an update waits for its turn to
answer and is handled alone; unpaced, like the bare bot, updates are handled as they come.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

UNPACED = "BENCH_UNPACED"
ENDLESS = 1e9


def top(path: Path, count: int = 40) -> None:
    """Print the `count` functions with the most cumulative time, then by own time."""
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(count)
    stats.sort_stats("tottime").print_stats(count // 2)


def _lift_pacing() -> None:
    """Make the outbox sender's budgets endless in this process (before the bot builds it)."""
    from bot import app
    from bot.outbox import OutboxSender, SendLimits

    endless = SendLimits(
        overall_per_second=ENDLESS,
        overall_burst=ENDLESS,
        private_per_second=ENDLESS,
        private_burst=ENDLESS,
        group_per_minute=ENDLESS,
        group_burst=ENDLESS,
    )

    class UnpacedSender(OutboxSender):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("limits", endless)
            super().__init__(*args, **kwargs)

    vars(app)["OutboxSender"] = UnpacedSender  # the name build_application constructs


def main(argv: list[str]) -> int:
    """Run the bot (profiled on signal when given OUT), or print a saved profile."""
    if len(argv) == 2 and argv[0] == "--top":
        top(Path(argv[1]))
        return 0
    if os.environ.get(UNPACED) == "1":
        _lift_pacing()
    if argv:
        out = Path(argv[0])
        profiler = cProfile.Profile()

        def start(signum: int, frame: FrameType | None) -> None:
            profiler.enable()

        def stop(signum: int, frame: FrameType | None) -> None:
            profiler.disable()
            profiler.dump_stats(str(out))

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    from bot.__main__ import main as bot_main

    return bot_main([])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
