"""Replications: reproducible by seed, the same on one process, a process pool and a Dask cluster."""

from __future__ import annotations

from datetime import date

import pytest
from distributed import LocalCluster

from queue_server.config import Hall
from simulation.compare import compare
from simulation.replications import run_study, working_days


def _figures(study):
    return [o.kpis for o in study.outputs]


def test_working_days_skip_weekends_and_holidays(example_hall: Hall):
    days = working_days(example_hall, date(2026, 12, 30), 3)
    assert days == [date(2026, 12, 30), date(2027, 1, 4), date(2027, 1, 5)]  # 31 Dec and 1 Jan are holidays


def test_same_results_in_process_in_a_pool_and_on_dask(example_hall: Hall):
    here = run_study(example_hall, days=2, reps=4, seed=7, workers=1)
    pool = run_study(example_hall, days=2, reps=4, seed=7, workers=2)
    assert _figures(here) == _figures(pool)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        ticks = []
        dask = run_study(
            example_hall, days=2, reps=4, seed=7, scheduler=cluster.scheduler_address, progress=ticks.append
        )
    assert _figures(here) == _figures(dask)
    assert sum(ticks) == 4
    other = run_study(example_hall, days=2, reps=4, seed=8, workers=1)
    assert _figures(other) != _figures(here)


def test_summary_intervals_contain_their_means(example_hall: Hall):
    study = run_study(example_hall, days=1, reps=8, seed=1, workers=1)
    f = study.summary.figures
    for key in ("overall.wait_mean", "overall.abandonment", "category.tax.wait_p90", "window.16.utilisation"):
        e = f[key]
        assert e.n == 8 and e.low < e.mean < e.high
    assert 0 < f["window.16.utilisation"].mean < 1
    assert 0.5 < f["overall.one_visit"].mean <= 1
    assert len(study.summary.series["queue"]) == len(study.summary.series["minute"])


def test_comprehensive_windows_beat_one_window_per_department(example_hall: Hall):
    """Two layouts, same citizens: pooling tax and social insurance behind windows that take
    both shortens waits — and the paired interval says so."""
    windows = []
    for w in example_hall.windows:
        if w.number in (16, 17, 23, 24):
            w = w.model_copy(update={"window_class": "pooled", "categories": None})
        windows.append(w)
    pooled_class = example_hall.window_classes[0].model_copy(
        update={"id": "pooled", "categories": ["tax", "social-insurance"]}
    )
    clerks = [
        c.model_copy(update={"skills": c.skills | {"tax": 1.0, "social-insurance": 1.0}})
        if c.home_window in (16, 17, 23, 24)
        else c
        for c in example_hall.clerks
    ]
    pooled = example_hall.model_copy(
        update={"windows": windows, "window_classes": [*example_hall.window_classes, pooled_class], "clerks": clerks}
    )
    result = compare(example_hall, pooled, days=1, reps=12, seed=3, workers=1)
    arrivals = result.difference["overall.arrivals"]
    assert arrivals.mean == 0 and arrivals.high == 0  # common random numbers: the same citizens came
    d = result.difference["category.tax.wait_mean"]
    assert d.high < 0, d


def test_bad_study_size_is_refused(example_hall: Hall):
    from queue_server.errors import HallqError

    with pytest.raises(HallqError, match="reps must be at least 1"):
        run_study(example_hall, reps=0)


def test_intervals_stay_within_what_a_figure_can_be(example_hall: Hall):
    """Three replications give wide t-intervals; a share's never passes 100%, a wait's never drops below 0."""
    study = run_study(example_hall, days=1, reps=3, seed=2, workers=1)
    for key, e in study.summary.figures.items():
        if e.n < 2:
            continue
        assert 0 <= e.low <= e.mean <= e.high, key
        if key.rsplit(".", 1)[-1] in ("within_target", "service_level", "abandonment", "one_visit", "utilisation"):
            assert e.high <= 1, key
    widest = max(
        (k for k in study.summary.figures if k.endswith(".within_target")),
        key=lambda k: study.summary.figures[k].high - study.summary.figures[k].low,
    )
    assert study.summary.figures[widest].high - study.summary.figures[widest].low > 0  # some spread to cut
