"""Logins cannot stall the boards: how fast the server answers while a flood of logins hashes.

Each login checks a scrypt hash (~40 ms of CPU). The server runs it off the event loop, so
the loop that feeds every board keeps answering. This starts ``hallq serve`` on the bench
hall, sends ``--logins`` logins from ``--threads`` threads at once, and meanwhile asks
``/healthz`` again and again; it prints the logins' rate and the answer times of ``/healthz``
during the flood (the time a board's message would wait behind the logins).

    .venv/bin/python bench/server_login_flood.py --logins 64 --threads 16
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from server_common import ADMIN, hallq_server, http, machine, percentile, workdir, write_bench_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logins", type=int, default=64)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    print(machine())
    with workdir() as tmp, hallq_server(write_bench_config(tmp)) as base, ThreadPoolExecutor(args.threads) as pool:
        started = time.monotonic()
        flood = [pool.submit(http, "POST", base + "/api/v1/auth/login", ADMIN) for _ in range(args.logins)]
        waits: list[float] = []
        while not all(f.done() for f in flood):
            t0 = time.monotonic()
            status, _ = http("GET", base + "/healthz")
            waits.append(time.monotonic() - t0)
            if status != 200:
                raise SystemExit(f"/healthz answered {status} during the flood")
        took = time.monotonic() - started
        statuses = [f.result()[0] for f in flood]
    ok = statuses.count(200)
    print(f"{ok}/{args.logins} logins answered 200 in {took:.2f} s ({ok / took:.0f} logins/s)")
    ms = sorted(w * 1000 for w in waits)
    print(
        f"/healthz during the flood: {len(ms)} answers, p50 {percentile(ms, 50):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, max {ms[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
