"""The hall model on the example hall: calls through the core's policy, journeys, no-shows,
balking, rosters and proficiency, checked on the records a run leaves."""

from __future__ import annotations

import gc
from datetime import date, time
from pathlib import Path

import numpy as np
import pytest

from queue_server.config import Hall, Policy, ServiceTime, SimulationSettings
from simulation.model import ABANDONED, BALKED, NO_SHOW, SERVED, HallDay, HallPlan, simulate_day
from simulation.roster import Roster, RosterError, Shift, default_shifts, read_roster_csv, write_roster_csv

WED = date(2026, 11, 25)


def _run(hall: Hall, seed: int = 1, shifts: list[Shift] | None = None, check: bool = False):
    day = HallDay(
        HallPlan.of(hall), WED, np.random.default_rng(seed), shifts or default_shifts(hall, WED), check_calls=check
    )
    return day.run()


@pytest.mark.parametrize("policy", ["weighted_aging", "strict_priority"])
def test_every_call_is_what_choose_picks_over_the_whole_queue(example_hall: Hall, policy: str):
    """The model offers choose() only queue heads; on a busy day with priority groups,
    appointments, journeys and recalls that must give the very ticket the full queue gives."""
    hall = example_hall.model_copy(
        update={
            "policy": Policy(name=policy, max_wait_minutes=20),
            "simulation": SimulationSettings(priority_share={"elderly": 0.15, "disabled": 0.05}, appointment_share=0.1),
            "demand": example_hall.demand.model_copy(update={"weekday_factors": {"wed": 1.6}}),
        }
    )
    day = _run(hall, check=True)  # raises inside the run on any disagreement
    reasons = {t.call_reason for t in day.tickets if t.call_reason}
    groups = set(day.steps["group"].tolist())
    assert {-2, -1, 0, 1} <= groups  # appointments, ordinary, elderly, disabled all came
    assert any(r.endswith("人优先") for r in reasons)  # a priority group jumped the queue
    assert any(r.startswith("预约时段内") for r in reasons)
    assert any(r.startswith("按取号") for r in reasons)


def test_a_day_accounts_for_everyone_and_windows_serve_one_at_a_time(example_hall: Hall):
    day = _run(example_hall)
    s = day.steps
    # every citizen leaves exactly once
    assert sorted(day.citizens["citizen"].tolist()) == sorted(set(s["citizen"].tolist()))
    served = s["outcome"] == SERVED
    assert served.mean() > 0.85
    assert np.all(s["called"][served] >= s["queued"][served])
    assert np.all(s["started"][served] >= s["called"][served])
    assert np.all(s["finished"][served] > s["started"][served])
    cats = HallPlan.of(example_hall).categories
    for num in {int(w) for w in s["window"][served]}:
        m = served & (s["window"] == num)
        assert {cats[c] for c in s["category"][m]} <= set(example_hall.window_categories(num))
        order = np.argsort(s["started"][m])
        starts, ends = s["started"][m][order], s["finished"][m][order]
        assert np.all(starts[1:] >= ends[:-1] - 1e-9), f"window {num} served two citizens at once"
    # nobody is called over lunch (12:00-13:30): the windows are closed
    calls = s["called"][~np.isnan(s["called"])]
    assert not np.any((calls > 12 * 60 + 1e-9) & (calls < 13.5 * 60 - 1e-9))


def test_journey_goes_on_to_delivery_keeping_the_place(example_hall: Hall):
    day = _run(example_hall, seed=3)
    s = day.steps
    cats = HallPlan.of(example_hall).categories
    second = s["step"] == 1
    assert second.sum() > 5  # ~30% of business set-ups go on to collect results
    assert {cats[c] for c in s["category"][second]} == {"delivery"}
    firsts = {int(c) for c in s["citizen"][(s["step"] == 0) & (s["category"] == cats.index("business-setup"))]}
    assert {int(c) for c in s["citizen"][second]} <= firsts
    moved = [t for t in day.tickets if t.transfers]
    assert moved and all(t.order_at == t.issued_at for t in moved)  # the place in the queue is kept


def test_no_shows_come_back_and_are_recalled_at_their_window(example_hall: Hall):
    cats = [c.model_copy(update={"no_show_rate": 0.3}) for c in example_hall.categories]
    hall = example_hall.model_copy(
        update={"categories": cats, "simulation": SimulationSettings(no_show_return_probability=1.0)}
    )
    day = _run(hall, seed=4)
    recalled = [t for t in day.tickets if t.recalls]
    assert len(recalled) > 50
    s = day.steps
    assert not np.any(s["outcome"] == NO_SHOW)  # everybody came back
    # and, back in the hall for their recall, nobody gives up on it
    assert not np.any((s["outcome"] == ABANDONED) & ~np.isnan(s["called"]))
    # a recalled step is served after its first call plus the clerk's wait for the citizen
    late = (s["outcome"] == SERVED) & (s["started"] - s["called"] >= hall.simulation.call_timeout_minutes)
    assert late.sum() >= 0.9 * len(recalled)
    hall_gone = example_hall.model_copy(
        update={"categories": cats, "simulation": SimulationSettings(no_show_return_probability=0.0)}
    )
    lost = _run(hall_gone, seed=4).steps["outcome"] == NO_SHOW
    assert 0.2 < lost.mean() < 0.4


def test_full_hall_turns_people_away(example_hall: Hall):
    hall = example_hall.model_copy(update={"simulation": SimulationSettings(hall_capacity=25)})
    day = _run(hall, seed=5)
    assert (day.steps["outcome"] == BALKED).sum() > 0
    assert day.log_hall.max() <= 25
    roomy = _run(example_hall, seed=5)
    assert not np.any(roomy.steps["outcome"] == BALKED)


def test_patience_runs_out_when_the_hall_is_understaffed(example_hall: Hall):
    only_two = [s for s in default_shifts(example_hall, WED) if s.window in (16, 23)]
    day = _run(example_hall, seed=6, shifts=only_two)
    s = day.steps
    assert (s["outcome"] == ABANDONED).sum() > 300  # most citizens of the unserved categories give up
    assert set(s["window"][s["outcome"] == SERVED].tolist()) == {16, 23}


def test_proficiency_scales_service_time(example_hall: Hall):
    cats = [
        c.model_copy(
            update={
                "service_time": ServiceTime(distribution="deterministic", mean=c.service_time.mean),
                "no_show_rate": 0.0,
            }
        )
        for c in example_hall.categories
    ]
    hall = example_hall.model_copy(update={"categories": cats})
    day = _run(hall, seed=7)
    s = day.steps
    served = s["outcome"] == SERVED
    plan = HallPlan.of(hall)
    clerk_at = {sh.window: sh.clerk for sh in default_shifts(hall, WED)}
    for i in np.flatnonzero(served)[:200]:
        cat = plan.categories[s["category"][i]]
        prof = plan.proficiency(clerk_at[int(s["window"][i])], cat)
        assert s["finished"][i] - s["started"][i] == pytest.approx(hall.category(cat).service_time.mean / prof)


def test_roster_csv_round_trip_and_shifts_are_kept(example_hall: Hall, tmp_path: Path):
    roster = Roster(
        (
            Shift("c16", WED, time(9, 0), time(10, 0), 16),
            Shift("c29", WED, time(9, 0), time(17, 0), 17, time(12, 0), time(13, 0)),
        )
    )
    path = tmp_path / "roster.csv"
    write_roster_csv(roster, path)
    back = read_roster_csv(path, example_hall)
    assert back == roster
    day = _run(example_hall, seed=8, shifts=back.for_day(WED))
    s = day.steps
    served = s["outcome"] == SERVED
    at16 = served & (s["window"] == 16)
    assert at16.any() and np.all(s["called"][at16] < 10 * 60)
    at17 = served & (s["window"] == 17)
    assert not np.any((s["called"][at17] >= 12 * 60) & (s["called"][at17] < 13 * 60))
    assert set(s["window"][served].tolist()) == {16, 17}
    assert day.clerk_duty["c29"] == pytest.approx(7 * 60, abs=30)
    # with the only window closed from noon, afternoon citizens are still counted (and not served)
    mornings_only = _run(example_hall, seed=8, shifts=[Shift("c16", WED, time(9, 0), time(12, 0), 16)])
    late = mornings_only.steps["arrived"] > 15 * 60
    assert late.sum() > 50
    assert not np.any(mornings_only.steps["outcome"][late] == SERVED)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c01,2026-11-25,09:00,08:00,,,1", "end must be after start"),
        ("c01,2026-11-25,9h,17:00,,,1", "expected HH:MM"),
        ("c01,2026-11-25,09:00,17:00,,,99", "unknown window 99"),
        ("nobody,2026-11-25,09:00,17:00,,,1", "unknown clerk"),
        ("c01,2026-11-25,09:00,17:00,12:00,,1", "break must lie inside"),
    ],
)
def test_bad_roster_rows_are_named(example_hall: Hall, tmp_path: Path, row: str, message: str):
    path = tmp_path / "r.csv"
    path.write_text("clerk,date,start,end,break_start,break_end,window\n" + row + "\n", encoding="utf-8")
    with pytest.raises(RosterError) as err:
        read_roster_csv(path, example_hall)
    assert message in str(err.value) and "第2行" in str(err.value)


def test_same_seed_same_day(example_hall: Hall):
    a = simulate_day(example_hall, WED, np.random.default_rng(9), default_shifts(example_hall, WED))
    b = simulate_day(example_hall, WED, np.random.default_rng(9), default_shifts(example_hall, WED))
    for k in a.steps:
        np.testing.assert_array_equal(a.steps[k], b.steps[k])


def test_a_day_leaves_the_garbage_collector_as_it_found_it(example_hall: Hall):
    """A day pauses Python's cyclic collector while it runs (speed); the process must get it
    back afterwards — on, or still off if it was off — even when a run fails."""
    shifts = default_shifts(example_hall, WED)
    assert gc.isenabled()
    simulate_day(example_hall, WED, np.random.default_rng(1), shifts)
    assert gc.isenabled()

    class Broken(HallDay):
        def _call(self, w):  # the first call fails mid-run
            raise RuntimeError("broken")

    with pytest.raises(RuntimeError):
        Broken(HallPlan.of(example_hall), WED, np.random.default_rng(1), shifts).run()
    assert gc.isenabled()
    gc.disable()
    try:
        simulate_day(example_hall, WED, np.random.default_rng(1), shifts)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"priority_share": {"nobody": 0.1}},
            "simulation.priority_share: 未知优先群体 'nobody' (unknown priority group 'nobody')",
        ),
        ({"priority_share": {"elderly": 0.8}, "appointment_share": 0.3}, "add up to more than 1"),
        ({"hall_capacity": 0}, "simulation.hall_capacity"),
        ({"no_show_return_probability": 1.5}, "simulation.no_show_return_probability"),
    ],
)
def test_simulation_settings_are_validated_with_their_field(settings: dict, message: str):
    import yaml

    from queue_server.config import parse_config
    from queue_server.errors import ConfigError

    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yaml").read_text(encoding="utf-8"))
    raw["simulation"] = settings
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert message in str(err.value)
