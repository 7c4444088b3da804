"""Replications: the same hall many times over, on local cores or on a Dask cluster.

A replication simulates ``days`` consecutive working days; replication ``r``,
day ``d`` draws its random numbers from ``SeedSequence(seed, spawn_key=(r, d))``,
so a study is reproducible and two layouts run with the same seed meet the same
citizens (common random numbers: :func:`compare` reads their differences with
much tighter intervals). Replications run in parallel with a
``ProcessPoolExecutor`` or, given a scheduler address, on a Dask
``distributed`` cluster for city-wide studies of thousands of runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from queue_server.config import Hall
from queue_server.errors import HallqError

from .kpis import Summary, replication_kpis, summarize
from .model import DayResult, HallDay, HallPlan
from .roster import Roster, shifts_for

Progress = Callable[[int], None]


def working_days(hall: Hall, start: date, count: int) -> list[date]:
    """The first ``count`` working days of the hall from ``start`` on."""
    out: list[date] = []
    day = start
    for _ in range(count * 7 + 400):
        if len(out) == count:
            break
        if hall.hours.is_working_day(day):
            out.append(day)
        day += timedelta(days=1)
    if len(out) < count:
        raise HallqError("营业日不足 (the hall has no working days in the coming year)")
    return out


def day_rng(seed: int, rep: int, day_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(rep, day_index)))


def simulate_replication(
    hall: Hall, days: Sequence[date], seed: int, rep: int, roster: Roster | None = None
) -> list[DayResult]:
    plan = HallPlan.of(hall)
    return [
        HallDay(plan, day, day_rng(seed, rep, i), shifts_for(hall, day, roster)).run() for i, day in enumerate(days)
    ]


@dataclass(frozen=True)
class RepOutput:
    rep: int
    kpis: dict[str, float]
    series: dict[str, list[float]]
    records: dict[str, np.ndarray] | None


def _records(days: list[DayResult], rep: int) -> dict[str, np.ndarray]:
    cols: dict[str, list[np.ndarray]] = {"rep": [], "day": []}
    for d in days:
        n = len(d.steps["outcome"])
        cols["rep"].append(np.full(n, rep))
        cols["day"].append(np.full(n, d.day.toordinal()))
        for k, v in d.steps.items():
            cols.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in cols.items()}


def run_chunk(
    hall: Hall, days: Sequence[date], seed: int, reps: Sequence[int], roster: Roster | None, keep_records: bool
) -> list[RepOutput]:
    """Replications ``reps`` of the study (the unit of work sent to a process or a Dask worker)."""
    out = []
    for r in reps:
        results = simulate_replication(hall, days, seed, r, roster)
        kpis, series = replication_kpis(hall, results)
        out.append(RepOutput(r, kpis, series, _records(results, r) if keep_records else None))
    return out


@dataclass
class StudyResult:
    summary: Summary
    outputs: list[RepOutput]
    days: list[date]


def run_study(
    hall: Hall,
    *,
    days: int = 1,
    reps: int = 30,
    seed: int = 0,
    start: date | None = None,
    roster: Roster | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    keep_records: bool = False,
    progress: Progress | None = None,
) -> StudyResult:
    """Run ``reps`` replications of ``days`` working days; in-process when ``workers == 1``,
    on local cores by default, on the Dask cluster at ``scheduler`` when given."""
    if days < 1 or reps < 1:
        raise HallqError("天数和重复次数须为正整数 (days and reps must be at least 1)")
    day_list = working_days(hall, start or date(2026, 11, 23), days)
    workers = workers or os.cpu_count() or 1
    size = max(1, min(10, reps // (max(workers, 1) * 4)))
    chunks = [list(range(i, min(i + size, reps))) for i in range(0, reps, size)]
    outputs: list[RepOutput] = []

    def got(batch: list[RepOutput]) -> None:
        outputs.extend(batch)
        if progress:
            progress(len(batch))

    if scheduler:
        _run_dask(scheduler, hall, day_list, seed, chunks, roster, keep_records, got)
    elif workers == 1 or len(chunks) == 1:
        for ch in chunks:
            got(run_chunk(hall, day_list, seed, ch, roster, keep_records))
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
            futures = [pool.submit(run_chunk, hall, day_list, seed, ch, roster, keep_records) for ch in chunks]
            for f in as_completed(futures):
                got(f.result())
    outputs.sort(key=lambda o: o.rep)
    return StudyResult(summarize([(o.kpis, o.series) for o in outputs]), outputs, day_list)


def _run_dask(
    address: str,
    hall: Hall,
    days: list[date],
    seed: int,
    chunks: list[list[int]],
    roster: Roster | None,
    keep_records: bool,
    got: Callable[[list[RepOutput]], None],
) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask is a declared dependency
        raise HallqError("未安装 dask[distributed] (install dask[distributed] to use --scheduler)") from None
    try:
        client = Client(address, timeout=10)
    except OSError as exc:
        raise HallqError(f"无法连接 Dask 调度器 {address} (cannot reach the Dask scheduler): {exc}") from None
    try:
        hall_f = client.scatter(hall, broadcast=True)
        futures: list[Any] = [
            client.submit(run_chunk, hall_f, days, seed, ch, roster, keep_records, pure=False) for ch in chunks
        ]
        for f in dask_completed(futures):
            got(f.result())
    finally:
        client.close()
