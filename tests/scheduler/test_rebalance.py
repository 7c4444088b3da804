"""Live rebalancing on the example hall: CP-SAT proposes, the live twin decides.

A tax surge pulls tax-trained clerks (a work profile or a move), every recommendation says its
gain and its cost, a plan the simulation does not bear out is not recommended, nobody is
changed twice within the minimum stay, and ``auto`` mode applies through the command path."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from queue_server.clock import ManualClock
from queue_server.commands import CallNext, IssueTicket, MoveClerk, OpenWindow, SetWindowProfile, decide
from queue_server.errors import CommandRejected
from queue_server.hall import HallService
from queue_server.model import Event, HallState, apply_event
from queue_server.stores.memory import MemoryStore
from scheduler.rebalance import rebalance_now, recommend_moves

from ..conftest import MONDAY_9AM

NOW = MONDAY_9AM + 3600


def _run(hall, state, cmd, at):
    """The core path without a store: decide, then apply the event."""
    d = decide(hall, state, cmd, at)
    ts = datetime.fromtimestamp(at, hall.tz).isoformat()
    apply_event(state, Event(state.seq + 1, hall.id, ts, "test", d.type, d.data))
    return d.result


def _surge(hall) -> HallState:
    """Tax windows 16–17 open, 18–19 closed; 高燕 (tax-trained) sits at business window 1,
    郑凯 (tax-trained) at real estate 21; 40 tax tickets arrive in half an hour."""
    state = HallState(hall.id)
    for window, clerk in [(16, "c16"), (17, "c17"), (1, "c18"), (21, "c21"), (2, "c02"), (20, "c20")]:
        _run(hall, state, OpenWindow(window, clerk), MONDAY_9AM)
    for i in range(40):
        _run(hall, state, IssueTicket("tax"), MONDAY_9AM + 1800 + i * 40)
    return state


def test_a_tax_surge_brings_tax_trained_clerks_to_tax_with_gain_interval_and_cost(example_hall):
    state = _surge(example_hall)
    plan = recommend_moves(example_hall, state, NOW)
    assert plan.recommendations, plan.note
    for rec in plan.recommendations:
        assert rec.clerk in ("c18", "c21") and "tax" in rec.categories
        assert rec.gain.categories == ("tax",) and rec.gain.after < rec.gain.before
        assert rec.gain.low <= rec.gain.after <= rec.gain.high
        # the text says the gain with its interval and the cost where the clerk's time comes from
        assert "预计税务办理平均等待" in rec.text and "95%区间" in rec.text and "→" in rec.text
        assert rec.cost is not None and rec.cost.after >= rec.cost.before
        cost_name = example_hall.category(rec.cost.categories[0]).name
        assert f"；{cost_name} " in rec.text and "95% interval" in rec.text_en
    assert plan.wait_after["tax"] < plan.wait_before["tax"]
    assert plan.mean_wait_after < plan.mean_wait_before
    chosen = [k for k, v in plan.lookahead_waits.items() if v["mean"] == round(plan.mean_wait_after, 2)]
    assert chosen and plan.lookahead_waits[chosen[0]]["difference_high"] < 0  # significantly better
    assert state.windows[1].clerk == "c18" and state.windows[1].categories == ("business-setup", "business-change")


def test_the_decision_is_the_same_every_time(example_hall):
    state = _surge(example_hall)
    first, second = (recommend_moves(example_hall, state, NOW) for _ in range(2))
    assert [r.as_dict() for r in first.recommendations] == [r.as_dict() for r in second.recommendations]
    assert first.lookahead_waits == second.lookahead_waits


def test_a_plan_the_look_ahead_does_not_bear_out_is_not_recommended(example_hall):
    """A forecast of a huge tax rush makes the fluid plan pull clerks to tax; the simulated
    futures (the configured arrivals, no tax queue) find no gain worth a change."""
    state = HallState(example_hall.id)
    for window, clerk in [(16, "c16"), (1, "c18"), (2, "c02"), (21, "c21"), (20, "c20")]:
        _run(example_hall, state, OpenWindow(window, clerk), MONDAY_9AM)
    for i in range(12):
        _run(example_hall, state, IssueTicket("business-change" if i % 2 else "real-estate"), MONDAY_9AM + 60 * i)
    rates = {c.id: 0.05 for c in example_hall.categories} | {"tax": 3.0}
    fluid = recommend_moves(example_hall, state, NOW, rates=rates, lookahead=False)
    assert fluid.recommendations and all("tax" in r.categories for r in fluid.recommendations)
    checked = recommend_moves(example_hall, state, NOW, rates=rates)
    assert checked.recommendations == [], [r.text for r in checked.recommendations]
    assert "仿真复核" in checked.note
    scored = {k: v for k, v in checked.lookahead_waits.items() if k != "none"}
    assert scored and all(v["difference"] > -0.1 for v in scored.values())  # nothing worth a change


def test_a_quiet_hall_gets_no_recommendation(example_hall):
    state = HallState(example_hall.id)
    for window, clerk in [(16, "c16"), (1, "c01"), (21, "c21")]:
        _run(example_hall, state, OpenWindow(window, clerk), MONDAY_9AM)
    plan = recommend_moves(example_hall, state, NOW, rates={c.id: 0.0 for c in example_hall.categories})
    assert plan.recommendations == []


def test_a_clerk_moved_recently_is_not_moved_again_but_may_change_profile(example_hall):
    """郑凯 (real estate, tax-trained) has just sat down at window 22: in the tax surge he is not
    walked to a tax window within the minimum stay; a work profile (nobody walks) stays open."""
    state = _surge(example_hall)
    _run(example_hall, state, OpenWindow(22, "c22"), MONDAY_9AM)
    _run(example_hall, state, MoveClerk("c21", 18), NOW - 600)  # he walked to tax window 18 ten minutes ago
    _run(example_hall, state, MoveClerk("c21", 21), NOW - 300)  # …and back: he just sat down again
    plan = recommend_moves(example_hall, state, NOW)
    assert not [r for r in plan.recommendations if r.clerk == "c21" and r.kind == "move"]
    assert not [k for k in plan.lookahead_waits if "c21→" in k]  # no candidate walks him
    settled = recommend_moves(example_hall, state, NOW + 1800)  # half an hour later he may walk again
    assert [k for k in settled.lookahead_waits if "c21" in k]


def test_an_unbalanced_window_class_is_pooled_at_once_beyond_max_moves(example_hall):
    """The three business windows' clerks are all trained for licences; 30 licence tickets wait
    and the business queues are short: the whole class takes licences on at once (no walking),
    though at most one action is allowed per CP-SAT plan."""
    clerks = [
        c.model_copy(update={"skills": c.skills | {"licences": 1.0}}) if c.id in ("c01", "c02", "c03") else c
        for c in example_hall.clerks
    ]
    hall = example_hall.model_copy(
        update={"clerks": clerks, "rebalance": example_hall.rebalance.model_copy(update={"max_moves": 1})}
    )
    state = HallState(hall.id)
    for window, clerk in [(1, "c01"), (2, "c02"), (3, "c03"), (6, "c06")]:
        _run(hall, state, OpenWindow(window, clerk), MONDAY_9AM)
    for i in range(30):
        _run(hall, state, IssueTicket("licences"), MONDAY_9AM + 1800 + i * 60)
    for i in range(3):
        _run(hall, state, IssueTicket("business-setup"), MONDAY_9AM + 3000 + i * 60)
    plan = recommend_moves(hall, state, NOW)
    pooled = [r for r in plan.recommendations if r.from_window in (1, 2, 3)]
    assert len(pooled) >= 2 and len(plan.recommendations) > hall.rebalance.max_moves, plan.note
    for rec in pooled:
        assert rec.kind == "profile" and "licences" in rec.categories and rec.to_window == rec.from_window
    assert plan.wait_after["licences"] < plan.wait_before["licences"]
    chosen = [v for k, v in plan.lookahead_waits.items() if v["mean"] == round(plan.mean_wait_after, 2)]
    assert chosen and chosen[0]["difference_high"] < 0  # the look-ahead found it significantly better


def test_a_work_profile_lets_a_window_call_what_its_clerk_is_skilled_for(example_hall):
    state = _surge(example_hall)
    with pytest.raises(CommandRejected) as refused:
        decide(example_hall, state, SetWindowProfile(1, ("business-change", "real-estate")), NOW)
    assert refused.value.code == "clerk_not_skilled" and "不动产登记" in refused.value.message
    _run(example_hall, state, SetWindowProfile(1, ("business-change", "tax")), NOW)
    assert state.windows[1].categories == ("business-change", "tax")
    called = _run(example_hall, state, CallNext(1), NOW + 1)
    assert called["category"] == "tax" and called["window"] == 1  # 高燕 takes a tax ticket at window 1


def test_auto_mode_applies_the_advice_through_the_command_path(example_hall):
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
        clock.set(NOW)
        seq_before = service.state.seq
        plan, applied = await rebalance_now(service)
        return service, plan, applied, seq_before

    service, plan, applied, seq_before = asyncio.run(scenario())
    assert applied and len(applied) == len([r for r in plan.recommendations if r.ready])
    assert service.state.seq == seq_before + len(applied)  # one event per action
    for rec in plan.recommendations:
        win = service.state.clerk_window(rec.clerk)
        assert win.number == rec.to_window and "tax" in win.categories
