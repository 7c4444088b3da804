"""The live twin: forecasts from a snapshot of the hall, and staffing moves on common random numbers.

Snapshots come from a simulated day told as events and folded through the core's
``apply_event`` — the same HallState the server holds. The forecast is then held to
what really happened later that day.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from queue_server.commands import MoveClerk
from queue_server.config import Hall
from queue_server.model import HallState, apply_event
from simulation.events import day_events
from simulation.replications import simulate_replication
from simulation.roster import Roster, default_shifts
from simulation.twin import evaluate_moves, forecast

D = date(2026, 11, 25)


def _day(hall: Hall, seed: int, roster: Roster | None = None):
    res = simulate_replication(hall, [D], seed, 0, roster)[0]
    return day_events(hall, res, roster.for_day(D) if roster else default_shifts(hall, D))


def _state_at(hall: Hall, events, hh: int, mm: int) -> tuple[HallState, float]:
    now = datetime(D.year, D.month, D.day, hh, mm, tzinfo=hall.tz).timestamp()
    state = HallState(hall.id)
    for e in events:
        if e.at > now:
            break
        apply_event(state, e)
    return state, now


def test_forecast_quantiles_match_what_happened(example_hall: Hall):
    p90_hits, p50_hits = [], []
    for seed in (5, 6):
        events = _day(example_hall, seed)
        called = {}
        for e in events:
            if e.type == "ticket.called":
                called.setdefault(e.data["ticket"], e.at)
        for hh, mm in ((10, 0), (10, 40), (11, 20), (14, 30), (15, 10)):
            state, now = _state_at(example_hall, events, hh, mm)
            waiting = {t.id for t in state.waiting()}
            result = forecast(example_hall, state, now, reps=60, seed=1)
            assert set(result) == waiting
            for tid, q in result.items():
                assert 0 <= q["p50"] <= q["p90"]
                if tid in called and called[tid] > now:
                    actual = (called[tid] - now) / 60
                    p90_hits.append(actual <= q["p90"])
                    p50_hits.append(actual <= q["p50"])
    assert len(p90_hits) > 50
    assert 0.78 <= np.mean(p90_hits) <= 0.98
    assert 0.32 <= np.mean(p50_hits) <= 0.68


def test_forecast_keeps_queue_order_within_a_category(example_hall: Hall):
    state, now = _state_at(example_hall, _day(example_hall, 5), 10, 40)
    result = forecast(example_hall, state, now, reps=60, seed=2)
    by_cat: dict[str, list] = {}
    for t in sorted(state.waiting(), key=lambda t: t.order_at):
        if t.priority_group is None:
            by_cat.setdefault(t.category, []).append(result[t.id]["mean"])
    longest = max(by_cat.values(), key=len)
    assert len(longest) >= 3
    assert longest[0] < longest[-1]


def test_moves_are_evaluated_on_the_same_futures(example_hall: Hall):
    # today window 19 (tax) has nobody: its clerk is off
    roster = Roster(tuple(s for s in default_shifts(example_hall, D) if s.window != 19))
    events = _day(example_hall, 5, roster)
    state, now = _state_at(example_hall, events, 10, 40)
    assert 19 not in state.windows
    moves = [
        MoveClerk(clerk="c29", to_window=19),  # a floater skilled for tax comes in
        MoveClerk(clerk="c27", to_window=19),  # a housing-fund clerk without tax skill: refused
    ]
    out = evaluate_moves(example_hall, state, now, moves, reps=40, seed=3, roster=roster)
    helps, refused = out
    assert refused["error"]["code"] == "clerk_not_skilled"
    d = helps["difference_mean"]
    assert d["ci_high"] < 0, d  # opening a window lowers the mean wait, and surely so
    assert helps["with"]["mean"] < helps["without"]["mean"]
    # same seeds, no move: exactly the same futures
    again = evaluate_moves(example_hall, state, now, moves[:1], reps=40, seed=3, roster=roster)[0]
    assert again["without"] == pytest.approx(helps["without"])


def test_wait_forecaster_refreshes_on_change_not_on_every_question(example_hall: Hall):
    from simulation.twin import WaitForecaster

    events = _day(example_hall, 5)
    state, now = _state_at(example_hall, events, 10, 40)
    fc = WaitForecaster(example_hall, reps=20, refresh_seconds=30)
    waiting = [t.id for t in state.waiting()]
    first = fc.wait(state, now, waiting[0])
    assert first is not None and first["p50"] <= first["p90"]
    for tid in waiting:  # every board and tracker asking: one forecast serves them all
        assert fc.wait(state, now + 1, tid) is not None
    assert fc.runs == 1
    later, now2 = _state_at(example_hall, events, 10, 45)
    fc.wait(later, now2, waiting[0])
    assert fc.runs == 2  # the hall changed and time passed
    assert fc.wait(later, now2, "no-such-ticket") is None
