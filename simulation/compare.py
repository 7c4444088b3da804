"""Two hall layouts side by side (e.g. one window per department vs. comprehensive windows).

Both layouts meet the same citizens: replication ``r`` of each draws from the same
seeds, so the difference of a figure is read replication by replication (common
random numbers) and its confidence interval is far tighter than the two separate
intervals suggest. A difference whose interval excludes 0 is a real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queue_server.config import Hall

from .kpis import Estimate, confidence_interval
from .replications import Progress, StudyResult, run_study


@dataclass(frozen=True)
class Comparison:
    a: StudyResult
    b: StudyResult
    difference: dict[str, Estimate]  # b − a, paired by replication

    def rows(self, prefix: str = "") -> list[tuple[str, Estimate, Estimate, Estimate]]:
        fa, fb = self.a.summary.figures, self.b.summary.figures
        return [(k, fa[k], fb[k], d) for k, d in self.difference.items() if k.startswith(prefix)]

    def as_dict(self) -> dict[str, object]:
        return {k: {"a": ea.as_dict(), "b": eb.as_dict(), "difference": d.as_dict()} for k, ea, eb, d in self.rows()}


def paired_differences(a: StudyResult, b: StudyResult) -> dict[str, Estimate]:
    keys = [k for k in a.summary.figures if k in b.summary.figures]
    out = {}
    for k in keys:
        diffs = [
            ob.kpis.get(k, math.nan) - oa.kpis.get(k, math.nan) for oa, ob in zip(a.outputs, b.outputs, strict=True)
        ]
        out[k] = confidence_interval(diffs)
    return out


def compare(
    hall_a: Hall,
    hall_b: Hall,
    *,
    days: int = 1,
    reps: int = 30,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> Comparison:
    a, b = (
        run_study(h, days=days, reps=reps, seed=seed, workers=workers, scheduler=scheduler, progress=progress)
        for h in (hall_a, hall_b)
    )
    return Comparison(a, b, paired_differences(a, b))
