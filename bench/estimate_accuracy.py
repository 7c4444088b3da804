"""How good is the wait a citizen is told at the kiosk?

The product's own core (``decide`` + ``apply_event``, the calling policy, the estimate)
runs a hall on a manual clock: citizens arrive (Poisson, load 0.9 on 8 windows), clerks
call the next ticket as soon as they are free and serve for a drawn time. At each issue
the bench records three predictions of the ticket's wait until its call:

* **shown** — what the kiosk answers (:func:`queue_server.estimate.shown_wait`, the core's
  predictor; the live twin is off here), with its range;
* **naive** — people ahead × the configured mean service time ÷ open windows;
* **oracle** — the queue-length predictor with the *true* mean service time:
  (services to end before the call) × true mean ÷ open windows;
* with ``--twin``, **twin** — what the server answers with ``simulation.live_twin`` on: the
  live twin's latest forecast (made before the issue, at most every ``--twin-refresh``
  seconds, on the hall calibrated on the day's services), anchored as the server does.

Worlds: exponential and lognormal service, a configuration whose mean is 20 % short of
the truth, a lunch break (every window stops 12:00–13:00), and 10 % elderly citizens called
first (strict priority). Targets (issue 13): RMSE of shown ≤ 1.05 × oracle's and ≤ naive's;
|bias| ≤ 10 % of the mean wait; the range covers ≥ 80 % of realised waits (排队者: the
coverage among those who found every window busy, shown beside it: those called at once
are easy to cover).

    PYTHONPATH=. python bench/estimate_accuracy.py --days 5 --seed 1
    PYTHONPATH=. python bench/estimate_accuracy.py --days 1 --seed 1 --twin   # a few minutes
"""

from __future__ import annotations

import argparse
import copy
import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from queue_server.commands import CallNext, Command, FinishService, IssueTicket, OpenWindow, StartService, decide
from queue_server.config import Hall, parse_config
from queue_server.estimate import Forecast, WaitEstimate, calibrated_hall, servers_for, shown_wait
from queue_server.model import Event, HallState, Ticket, apply_event
from simulation.twin import forecast, snapshot

CLERKS = 8
LOAD = 0.9
MEAN = 10.0  # true mean service time, minutes

BASE: dict[str, Any] = {
    "id": "bench",
    "name": "估计基准大厅",
    "timezone": "Asia/Shanghai",
    "hours": {"open": "09:00", "close": "17:00"},
    "policy": {"name": "strict_priority", "max_wait_minutes": 600},
    "priority_groups": [{"id": "elderly", "name": "老年人", "level": 2, "boost_minutes": 30}],
    "zones": [{"id": "z", "name": "综合区"}],
    "categories": [
        {"id": "tax", "prefix": "A", "name": "税务办理", "zone": "z", "service_time": {"mean": MEAN, "sd": 6}},
    ],
    "window_classes": [{"id": "w", "name": "税务窗口", "kind": "specialised", "categories": ["tax"]}],
    "windows": [{"number": n, "zone": "z", "class": "w"} for n in range(1, CLERKS + 1)],
    "clerks": [{"id": f"k{n}", "name": f"工作人员{n}", "skills": {"tax": 1.0}, "home_window": n} for n in range(1, 9)],
}


@dataclass(frozen=True)
class World:
    name: str
    service: str  # "exponential" | "lognormal"
    config_mean: float = MEAN
    lunch: bool = False
    priority_share: float = 0.0


WORLDS = [
    World("指数分布 exponential", "exponential"),
    World("对数正态 lognormal", "lognormal"),
    World("配置均值偏差20% config mean −20%", "lognormal", config_mean=MEAN * 0.8),
    World("午休 lunch 12–13", "lognormal", lunch=True),
    World("优先人群10% priority 10%", "exponential", priority_share=0.1),
]


def world_hall(w: World) -> Hall:
    raw = copy.deepcopy(BASE)
    cat = raw["categories"][0]
    cat["service_time"] = (
        {"distribution": "exponential", "mean": w.config_mean}
        if w.service == "exponential"
        else {"distribution": "lognormal", "mean": w.config_mean, "sd": 0.6 * w.config_mean}
    )
    if w.lunch:
        raw["hours"]["lunch"] = {"start": "12:00", "end": "13:00"}
    if w.priority_share:
        raw["simulation"] = {"priority_share": {"elderly": w.priority_share}}
    minutes_open = 8 * 60 - (60 if w.lunch else 0)
    cat["arrivals_per_day"] = LOAD * CLERKS / MEAN * minutes_open
    return parse_config(raw, "bench.yaml").halls[0]


def draw_service(w: World, rng: random.Random) -> float:
    if w.service == "exponential":
        return rng.expovariate(1 / MEAN)
    sigma2 = math.log(1 + 0.6**2)
    return rng.lognormvariate(math.log(MEAN) - sigma2 / 2, math.sqrt(sigma2))


@dataclass
class Core:
    """The hall's core on a manual clock: commands decided and applied as the server does."""

    hall: Hall
    state: HallState = field(init=False)

    def __post_init__(self) -> None:
        self.state = HallState(self.hall.id)

    def do(self, cmd: Command, now: float) -> dict[str, Any]:
        d = decide(self.hall, self.state, cmd, now)
        ts = datetime.fromtimestamp(now, self.hall.tz).isoformat(timespec="milliseconds")
        apply_event(self.state, Event(self.state.seq + 1, self.hall.id, ts, "bench", d.type, d.data))
        return d.result


@dataclass(frozen=True)
class TwinSettings:
    reps: int
    refresh_seconds: float
    horizon_minutes: float = 120


@dataclass
class Row:
    shown: float
    low: float
    high: float
    naive: float
    oracle: float
    twin: float = math.nan
    twin_low: float = math.nan
    twin_high: float = math.nan
    realised: float = math.nan


class Twin:
    """The server's live twin on the bench's clock (the refresh rule of ``queue_server.app``)."""

    def __init__(self, hall: Hall, settings: TwinSettings) -> None:
        self.hall, self.settings = hall, settings
        self.latest: tuple[int, float, dict[str, dict[str, float]]] = (-1, -math.inf, {})

    def refresh_if_due(self, state: HallState, now: float) -> None:
        seq, at, _ = self.latest
        if state.seq != seq and now - at >= self.settings.refresh_seconds:
            s = self.settings
            calibrated = calibrated_hall(self.hall, state)
            waits = forecast(calibrated, snapshot(state), now, s.reps, s.horizon_minutes, seed=state.seq)
            self.latest = (state.seq, now, waits)

    def answer(self, state: HallState, ticket: Ticket, now: float) -> WaitEstimate:
        """What the server would answer for ``ticket`` now with this twin behind it."""
        return shown_wait(self.hall, state, ticket, now, lambda: self._fresh(state, now))

    def _fresh(self, state: HallState, now: float) -> Forecast | None:
        seq, at, waits = self.latest
        fresh_for = max(2 * self.settings.refresh_seconds, 60.0)
        if not waits or (seq != state.seq and now - at > fresh_for):
            return None
        return Forecast(at, self.settings.horizon_minutes, waits)


def run_day(w: World, hall: Hall, day: str, rng: random.Random, twin: TwinSettings | None = None) -> list[Row]:
    core = Core(hall)
    live = Twin(hall, twin) if twin is not None else None
    start = datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=hall.tz).timestamp()
    lunch = (start + 3 * 3600, start + 4 * 3600) if w.lunch else None
    last_issue = start + 8 * 3600
    rate = hall.categories[0].arrivals_per_day / (8 * 60 - (60 if w.lunch else 0)) / 60  # per second
    events: list[tuple[float, int, str, int]] = []  # (time, tie, kind, window)
    tie = 0

    def push(at: float, kind: str, window: int = 0) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(events, (at, tie, kind, window))

    for n in range(1, CLERKS + 1):
        core.do(OpenWindow(n, f"k{n}"), start)
    push(start + rng.expovariate(rate), "arrive")
    if lunch:
        push(lunch[1], "resume")
    rows: dict[str, Row] = {}
    free = set(range(1, CLERKS + 1))

    def call(now: float) -> None:
        if lunch and lunch[0] <= now < lunch[1]:
            return
        for n in sorted(free):
            try:
                called = core.do(CallNext(n), now)
            except Exception:  # nobody waiting
                return
            free.discard(n)
            core.do(StartService(n), now)
            push(now + draw_service(w, rng) * 60, "finish", n)
            row = rows.get(called["ticket"])
            if row is not None:
                row.realised = (now - core.state.tickets[called["ticket"]].issued_at) / 60

    while events:
        now, _, kind, n = heapq.heappop(events)
        if kind == "arrive":
            if now < last_issue and not (lunch and lunch[0] <= now < lunch[1]):
                group = "elderly" if rng.random() < w.priority_share else None
                if live is not None:
                    live.refresh_if_due(core.state, now)
                issued = core.do(IssueTicket("tax", priority_group=group), now)
                t = core.state.tickets[issued["ticket"]]
                est = shown_wait(hall, core.state, t, now, None)
                servers, idle = servers_for(hall, core.state, "tax")
                ahead_fifo = core.state.waiting_count("tax") - 1
                services = max(0, ahead_fifo + 1 - idle)
                rows[t.id] = Row(
                    shown=float(est.minutes or 0),
                    low=float(est.low or 0),
                    high=float(est.high or 0),
                    naive=ahead_fifo * w.config_mean / servers,
                    oracle=services * MEAN / servers,
                )
                if live is not None:
                    answer = live.answer(core.state, t, now)
                    row = rows[t.id]
                    row.twin, row.twin_low = float(answer.minutes or 0), float(answer.low or 0)
                    row.twin_high = float(answer.high) if answer.high is not None else math.inf
                call(now)
            if now < last_issue:
                push(now + rng.expovariate(rate), "arrive")
        elif kind == "finish":
            core.do(FinishService(n), now)
            free.add(n)
            call(now)
        elif kind == "resume":
            call(now)
    return [r for r in rows.values() if not math.isnan(r.realised)]


def figures(rows: list[Row], shown: str = "shown", low: str = "low", high: str = "high") -> dict[str, float]:
    """RMSE of the shown estimate (field ``shown``), the naive rule and the oracle; the shown
    estimate's bias and the share of realised waits inside its range (``low``–``high``)."""
    n = len(rows)
    real = [r.realised for r in rows]

    def rmse(key: str) -> float:
        return math.sqrt(sum((getattr(r, key) - r.realised) ** 2 for r in rows) / n)

    def inside(r: Row) -> bool:
        return getattr(r, low) - 1e-9 <= r.realised <= getattr(r, high) + 1e-9

    queued = [r for r in rows if r.oracle > 0]  # those who found every window busy
    return {
        "n": n,
        "mean": sum(real) / n,
        "shown": rmse(shown),
        "naive": rmse("naive"),
        "oracle": rmse("oracle"),
        "bias": sum(getattr(r, shown) - r.realised for r in rows) / n,
        "cover": sum(map(inside, rows)) / n,
        "cover_queued": sum(map(inside, queued)) / max(1, len(queued)),
    }


def print_row(name: str, f: dict[str, float]) -> None:
    ratio = f["shown"] / f["oracle"]
    bias_share = abs(f["bias"]) / f["mean"]
    met = ratio <= 1.05 and f["shown"] <= f["naive"] and bias_share <= 0.10 and f["cover"] >= 0.80
    verdict = "是 yes" if met else "否 no"
    print(
        f"{name:34} {f['n']:>6} {f['mean']:>6.2f} {f['shown']:>9.2f} {f['naive']:>6.2f} {f['oracle']:>6.2f} "
        f"{ratio:>5.2f} {f['bias']:>+6.2f} {100 * bias_share:>5.1f}% {100 * f['cover']:>6.1f}% "
        f"{100 * f['cover_queued']:>6.1f}%  {verdict}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--twin", action="store_true", help="also score the live twin's answer (slow)")
    ap.add_argument("--twin-reps", type=int, default=30)
    ap.add_argument("--twin-refresh", type=float, default=30.0, help="seconds between forecasts (as the server)")
    args = ap.parse_args()
    twin = TwinSettings(args.twin_reps, args.twin_refresh) if args.twin else None
    print(
        f"{'世界 world':34} {'票数 n':>6} {'均等待':>6} {'RMSE 显示':>9} {'朴素':>6} {'真均值':>6} "
        f"{'比值':>5} {'偏差':>6} {'偏差%':>6} {'区间覆盖':>7} {'排队者':>6}  达标 met"
    )
    for w in WORLDS:
        hall = world_hall(w)
        rng = random.Random(args.seed)
        rows: list[Row] = []
        for d in range(args.days):
            rows += run_day(w, hall, f"2026-12-{7 + d % 5:02d}", rng, twin)
        print_row(f"{w.name} · 核心 core", figures(rows))
        if twin is not None:
            print_row(f"{w.name} · 孪生 twin", figures(rows, "twin", "twin_low", "twin_high"))


if __name__ == "__main__":
    main()
