"""`python -m bot` with a profiler the benchmark switches on and off.

    python -m bench.profiled OUT        # the bot, as `python -m bot`
    python -m bench.profiled --top OUT  # a saved profile's top functions


SIGUSR1 starts cProfile, SIGUSR2 stops it and writes the statistics to OUT (pstats format), so
a profile covers the measured phase only (not start-up, seeding or the offers' broadcast).
`--top` prints the functions by cumulative time, then by own time.
"""

from __future__ import annotations

import cProfile
import pstats
import signal
import sys
from pathlib import Path
from types import FrameType


def top(path: Path, count: int = 40) -> None:
    """Print the `count` functions with the most cumulative time, then by own time."""
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(count)
    stats.sort_stats("tottime").print_stats(count // 2)


def main(argv: list[str]) -> int:
    """Run the bot with the switchable profiler, or print a saved profile."""
    if len(argv) == 2 and argv[0] == "--top":
        top(Path(argv[1]))
        return 0
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
