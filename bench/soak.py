"""Soak: a busy simulated hall driven at high speed-up through the real API.

Starts ``hallq serve`` (embedded store, or ``--redis URL``) on a free port with a
24/7 copy of config.yaml, runs ``hallq demo``'s citizens and clerks against it for
``--minutes`` real minutes at ``--speed``× real time, and samples the server's
resident memory every ``--every`` seconds. Prints the samples and a summary:
requests made, errors, memory at start / end / peak, growth over the second half.

    .venv/bin/python bench/soak.py --minutes 30 --speed 600
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queue_server.auth import Authority  # noqa: E402
from queue_server.config import load_config  # noqa: E402
from queue_server.demo import DemoStats, run_demo  # noqa: E402
from tests.server.conftest import write_test_config  # noqa: E402

SECRET = "soak-secret"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--speed", type=float, default=600)
    ap.add_argument("--every", type=float, default=60)
    ap.add_argument("--redis")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_test_config(Path(tmp), ticket_number_width=4)  # a long busy "day"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "queue_server.cli", "serve", "--config", str(config), "--port", str(port)]
        if args.redis:
            cmd += ["--redis", args.redis]
        env = os.environ | {"HALLQ_SECRET": SECRET}
        with open(Path(tmp) / "server.log", "wb") as log:
            server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        time.sleep(3)
        dep = load_config(config)
        stats = DemoStats()
        driver = threading.Thread(target=run_demo, kwargs=dict(
            hall=dep.halls[0], base=f"http://127.0.0.1:{port}", authority=Authority(dep, SECRET.encode()),
            speed=args.speed, minutes=args.minutes, password="hallq-demo", seed=7, stats=stats, quiet=True))
        start = time.monotonic()
        driver.start()
        samples: list[tuple[float, float, int, int, int]] = []
        print(f"{'minute':>7} {'RSS MiB':>8} {'issued':>7} {'served':>7} {'errors':>7}")
        while driver.is_alive():
            driver.join(args.every)
            sample = ((time.monotonic() - start) / 60, rss_mib(server.pid), stats.issued, stats.served, stats.errors)
            samples.append(sample)
            print(f"{sample[0]:7.1f} {sample[1]:8.1f} {sample[2]:7d} {sample[3]:7d} {sample[4]:7d}", flush=True)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    rss = [s[1] for s in samples]
    half = rss[len(rss) // 2:]
    print(f"\nsoak: {args.minutes:g} min at {args.speed:g}x ({args.minutes * args.speed / 60:.0f} simulated hours), "
          f"{'Redis' if args.redis else 'embedded store'}")
    print(f"tickets issued {stats.issued}, served {stats.served}, no-shows {stats.no_shows}, errors {stats.errors}")
    print(f"server RSS MiB: first {rss[0]:.1f}, last {rss[-1]:.1f}, peak {max(rss):.1f}, "
          f"second-half growth {half[-1] - half[0]:+.1f}")
    if stats.errors:
        print(f"last error: {stats.last_error}")
    return 0 if stats.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
