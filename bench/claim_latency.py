"""Benchmark 2: claim tap → callback answer latency while a 1,000-offer broadcast runs.

Before the broadcast, requests for "gardening" (2 places each) are offered to clusters of five
gardeners, 4 km apart (radius 1 km: each hears of its own cluster's request only). A few clusters
tap on an idle bot (the baseline); then the broadcast of benchmark 1 starts and the other
gardeners tap "I'll do it" at random moments while it runs. Latency is measured from the tap
being queued in the fake (just before the bot's long poll returns it) to the bot's
answerCallbackQuery arriving at the fake. Goal: p99 ≤ 250 ms.
"""

from __future__ import annotations

import argparse
from collections import Counter

from bench.broadcast import Tap, TapPlan, broadcast_table, run_broadcast
from bench.common import DEFAULT_POSTGRES_URL, Table, machine_line, ms, percentile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the claim-latency benchmark."""
    parser.add_argument("--offers", type=int, default=1000, help="broadcast size (1000)")
    parser.add_argument("--clusters", type=int, default=30, help="requests tapped meanwhile (30)")
    parser.add_argument("--idle-clusters", type=int, default=6, help="tapped before it (6)")
    parser.add_argument("--tappers-per-cluster", type=int, default=5)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres"], default="sqlite", help="database (sqlite)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)


def _kind(answer: str) -> str:
    if answer.startswith("It's yours"):
        return "won"
    if "quicker" in answer:
        return "full"
    return answer[:40] or "?"


def latency_row(table: Table, label: str, taps: list[Tap]) -> None:
    """One row of tap latencies (answered taps only; unanswered ones counted apart)."""
    latencies = [t.answered_at - t.tapped_at for t in taps if t.answered_at is not None]
    kinds = Counter(_kind(t.answer) for t in taps if t.answered_at is not None)
    table.add(
        label,
        len(taps),
        len(latencies),
        ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
        ms(percentile(latencies, 50)),
        ms(percentile(latencies, 90)),
        ms(percentile(latencies, 99)),
        ms(max(latencies)) if latencies else float("nan"),
    )


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 2 (with the broadcast figures of that run)."""
    plan = TapPlan(
        clusters=args.clusters,
        idle_clusters=args.idle_clusters,
        tappers_per_cluster=args.tappers_per_cluster,
    )
    result = await run_broadcast(
        offers=args.offers, backend=args.backend, postgres_url=args.postgres_url, taps=plan
    )
    table = Table(
        f"2. Claim tap → answer latency, {args.backend} (goal p99 ≤ 250 ms)",
        ["when", "taps", "answered", "answers", "p50 ms", "p90 ms", "p99 ms", "max ms"],
    )
    latency_row(table, "idle bot", [t for t in result.taps if not t.during_broadcast])
    latency_row(table, "during the broadcast", [t for t in result.taps if t.during_broadcast])
    table.notes.append(
        f"requests over-booked or with places_taken ≠ claims holding a place: {result.over_booked}"
    )
    table.notes.append(result.load)
    table.notes.append(machine_line())
    figures = broadcast_table([result], f"2b. The broadcast of {args.offers} offers meanwhile")
    return [table, figures]
