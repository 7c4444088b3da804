"""Live rebalancing on the example hall: a tax surge pulls idle clerks, minimum stay, applying."""

from __future__ import annotations

import asyncio
from datetime import datetime

from queue_server.clock import ManualClock
from queue_server.commands import IssueTicket, MoveClerk, OpenWindow, decide
from queue_server.hall import HallService
from queue_server.model import Event, HallState, apply_event
from queue_server.stores.memory import MemoryStore
from scheduler.rebalance import rebalance_now, recommend_moves, twin_lookahead

from ..conftest import MONDAY_9AM


def _run(hall, state, cmd, at):
    """The core path without a store: decide, then apply the event."""
    d = decide(hall, state, cmd, at)
    ts = datetime.fromtimestamp(at, hall.tz).isoformat()
    apply_event(state, Event(state.seq + 1, hall.id, ts, "test", d.type, d.data))


def _surge(hall) -> HallState:
    """Tax windows 16–17 open, 18–19 closed; 高燕 (tax-trained) idles at business window 1,
    郑凯 (tax-trained) at real estate 21; 40 tax tickets arrive in half an hour."""
    state = HallState(hall.id)
    for window, clerk in [(16, "c16"), (17, "c17"), (1, "c18"), (21, "c21"), (2, "c02"), (20, "c20")]:
        _run(hall, state, OpenWindow(window, clerk), MONDAY_9AM)
    for i in range(40):
        _run(hall, state, IssueTicket("tax"), MONDAY_9AM + 1800 + i * 40)
    return state


def test_a_tax_surge_moves_tax_trained_clerks_to_closed_tax_windows(example_hall):
    state = _surge(example_hall)
    now = MONDAY_9AM + 3600
    plan = recommend_moves(example_hall, state, now)
    assert plan.recommendations, plan.note
    for rec in plan.recommendations:
        assert rec.to_window in (18, 19)
        assert "tax" in example_hall.clerk(rec.move.clerk).skills
        assert rec.categories == ("tax",)
        assert rec.wait_after < rec.wait_before
        assert rec.text.startswith("建议将") and "税务窗口" in rec.text and "预计" in rec.text
        assert "→" in rec.text and "Move" in rec.text_en
    assert plan.wait_after["tax"] < plan.wait_before["tax"]
    assert plan.mean_wait_after < plan.mean_wait_before
    # the snapshot itself is untouched
    assert state.windows[1].clerk == "c18"


def test_a_clerk_moved_recently_stays_put(example_hall):
    state = _surge(example_hall)
    now = MONDAY_9AM + 3600
    first = recommend_moves(example_hall, state, now)
    moved = {r.move.clerk for r in first.recommendations}
    for rec in first.recommendations:
        _run(example_hall, state, rec.move, now)
    # ten minutes later the same surge: nobody just moved is moved again
    later = recommend_moves(example_hall, state, now + 600)
    assert not moved & {r.move.clerk for r in later.recommendations}


def test_a_quiet_hall_gets_no_recommendation(example_hall):
    state = HallState(example_hall.id)
    for window, clerk in [(16, "c16"), (1, "c01"), (21, "c21")]:
        _run(example_hall, state, OpenWindow(window, clerk), MONDAY_9AM)
    plan = recommend_moves(example_hall, state, MONDAY_9AM + 3600, rates={c.id: 0.0 for c in example_hall.categories})
    assert plan.recommendations == []


def test_the_lookahead_can_veto_the_plan(example_hall):
    state = _surge(example_hall)
    calls = []

    def pessimist(hall, st, now, moves, reps, seed):
        calls.append((tuple(m.clerk for m in moves), seed))
        return 10.0 + 5 * len(moves)  # every move makes things worse in this "simulation"

    plan = recommend_moves(example_hall, state, MONDAY_9AM + 3600, lookahead=pessimist, seed=42)
    assert plan.recommendations == []
    assert "none" in plan.lookahead_waits and all(seed == 42 for _, seed in calls)  # common random numbers


def test_auto_mode_applies_moves_through_the_command_path(example_hall, tmp_path):
    hall = example_hall.model_copy(update={"rebalance": example_hall.rebalance.model_copy(update={"mode": "auto"})})

    async def scenario():
        clock = ManualClock(MONDAY_9AM)
        service = HallService(hall, MemoryStore(None), clock)
        await service.start()
        for window, clerk in [(16, "c16"), (17, "c17"), (1, "c18"), (21, "c21"), (2, "c02"), (20, "c20")]:
            await service.execute(OpenWindow(window, clerk), "manager:m1")
        for i in range(40):
            clock.set(MONDAY_9AM + 1800 + i * 40)
            await service.execute(IssueTicket("tax"), "kiosk:k1")
        clock.set(MONDAY_9AM + 3600)
        seq_before = service.state.seq
        plan, applied = await rebalance_now(service)
        return service, plan, applied, seq_before

    service, plan, applied, seq_before = asyncio.run(scenario())
    assert applied and len(applied) == len([r for r in plan.recommendations if r.ready])
    assert service.state.seq == seq_before + len(applied)  # one clerk.moved event per move
    for rec in plan.recommendations:
        assert service.state.clerk_window(rec.move.clerk).number == rec.to_window
    assert isinstance(plan.recommendations[0].move, MoveClerk)
    assert plan.lookahead_waits  # the example hall enables its live twin: the plan was checked on it


def test_the_twin_look_ahead_checks_the_surge_plan_and_is_reproducible(example_hall):
    state = _surge(example_hall)
    now = MONDAY_9AM + 3600
    plans = [recommend_moves(example_hall, state, now, lookahead=twin_lookahead, reps=8, seed=7) for _ in range(2)]
    plan = plans[0]
    assert plan.recommendations, plan.note
    assert set(plan.lookahead_waits) >= {"none", "plan"}
    # on the same simulated futures, moving tax-trained clerks to the tax windows shortens the wait
    assert min(plan.lookahead_waits.values()) < plan.lookahead_waits["none"]
    for rec in plan.recommendations:
        assert rec.to_window in (18, 19) and rec.categories == ("tax",)
    # a fixed seed gives the same futures, hence the same figures and the same advice
    assert plans[1].lookahead_waits == plan.lookahead_waits
    assert [r.as_dict() for r in plans[1].recommendations] == [r.as_dict() for r in plan.recommendations]
    # every candidate ran on the same futures: "no move" is scored as the twin scores it alone
    assert plan.lookahead_waits["none"] == twin_lookahead(example_hall, state, now, [], 8, 7)
