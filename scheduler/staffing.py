"""Staffing needs (人员需求测算): how many clerks each category, and each pool of windows, needs.

The hall's target reads "80% of citizens called within 10 minutes". For one
category and one interval, arrivals are Poisson with the forecast rate and the
clerks work as one pool, so the number of clerks needed is the smallest ``n``
whose queue meets the target:

- **Erlang C** (M/M/n): citizens wait as long as it takes.
  ``P(wait > t) = C(n, a) · exp(-(n - a) t / S)`` with offered load ``a = λ S``.
- **Erlang A** (M/M/n+M): citizens give up after an exponential patience
  (the category's ``patience_minutes``). Solved exactly as a birth–death chain;
  the service level is the share whose *offered* wait (the wait they would have,
  had they stayed) is within the target.
- **Lag correction**: a queue needs time to build up and to drain, so the load
  lags behind the arrivals. :func:`lagged_offered_load` follows the
  infinite-server load ``m' = λ(t) - m/S`` through the day; the need of an
  interval is computed from the larger of the stationary and the lagged load,
  which adds clerks in the intervals just after a rush (the backlog of the busy
  interval is still being worked off).
- **Shrinkage**: absence and unplanned duties take a share of rostered time; the
  scheduled figure is ``ceil(seated / (1 - shrinkage))``. Breaks are not part of
  it — the roster places them explicitly.

- **Abandonment cap**: ``targets.max_abandon`` (e.g. 0.05) also bounds the share of
  citizens who give up; without it Erlang A happily staffs 8 clerks for 10 Erlangs
  when a fifth of the citizens leave unserved.

**Pooled staffing (按窗口池测算).** Adding the categories' figures up overstates the
need of a 无差别综合窗口: its clerks serve every category of the window, so the random
peaks of one category are absorbed by the slack of another. :func:`hall_pools` groups
the windows by the exact set of categories they accept; each group is a *pool* whose
clerks are interchangeable. A category accepted by several groups (企业开办 at the
商事登记 windows and at the 全科 windows) must carry its demand to exactly one of them,
else its citizens would be counted twice or split by an arbitrary share. It goes to its
*home*: the group with the most windows accepting it (ties: fewer categories, then the
config's order) — the place where most of its citizens are in fact served. A group that
is nobody's home (a 全科 class whose categories all live elsewhere, a window narrowed to
one category) gets no need of its own: its windows are spare seats for the pools'
clerks, and the roster counts them in its window limits. Other splits were rejected: a
fixed share per class cuts one category's queue into two independently sized pools
(the opposite of pooling) on a share the live calling policy does not keep; merging
every overlapping class into one pool assumes every clerk is trained for every matter.

Each pool is sized per interval by the product's own SimPy model
(:func:`simulate_pool`): the pool's day is simulated with the calling policy, service
time distributions, patience and no-shows of the hall, ``SIM_REPS`` replications with
fixed seeds (common random numbers: every staffing tried meets the same citizens). The
search (:func:`simulated_clerks`) starts from the Erlang figure of the pool's merged load,
adds clerks where an interval misses the target and then removes them where it still
holds, never below the offered load (fewer would be an overloaded pool rescued only by
the neighbouring intervals). The per-category Erlang sum stays beside it, so the
clerk-hours saved by pooling are shown. Results are cached on every input that matters
(a repeated question costs milliseconds; see docs/BENCHMARKS.md for the cold cost).

The Erlang part is plain arithmetic with no I/O; the CLI, the roster and the server's
API call :func:`staffing_plan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.stats import poisson

from queue_server.config import WEEKDAYS, Hall

Model = Literal["auto", "erlang_c", "erlang_a"]
MAX_AGENTS = 500
SIM_REPS = 20  # replications per simulated staffing (common random numbers: the same 20 days each time)
SIM_SEED = 20261207
_SEARCH_ROUNDS = 12
_SEARCH_BUDGET = 24  # simulated staffings tried per pool and day when removing clerks


# ---------------------------------------------------------------- Erlang C


def erlang_b(n: int, load: float) -> float:
    """Blocking probability of ``n`` servers offered ``load`` Erlangs (stable recursion)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    b = 1.0
    for k in range(1, n + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(n: int, load: float) -> float:
    """Probability that an arriving citizen has to wait (M/M/n); 1.0 when ``n <= load``."""
    if load <= 0:
        return 0.0
    if n <= load:
        return 1.0
    b = erlang_b(n, load)
    return n * b / (n - load * (1 - b))


def erlang_c_service_level(n: int, rate: float, mean_service: float, within: float) -> float:
    """Share of citizens called within ``within`` (same time unit as ``mean_service``; ``rate`` per unit)."""
    load = rate * mean_service
    if load <= 0:
        return 1.0
    if n <= load:
        return 0.0
    return 1.0 - erlang_c(n, load) * math.exp(-(n - load) * within / mean_service)


def erlang_c_mean_wait(n: int, rate: float, mean_service: float) -> float:
    """Mean wait of all citizens (ASA); ``inf`` when the pool is overloaded."""
    load = rate * mean_service
    if load <= 0:
        return 0.0
    if n <= load:
        return math.inf
    return erlang_c(n, load) * mean_service / (n - load)


# ---------------------------------------------------------------- Erlang A


@dataclass(frozen=True)
class ErlangA:
    """Steady state of an M/M/n+M queue (Palm's model, "Erlang A")."""

    n: int
    rate: float
    mean_service: float
    mean_patience: float
    prob_wait: float  # an arrival finds every clerk busy
    prob_abandon: float  # an arrival gives up before being called
    mean_wait: float  # mean time in queue over all arrivals (abandoners until they leave)
    queue_probs: np.ndarray = field(repr=False)  # P(an arrival finds j waiting | all busy), j = 0, 1, …

    def service_level(self, within: float) -> float:
        """Share of arrivals whose offered wait is within ``within``.

        An arrival finding ``j`` waiting is called after ``j + 1`` departures ahead of it,
        at rates ``nμ + jθ, …, nμ`` (the others ahead may give up): a pure-death chain,
        whose absorption probability by ``within`` is one matrix-exponential product.
        """
        if self.prob_wait == 0.0:
            return 1.0
        mu, theta = 1 / self.mean_service, 1 / self.mean_patience
        probs = self.queue_probs
        rates = self.n * mu + np.arange(len(probs)) * theta
        # uniformisation: p(t) = sum_k Poisson(k; Λt) · p0 · P^k with P = I + Q/Λ
        top = float(rates[-1])
        steps = int(top * within + 10 * math.sqrt(top * within) + 25)
        weights = poisson.pmf(np.arange(steps + 1), top * within)
        stay = 1.0 - rates / top
        move = rates / top
        v = probs.astype(float).copy()
        alive = weights[0] * v.sum()
        for k in range(1, steps + 1):
            nxt = v * stay
            nxt[:-1] += v[1:] * move[1:]
            v = nxt
            alive += weights[k] * v.sum()
        return 1.0 - self.prob_wait * float(np.clip(alive, 0.0, 1.0))


def erlang_a(n: int, rate: float, mean_service: float, mean_patience: float) -> ErlangA:
    """Solve the M/M/n+M birth–death chain exactly (truncated where probabilities vanish)."""
    if n < 0 or rate < 0 or mean_service <= 0 or mean_patience <= 0:
        raise ValueError("n, rate >= 0 and mean_service, mean_patience > 0 required")
    mu, theta = 1 / mean_service, 1 / mean_patience
    if rate == 0:
        return ErlangA(n, rate, mean_service, mean_patience, 0.0, 0.0, 0.0, np.array([1.0]))
    load = rate / mu
    # log-weights of states 0..n, then n+1, n+2, … until the tail is negligible
    logs = [0.0]
    for k in range(1, n + 1):
        logs.append(logs[-1] + math.log(load / k))
    tail = [logs[-1]]
    j = 0
    while True:
        j += 1
        nxt = tail[-1] + math.log(rate / (n * mu + j * theta))
        tail.append(nxt)
        if n * mu + j * theta > rate and nxt < max(logs[-1], tail[0]) - 40:
            break
        if j > 200_000:  # pragma: no cover - guards against absurd inputs only
            break
    all_logs = np.array(logs[:-1] + tail)
    top = all_logs.max()
    w = np.exp(all_logs - top)
    p = w / w.sum()
    below = p[:n].sum() if n > 0 else 0.0
    queue = p[n:]  # states n, n+1, … : j = 0, 1, … waiting
    prob_wait = float(1.0 - below)
    js = np.arange(len(queue))
    mean_queue = float((js * queue).sum())
    prob_abandon = theta * mean_queue / rate
    mean_wait = mean_queue / rate  # Little's law over all arrivals
    cond = queue / queue.sum() if prob_wait > 0 else np.array([1.0])
    # drop the far tail that holds no probability worth carrying
    keep = len(cond) - int(np.searchsorted(np.cumsum(cond[::-1]), 1e-13))
    cond = cond[: max(1, keep)]
    return ErlangA(n, rate, mean_service, mean_patience, prob_wait, prob_abandon, mean_wait, cond)


# ---------------------------------------------------------------- agents needed


def clerks_needed(
    rate: float,
    mean_service: float,
    target_level: float,
    within: float,
    mean_patience: float | None = None,
    max_abandon: float | None = None,
) -> int:
    """Fewest clerks whose queue calls ``target_level`` of arrivals within ``within``.

    Erlang A when ``mean_patience`` is given, else Erlang C. ``rate`` is per time unit of
    ``mean_service``, ``within`` and ``mean_patience``. Zero arrivals need zero clerks.
    With ``max_abandon`` (Erlang A only) the share giving up must also stay at or below it.
    """
    # a week's plan asks the same question many times (a 30-minute profile cut in 15s)
    return _clerks_needed(round(rate, 12), mean_service, target_level, within, mean_patience, max_abandon)


@lru_cache(maxsize=65536)
def _clerks_needed(
    rate: float,
    mean_service: float,
    target_level: float,
    within: float,
    mean_patience: float | None,
    max_abandon: float | None,
) -> int:
    if rate <= 0:
        return 0
    load = rate * mean_service
    n = max(1, math.floor(load) + 1)
    while erlang_c_service_level(n, rate, mean_service, within) < target_level - 1e-12:
        n += 1
        if n > MAX_AGENTS:
            raise ValueError(
                f"需要超过 {MAX_AGENTS} 名工作人员 (more than {MAX_AGENTS} clerks needed; check the volumes)"
            )
    if mean_patience is None:
        return n
    # those ahead who give up only shorten the wait, so Erlang A never needs more than
    # Erlang C: bisect below the Erlang C figure (the service level grows with n)
    lo, hi = 0, n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if erlang_a(mid, rate, mean_service, mean_patience).service_level(within) >= target_level - 1e-12:
            hi = mid
        else:
            lo = mid
    if max_abandon is not None:
        # the share giving up falls as clerks are added; the service level only rises
        while erlang_a(hi, rate, mean_service, mean_patience).prob_abandon > max_abandon + 1e-12:
            hi += 1
    return hi


def with_shrinkage(seated: int, shrinkage: float) -> int:
    """Clerks to roster so that ``seated`` are at their windows after ``shrinkage`` is lost."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    if seated == 0:
        return 0
    return math.ceil(seated / (1 - shrinkage) - 1e-9)


# ---------------------------------------------------------------- lag correction


def lagged_offered_load(rates: list[float], interval: float, mean_service: float) -> list[float]:
    """Mean offered load per interval when the load follows the arrivals with a lag.

    ``rates`` are arrivals per time unit, piecewise constant over intervals of length
    ``interval``. The load of an infinite pool with exponential service obeys
    ``m' = λ - m/S``; its mean over each interval is returned. It starts at 0 (the hall
    opens empty).
    """
    out: list[float] = []
    m = 0.0
    decay = math.exp(-interval / mean_service)
    spread = mean_service * (1 - decay) / interval
    for lam in rates:
        steady = lam * mean_service
        out.append(steady + (m - steady) * spread)
        m = steady + (m - steady) * decay
    return out


# ---------------------------------------------------------------- the hall's plan


@dataclass(frozen=True)
class CategoryNeed:
    """Needs of one category over a day, one entry per interval."""

    category: str
    arrivals: list[float]  # expected arrivals in the interval
    load: list[float]  # offered load used (Erlangs), lag-corrected when asked
    seated: list[int]  # clerks at windows needed to meet the target
    scheduled: list[int]  # with shrinkage
    model: str  # erlang_c | erlang_a


@dataclass(frozen=True)
class Pool:
    """Windows that serve the same categories, staffed as one pool of clerks.

    ``categories`` are the categories whose demand the pool carries (see the module
    docstring for how a category served by several classes is given to one pool);
    ``windows`` are the pool's own windows.
    """

    id: str
    name: str
    categories: tuple[str, ...]
    windows: tuple[int, ...]


@dataclass(frozen=True)
class PoolNeed:
    """Needs of one pool over a day, one entry per interval."""

    pool: Pool
    erlang_categories: list[int]  # the per-category Erlang figures of its categories, added up
    erlang_pooled: list[int]  # Erlang A/C of the pool's merged load: the simulation's start
    seated: list[int]  # fewest clerks whose simulated service meets the target
    scheduled: list[int]  # with shrinkage
    service_level: list[float]  # simulated share called within the target, at ``seated``
    abandon: list[float]  # simulated share giving up, at ``seated``
    arrivals: list[float]

    def saved_hours(self, interval_minutes: int) -> float:
        """Clerk-hours at windows that pooling saves against the per-category sum."""
        return sum(a - b for a, b in zip(self.erlang_categories, self.seated, strict=True)) * interval_minutes / 60

    def as_dict(self, interval_minutes: int) -> dict[str, object]:
        return {
            "name": self.pool.name,
            "categories": list(self.pool.categories),
            "windows": list(self.pool.windows),
            "arrivals": [round(a, 3) for a in self.arrivals],
            "erlang_categories": self.erlang_categories,
            "erlang_pooled": self.erlang_pooled,
            "seated": self.seated,
            "scheduled": self.scheduled,
            "service_level": [round(x, 4) for x in self.service_level],
            "abandon": [round(x, 4) for x in self.abandon],
            "saved_clerk_hours": round(self.saved_hours(interval_minutes), 2),
        }


@dataclass(frozen=True)
class StaffingPlan:
    """Staffing needs of a hall for one day (its opening intervals)."""

    hall: str
    day: date
    interval_minutes: int
    starts: list[time]  # start of each interval
    open: list[bool]  # the hall serves in this interval
    needs: dict[str, CategoryNeed]
    target_level: float
    within_minutes: float
    shrinkage: float
    max_abandon: float | None = None
    pools: dict[str, PoolNeed] = field(default_factory=dict)  # pooled needs (empty: not asked for)

    def total_seated(self) -> list[int]:
        return [sum(n.seated[i] for n in self.needs.values()) for i in range(len(self.starts))]

    def total_scheduled(self) -> list[int]:
        return [sum(n.scheduled[i] for n in self.needs.values()) for i in range(len(self.starts))]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (for the server's staffing endpoint)."""
        return {
            "hall": self.hall,
            "day": self.day.isoformat(),
            "interval_minutes": self.interval_minutes,
            "target": {"service_level": self.target_level, "within_minutes": self.within_minutes},
            "shrinkage": self.shrinkage,
            "intervals": [f"{s:%H:%M}" for s in self.starts],
            "open": self.open,
            "categories": {
                c: {
                    "model": n.model,
                    "arrivals": [round(a, 3) for a in n.arrivals],
                    "load": [round(x, 3) for x in n.load],
                    "seated": n.seated,
                    "scheduled": n.scheduled,
                }
                for c, n in self.needs.items()
            },
            "total_seated": self.total_seated(),
            "total_scheduled": self.total_scheduled(),
            "max_abandon": self.max_abandon,
            "pools": {k: p.as_dict(self.interval_minutes) for k, p in self.pools.items()},
            "pooled_seated": self.pooled_seated(),
            "pooled_scheduled": [sum(p.scheduled[i] for p in self.pools.values()) for i in range(len(self.starts))],
        }

    def pooled_seated(self) -> list[int]:
        return [sum(p.seated[i] for p in self.pools.values()) for i in range(len(self.starts))]


def day_intervals(hall: Hall, interval_minutes: int) -> list[time]:
    """Starts of the intervals of ``interval_minutes`` from opening to closing."""
    start = datetime.combine(date(2000, 1, 1), hall.hours.open)
    end = datetime.combine(date(2000, 1, 1), hall.hours.close)
    out = []
    while start < end:
        out.append(start.time())
        start += timedelta(minutes=interval_minutes)
    return out


def _is_open(hall: Hall, day: date, start: time) -> bool:
    return hall.hours.is_open_at(datetime.combine(day, start, hall.tz))


def arrival_forecast(hall: Hall, category: str, day: date, interval_minutes: int) -> list[float]:
    """Expected arrivals of ``category`` per interval of ``interval_minutes`` on ``day``.

    The config's profile (``demand`` and the category's volume, scaled by the weekday
    factor) is spread evenly over finer intervals; a closed day has no arrivals.
    """
    starts = day_intervals(hall, interval_minutes)
    if not hall.hours.is_working_day(day):
        return [0.0] * len(starts)
    profile = hall.arrival_rates(category, day.weekday())
    step = hall.demand.interval_minutes if hall.demand else 30
    base = datetime.combine(date(2000, 1, 1), hall.hours.open)
    out = []
    for s in starts:
        offset = (datetime.combine(date(2000, 1, 1), s) - base).total_seconds() / 60
        # the share of each coarse interval that falls inside [offset, offset + interval)
        total = 0.0
        lo, hi = offset, offset + interval_minutes
        for k, volume in enumerate(profile):
            a, b = k * step, (k + 1) * step
            overlap = max(0.0, min(hi, b) - max(lo, a))
            total += volume * overlap / step
        out.append(total if _is_open(hall, day, s) else 0.0)
    return out


def staffing_plan(
    hall: Hall,
    day: date,
    interval_minutes: int | None = None,
    model: Model = "auto",
    lag: bool = True,
    arrivals: dict[str, list[float]] | None = None,
    pooled: bool = True,
    reps: int = SIM_REPS,
) -> StaffingPlan:
    """Clerks needed per category and interval on ``day`` to meet the hall's target.

    ``model``: ``auto`` uses Erlang A for categories whose patience is known, Erlang C
    otherwise. ``arrivals`` overrides the config's forecast (e.g. calibrated from the
    event log): expected arrivals per interval per category. With ``pooled`` the plan
    also holds each pool's simulated needs (:func:`pool_need`, ``reps`` replications).
    """
    step = interval_minutes or hall.roster.interval_minutes
    starts = day_intervals(hall, step)
    is_open = [_is_open(hall, day, s) for s in starts]
    target = hall.targets
    needs: dict[str, CategoryNeed] = {}
    for cat in hall.categories:
        counts = (arrivals or {}).get(cat.id) or arrival_forecast(hall, cat.id, day, step)
        if len(counts) != len(starts):
            raise ValueError(
                f"{cat.id}: 到达预测应有 {len(starts)} 个时段 (the forecast needs {len(starts)} intervals)"
            )
        mean_s = cat.service_time.mean
        rates = [c / step for c in counts]  # per minute
        stationary = [r * mean_s for r in rates]
        loads = stationary
        if lag:
            # the load is followed within each open stretch (the hall empties at lunch)
            lagged: list[float] = []
            run: list[float] = []
            for r, o in zip(rates, is_open, strict=True):
                if o:
                    run.append(r)
                else:
                    lagged += lagged_offered_load(run, step, mean_s) if run else []
                    lagged.append(0.0)
                    run = []
            lagged += lagged_offered_load(run, step, mean_s) if run else []
            loads = [max(a, b) for a, b in zip(stationary, lagged, strict=True)]
        use_a = model == "erlang_a" or (model == "auto" and cat.patience_minutes is not None)
        patience = cat.patience_minutes if use_a else None
        if use_a and patience is None:
            raise ValueError(f"{cat.id}: Erlang A 需要 patience_minutes (Erlang A needs the category's patience)")
        seated = [
            clerks_needed(
                load / mean_s,
                mean_s,
                target.service_level,
                target.within_minutes,
                patience,
                target.max_abandon if patience else None,
            )
            if o
            else 0
            for load, o in zip(loads, is_open, strict=True)
        ]
        needs[cat.id] = CategoryNeed(
            category=cat.id,
            arrivals=list(counts),
            load=loads,
            seated=seated,
            scheduled=[with_shrinkage(n, hall.roster.shrinkage) for n in seated],
            model="erlang_a" if use_a else "erlang_c",
        )
    pools = {p.id: pool_need(hall, p, day, step, needs, reps) for p in hall_pools(hall)} if pooled else {}
    return StaffingPlan(
        hall=hall.id,
        day=day,
        interval_minutes=step,
        starts=starts,
        open=is_open,
        needs=needs,
        target_level=target.service_level,
        within_minutes=target.within_minutes,
        shrinkage=hall.roster.shrinkage,
        max_abandon=target.max_abandon,
        pools=pools,
    )


def weekday_name(day: date) -> str:
    return WEEKDAYS[day.weekday()]


# ---------------------------------------------------------------- pooled staffing


def hall_pools(hall: Hall) -> list[Pool]:
    """The hall's pools: windows grouped by the exact set of categories they accept.

    Each category's demand goes to one pool, its *home*: the group with the most windows
    accepting it (then the one with fewer categories, then the first in the config).
    Groups that are nobody's home — a 全科 window whose categories all have a larger
    home — are no pool of their own: their windows are spare seats for the pools'
    clerks (the roster counts them in its window limits).
    """
    groups: dict[frozenset[str], list[int]] = {}
    for w in hall.windows:
        groups.setdefault(frozenset(hall.window_categories(w.number)), []).append(w.number)
    order = list(groups)
    home: dict[str, frozenset[str]] = {}
    for cat in hall.category_ids():
        serving = [g for g in order if cat in g]
        if serving:
            home[cat] = min(serving, key=lambda g: (-len(groups[g]), len(g), order.index(g)))
    pools = []
    for g in order:
        cats = tuple(c for c in hall.category_ids() if home.get(c) == g)
        if not cats:
            continue
        first = hall.window(groups[g][0])
        cls = hall.window_class(first.window_class)
        narrowed = first.categories is not None
        nums = groups[g]
        label = f"{nums[0]}–{nums[-1]}号窗口" if len(nums) > 1 else f"{nums[0]}号窗口"
        pools.append(
            Pool(
                id=f"{cls.id}-{'-'.join(map(str, nums))}" if narrowed else cls.id,
                name=f"{cls.name}（{label}）",
                categories=cats,
                windows=tuple(nums),
            )
        )
    return pools


def _pool_hall(hall: Hall, pool: Pool, counts: dict[str, list[float]], step: int, windows: int) -> Hall:
    """A hall of ``windows`` identical windows serving the pool's categories with these arrivals.

    Journeys are cut (the next step belongs to another pool, which counts it in its own
    forecast) and clerks are nominal (proficiency 1.0), as in the Erlang figures."""
    from queue_server.config import Demand, Window, WindowClass

    cats = [
        hall.category(c).model_copy(
            update={"journey": [], "daily_cap": None, "arrival_shape": counts[c], "arrivals_per_day": sum(counts[c])}
        )
        for c in pool.categories
        if sum(counts[c]) > 0
    ]
    zone = hall.zones[0].id
    cls = WindowClass(id="pool", name=pool.name, kind="comprehensive", categories=[c.id for c in cats])
    return hall.model_copy(
        update={
            "categories": cats,
            "window_classes": [cls],
            "windows": [
                Window.model_validate({"number": k + 1, "zone": zone, "class": "pool"}) for k in range(windows)
            ],
            "clerks": [],
            "demand": Demand.model_validate(
                {"interval_minutes": step, "shape": [1.0] * len(next(iter(counts.values())))}
            ),
        }
    )


def simulate_pool(
    hall: Hall,
    pool: Pool,
    day: date,
    counts: dict[str, list[float]],
    clerks: list[int],
    step: int,
    reps: int = SIM_REPS,
    seed: int = SIM_SEED,
) -> tuple[list[float], list[float]]:
    """(share called within the target, share giving up) per interval of arrival, simulated.

    The product's SimPy model (:mod:`simulation.model`) runs the pool's day ``reps`` times
    with ``clerks[t]`` windows open in interval ``t``; replication ``r`` always uses the
    seed ``(seed, r)``, so two staffings are compared on the same citizens (common random
    numbers). The clerks of the last interval before lunch or closing stay the target's
    minutes longer, to call the citizens who took a ticket just before. A citizen who gives
    up, or is never called, missed the target. Intervals without arrivals read 1.0 and 0.0.
    """
    from simulation.model import ABANDONED, HallDay, HallPlan, minutes_of

    n = len(clerks)
    top = max(clerks, default=0)
    met, gave_up, came = np.zeros(n), np.zeros(n), np.zeros(n)
    if top > 0 and any(sum(v) > 0 for v in counts.values()):
        small = _pool_hall(hall, pool, counts, step, top)
        plan = HallPlan.of(small)
        open_min = minutes_of(hall.hours.open)
        within = hall.targets.within_minutes
        spans: list[tuple[int, float, float]] = []  # (window, from, to)
        for k in range(1, top + 1):
            t = 0
            while t < n:
                if clerks[t] >= k:
                    u = t
                    while u < n and clerks[u] >= k:
                        u += 1
                    tail = within if u == n or clerks[u] == 0 else 0.0
                    spans.append((k, open_min + t * step, open_min + u * step + tail))
                    t = u
                else:
                    t += 1
        for r in range(reps):
            sim = HallDay(plan, day, np.random.default_rng([seed, r]), [], track=False)
            for k, t0, t1 in spans:
                sim.schedule_span(k, f"pool-{k}", t0, t1)
            res = sim.run(0)
            st = res.steps
            idx = np.clip(((st["queued"] - open_min) // step).astype(np.int64), 0, n - 1)
            waited = st["called"] - st["queued"]
            came += np.bincount(idx, minlength=n)
            met += np.bincount(idx, weights=(waited <= within + 1e-9).astype(float), minlength=n)
            gave_up += np.bincount(idx, weights=(st["outcome"] == ABANDONED).astype(float), minlength=n)
    level = [float(m / c) if c else 1.0 for m, c in zip(met, came, strict=True)]
    abandon = [float(g / c) if c else 0.0 for g, c in zip(gave_up, came, strict=True)]
    return level, abandon


def _short(hall: Hall, level: list[float], abandon: list[float], need: list[int]) -> list[int]:
    """Intervals with clerks whose simulated service misses the target."""
    cap = hall.targets.max_abandon
    return [
        t
        for t, (sl, ab) in enumerate(zip(level, abandon, strict=True))
        if need[t] > 0 and (sl < hall.targets.service_level or (cap is not None and ab > cap))
    ]


_POOL_CACHE: dict[tuple[object, ...], tuple[list[int], list[float], list[float]]] = {}


def simulated_clerks(
    hall: Hall,
    pool: Pool,
    day: date,
    counts: dict[str, list[float]],
    start: list[int],
    floor: list[int],
    step: int,
    reps: int = SIM_REPS,
) -> tuple[list[int], list[float], list[float]]:
    """Fewest clerks per interval, never below ``floor``, whose simulated service meets the
    hall's target, searched from ``start``.

    Intervals that miss the target get a clerk more until none does; then every interval
    above its floor tries one fewer at once, and those whose removal can explain a miss
    (at the missed interval, or before it within its backlog's reach) keep theirs for
    good while the others try again; rounds repeat until nothing changes or
    ``_SEARCH_BUDGET`` staffings were tried (the budget bounds the cost). Returns
    (clerks, service level, share giving up) per interval. Results are cached on every
    input that matters.
    """
    key = (
        pool.categories,
        tuple(tuple(round(x, 9) for x in counts[c]) for c in pool.categories),
        tuple(start),
        tuple(floor),
        step,
        reps,
        day.weekday(),
        hall.targets.model_dump_json(),
        hall.policy.model_dump_json(),
        hall.simulation.model_dump_json(),
        tuple(hall.category(c).model_dump_json() for c in pool.categories),
        hall.hours.model_dump_json(),
    )
    hit = _POOL_CACHE.get(key)
    if hit is not None:
        return hit
    need = [max(a, b) for a, b in zip(start, floor, strict=True)]
    reach = max(1, math.ceil(2 * max(hall.category(c).service_time.mean for c in pool.categories) / step))
    level, abandon = simulate_pool(hall, pool, day, counts, need, step, reps)
    for _ in range(_SEARCH_ROUNDS * 4):
        short = _short(hall, level, abandon, need)
        if not short:
            break
        for t in short:
            need[t] += 1
        level, abandon = simulate_pool(hall, pool, day, counts, need, step, reps)
    locked: set[int] = set()
    budget = _SEARCH_BUDGET
    while budget > 0:
        trial_at = [t for t in range(len(need)) if need[t] > floor[t] and t not in locked]
        if not trial_at:
            break
        while trial_at and budget > 0:
            trial = [x - (t in trial_at) for t, x in enumerate(need)]
            lv, ab = simulate_pool(hall, pool, day, counts, trial, step, reps)
            budget -= 1
            short = _short(hall, lv, ab, trial)
            if not short:
                need, level, abandon = trial, lv, ab
                break
            # the removals that can explain a miss: at it, or up to its backlog's reach before it
            bad = {t for t in trial_at if any(t <= s <= t + reach for s in short)} or set(trial_at)
            locked |= bad
            trial_at = [t for t in trial_at if t not in bad]
    out = (need, level, abandon)
    if len(_POOL_CACHE) > 4096:
        _POOL_CACHE.clear()
    _POOL_CACHE[key] = out
    return out


def pool_need(
    hall: Hall, pool: Pool, day: date, step: int, needs: dict[str, CategoryNeed], reps: int = SIM_REPS
) -> PoolNeed:
    """The pool's needs on ``day``: Erlang per category and merged, then the simulated figure."""
    members = [needs[c] for c in pool.categories]
    n = len(members[0].arrivals)
    counts = {m.category: m.arrivals for m in members}
    by_cat = [sum(m.seated[i] for m in members) for i in range(n)]
    target = hall.targets
    pooled = []
    for i in range(n):
        load = sum(m.load[i] for m in members)
        arrivals = sum(m.arrivals[i] for m in members)
        if load <= 0 or by_cat[i] == 0:
            pooled.append(0)
            continue
        # the merged queue: the arrival-weighted service time, patience and model of its categories
        work_rate = sum(m.load[i] / hall.category(m.category).service_time.mean for m in members)
        mean_s = load / work_rate
        use_a = all(m.model == "erlang_a" for m in members)
        patience = (
            sum((hall.category(m.category).patience_minutes or 0) * m.arrivals[i] for m in members) / arrivals
            if use_a and arrivals > 0
            else None
        )
        pooled.append(
            clerks_needed(load / mean_s, mean_s, target.service_level, target.within_minutes, patience or None,
                          target.max_abandon if patience else None)
        )  # fmt: skip
    # fewer clerks than the offered load is an overloaded pool that only the clerks of the
    # neighbouring intervals rescue: the load (at least one clerk) is the floor
    floor = [max(1, math.ceil(sum(m.load[i] for m in members) - 1e-9)) if pooled[i] else 0 for i in range(n)]
    seated, level, abandon = simulated_clerks(hall, pool, day, counts, pooled, floor, step, reps)
    return PoolNeed(
        pool=pool,
        erlang_categories=by_cat,
        erlang_pooled=pooled,
        seated=seated,
        scheduled=[with_shrinkage(x, hall.roster.shrinkage) for x in seated],
        service_level=level,
        abandon=abandon,
        arrivals=[sum(m.arrivals[i] for m in members) for i in range(n)],
    )
