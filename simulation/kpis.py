"""What a planner reads off a simulated hall: waits, service level, abandonment, utilisation.

:func:`replication_kpis` turns the days of one replication into a flat dict of
named figures (``overall.wait_mean``, ``category.tax.wait_p90``,
``window.16.utilisation``, ``clerk.c16.utilisation`` …) plus the queue and the
people in the hall over the day. :func:`summarize` puts replications together:
each figure's mean and its 95% confidence interval (Student t over
replications, the replications being independent).

Waits are in minutes from joining a category's queue to the first call there;
a citizen who gives up counts against the service level and in the abandonment
share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from queue_server.config import Hall

from .model import ABANDONED, BALKED, SERVED, UNSERVED, DayResult, minutes_of

SERIES_STEP_MIN = 15.0

# Labels for reports: figure name -> (zh-CN, English).
LABELS: dict[str, tuple[str, str]] = {
    "arrivals": ("到达人次", "arrivals"),
    "served": ("办理人次", "served"),
    "wait_mean": ("平均等候(分)", "mean wait (min)"),
    "wait_p50": ("等候中位数(分)", "median wait (min)"),
    "wait_p90": ("90%等候(分)", "90th percentile wait (min)"),
    "wait_max": ("最长等候(分)", "max wait (min)"),
    "within_target": ("目标内叫号比例", "share called within target"),
    "service_level": ("服务水平", "service level"),
    "abandonment": ("放弃率", "abandonment"),
    "one_visit": ("一次办结率", "served in one visit"),
    "queue_mean": ("平均排队人数", "mean queue length"),
    "hall_mean": ("平均在厅人数", "mean people in hall"),
    "hall_max": ("最多在厅人数", "max people in hall"),
    "utilisation": ("利用率", "utilisation"),
    "unserved": ("当日未办人次", "not served that day"),
}


def _wait_figures(prefix: str, waits: np.ndarray, out: dict[str, float]) -> None:
    if len(waits):
        out[f"{prefix}.wait_mean"] = float(waits.mean())
        p50, p90 = np.percentile(waits, [50, 90])
        out[f"{prefix}.wait_p50"] = float(p50)
        out[f"{prefix}.wait_p90"] = float(p90)
        out[f"{prefix}.wait_max"] = float(waits.max())
    else:
        for k in ("wait_mean", "wait_p50", "wait_p90", "wait_max"):
            out[f"{prefix}.{k}"] = math.nan


def _step_function(t: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Value of a right-continuous step function (changes at ``t``) at each grid point."""
    if len(t) == 0:
        return np.zeros(len(grid))
    idx = np.searchsorted(t, grid, side="right") - 1
    out = np.where(idx >= 0, v[np.clip(idx, 0, None)], 0.0)
    return np.asarray(out, dtype=float)


def series_grid(hall: Hall) -> np.ndarray:
    lo, hi = minutes_of(hall.hours.open), minutes_of(hall.hours.close)
    return np.arange(lo, hi + 1e-9, SERIES_STEP_MIN)


def replication_kpis(hall: Hall, days: Sequence[DayResult]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Figures of one replication (all its days pooled) and its mean queue/hall curves over the day."""
    cats = hall.category_ids()
    steps = {k: np.concatenate([d.steps[k] for d in days]) for k in days[0].steps}
    outcome, cat = steps["outcome"], steps["category"]
    queued = outcome != BALKED
    called = ~np.isnan(steps["called"])
    wait = steps["called"] - steps["queued"]
    target = np.asarray([c.target_wait_minutes for c in hall.categories], dtype=float)[cat]
    out: dict[str, float] = {}

    def block(prefix: str, mask: np.ndarray, within_minutes: np.ndarray | float) -> None:
        n = int(mask.sum())
        out[f"{prefix}.arrivals"] = float(n)
        out[f"{prefix}.served"] = float((mask & (outcome == SERVED)).sum())
        _wait_figures(prefix, wait[mask & called], out)
        q = mask & queued
        ok = q & called & (wait <= within_minutes)
        out[f"{prefix}.within_target"] = float(ok.sum() / q.sum()) if q.any() else math.nan
        gave_up = mask & ((outcome == ABANDONED) | (outcome == BALKED))
        out[f"{prefix}.abandonment"] = float(gave_up.sum() / n) if n else math.nan

    block("overall", np.ones(len(cat), dtype=bool), target)
    out["overall.service_level"] = (
        float((queued & called & (wait <= hall.targets.within_minutes)).sum() / queued.sum())
        if queued.any()
        else math.nan
    )
    # The hall's service-level target per interval of the day (by the time the citizen joined the queue):
    # the report states for each interval whether the roster met it.
    step = hall.demand.interval_minutes if hall.demand else 30
    opens = hall.hours.open.hour * 60 + hall.hours.open.minute
    slot = np.floor((steps["queued"] - opens) / step)
    in_time = queued & called & (wait <= hall.targets.within_minutes)
    for i in range(hall.intervals_per_day()):
        q = queued & (slot == i)
        if q.any():
            out[f"interval.{i:02d}.service_level"] = float(in_time[q].sum() / q.sum())
    out["overall.unserved"] = float((outcome == UNSERVED).sum())
    for i, cid in enumerate(cats):
        block(f"category.{cid}", cat == i, target)
    completed = np.concatenate([d.citizens["completed"] for d in days])
    out["overall.one_visit"] = float(completed.mean()) if len(completed) else math.nan
    span = sum(d.end_min - d.open_min for d in days)
    out["overall.queue_mean"] = sum(d.wait_area for d in days) / span if span > 0 else math.nan
    for num in days[0].window_open:
        open_t = sum(d.window_open[num] for d in days)
        busy = sum(d.window_busy[num] for d in days)
        out[f"window.{num}.utilisation"] = busy / open_t if open_t > 0 else math.nan
    clerks = sorted({c for d in days for c in d.clerk_duty})
    for clerk in clerks:
        duty = sum(d.clerk_duty.get(clerk, 0.0) for d in days)
        busy = sum(d.clerk_busy.get(clerk, 0.0) for d in days)
        out[f"clerk.{clerk}.utilisation"] = busy / duty if duty > 0 else math.nan
    grid = series_grid(hall)
    queue = np.mean([_step_function(d.log_t, d.log_wait, grid) for d in days], axis=0)
    in_hall = np.mean([_step_function(d.log_t, d.log_hall, grid) for d in days], axis=0)
    out["overall.hall_max"] = float(max((d.log_hall.max() if len(d.log_hall) else 0.0) for d in days))
    out["overall.hall_mean"] = float(in_hall.mean())
    series = {"minute": grid.tolist(), "queue": queue.tolist(), "in_hall": in_hall.tolist()}
    return out, series


@dataclass(frozen=True)
class Estimate:
    """A figure over replications: mean and 95% confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}


def confidence_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Estimate:
    """Mean and Student-t interval of independent replications (nan values left out)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    m = float(v.mean())
    if n == 1:
        return Estimate(m, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return Estimate(m, m - half, m + half, n)


def prediction_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Estimate:
    """Mean of the replications and the interval one more replication — the day that will
    really happen, if the model is right — falls in with probability ``level`` (Student t,
    nan values left out)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n < 2:
        m = float(v.mean()) if n else math.nan
        return Estimate(m, math.nan, math.nan, n)
    m = float(v.mean())
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) * math.sqrt(1 + 1 / n))
    return Estimate(m, m - half, m + half, n)


@dataclass
class Summary:
    """Replications put together: every figure with its interval, and the mean curves."""

    figures: dict[str, Estimate]
    series: dict[str, list[float]]
    per_rep: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "figures": {k: e.as_dict() for k, e in self.figures.items()},
            "series": self.series,
            "replications": len(self.per_rep),
        }


# Figures that are shares (0..1); every figure of a replication is ≥ 0.
SHARES = ("within_target", "service_level", "abandonment", "one_visit", "utilisation")


def is_share(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in SHARES


def _bounded(name: str, e: Estimate) -> Estimate:
    """The interval cut to the figure's possible range: a share's interval from a few replications can
    pass 100% (or a wait's pass 0) though no replication can; the mean is never changed."""
    if math.isnan(e.low):
        return e
    return Estimate(e.mean, max(e.low, 0.0), min(e.high, 1.0) if is_share(name) else e.high, e.n)


def summarize(reps: Sequence[tuple[dict[str, float], dict[str, list[float]]]]) -> Summary:
    keys = list(dict.fromkeys(k for r, _ in reps for k in r))
    figures = {k: _bounded(k, confidence_interval([r.get(k, math.nan) for r, _ in reps])) for k in keys}
    series: dict[str, list[float]] = {"minute": reps[0][1]["minute"]}
    for name in ("queue", "in_hall"):
        series[name] = np.mean([s[name] for _, s in reps], axis=0).tolist()
    return Summary(figures, series, [r for r, _ in reps])
