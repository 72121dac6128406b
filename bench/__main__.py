"""Run Brigade's benchmarks: `python -m bench NAME [options]` or `python -m bench all`.

    python -m bench broadcast            # 1. 1,000 offers through the outbox, limits on
    python -m bench claims               # 2. claim-tap latency while that broadcast runs
    python -m bench taps                 # 3. 500 simultaneous taps on a 2-place request
    python -m bench matching             # 4. find_candidates among 100,000 volunteers
    python -m bench throughput           # 5a. /help throughput vs a bare PTB echo bot
    python -m bench memory               # 5b. RSS of the bot with 100,000 volunteers
    python -m bench watch                # 6. a watch campaign's morning: 2,000 people, 250 callers
    python -m bench soak --minutes 15    # 7. a steady mixed load: memory, latency, rows
    python -m bench all [--quick]        # every one of them, in that order

Each prints a Markdown table; `--out FILE` also appends them to FILE. `NAME --help` lists the
options that shrink a benchmark (e.g. `python -m bench matching --volunteers 10000`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

from bench import broadcast, claim_latency, matching, memory, soak, taps, throughput, watch
from bench.common import Table

BENCHMARKS: dict[str, ModuleType] = {
    "broadcast": broadcast,
    "claims": claim_latency,
    "taps": taps,
    "matching": matching,
    "throughput": throughput,
    "memory": memory,
    "watch": watch,
    "soak": soak,
}
# `all --quick`: sizes that finish in a couple of minutes, to check the benchmarks still run.
QUICK: dict[str, list[str]] = {
    "broadcast": ["--offers", "120"],
    "claims": ["--offers", "150", "--clusters", "6", "--idle-clusters", "2"],
    "taps": ["--tappers", "60"],
    "matching": ["--volunteers", "5000", "--queries", "10", "--naive-runs", "1"],
    "throughput": ["--messages", "200"],
    "memory": ["--volunteers", "5000"],
    "watch": ["--people", "200", "--callers", "30"],
    "soak": ["--quick"],
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="also append the tables (Markdown) to this file")
    sub = parser.add_subparsers(dest="name", required=True)
    for name, module in BENCHMARKS.items():
        child = sub.add_parser(name, help=(module.__doc__ or "").splitlines()[0])
        module.add_arguments(child)
    every = sub.add_parser("all", help="every benchmark with its default sizes")
    every.add_argument("--quick", action="store_true", help="small sizes, to check they run")
    return parser


async def _one(name: str, argv: list[str]) -> list[Table]:
    module = BENCHMARKS[name]
    parser = argparse.ArgumentParser(prog=f"python -m bench {name}")
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], Awaitable[list[Table]]] = module.run
    return await run(args)


def _emit(tables: list[Table], out: Path | None) -> None:
    for table in tables:
        text = table.render()
        print(text + "\n", flush=True)
        if out is not None:
            with out.open("a", encoding="utf-8") as file:
                file.write(text + "\n\n")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the benchmark(s), print the tables."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.name != "all":
        # Re-parse the benchmark's own options (after its name).
        rest = argv[argv.index(args.name) + 1 :]
        _emit(asyncio.run(_one(args.name, rest)), args.out)
        return 0
    for name in BENCHMARKS:
        started = time.monotonic()
        print(f"== {name} ==", flush=True)
        tables = asyncio.run(_one(name, QUICK[name] if args.quick else []))
        _emit(tables, args.out)
        print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
