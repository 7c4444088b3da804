"""How many people on each shift (班次人数): the classic set-covering formulation of shift scheduling.

For one day cut into periods, each shift covers some periods; ``need[t]`` people are
wanted in period ``t``. Instead of one yes/no variable per clerk and shift (which CP-SAT
must tell apart, so its bound climbs slowly), there is one integer per shift — how many
people work it — and the cover of a period is a sum of those counts. The linear
relaxation of this model is tight, so CP-SAT proves small cases optimal at once.

Three objectives:

- ``heads`` — fewest people, every period covered;
- ``paid`` — fewest paid periods (each shift costs its ``cost``), every period covered;
- ``deviation`` — smallest Σ |cover − need| (nobody has to be covered).

The counts say how many clerks the roster needs on each shift; the roster can then
name them (a later step: :mod:`scheduler.roster` does not call this yet).
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ortools.sat.python import cp_model

from queue_server.errors import HallqError

Objective = Literal["heads", "paid", "deviation"]


@dataclass(frozen=True)
class ShiftCover:
    status: str
    objective: int
    bound: int
    counts: dict[str, int]  # people per shift
    cover: list[int]  # people per period
    wall_seconds: float


def cover_shifts(
    need: Sequence[int],
    shifts: Mapping[str, Sequence[int]],
    objective: Objective = "heads",
    cost: Mapping[str, int] | None = None,
    max_per_shift: int | None = None,
    workers: int = 1,
    deterministic_limit: float = 10.0,
    seed: int = 0,
) -> ShiftCover:
    """People per shift for ``need`` (per period); ``shifts`` maps a shift to its 0/1 cover per period.

    ``cost`` (default: the periods a shift covers) prices the ``paid`` objective. The solve is
    bounded by CP-SAT's deterministic time, so the same input gives the same answer on any load.
    Raises :class:`HallqError` when a period with need is covered by no shift.
    """
    periods = len(need)
    for name, row in shifts.items():
        if len(row) != periods:
            raise HallqError(
                f"班次 {name} 覆盖 {len(row)} 个时段，需求有 {periods} 个"
                f" (shift {name}: {len(row)} periods, need {periods})"
            )
    if objective != "deviation":
        bare = [t for t in range(periods) if need[t] > 0 and not any(row[t] for row in shifts.values())]
        if bare:
            raise HallqError(
                f"时段 {bare} 有需求但没有任何班次覆盖 (periods {bare} have need but no shift covers them)"
            )
    top = max_per_shift if max_per_shift is not None else max(need, default=0) or 1
    m = cp_model.CpModel()
    n = {s: m.new_int_var(0, top, f"n_{s}") for s in shifts}
    cover = [sum(n[s] * row[t] for s, row in shifts.items() if row[t]) for t in range(periods)]
    if objective == "deviation":
        devs = []
        for t in range(periods):
            d = m.new_int_var(0, top * len(shifts) + need[t], f"dev_{t}")
            m.add_abs_equality(d, cover[t] - need[t])
            devs.append(d)
        m.minimize(sum(devs))
    else:
        for t in range(periods):
            if need[t] > 0:
                m.add(cover[t] >= need[t])
        prices = {s: 1 for s in shifts} if objective == "heads" else {s: sum(row) for s, row in shifts.items()}
        prices |= dict(cost or {}) if objective == "paid" else {}
        m.minimize(sum(prices[s] * n[s] for s in shifts))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.max_deterministic_time = deterministic_limit
    solver.parameters.random_seed = seed
    started = _time.monotonic()
    status = solver.solve(m)
    wall = _time.monotonic() - started
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise HallqError(f"未找到班次人数方案 (no shift counts found; solver status {solver.status_name(status)})")
    counts = {s: int(solver.value(v)) for s, v in n.items()}
    return ShiftCover(
        status=solver.status_name(status),
        objective=round(solver.objective_value),
        bound=round(solver.best_objective_bound),
        counts=counts,
        cover=[sum(counts[s] * row[t] for s, row in shifts.items()) for t in range(periods)],
        wall_seconds=wall,
    )
