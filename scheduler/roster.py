"""The weekly roster (周排班): who works which shift, when they take their break, and
which category (and window) they serve in every interval — solved with OR-Tools CP-SAT.

The model, in the hall's words:

- each clerk works at most one shift template a day, only templates their contract
  allows, never on days off or while unavailable, within the day's and the week's
  hour limits; a shift with a lunch break places it somewhere inside its window;
- while the hall is open, a clerk on duty sits at a window for one of the
  categories they are skilled for (a 15-minute interval at a time), or — when
  there are more clerks than windows — works in the back office (后台), which
  costs like over-cover;
- the hall's limits hold: staffed windows per zone (``roster.zone_windows``) and
  no more clerks for a group of categories than windows that accept them;
- 不允许出现空岗: every category with demand has at least ``roster.min_cover``
  clerks while the hall is open (a hard requirement);
- the objective weighs clerk-intervals short of the staffing need (under-cover),
  beyond it (over-cover), paid hours, category switches, shifts the clerk did
  not prefer, and fairness (the spread of weekly load and of weekend shifts).

When the requirements cannot all be met, :class:`RosterInfeasible` names which
ones — from quick pre-checks (nobody has a skill, a contract cannot reach its
minimum hours, a zone has fewer windows than the categories it must keep open),
or else from a relaxed solve whose slack variables show the requirements that had
to give.

:func:`build_roster` is the one entry point; the CLI and the server call it.
"""

from __future__ import annotations

import math
import time as _time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from ortools.sat.python import cp_model

from queue_server.config import WEEKDAYS, Clerk, Hall, ShiftTemplate
from queue_server.errors import HallqError

from .roster_rules import add_rules, explain, for_hall, hard_floor
from .staffing import Model, StaffingPlan, staffing_plan


class RosterInfeasible(HallqError):
    """No roster meets the hard requirements; ``reasons`` names each unmet one (zh-CN / English)."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("无法排班 (no roster meets the requirements):\n" + "\n".join(f"  - {r}" for r in reasons))


@dataclass(frozen=True)
class RosterOptions:
    """Solver settings: ``time_limit`` in seconds, ``workers`` = CP-SAT search workers."""

    time_limit: float = 60.0
    workers: int = 8
    seed: int = 0
    model: Model = "auto"
    lag: bool = True
    log: bool = False


@dataclass(frozen=True)
class Slot:
    """One interval of a clerk's day: the category served and the window, or a break."""

    start: time
    end: time
    activity: str  # "serve" | "break" | "duty" (on shift while the hall is closed)
    category: str | None = None
    window: int | None = None


@dataclass(frozen=True)
class ShiftAssignment:
    clerk: str
    day: date
    shift: str
    start: time
    end: time
    break_start: time | None
    break_end: time | None
    paid_minutes: int
    slots: list[Slot]

    def main_window(self) -> int | None:
        """The window the clerk spends most of the day at (the CSV's ``window``)."""
        counts: dict[int, int] = defaultdict(int)
        for s in self.slots:
            if s.window is not None:
                counts[s.window] += 1
        return max(counts, key=lambda w: (counts[w], -w)) if counts else None


@dataclass(frozen=True)
class CoverageCell:
    day: date
    start: time
    category: str
    need: int  # clerks to roster (staffing need with shrinkage)
    planned: int


@dataclass(frozen=True)
class SolveProgress:
    seconds: float
    objective: float
    bound: float


@dataclass
class Roster:
    """A solved week: shifts per clerk and day, coverage, and how good the solve was."""

    hall: str
    week_start: date
    days: list[date]
    interval_minutes: int
    assignments: list[ShiftAssignment]
    coverage: list[CoverageCell]
    status: str  # OPTIMAL | FEASIBLE
    objective: float
    bound: float
    wall_seconds: float
    first_solution_seconds: float | None
    progress: list[SolveProgress] = field(default_factory=list)
    unseated: list[str] = field(default_factory=list)  # clerk-intervals without a free window

    @property
    def gap(self) -> float:
        """Relative gap between the roster's objective and the solver's lower bound."""
        if self.objective == 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / abs(self.objective))

    def under_cover(self) -> int:
        return sum(max(0, c.need - c.planned) for c in self.coverage)

    def for_clerk(self, clerk: str) -> list[ShiftAssignment]:
        return [a for a in self.assignments if a.clerk == clerk]


# ---------------------------------------------------------------- time grid


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _clock(m: int) -> time:
    return time(m // 60 % 24, m % 60)


@dataclass(frozen=True)
class _Grid:
    """The day cut into intervals of ``step`` minutes, aligned with opening time."""

    first: int  # minute of day of interval 0
    step: int
    count: int

    def minute(self, t: int) -> int:
        return self.first + t * self.step

    def inside(self, start: int, end: int) -> list[int]:
        """Intervals lying wholly within [start, end)."""
        return [t for t in range(self.count) if self.minute(t) >= start and self.minute(t) + self.step <= end]


def _grid(hall: Hall) -> _Grid:
    step = hall.roster.interval_minutes
    open_m, close_m = _minutes(hall.hours.open), _minutes(hall.hours.close)
    first_m = min([open_m] + [_minutes(s.start) for s in hall.roster.shifts])
    last_m = max([close_m] + [_minutes(s.end) for s in hall.roster.shifts])
    first = open_m - step * math.ceil((open_m - first_m) / step)
    count = math.ceil((last_m - first) / step)
    return _Grid(first, step, count)


def _break_options(grid: _Grid, shift: ShiftTemplate) -> list[tuple[int, list[int]]]:
    """(start minute, intervals) of each place the shift's break may go."""
    if not shift.break_minutes or shift.break_window is None:
        return []
    length = math.ceil(shift.break_minutes / grid.step)
    lo, hi = _minutes(shift.break_window.start), _minutes(shift.break_window.end)
    out = []
    for t in range(grid.count):
        m = grid.minute(t)
        if m >= lo and m + length * grid.step <= hi:
            out.append((m, list(range(t, t + length))))
    return out


# ---------------------------------------------------------------- the hall's facts


def _windows_accepting(hall: Hall, categories: Iterable[str]) -> int:
    want = set(categories)
    return sum(1 for w in hall.windows if want & set(hall.window_categories(w.number)))


def _category_groups(hall: Hall) -> list[tuple[str, frozenset[str], int]]:
    """(label, categories, windows) for the window-capacity constraints.

    Clerks seated at categories can be matched to distinct windows exactly when, for
    every union ``U`` of the categories' window sets, the clerks at categories whose
    windows all lie in ``U`` number at most ``|U|`` (Hall's theorem). The unions are
    enumerated per connected group of windows (a handful in a real hall); each zone's
    ``roster.zone_windows`` limit is added on top.
    """
    window_sets: dict[str, frozenset[int]] = {
        c.id: frozenset(w.number for w in hall.windows if c.id in hall.window_categories(w.number))
        for c in hall.categories
    }
    distinct = sorted(set(window_sets.values()), key=sorted)
    # connected components of window sets that share a window
    components: list[list[frozenset[int]]] = []
    for ws in distinct:
        joined = [comp for comp in components if any(ws & other for other in comp)]
        merged = [ws] + [x for comp in joined for x in comp]
        components = [comp for comp in components if comp not in joined] + [merged]
    out: list[tuple[str, frozenset[str], int]] = []
    seen: set[frozenset[int]] = set()
    for comp in components:
        unions: set[frozenset[int]] = set()
        if len(comp) <= 10:
            for mask in range(1, 1 << len(comp)):
                unions.add(frozenset().union(*(comp[i] for i in range(len(comp)) if mask >> i & 1)))
        else:  # too many to enumerate: single sets, pairs and the whole group
            unions.update(comp)
            unions.update(a | b for a in comp for b in comp)
            unions.add(frozenset().union(*comp))
        for u in sorted(unions, key=lambda x: (len(x), sorted(x))):
            if u in seen:
                continue
            seen.add(u)
            cats = frozenset(c for c, ws in window_sets.items() if ws and ws <= u)
            if cats:
                nums = sorted(u)
                out.append((f"{nums[0]}–{nums[-1]}号窗口" if len(nums) > 1 else f"{nums[0]}号窗口", cats, len(u)))
    for zone in hall.zones:
        if zone.id not in hall.roster.zone_windows:
            continue
        zone_cats = frozenset(c.id for c in hall.categories if c.zone == zone.id)
        if zone_cats:
            out.append((zone.name, zone_cats, hall.roster.zone_windows[zone.id]))
    return out


def _zh_day(day: date) -> str:
    return f"{day.month}月{day.day}日（{'一二三四五六日'[day.weekday()]}）"


def _allowed_shifts(hall: Hall, clerk: Clerk, day: date) -> list[ShiftTemplate]:
    """Shift templates ``clerk`` may work on ``day`` under their contract."""
    if not hall.hours.is_working_day(day) or WEEKDAYS[day.weekday()] in clerk.days_off:
        return []
    out = []
    for s in hall.roster.shifts:
        if clerk.shifts is not None and s.id not in clerk.shifts:
            continue
        if clerk.max_hours_per_day is not None and s.paid_minutes() > clerk.max_hours_per_day * 60 + 1e-9:
            continue
        if any(u.covers(day, s.start, s.end) for u in clerk.unavailable):
            continue
        out.append(s)
    return out


def _ranges(grid: _Grid, ts: list[int]) -> str:
    """'09:00–10:30、14:00–15:00' for a sorted list of interval indices."""
    parts = []
    start = prev = ts[0]
    for t in [*ts[1:], None]:
        if t is not None and t == prev + 1:
            prev = t
            continue
        parts.append(f"{_clock(grid.minute(start)):%H:%M}–{_clock(grid.minute(prev) + grid.step):%H:%M}")
        if t is not None:
            start = prev = t
    return "、".join(parts)


# ---------------------------------------------------------------- the model


@dataclass
class _Built:
    model: cp_model.CpModel
    shift_vars: dict[tuple[str, int, str], cp_model.IntVar]
    break_vars: dict[tuple[str, int, str], list[tuple[int, list[int], cp_model.IntVar]]]
    seat_vars: dict[tuple[str, int, int, str], cp_model.IntVar]
    coverage: dict[tuple[int, int, str], tuple[int, Any]]
    slacks: list[tuple[str, cp_model.IntVar]]
    switch_vars: dict[tuple[str, int, int], cp_model.IntVar] = field(default_factory=dict)
    under_by_day: dict[int, Any] = field(default_factory=dict)  # under-cover cost per day (×10)
    cover_vars: dict[tuple[int, int, str], list[cp_model.IntVar]] = field(default_factory=dict)


class _RosterModel:
    """Builds the CP-SAT model for one week; ``relax`` adds slack to the hard requirements."""

    def __init__(
        self,
        hall: Hall,
        days: list[date],
        plans: dict[date, StaffingPlan],
        grid: _Grid,
        labels: list[int] | None = None,
    ) -> None:
        self.hall = hall
        # day numbers used in variable names, so a one-day model's solution maps onto the week's
        self.labels = labels or list(range(len(days)))
        self.days = days
        self.plans = plans
        self.grid = grid
        self.open_ts: dict[int, list[int]] = {}
        self.need: dict[tuple[int, int, str], int] = {}
        offset = (_minutes(hall.hours.open) - grid.first) // grid.step
        for d, day in enumerate(days):
            plan = plans[day]
            ts = []
            for i, is_open in enumerate(plan.open):
                if is_open:
                    t = offset + i
                    ts.append(t)
                    for cat, need in plan.needs.items():
                        self.need[d, t, cat] = need.scheduled[i]
            self.open_ts[d] = ts

    def demand_categories(self, d: int, t: int) -> list[str]:
        return [c.id for c in self.hall.categories if self.need.get((d, t, c.id), 0) > 0]

    def build(self, relax: bool = False, cover_only: bool = False, one_day: bool = False) -> _Built:
        """The model; ``relax`` puts slack on the hard floors, ``cover_only`` minimises under-cover
        alone, ``one_day`` drops the weekly minimum hours (a relaxation of one day of the week)."""
        hall, grid, w = self.hall, self.grid, self.hall.roster.weights
        lab = self.labels
        under_by_day: dict[int, list[cp_model.LinearExprT]] = defaultdict(list)
        m = cp_model.CpModel()
        shift_vars: dict[tuple[str, int, str], cp_model.IntVar] = {}
        break_vars: dict[tuple[str, int, str], list[tuple[int, list[int], cp_model.IntVar]]] = {}
        seat_vars: dict[tuple[str, int, int, str], cp_model.IntVar] = {}
        switch_vars: dict[tuple[str, int, int], cp_model.IntVar] = {}
        slacks: list[tuple[str, cp_model.IntVar]] = []
        objective: list[cp_model.LinearExprT] = []
        paid_week: dict[str, cp_model.LinearExprT] = {}
        weekend: dict[str, list[cp_model.IntVar]] = defaultdict(list)
        cover_terms: dict[tuple[int, int, str], list[cp_model.IntVar]] = defaultdict(list)
        for clerk in hall.clerks:
            paid_terms = []
            skills = [c for c in clerk.skills if c in {x.id for x in hall.categories}]
            for d, day in enumerate(self.days):
                on: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
                day_vars = []
                for s in _allowed_shifts(hall, clerk, day):
                    x = m.new_bool_var(f"x_{clerk.id}_{lab[d]}_{s.id}")
                    shift_vars[clerk.id, d, s.id] = x
                    day_vars.append(x)
                    paid_terms.append(s.paid_minutes() * x)
                    cost = w.paid_hour * s.paid_minutes() / 60
                    if clerk.preferred_shifts and s.id not in clerk.preferred_shifts:
                        cost += w.preference
                    objective.append(round(cost * 10) * x)
                    for t in grid.inside(_minutes(s.start), _minutes(s.end)):
                        on[t].append((1, x))
                    options = _break_options(grid, s)
                    if options:
                        bvars = []
                        for start_m, ts in options:
                            b = m.new_bool_var(f"b_{clerk.id}_{lab[d]}_{s.id}_{start_m}")
                            bvars.append((start_m, ts, b))
                            for t in ts:
                                on[t].append((-1, b))
                        m.add_exactly_one([b for _, _, b in bvars] + [x.Not()])
                        break_vars[clerk.id, d, s.id] = bvars
                    if day.weekday() >= 5:
                        weekend[clerk.id].append(x)
                if len(day_vars) > 1:
                    m.add_at_most_one(day_vars)
                # seated at one of their categories in every open interval on duty
                prev: dict[str, cp_model.IntVar] = {}
                prev_t = None
                for t in self.open_ts[d]:
                    duty = sum(sign * v for sign, v in on.get(t, []))
                    if not on.get(t):
                        prev, prev_t = {}, None
                        continue
                    seats = []
                    cur: dict[str, cp_model.IntVar] = {}
                    for cat in skills:
                        a = m.new_bool_var(f"a_{clerk.id}_{lab[d]}_{t}_{cat}")
                        seat_vars[clerk.id, d, t, cat] = a
                        cover_terms[d, t, cat].append(a)
                        seats.append(a)
                        cur[cat] = a
                    # on duty but without a window (more clerks than windows): back office, penalised
                    m.add(sum(seats) <= duty)
                    objective.append(round(w.over_cover * 10) * (duty - sum(seats)))
                    if prev_t == t - 1 and len(skills) > 1 and w.category_switch > 0:
                        sw = m.new_bool_var(f"sw_{clerk.id}_{lab[d]}_{t}")
                        switch_vars[clerk.id, d, t] = sw
                        for cat in skills:
                            m.add(sw >= cur[cat] - prev[cat])
                        objective.append(round(w.category_switch * 10) * sw)
                    prev, prev_t = cur, t
            paid_week[clerk.id] = sum(paid_terms) if paid_terms else 0
        # the contracts' hours and cross-day rules, and the clerks' requests (roster_rules)
        rules = for_hall(hall, self.days)
        if one_day:  # a relaxation of one day of the week: no weekly minimum
            rules = replace(rules, contracts=tuple(
                replace(c, minutes=tuple(replace(lim, low=0) for lim in c.minutes)) for c in rules.contracts
            ))  # fmt: skip
        rule_terms = add_rules(m, rules, shift_vars, relax_minimum_minutes=relax, day_labels=lab)
        slacks += rule_terms.slacks
        objective += [round(weight * 10) * expr for weight, expr in rule_terms.requests]
        objective += [round(cost * 10) * var for cost, var in rule_terms.costs]
        # coverage, window limits and the no-empty-post floor
        coverage: dict[tuple[int, int, str], tuple[int, Any]] = {}
        groups = _category_groups(hall)
        for d in range(len(self.days)):
            for t in self.open_ts[d]:
                for cat in hall.category_ids():
                    cov = sum(cover_terms.get((d, t, cat), []))
                    need = self.need.get((d, t, cat), 0)
                    coverage[d, t, cat] = (need, cov)
                    if need > 0:
                        # shortage costs more once half the need is missing: spread it evenly
                        half = need // 2
                        under = m.new_int_var(0, need - half, f"u_{lab[d]}_{t}_{cat}")
                        deep = m.new_int_var(0, half, f"u2_{lab[d]}_{t}_{cat}")
                        m.add(cov + under + deep >= need)
                        short_cost = round(w.under_cover * 10) * under + round(w.under_cover * 20) * deep
                        objective.append(short_cost)
                        under_by_day[d].append(short_cost)
                        floor = hard_floor(hall, need)
                        if floor > 0:
                            if relax:
                                s_var = m.new_int_var(0, floor, f"slack_cover_{d}_{t}_{cat}")
                                m.add(cov + s_var >= floor)
                                slacks.append((f"cover:{d}:{t}:{cat}", s_var))
                            else:
                                m.add(cov >= floor)
                    if cover_terms.get((d, t, cat)):
                        over = m.new_int_var(0, len(hall.clerks), f"o_{lab[d]}_{t}_{cat}")
                        m.add(over >= cov - need)
                        objective.append(round(w.over_cover * 10) * over)
                for _label, cats, cap in groups:
                    terms = [v for c in cats for v in cover_terms.get((d, t, c), [])]
                    if len(terms) > cap:
                        m.add(sum(terms) <= cap)
        # fairness: spread of weekly load (as a share of each contract) and of weekend shifts
        if w.fairness > 0 and len(hall.clerks) > 1 and not cover_only and not one_day:
            # weekly paid minutes scaled to a 40-hour contract, in 1/100 minute
            loads = []
            n_days = max(7, len(self.days))
            for clerk in hall.clerks:
                coef = round(100 * 40 / clerk.max_hours_per_week)
                load = m.new_int_var(0, n_days * 24 * 60 * coef, f"load_{clerk.id}")
                m.add(load == coef * paid_week[clerk.id])
                loads.append(load)
            top = n_days * 24 * 60 * max(round(100 * 40 / c.max_hours_per_week) for c in hall.clerks)
            hi = m.new_int_var(0, top, "load_max")
            lo = m.new_int_var(0, top, "load_min")
            m.add_max_equality(hi, loads)
            m.add_min_equality(lo, loads)
            spread = m.new_int_var(0, n_days * 24, "load_spread_hours")
            m.add(spread * 6000 >= hi - lo)
            objective.append(round(w.fairness * 10) * spread)
            if any(weekend.values()):
                counts = [sum(weekend.get(c.id, [])) for c in hall.clerks]
                wmax = m.new_int_var(0, n_days, "weekend_max")
                for c in counts:
                    m.add(wmax >= c)
                objective.append(round(w.fairness * 10 * 8) * wmax)
        if relax:
            m.minimize(sum(s for _, s in slacks))
        elif cover_only:
            m.minimize(sum(c for terms in under_by_day.values() for c in terms))
        else:
            m.minimize(sum(objective))
        built = _Built(m, shift_vars, break_vars, seat_vars, coverage, slacks, switch_vars)
        built.under_by_day = {d: sum(terms) for d, terms in under_by_day.items()}
        built.cover_vars = dict(cover_terms)
        self._hint(built)
        return built

    def _hint(self, built: _Built) -> None:
        """A quick greedy roster given to CP-SAT as a hint, so a first roster comes at once.

        Day by day, clerks with the rarest skills first, each takes the shift they asked
        for, else the longest allowed shift that their weekly hours allow (never one they
        asked not to work) and for which a window is free in every open
        interval (the break goes where the hall is closed). They are seated as they come:
        first where a category still lacks its minimum cover, then where the remaining
        need is largest, keeping the previous interval's category on a tie.
        """
        hall, grid = self.hall, self.grid
        groups = [(cats, cap) for _, cats, cap in _category_groups(hall)]
        # weekly hours left, per clerk and 7-day block of the horizon
        budget = {(c.id, d // 7): round(c.max_hours_per_week * 60) for c in hall.clerks for d in range(len(self.days))}
        holders = {cat.id: sum(cat.id in c.skills for c in hall.clerks) for cat in hall.categories}
        floor = hall.roster.min_cover
        hints: dict[cp_model.IntVar, int] = {}
        order = sorted(
            hall.clerks, key=lambda c: (min(holders.get(g, 99) for g in c.skills), len(c.skills), c.id)
        )
        for d, day in enumerate(self.days):
            open_set = set(self.open_ts[d])
            cov: dict[tuple[int, str], int] = defaultdict(int)

            def fits(t: int, g: str, cov: dict[tuple[int, str], int] = cov) -> bool:
                return all(sum(cov[t, x] for x in cats) < cap for cats, cap in groups if g in cats)

            def choose(
                t: int, skills: list[str], last: str | None, d: int = d, cov: dict[tuple[int, str], int] = cov
            ) -> str | None:
                ok = [g for g in skills if fits(t, g)]
                if not ok:
                    return None
                return max(
                    ok,
                    key=lambda g: (
                        self.need.get((d, t, g), 0) > 0 and cov[t, g] < floor,
                        self.need.get((d, t, g), 0) - cov[t, g],
                        g == last,
                        -holders.get(g, 0),
                    ),
                )

            placed: dict[tuple[str, int], str] = {}
            on_duty: dict[int, list[Clerk]] = defaultdict(list)
            for clerk in order:
                skills = [g for g in clerk.skills if any((clerk.id, d, t, g) in built.seat_vars for t in open_set)]
                # the clerk's requests for the day first: no shift they asked not to work, the one they asked for
                asks = [r for r in clerk.requests if r.day == day]
                refused = {r.shift for r in asks if r.kind == "off"}
                wanted = {r.shift for r in asks if r.kind == "on"}
                options = [
                    s
                    for s in _allowed_shifts(hall, clerk, day)
                    if s.paid_minutes() <= budget[clerk.id, d // 7] and None not in refused and s.id not in refused
                ]
                options.sort(
                    key=lambda s: (s.id not in wanted, s.id not in clerk.preferred_shifts, -s.paid_minutes(), s.id)
                )
                if not options:
                    continue
                s = options[0]
                ts = set(grid.inside(_minutes(s.start), _minutes(s.end)))
                brk: set[int] = set()
                bopts = built.break_vars.get((clerk.id, d, s.id), [])
                if bopts:
                    best = min(bopts, key=lambda o: (len(set(o[1]) & open_set), o[0]))
                    brk = set(best[1])
                budget[clerk.id, d // 7] -= s.paid_minutes()
                hints[built.shift_vars[clerk.id, d, s.id]] = 1
                for _, ts_b, b in bopts:
                    hints[b] = int(set(ts_b) == brk)
                last = None
                for t in sorted((ts - brk) & open_set):
                    on_duty[t].append(clerk)
                    g = choose(t, skills, last)  # None: no window free, back office
                    if g is not None:
                        placed[clerk.id, t] = last = g
                        cov[t, g] += 1
            # repair the no-empty-post floor: move a clerk who is spare elsewhere (or in the back office)
            for t, clerks_here in on_duty.items():
                for g in self.demand_categories(d, t):
                    if cov[t, g] >= floor:
                        continue
                    for clerk in clerks_here:
                        if g not in clerk.skills or (clerk.id, d, t, g) not in built.seat_vars:
                            continue
                        old = placed.get((clerk.id, t))
                        if old is not None and (old == g or cov[t, old] <= min(floor, self.need.get((d, t, old), 0))):
                            continue
                        if old is not None:
                            cov[t, old] -= 1
                        if fits(t, g):
                            placed[clerk.id, t] = g
                            cov[t, g] += 1
                            break
                        if old is not None:
                            cov[t, old] += 1
            for (clerk_id, t), g in placed.items():
                hints[built.seat_vars[clerk_id, d, t, g]] = 1
        for var in built.shift_vars.values():
            hints.setdefault(var, 0)
        for opts in built.break_vars.values():
            for _, _, b in opts:
                hints.setdefault(b, 0)
        for var in built.seat_vars.values():
            hints.setdefault(var, 0)
        for var, value in hints.items():
            built.model.add_hint(var, value)


# ---------------------------------------------------------------- pre-checks


def precheck(hall: Hall, days: list[date], plans: dict[date, StaffingPlan]) -> list[str]:
    """Requirements that obviously cannot be met, each named; empty when none is found."""
    grid = _grid(hall)
    reasons: list[str] = []
    model = _RosterModel(hall, days, plans, grid)
    if not hall.clerks:
        return ["配置中没有工作人员 (clerks: the configuration lists no clerks)"]
    floor = hall.roster.min_cover
    skilled = {cat.id: [c for c in hall.clerks if cat.id in c.skills] for cat in hall.categories}
    for cat in hall.categories:
        wanted = [(d, t) for d in range(len(days)) for t in model.open_ts[d] if model.need.get((d, t, cat.id), 0) > 0]
        if wanted and floor > 0 and not skilled[cat.id]:
            reasons.append(
                f"没有任何工作人员具备「{cat.name}」的受理资质，无法保证该类别营业时段有人在岗"
                f" (no clerk has the skill {cat.id!r}, yet it has demand and needs {floor} clerk(s) on duty)"
            )
            continue
        if floor == 0:
            continue
        by_day: dict[int, list[int]] = defaultdict(list)
        for d, t in wanted:
            able = 0
            for clerk in skilled[cat.id]:
                for s in _allowed_shifts(hall, clerk, days[d]):
                    if t in grid.inside(_minutes(s.start), _minutes(s.end)):
                        able += 1
                        break
            if able < floor:
                by_day[d].append(t)
        for d, ts in by_day.items():
            reasons.append(
                f"{_zh_day(days[d])} {_ranges(grid, ts)}「{cat.name}」需要至少 {floor} 人在岗，"
                f"但当时没有具备该资质且可上班的工作人员"
                f" ({days[d]} {cat.id}: fewer than {floor} skilled clerk(s) can be on shift then)"
            )
    short_hours = set()
    for clerk in hall.clerks:
        for first in range(0, len(days) - 6, 7):  # each whole week of the horizon (weekly minimum)
            week = days[first : first + 7]
            best = sum(max((s.paid_minutes() for s in _allowed_shifts(hall, clerk, day)), default=0) for day in week)
            best = min(best, round(clerk.max_hours_per_week * 60))
            if clerk.min_hours_per_week * 60 > best + 1e-9:
                reasons.append(
                    f"{clerk.name}（{clerk.id}）合同要求每周至少 {clerk.min_hours_per_week:g} 小时，"
                    f"但{_zh_day(week[0])}起的一周可排班次最多 {best / 60:g} 小时"
                    f" ({clerk.id}: min_hours_per_week {clerk.min_hours_per_week:g} cannot be reached;"
                    f" at most {best / 60:g} h are possible in the week from {week[0]})"
                )
                short_hours.add(clerk.id)
                break
    # the cross-day rules each contract must meet on its own (runs, days off, weekends …)
    rules = for_hall(hall, days)
    rules = replace(rules, contracts=tuple(c for c in rules.contracts if c.person not in short_hours))
    allowed = {
        c.id: {d: [s.id for s in _allowed_shifts(hall, c, day)] for d, day in enumerate(days)} for c in hall.clerks
    }
    reasons += explain(rules, allowed)
    if floor > 0:
        for label, cats, cap in _category_groups(hall):
            for d in range(len(days)):
                bad = [t for t in model.open_ts[d] if len(set(model.demand_categories(d, t)) & cats) * floor > cap]
                if bad:
                    reasons.append(
                        f"{_zh_day(days[d])} {_ranges(grid, bad)}「{label}」的 {len(cats)} 个类别各需 {floor} 人在岗，"
                        f"但只有 {cap} 个窗口"
                        f" ({days[d]}: {label} has {cap} window(s) for categories that each need {floor} clerk(s))"
                    )
                    break
    return reasons


def _explain_slack(hall: Hall, days: list[date], grid: _Grid, solver: cp_model.CpSolver, built: _Built) -> list[str]:
    reasons = []
    cover: dict[tuple[int, str], list[int]] = defaultdict(list)
    for name, var in built.slacks:
        if solver.value(var) <= 0:
            continue
        kind, *rest = name.split(":")
        if kind == "minutes":
            clerk = hall.clerk(rest[0])
            reasons.append(
                f"{clerk.name}（{clerk.id}）每周至少 {clerk.min_hours_per_week:g} 小时的合同要求"
                f"差 {solver.value(var) / 60:g} 小时无法满足"
                f" ({clerk.id}: min_hours_per_week short by {solver.value(var) / 60:g} h)"
            )
        else:
            cover[int(rest[0]), rest[2]].append(int(rest[1]))
    hard = f"（及 hard_cover {hall.roster.hard_cover:.0%} 的硬性在岗要求）" if hall.roster.hard_cover else ""
    for (d, cat_id), ts in sorted(cover.items()):
        cat = hall.category(cat_id)
        reasons.append(
            f"{_zh_day(days[d])} {_ranges(grid, sorted(ts))}「{cat.name}」无法保证至少 {hall.roster.min_cover} 人在岗"
            f"{hard}"
            f" ({days[d]} {cat_id}: the no-empty-post floor cannot be met at these times)"
        )
    return reasons or ["约束相互冲突，但无法定位到具体要求 (the requirements conflict; no single one could be named)"]


# ---------------------------------------------------------------- solving


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.points: list[SolveProgress] = []

    def on_solution_callback(self) -> None:
        self.points.append(
            SolveProgress(_time.monotonic() - self.started, self.objective_value, self.best_objective_bound)
        )


def _complete_hint(model: cp_model.CpModel, limit: float) -> dict[int, int] | None:
    """Turn a partial hint into a complete one (every variable), which CP-SAT takes as its
    first solution at once: solve with the hinted variables fixed and read all values.
    Returns the complete assignment (by variable index), or None when the hint breaks a
    requirement (CP-SAT then repairs it from scratch)."""
    probe = cp_model.CpSolver()
    probe.parameters.num_workers = 1
    probe.parameters.max_time_in_seconds = max(0.1, limit)
    probe.parameters.fix_variables_to_their_hinted_value = True
    if probe.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    values = {}
    model.clear_hints()
    for i in range(len(model.proto.variables)):
        var = model.get_int_var_from_proto_index(i)
        values[i] = int(probe.value(var))
        model.add_hint(var, values[i])
    values[_OBJECTIVE] = round(probe.objective_value)
    return values


_OBJECTIVE = -1  # key of the objective value in a complete assignment


class _Known:
    """A complete assignment read like a solver (``value``), for when the week solve runs out
    of time before improving on its starting roster."""

    def __init__(self, values: dict[int, int]) -> None:
        self.values = values

    def value(self, var: cp_model.IntVar) -> int:
        return self.values[var.index]


def _set_hints(model: cp_model.CpModel, values: dict[int, int]) -> None:
    model.clear_hints()
    for i, v in values.items():
        if i != _OBJECTIVE:
            model.add_hint(model.get_int_var_from_proto_index(i), v)


def _cover_phase(
    hall: Hall,
    days: list[date],
    plans: dict[date, StaffingPlan],
    grid: _Grid,
    week: _Built,
    working: list[int],
    opts: RosterOptions,
    budget: float,
) -> tuple[dict[str, int] | None, int]:
    """Phase 1: each day alone, minimise under-cover (weekly limits relaxed).

    A day's optimum bound is a valid lower bound for that day's under-cover in the week,
    added to the week model as a cut (this is what lets the week's gap close); the days'
    rosters together are the week's starting point. Returns their values by variable
    name (None when a day found no roster in time) and the sum of the days' bounds: every
    term of the objective is non-negative, so it is a lower bound of the whole week's.
    """
    values: dict[str, int] = {}
    bound_sum = 0
    complete = True
    # quiet days first: they solve fast and leave their time to the busy ones
    working = sorted(working, key=lambda d: sum(plans[days[d]].total_scheduled()))
    for k, d in enumerate(working):
        left = (budget / (len(working) - k) if budget > 0 else 0.1) * 0.6
        started = _time.monotonic()
        day = days[d]
        one = _RosterModel(hall, [day], {day: plans[day]}, grid, labels=[d])
        day_model = one.build(cover_only=True, one_day=True)
        _complete_hint(day_model.model, left / 4)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = max(1, opts.workers)
        solver.parameters.max_time_in_seconds = max(0.1, left - (_time.monotonic() - started))
        solver.parameters.random_seed = opts.seed
        status = solver.solve(day_model.model)
        budget -= _time.monotonic() - started
        if opts.log:
            print(f"phase 1 {days[d]}: {solver.status_name(status)} {solver.objective_value:.0f} "
                  f"bound {solver.best_objective_bound:.0f} in {_time.monotonic() - started:.1f}s")  # fmt: skip
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            complete = False
            continue
        day_bound = math.ceil(solver.best_objective_bound - 1e-6)
        bound_sum += day_bound
        if d in week.under_by_day:
            week.model.add(week.under_by_day[d] >= day_bound)
        found = {
            var.name: int(solver.value(day_model.model.get_int_var_from_proto_index(i)))
            for i, var in enumerate(day_model.model.proto.variables)
        }
        # polish the day: the same coverage, then the other terms (paid hours, switches, …)
        polish = one.build(one_day=True)
        if 0 in polish.under_by_day:
            polish.model.add(polish.under_by_day[0] <= round(solver.objective_value))
        index = {var.name: i for i, var in enumerate(polish.model.proto.variables)}
        _set_hints(polish.model, {index[n]: v for n, v in found.items() if n in index})
        second = cp_model.CpSolver()
        second.parameters.num_workers = max(1, opts.workers)
        second.parameters.max_time_in_seconds = max(0.1, min(left, budget / max(1, len(working) - k)) * 0.5)
        second.parameters.random_seed = opts.seed
        time_before = _time.monotonic()
        if second.solve(polish.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = {
                var.name: int(second.value(polish.model.get_int_var_from_proto_index(i)))
                for i, var in enumerate(polish.model.proto.variables)
            }
        budget -= _time.monotonic() - time_before
        values.update(found)
    return (values if complete else None), bound_sum


def week_days(week_start: date) -> list[date]:
    return [week_start + timedelta(days=i) for i in range(7)]


def build_roster(
    hall: Hall,
    week_start: date,
    options: RosterOptions | None = None,
    plans: dict[date, StaffingPlan] | None = None,
    days: list[date] | None = None,
    on_progress: Callable[[SolveProgress], None] | None = None,
) -> Roster:
    """Solve the roster for the 7 days from ``week_start`` (or ``days``).

    ``plans`` gives the staffing needs per day (computed with :func:`staffing_plan` when
    missing). Raises :class:`RosterInfeasible` naming the unmet requirements.
    """
    opts = options or RosterOptions()
    days = days or week_days(week_start)
    step = hall.roster.interval_minutes
    plans = dict(plans or {})
    for day in days:
        if day not in plans:
            plans[day] = staffing_plan(hall, day, step, model=opts.model, lag=opts.lag and hall.roster.lag_correction)
        elif plans[day].interval_minutes != step:
            raise ValueError(f"staffing plan of {day} uses {plans[day].interval_minutes}-minute intervals, not {step}")
    for s in hall.roster.shifts:
        if s.break_minutes and not _break_options(_grid(hall), s):
            raise RosterInfeasible(
                [f"班次「{s.name}」的午休窗口放不下 {s.break_minutes} 分钟的休息 (shift {s.id}: break does not fit)"]
            )
    reasons = precheck(hall, days, plans)
    if reasons:
        raise RosterInfeasible(reasons)
    grid = _grid(hall)
    started = _time.monotonic()
    rm = _RosterModel(hall, days, plans, grid)
    built = rm.build()
    # phase 0: the greedy roster, completed by CP-SAT — the first feasible roster
    greedy = _complete_hint(built.model, min(5.0, opts.time_limit / 4))
    first_at = _time.monotonic() - started if greedy is not None else None
    # phase 1: each day's best coverage (cuts + a better starting roster)
    working = [d for d in range(len(days)) if rm.open_ts[d] and d in built.under_by_day]
    day_values: dict[str, int] | None = None
    cover_bound = 0
    if opts.time_limit >= 20:  # below that the week solve alone makes better use of the time
        day_values, cover_bound = _cover_phase(hall, days, plans, grid, built, working, opts, opts.time_limit * 0.45)
    known = greedy
    if day_values is not None and working:
        index = {var.name: i for i, var in enumerate(built.model.proto.variables)}
        _set_hints(built.model, {index[n]: v for n, v in day_values.items() if n in index})
        combined = _complete_hint(built.model, 2.0)
        if combined is not None:
            known = combined
        elif greedy is not None:
            _set_hints(built.model, greedy)  # the days together break a weekly limit: keep the greedy start
    # phase 2: the whole week, every objective term
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, opts.workers)
    solver.parameters.max_time_in_seconds = max(0.5, opts.time_limit - (_time.monotonic() - started))
    solver.parameters.random_seed = opts.seed
    solver.parameters.log_search_progress = opts.log
    callback = _Progress(started)
    if on_progress is not None:
        original = callback.on_solution_callback

        def relay() -> None:
            original()
            on_progress(callback.points[-1])

        callback.on_solution_callback = relay  # type: ignore[method-assign]
    status = solver.solve(built.model, callback)
    wall = _time.monotonic() - started
    if status == cp_model.INFEASIBLE:
        relaxed = rm.build(relax=True)
        rsolver = cp_model.CpSolver()
        rsolver.parameters.num_workers = max(1, opts.workers)
        rsolver.parameters.max_time_in_seconds = opts.time_limit
        rstatus = rsolver.solve(relaxed.model)
        if rstatus in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise RosterInfeasible(_explain_slack(hall, days, grid, rsolver, relaxed))
        raise RosterInfeasible(["约束相互冲突 (the requirements conflict)"])
    result: cp_model.CpSolver | _Known = solver
    objective, bound = solver.objective_value, max(solver.best_objective_bound, cover_bound)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) and known is not None:
        # out of time before the week solve reported: the best complete roster found so far
        result, status = _Known(known), cp_model.FEASIBLE
        objective, bound = known[_OBJECTIVE], cover_bound
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise HallqError(
            f"在 {opts.time_limit:g} 秒内未找到可行排班，请放宽时限 (no roster found within the time limit;"
            f" solver status {solver.status_name(status)}; try a longer --time-limit)"
        )
    first_callback = callback.points[0].seconds if callback.points else None
    assignments, unseated = _read_solution(hall, days, grid, result, built)
    coverage = [
        CoverageCell(
            days[d],
            _clock(grid.minute(t)),
            cat,
            need,
            sum(int(result.value(a)) for a in built.cover_vars.get((d, t, cat), [])),
        )
        for (d, t, cat), (need, _cov) in sorted(built.coverage.items())
    ]
    return Roster(
        hall=hall.id,
        week_start=week_start,
        days=days,
        interval_minutes=step,
        assignments=assignments,
        coverage=coverage,
        status=solver.status_name(status),
        objective=objective / 10,
        bound=min(bound, objective) / 10,
        wall_seconds=wall,
        first_solution_seconds=first_at if first_at is not None else first_callback,
        progress=callback.points,
        unseated=unseated,
    )


def _read_solution(
    hall: Hall, days: list[date], grid: _Grid, solver: cp_model.CpSolver | _Known, built: _Built
) -> tuple[list[ShiftAssignment], list[str]]:
    chosen: dict[tuple[str, int], ShiftTemplate] = {}
    for (clerk_id, d, s_id), x in built.shift_vars.items():
        if solver.value(x):
            chosen[clerk_id, d] = hall.roster.shift(s_id)
    # seat of each clerk per (day, interval)
    seat: dict[tuple[str, int, int], str] = {}
    for (clerk_id, d, t, cat), a in built.seat_vars.items():
        if solver.value(a):
            seat[clerk_id, d, t] = cat
    windows = _assign_windows(hall, seat)
    unseated = [
        f"{clerk_id} {days[d]} {_clock(grid.minute(t)):%H:%M} {cat}"
        for (clerk_id, d, t), cat in sorted(seat.items())
        if (clerk_id, d, t) not in windows
    ]
    out = []
    for (clerk_id, d), shift in sorted(chosen.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        brk_ts: set[int] = set()
        brk_start = brk_end = None
        for start_m, ts, b in built.break_vars.get((clerk_id, d, shift.id), []):
            if solver.value(b):
                brk_ts = set(ts)
                brk_start, brk_end = _clock(start_m), _clock(start_m + shift.break_minutes)
        slots = []
        for t in grid.inside(_minutes(shift.start), _minutes(shift.end)):
            start, end = _clock(grid.minute(t)), _clock(grid.minute(t) + grid.step)
            if t in brk_ts:
                slots.append(Slot(start, end, "break"))
            elif (clerk_id, d, t) in seat:
                slots.append(Slot(start, end, "serve", seat[clerk_id, d, t], windows.get((clerk_id, d, t))))
            else:
                slots.append(Slot(start, end, "duty"))
        out.append(
            ShiftAssignment(
                clerk=clerk_id,
                day=days[d],
                shift=shift.id,
                start=shift.start,
                end=shift.end,
                break_start=brk_start,
                break_end=brk_end,
                paid_minutes=shift.paid_minutes(),
                slots=slots,
            )
        )
    return out, unseated


def _assign_windows(hall: Hall, seat: dict[tuple[str, int, int], str]) -> dict[tuple[str, int, int], int]:
    """Give every seated clerk a window accepting their category, interval by interval.

    A bipartite matching per interval (augmenting paths), trying first the window the
    clerk had in the previous interval, then their home window, so clerks stay put.
    """
    accepts = {w.number: set(hall.window_categories(w.number)) for w in hall.windows}
    zone_of = {w.number: w.zone for w in hall.windows}
    zone_cap = hall.roster.zone_windows
    home = {c.id: c.home_window for c in hall.clerks}
    by_slot: dict[tuple[int, int], list[str]] = defaultdict(list)
    for clerk_id, d, t in seat:
        by_slot[d, t].append(clerk_id)
    result: dict[tuple[str, int, int], int] = {}
    last_window: dict[tuple[str, int], int] = {}  # the clerk's window earlier that day
    for d, t in sorted(by_slot):
        clerks = sorted(by_slot[d, t])
        owner: dict[int, str] = {}

        def prefs(clerk_id: str, d: int = d, t: int = t) -> list[int]:
            cat = seat[clerk_id, d, t]
            ok = [w for w, cats in accepts.items() if cat in cats]
            last = last_window.get((clerk_id, d))
            # a narrower window first, so the wide comprehensive windows stay free for others
            return sorted(ok, key=lambda w: (w != last, w != home.get(clerk_id), len(accepts[w]), w))

        def augment(clerk_id: str, seen: set[int], owner: dict[int, str] = owner) -> bool:
            for w in prefs(clerk_id):
                if w in seen:
                    continue
                seen.add(w)
                if w not in owner or augment(owner[w], seen):
                    owner[w] = clerk_id
                    return True
            return False

        # everyone first takes their preferred free window; augmenting paths only for the rest
        for clerk_id in clerks:
            for w in prefs(clerk_id):
                if w not in owner:
                    owner[w] = clerk_id
                    break
        placed = set(owner.values())
        for clerk_id in clerks:
            if clerk_id not in placed:
                augment(clerk_id, set())
        used_per_zone: dict[str, int] = defaultdict(int)
        for w, clerk_id in sorted(owner.items()):
            z = zone_of[w]
            if used_per_zone[z] >= zone_cap.get(z, 10**6):
                continue
            used_per_zone[z] += 1
            result[clerk_id, d, t] = w
            last_window[clerk_id, d] = w
    return result


def seated_clerks(roster: Roster, day: date, at: time) -> dict[str, tuple[str, int | None]]:
    """Who serves what at ``at`` on ``day``: clerk -> (category, window). For the simulation."""
    out = {}
    for a in roster.assignments:
        if a.day != day:
            continue
        for s in a.slots:
            if s.activity == "serve" and s.start <= at < s.end and s.category is not None:
                out[a.clerk] = (s.category, s.window)
    return out


def as_datetime(hall: Hall, day: date, t: time) -> datetime:
    return datetime.combine(day, t, hall.tz)
