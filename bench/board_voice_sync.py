"""What the hall board shows against what it says, under a burst of calls (issue #18).

Starts ``hallq serve`` on the bench hall, opens all 27 windows, and opens the hall board in headless
Chromium (kiosk autoplay, so it really speaks: the recorded clips, at normal speed). Then the hall's
9:00: every window calls within about a second, and each calls again 30–90 s later (start, finish,
call next; fixed seed). Twice a second it samples the board: the ticket numbers on the big panel and
the numbers in the sentence being spoken. It prints

- in step: the share of samples (while something is being said) where the panel shows exactly the
  call(s) being said;
- delay: from the clerk's call-next to the moment the voice starts saying that call (p50, p95, max);
- the voice's backlog (announcements queued in hallqVoice, and calls waiting on the board);
- calls said, calls not said (the window had moved on, or not reached within the stated bound).

    PYTHONPATH=$PWD /work/main/.venv/bin/python bench/board_voice_sync.py
    PYTHONPATH=$PWD /work/main/.venv/bin/python bench/board_voice_sync.py --before /tmp/hallq-main

``--before TREE`` runs the same against another tree first (e.g. ``mkdir /tmp/hallq-main && git archive
main | tar -x -C /tmp/hallq-main``) and prints both.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_common import API, categories, hallq_server, http, login, machine, percentile, workdir, write_bench_config

from tests.conftest import CHROMIUM, CHROMIUM_ARGS

WINDOWS = range(1, 28)
TICKETS_PER_CATEGORY = 8
SAMPLE_SECONDS = 0.5
NUMBER = re.compile(r"[A-Z]+\d+")
# the same sample for the board of any version: numbers on the big panel, numbers in the sentence being said
SAMPLE = """() => ({
  shown: [...document.querySelectorAll('#current .ticket-number')].map(e => e.textContent.trim())
    .filter(t => t !== '—'),
  speaking: hallqVoice.current ? (hallqVoice.current.text.match(/[A-Z]+\\d+/g) || []) : [],
  queued: hallqVoice.queue.length,
  waiting: window.hallqBoard && hallqBoard.sample ? hallqBoard.sample().next.length : 0
})"""


@dataclass
class Result:
    label: str
    samples: int = 0
    in_step: int = 0
    delays: list[float] = field(default_factory=list)
    max_queued: int = 0
    max_waiting: int = 0
    calls: int = 0
    said: int = 0
    sentences: int = 0
    stale: int = 0  # not said: not reached within the board's bound (the rest of "not said": the window moved on)


def _clerk_tokens(base: str) -> dict[int, str]:
    tokens = {}
    for w in WINDOWS:
        status, body = http("POST", base + "/api/v1/auth/login", {"user": f"c{w:02d}", "password": "hallq-demo"})
        assert status == 200, body
        tokens[w] = body["token"]
        status, body = http("POST", base + f"{API}/windows/{w}/open", token=tokens[w])
        assert status == 200, body
    return tokens


def run(label: str, tree: Path | None, seconds: float, seed: int) -> Result:
    result = Result(label)
    rng = random.Random(seed)
    with workdir() as tmp:
        config = write_bench_config(tmp, tree)
        with hallq_server(config, tree=tree) as base:
            admin = login(base)
            for cat in categories(config):
                for _ in range(TICKETS_PER_CATEGORY):
                    status, body = http("POST", base + f"{API}/tickets", {"category": cat, "channel": "counter"}, admin)
                    assert status == 201, body
            clerks = _clerk_tokens(base)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                page.goto(base + "/board?hall=demo")
                page.wait_for_function("document.querySelector('#conn').dataset.state === 'ok'")
                called_at: dict[str, float] = {}
                # (when, window, first call?) — the 9:00 burst, then each window once more
                plan = [(i * 0.04, w, True) for i, w in enumerate(WINDOWS)]
                plan += [(rng.uniform(30, 90), w, False) for w in WINDOWS]
                plan.sort()
                start = time.time()
                next_sample = start
                while time.time() - start < seconds:
                    now = time.time() - start
                    while plan and plan[0][0] <= now:
                        _, w, first = plan.pop(0)
                        if not first:
                            for step in ("start", "finish"):
                                http("POST", base + f"{API}/windows/{w}/{step}", {}, clerks[w])
                        status, body = http("POST", base + f"{API}/windows/{w}/call-next", {}, clerks[w])
                        if status == 200:
                            called_at[body["number"]] = time.time() * 1000
                    if time.time() >= next_sample:
                        s: dict[str, Any] = page.evaluate(SAMPLE)
                        if s["speaking"]:
                            result.samples += 1
                            result.in_step += sorted(s["shown"]) == sorted(s["speaking"])
                        result.max_queued = max(result.max_queued, s["queued"])
                        result.max_waiting = max(result.max_waiting, s["waiting"])
                        next_sample += SAMPLE_SECONDS
                    time.sleep(0.02)
                spoken = page.evaluate("hallqVoice.log.map(a => [a.text, a.startedAt || null])")
                result.stale = page.evaluate("window.hallqBoard && hallqBoard.skipped ? hallqBoard.skipped.length : 0")
                browser.close()
    result.calls = len(called_at)
    said: set[str] = set()
    for text, started in spoken:
        if started is None:
            continue  # still queued when the run ended
        result.sentences += 1
        for number in NUMBER.findall(text):
            if number in called_at and number not in said:
                said.add(number)
                result.delays.append((started - called_at[number]) / 1000)
    result.said = len(said)
    return result


def report(r: Result) -> None:
    share = 100 * r.in_step / r.samples if r.samples else float("nan")
    d = r.delays
    print(f"  {r.label}:")
    print(f"    in step (panel shows the call being said): {r.in_step}/{r.samples} samples = {share:.0f}%")
    print(
        f"    call-next → voice starts saying it: p50 {percentile(d, 50):.1f} s, p95 {percentile(d, 95):.1f} s,"
        f" max {max(d, default=float('nan')):.1f} s"
    )
    print(f"    backlog: hallqVoice.queue up to {r.max_queued}, calls waiting on the board up to {r.max_waiting}")
    print(
        f"    calls made {r.calls}, said {r.said} in {r.sentences} sentence(s), not said {r.calls - r.said}"
        f" ({r.stale} past the bound, the rest still waiting or moved on)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=120, help="length of the run (default 120)")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--before", type=Path, help="another checkout to run the same against (the 'before')")
    args = ap.parse_args()
    print(f"board vs voice under a burst: 27 windows call at once, then each again 30–90 s later; {machine()}")
    results = []
    if args.before:
        results.append(run(f"before ({args.before})", args.before, args.seconds, args.seed))
    results.append(run("this tree", None, args.seconds, args.seed))
    for r in results:
        report(r)


if __name__ == "__main__":
    main()
