"""Ticket-issue throughput and latency of ``hallq serve`` (issue #3).

Starts a real server — the embedded store (one process), then Redis with two
workers — and issues tickets through ``POST /api/v1/halls/demo/tickets`` as the
duty manager (channel ``counter``; kiosks are rate-limited to 120 a minute each)
over keep-alive HTTP/1.1 connections, at concurrency 1 and 64. Prints tickets/s
and p50/p99 latency (of the median of three tries) beside the target: ≥ 2000 tickets/s with p99 ≤ 50 ms.

    PYTHONPATH=$PWD /work/main/.venv/bin/python bench/server_issue.py
    PYTHONPATH=$PWD .venv/bin/python bench/server_issue.py --before /tmp/hallq-base   # before/after

``--before TREE`` also runs the server from another checkout (e.g. ``git archive
<commit> | tar -x -C /tmp/hallq-base``), the tries of both trees interleaved, so a
before/after comparison shares the machine's load of the same minutes.

The client runs on the same machine as the server and shares its cores, so the
figures are a lower bound of what the server alone can do.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_common import (
    API,
    Served,
    categories,
    hallq_server,
    load_average,
    login,
    machine,
    percentile,
    redis_server,
    workdir,
    write_bench_config,
)

TARGET_RATE = 2000.0
TARGET_P99_MS = 50.0


@dataclass
class Run:
    setup: str
    concurrency: int
    done: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_us: float = 0.0  # server CPU time per ticket (all its processes)
    tries: list[float] = field(default_factory=list)  # tickets/s of every try, the median one is reported
    load: float = 0.0  # the machine's 1-minute load average after the try
    loads: list[float] = field(default_factory=list)  # of every try

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


async def drive(base: Served, token: str, cats: list[str], args: argparse.Namespace, concurrency: int) -> Run:
    """Warm up, then issue ``args.tickets`` tickets with ``concurrency`` requests in flight.

    Warm-up and measured run share one session, and the warm-up runs at the same
    concurrency, so the measured requests travel over connections that are already
    open (keep-alive), as a hall's devices do — connection set-up is not measured.
    The client's own garbage collector is paused during the measured run: its pauses
    would be counted as the server's latency.
    """
    url = base + API + "/tickets"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [f'{{"category":"{c}","channel":"counter"}}'.encode() for c in cats]
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def phase(total: int) -> tuple[list[float], int, float]:
            counter = itertools.count()
            latencies: list[float] = []
            errors = 0
            start = time.perf_counter()
            deadline = start + args.max_seconds

            async def client() -> None:
                nonlocal errors
                while True:
                    i = next(counter)
                    if i >= total or time.perf_counter() > deadline:
                        return
                    t0 = time.perf_counter()
                    async with session.post(url, data=bodies[i % len(bodies)], headers=headers) as resp:
                        await resp.read()
                        ok = resp.status == 201
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if not ok:
                        errors += 1

            await asyncio.gather(*(client() for _ in range(concurrency)))
            return latencies, errors, time.perf_counter() - start

        await phase(max(args.warmup, concurrency))  # not measured; opens every connection
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            cpu0 = base.cpu()
            latencies, errors, elapsed = await phase(args.tickets)
            cpu = base.cpu() - cpu0
        finally:
            gc.enable()
            gc.unfreeze()
    done = len(latencies) - errors
    return Run("", concurrency, done, errors, elapsed, latencies, server_cpu_us=cpu / max(done, 1) * 1e6)


def _runner() -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


@contextmanager
def fresh_server(setup: str, workers: int, tree: Path | None = None) -> Iterator[tuple[str, Served, list[str]]]:
    """A new hall (empty queues) on a new server — and a new redis-server for the Redis setup."""
    with workdir() as tmp:
        config = write_bench_config(tmp)
        cats = categories(config)
        if setup == "embedded":
            with hallq_server(config, tree=tree) as base:
                yield "embedded, 1 process", base, cats
        else:
            with redis_server(tmp / "redis") as url, hallq_server(config, url, workers, tree=tree) as base:
                yield f"Redis, {workers} workers", base, cats


def run_setup(setup: str, args: argparse.Namespace) -> list[Run]:
    """Each try on a fresh hall, so the queues stay hall-sized (≈ 5,000 tickets) rather than growing across tries.

    With ``--before``, the tries of the two trees alternate (before, after, before, …).
    """
    arun = _runner()
    trees: list[tuple[str, Path | None]] = [("", None)]
    if args.before:
        trees = [("before: ", Path(args.before)), ("after: ", None)]
    runs = []
    for c in args.concurrency:
        tries: dict[str, list[Run]] = {label: [] for label, _ in trees}
        for k in range(args.repeat):
            for label, tree in trees:
                with fresh_server(setup, args.workers, tree) as (name, base, cats):
                    run = arun(drive(base, login(base), cats, args, c))
                    run.setup = label + name
                    run.load = load_average()
                tries[label].append(run)
                print(
                    f"  {run.setup}, concurrency {c}, try {k + 1}: {run.rate:.0f} tickets/s,"
                    f" p99 {percentile(run.latencies_ms, 99):.1f} ms, load {run.load:.2f}",
                    flush=True,
                )
        for label, _ in trees:
            ordered = sorted(tries[label], key=lambda r: r.rate)
            median = ordered[len(ordered) // 2]
            median.tries = [r.rate for r in tries[label]]
            median.loads = [r.load for r in tries[label]]
            runs.append(median)
    return runs


def table(runs: list[Run]) -> str:
    head = (
        f"{'setup':<30} {'conc.':>5} {'tickets':>7} {'errors':>6} {'tickets/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'srv CPU µs/ticket':>17}"
        "   target ≥ 2000/s, p99 ≤ 50 ms"
    )
    lines = [head, "-" * len(head)]
    for r in runs:
        p50, p99 = percentile(r.latencies_ms, 50), percentile(r.latencies_ms, 99)
        if r.concurrency == 1:
            verdict = "(latency only: one request at a time)" + (" p99 ok" if p99 <= TARGET_P99_MS else " p99 MISSED")
        else:
            ok = r.rate >= TARGET_RATE and p99 <= TARGET_P99_MS and r.errors == 0
            verdict = "met" if ok else "MISSED"
        lines.append(
            f"{r.setup:<30} {r.concurrency:>5} {r.done:>7} {r.errors:>6} {r.rate:>9.0f} {p50:>7.2f} {p99:>7.2f}"
            f" {r.server_cpu_us:>17.0f}"
            f"   {verdict}   (tries: {', '.join(f'{t:.0f}' for t in r.tries)}/s;"
            f" load {', '.join(f'{x:.1f}' for x in r.loads)})"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=5000, help="tickets per run (default 5000)")
    parser.add_argument("--repeat", type=int, default=3, help="tries per run; the median try is shown (default 3)")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 64])
    parser.add_argument("--setups", default="embedded,redis", help="embedded, redis or both (default)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the Redis setup (default 2)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="cap on each run's duration")
    parser.add_argument(
        "--before", metavar="TREE", help="also run the server from this checkout, tries interleaved (before/after)"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    runs: list[Run] = []
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    for setup in setups:
        if setup not in ("embedded", "redis"):
            parser.error(f"unknown setup {setup!r}")
        runs += run_setup(setup, args)
    print()
    print(table(runs))
    print(f"load average at the end: {load_average():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
