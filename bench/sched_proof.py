"""Proof in simulation: a demand surge in one category, static roster vs live rebalancing.

A small hall (4 categories, one window class of 3 windows each, 2 clerks per category)
runs one day in SimPy through the real hall core (every ticket, call, start, finish and
clerk move is a command decided by ``queue_server.commands.decide``); 企业开办 gets a surge
(×2.5 arrivals 10:00–13:00). Three halls, the same arrivals and service times per seed
(common random numbers):

- static: every clerk stays at their window;
- chain: each clerk is trained for their category and the next one (A→B→C→D→A) and the
  rebalancer (``scheduler.rebalance.recommend_moves``) runs every 15 minutes;
- full: every clerk is trained for all four categories, same rebalancer.

Reported: mean and p90 wait, and the chain's share of the full cross-training's
reduction (issue 6 asks for ≥ 90%).

This is a minimal stand-alone SimPy model written against the core only, until the
``simulation`` package's twin exists.

    PYTHONPATH=. python bench/sched_proof.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
from datetime import datetime
from typing import Any

import simpy

from queue_server.commands import CallNext, FinishService, IssueTicket, MoveClerk, OpenWindow, StartService, decide
from queue_server.config import Hall, parse_config
from queue_server.errors import CommandRejected
from queue_server.model import Event, HallState, apply_event
from scheduler.rebalance import recommend_moves

CATS = ["biz", "social", "tax", "estate"]
NAMES = {"biz": "企业开办", "social": "社会事务", "tax": "税务办理", "estate": "不动产登记"}
DAY_MINUTES = 8 * 60
PER_DAY = 80  # arrivals per category per day without the surge
MEAN_SERVICE = 10.0
SURGE = ("biz", 60, 240, 2.5)  # category, from minute, to minute, factor


def hall_for(skills: str) -> Hall:
    clerks = []
    for i, cat in enumerate(CATS):
        for j in range(2):
            if skills == "full":
                sk = dict.fromkeys(CATS, 1.0)
            elif skills == "chain":
                sk = {cat: 1.0, CATS[(i + 1) % 4]: 1.0}
            else:
                sk = {cat: 1.0}
            clerks.append({"id": f"k{2 * i + j + 1}", "name": f"{NAMES[cat]}{j + 1}号", "skills": sk,
                           "home_window": 3 * i + j + 1})  # fmt: skip
    doc: dict[str, Any] = {
        "id": "proof",
        "name": "调岗验证大厅",
        "hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"},
        "demand": {"interval_minutes": 30, "shape": [1] * 16},
        "zones": [{"id": "z", "name": "大厅"}],
        "categories": [
            {"id": c, "prefix": "ABCD"[i], "name": NAMES[c], "zone": "z", "arrivals_per_day": PER_DAY,
             "service_time": {"distribution": "exponential", "mean": MEAN_SERVICE}}
            for i, c in enumerate(CATS)
        ],
        "window_classes": [
            {"id": f"w-{c}", "kind": "specialised", "name": f"{NAMES[c]}窗口", "categories": [c]} for c in CATS
        ],
        "windows": [{"number": 3 * i + j + 1, "zone": "z", "class": f"w-{c}"} for i, c in enumerate(CATS)
                    for j in range(3)],
        "clerks": clerks,
        "rebalance": {"horizon_minutes": 90, "switch_cost_minutes": 3, "min_stay_minutes": 30, "max_moves": 4,
                      "min_gain_minutes": 1},
    }  # fmt: skip
    return parse_config(doc).halls[0]


def draws(seed: int) -> list[tuple[float, str, float]]:
    """(minute, category, service minutes at proficiency 1) for the day — shared by all halls."""
    rng = random.Random(seed)
    out = []
    for cat in CATS:
        t = 0.0
        base = PER_DAY / DAY_MINUTES
        peak = base * SURGE[3]
        while True:
            t += rng.expovariate(peak)
            if t >= DAY_MINUTES:
                break
            rate = peak if cat == SURGE[0] and SURGE[1] <= t < SURGE[2] else base
            if rng.random() < rate / peak:  # thinning
                out.append((t, cat, rng.expovariate(1 / MEAN_SERVICE)))
    return sorted(out)


def run_day(hall: Hall, seed: int, rebalance: bool) -> list[float]:
    """One day; returns the waits (minutes) of the citizens called."""
    t9 = datetime(2026, 12, 7, 9, 0, tzinfo=hall.tz).timestamp()
    env = simpy.Environment()
    state = HallState(hall.id)
    service_of: dict[str, float] = {}
    pending: dict[str, MoveClerk] = {}

    def now() -> float:
        return t9 + env.now * 60

    def do(cmd: Any) -> dict[str, Any]:
        d = decide(hall, state, cmd, now())
        ts = datetime.fromtimestamp(now(), hall.tz).isoformat()
        apply_event(state, Event(state.seq + 1, hall.id, ts, "sim", d.type, d.data))
        return d.result

    for clerk in hall.clerks:
        assert clerk.home_window is not None
        do(OpenWindow(clerk.home_window, clerk.id))

    def arrivals(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for t, cat, service in draws(seed):
            yield env.timeout(t - env.now)
            ticket = do(IssueTicket(cat))["ticket"]
            service_of[ticket] = service

    def clerk_day(env: simpy.Environment, clerk_id: str):  # type: ignore[no-untyped-def]
        skills = hall.clerk(clerk_id).skills
        while env.now < DAY_MINUTES + 120:
            move = pending.pop(clerk_id, None)
            if move is not None:
                try:
                    do(move)
                    yield env.timeout(hall.rebalance.switch_cost_minutes)
                except CommandRejected:
                    pass
            win = state.clerk_window(clerk_id)
            assert win is not None
            try:
                called = do(CallNext(win.number))
            except CommandRejected:
                yield env.timeout(0.5)
                continue
            do(StartService(win.number))
            yield env.timeout(service_of[called["ticket"]] / skills[called["category"]])
            do(FinishService(win.number))

    def rebalancer(env: simpy.Environment):  # type: ignore[no-untyped-def]
        while env.now < DAY_MINUTES:
            yield env.timeout(15)
            plan = recommend_moves(hall, state, now())
            for rec in plan.recommendations:
                pending[rec.move.clerk] = rec.move

    env.process(arrivals(env))
    for clerk in hall.clerks:
        env.process(clerk_day(env, clerk.id))
    if rebalance:
        env.process(rebalancer(env))
    env.run(until=DAY_MINUTES + 120)
    return [(t.called_at - t.issued_at) / 60 for t in state.tickets.values() if t.called_at is not None]


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    cases = {"static": ("single", False), "chain": ("chain", True), "full": ("full", True)}
    halls = {name: hall_for(skills) for name, (skills, _) in cases.items()}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for seed in range(args.seeds):
        for name, (_, rebalance) in cases.items():
            waits = run_day(halls[name], seed, rebalance)
            results[name].append((statistics.fmean(waits), p90(waits)))
    summary = {}
    for name, rows in results.items():
        mean = statistics.fmean(r[0] for r in rows)
        q90 = statistics.fmean(r[1] for r in rows)
        summary[name] = (mean, q90)
        print(f"{name:>6}: mean wait {mean:6.1f} min, p90 {q90:6.1f} min   (per seed: "
              + ", ".join(f"{r[0]:.1f}" for r in rows) + ")")  # fmt: skip
    for name in ("chain", "full"):
        dm = summary["static"][0] - summary[name][0]
        dq = summary["static"][1] - summary[name][1]
        print(f"{name} rebalancing vs static: mean −{dm:.1f} min ({dm / summary['static'][0]:.0%}), "
              f"p90 −{dq:.1f} min ({dq / summary['static'][1]:.0%})")  # fmt: skip
    chain_share = (summary["static"][0] - summary["chain"][0]) / (summary["static"][0] - summary["full"][0])
    p90_share = (summary["static"][1] - summary["chain"][1]) / (summary["static"][1] - summary["full"][1])
    print(f"chain reaches {chain_share:.1%} of the full cross-training's mean-wait reduction "
          f"({p90_share:.1%} of its p90 reduction)   target ≥ 90%")  # fmt: skip


if __name__ == "__main__":
    main()
