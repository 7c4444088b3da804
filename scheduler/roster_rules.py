"""Cross-day roster rules (排班规则): one layer for the hall's roster, the NSP benchmark and the checker.

A roster, seen from these rules, is which shift each person works on each day of the
horizon (or none). The rules are those real rosters have:

- forbidden successions — a shift that may not follow another on the next day
  (a late shift, then an early one);
- at most so many shifts of a type over the horizon;
- working minutes between a minimum and a maximum over a span of days (a week);
- runs of working days at least / at most so long, runs of days off at least so long;
- at most so many weekends worked (a weekend is worked when Saturday or Sunday is);
- days off; weighted requests to work a shift on a day, or not to (soft);
- a fixed cost per shift worked (soft).

The edges of the horizon follow the Curtois & Qu benchmark: the day before the horizon
and the day after it are days off for the maximum run of working days and for the
successions; a run touching either edge is never too short (it may go on outside).

:func:`add_rules` puts the rules into a CP-SAT model over the caller's shift variables;
:func:`violations` checks a finished roster against the same rules, independently of
any model; :func:`request_penalties` prices the soft requests of a finished roster;
:func:`explain` names the rules one person's contract cannot meet at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time

from ortools.sat.python import cp_model

from queue_server.config import WEEKDAYS, Hall

# the kinds of rule, as named in violations and in :func:`explain`
KINDS = ("days_off", "succession", "max_shifts", "minutes", "max_run", "min_run", "min_off", "weekends")


@dataclass(frozen=True)
class MinutesLimit:
    """Working minutes between ``low`` and ``high`` over days ``first``…``last`` (indices, inclusive)."""

    first: int
    last: int
    low: int
    high: int | None


@dataclass(frozen=True)
class Contract:
    """One person's rules; ``None`` means no such rule."""

    person: str
    name: str
    max_shifts: Mapping[str, int] = field(default_factory=dict)
    minutes: tuple[MinutesLimit, ...] = ()
    min_run: int | None = None  # consecutive working days, at least
    max_run: int | None = None  # consecutive working days, at most
    min_off: int | None = None  # consecutive days off, at least
    max_weekends: int | None = None
    days_off: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Request:
    """A wish for day ``day``: to work ``shift`` (``on``), or not to (``shift`` None: no shift at all)."""

    person: str
    day: int
    shift: str | None
    on: bool
    weight: int


@dataclass(frozen=True)
class Rules:
    days: tuple[date, ...]
    minutes: Mapping[str, int]  # shift id -> working minutes
    contracts: tuple[Contract, ...]
    forbidden: frozenset[tuple[str, str]] = frozenset()
    requests: tuple[Request, ...] = ()
    costs: Mapping[str, float] = field(default_factory=dict)  # shift id -> fixed cost per shift
    shift_names: Mapping[str, str] = field(default_factory=dict)

    def shift_name(self, shift: str) -> str:
        return self.shift_names.get(shift, shift)

    def weekends(self) -> list[list[int]]:
        """Day indices of each weekend (Saturday and/or Sunday of one week) in the horizon."""
        out: dict[tuple[int, int], list[int]] = {}
        for d, day in enumerate(self.days):
            if day.weekday() >= 5:
                out.setdefault(day.isocalendar()[:2], []).append(d)
        return list(out.values())


@dataclass(frozen=True)
class Violation:
    """A broken rule: ``kind`` (one of :data:`KINDS` or the hall's own), who, and what, zh-CN then English."""

    kind: str
    person: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} ({self.en})"


# ---------------------------------------------------------------- words


def zh_date(day: date) -> str:
    return f"{day.month}月{day.day}日"


def zh_span(first: date, last: date) -> str:
    """「12月7日–13日」, 「12月28日–1月3日」, 「12月7日」."""
    if first == last:
        return zh_date(first)
    tail = f"{last.day}日" if (first.year, first.month) == (last.year, last.month) else zh_date(last)
    return f"{zh_date(first)}–{tail}"


def rule_words(kind: str, contract: Contract, rules: Rules) -> tuple[str, str]:
    """What a rule of ``contract`` asks, zh-CN and English."""
    c = contract
    if kind == "min_off":
        return f"至少{c.min_off}个连休日", f"at least {c.min_off} consecutive days off"
    if kind == "min_run":
        return f"至少连续上班{c.min_run}天", f"at least {c.min_run} consecutive working days"
    if kind == "max_run":
        return f"最多连续上班{c.max_run}天", f"at most {c.max_run} consecutive working days"
    if kind == "weekends":
        return f"最多上{c.max_weekends}个周末", f"at most {c.max_weekends} weekend(s) worked"
    if kind == "max_shifts":
        parts = "、".join(f"{rules.shift_name(s)}最多{n}次" for s, n in sorted(c.max_shifts.items()))
        return parts, ", ".join(f"at most {n} × {s}" for s, n in sorted(c.max_shifts.items()))
    if kind == "minutes":
        lows = sorted({m.low for m in c.minutes if m.low})
        return (
            "工时要求（" + "、".join(f"至少{low / 60:g}小时" for low in lows) + "）",
            "minimum working hours " + ", ".join(f"{low / 60:g} h" for low in lows),
        )
    if kind == "succession":
        pairs = "、".join(f"{rules.shift_name(a)}后不接{rules.shift_name(b)}" for a, b in sorted(rules.forbidden))
        return f"班次衔接限制（{pairs}）", "forbidden shift successions"
    return "指定休息日", "days off"


# ---------------------------------------------------------------- a finished roster


def _runs(flags: list[bool], value: bool) -> list[tuple[int, int]]:
    """(first, last) of each maximal run of ``value`` in ``flags``."""
    out, start = [], None
    for d, f in enumerate([*flags, not value]):
        if f == value and start is None:
            start = d
        elif f != value and start is not None:
            out.append((start, d - 1))
            start = None
    return out


def violations(rules: Rules, worked: Mapping[tuple[str, int], str]) -> list[Violation]:
    """Every broken rule of a roster: ``worked`` maps (person, day index) to the shift worked."""
    out: list[Violation] = []
    days, n = rules.days, len(rules.days)
    for c in rules.contracts:
        who = c.name or c.person

        def add(kind: str, first: int, last: int, zh: str, en: str, c: Contract = c, who: str = who) -> None:
            span = zh_span(days[first], days[last])
            out.append(Violation(kind, c.person, f"{who} {span} {zh}", f"{c.person} {days[first]}–{days[last]}: {en}"))

        shifts = [worked.get((c.person, d)) for d in range(n)]
        on = [s is not None for s in shifts]
        for d in sorted(c.days_off):
            if 0 <= d < n and on[d]:
                add("days_off", d, d, "是指定休息日却排了班", "scheduled on a day off")
        for d in range(n - 1):
            a, b = shifts[d], shifts[d + 1]
            if a is not None and b is not None and (a, b) in rules.forbidden:
                add(
                    "succession",
                    d,
                    d + 1,
                    f"{rules.shift_name(a)}之后次日接{rules.shift_name(b)}（禁止的班次衔接）",
                    f"{a} followed by {b} (a forbidden succession)",
                )
        for s_id, limit in sorted(c.max_shifts.items()):
            count = shifts.count(s_id)
            if count > limit:
                add(
                    "max_shifts",
                    0,
                    n - 1,
                    f"{rules.shift_name(s_id)} {count} 次，超过上限 {limit} 次",
                    f"{count} × {s_id}, more than {limit}",
                )
        for lim in c.minutes:
            total = sum(rules.minutes[s] for s in shifts[lim.first : lim.last + 1] if s is not None)
            if total < lim.low:
                add(
                    "minutes",
                    lim.first,
                    lim.last,
                    f"工作 {total / 60:g} 小时，少于至少 {lim.low / 60:g} 小时",
                    f"{total / 60:g} h worked, fewer than {lim.low / 60:g} h",
                )
            if lim.high is not None and total > lim.high:
                add(
                    "minutes",
                    lim.first,
                    lim.last,
                    f"工作 {total / 60:g} 小时，超过上限 {lim.high / 60:g} 小时",
                    f"{total / 60:g} h worked, more than {lim.high / 60:g} h",
                )
        for first, last in _runs(on, True):
            length = last - first + 1
            if c.max_run is not None and length > c.max_run:
                add(
                    "max_run",
                    first,
                    last,
                    f"连续上班 {length} 天，超过最多连续上班{c.max_run}天",
                    f"{length} consecutive working days, more than {c.max_run}",
                )
            if c.min_run is not None and length < c.min_run and first > 0 and last < n - 1:
                add(
                    "min_run",
                    first,
                    last,
                    f"只连续上班 {length} 天，无法满足至少连续上班{c.min_run}天",
                    f"{length} consecutive working day(s), fewer than {c.min_run}",
                )
        if c.min_off is not None:
            for first, last in _runs(on, False):
                length = last - first + 1
                if length < c.min_off and first > 0 and last < n - 1:
                    add(
                        "min_off",
                        first,
                        last,
                        f"只连休 {length} 天，无法满足至少{c.min_off}个连休日",
                        f"{length} consecutive day(s) off, fewer than {c.min_off}",
                    )
        if c.max_weekends is not None:
            worked_weekends = [w for w in rules.weekends() if any(on[d] for d in w)]
            if len(worked_weekends) > c.max_weekends:
                add(
                    "weekends",
                    0,
                    n - 1,
                    f"上了 {len(worked_weekends)} 个周末，超过最多上{c.max_weekends}个周末",
                    f"{len(worked_weekends)} weekends worked, more than {c.max_weekends}",
                )
    return out


def request_penalties(rules: Rules, worked: Mapping[tuple[str, int], str]) -> tuple[int, int]:
    """(shift-on, shift-off) penalty of a roster: the weights of the requests it does not grant."""
    on_pen = off_pen = 0
    for r in rules.requests:
        got = worked.get((r.person, r.day))
        if r.on and got != r.shift:
            on_pen += r.weight
        elif not r.on and got is not None and (r.shift is None or got == r.shift):
            off_pen += r.weight
    return on_pen, off_pen


# ---------------------------------------------------------------- the model


@dataclass
class RuleTerms:
    """What :func:`add_rules` adds besides hard constraints: soft terms and (relaxed) slacks."""

    requests: list[tuple[int, cp_model.LinearExprT]] = field(default_factory=list)  # (weight, 0/1 not granted)
    costs: list[tuple[float, cp_model.IntVar]] = field(default_factory=list)  # (cost, shift worked)
    slacks: list[tuple[str, cp_model.IntVar]] = field(default_factory=list)  # ("minutes:person:first", short)


def add_rules(
    m: cp_model.CpModel,
    rules: Rules,
    x: Mapping[tuple[str, int, str], cp_model.IntVar],
    relax_minimum_minutes: bool = False,
    skip: Iterable[str] = (),
    day_labels: Sequence[int] | None = None,
) -> RuleTerms:
    """Constrain ``x`` (person, day index, shift) -> worked, at most one shift a day per person
    (the caller's model says so), with every hard rule except the kinds in ``skip``; a day
    without a variable is a day off. ``relax_minimum_minutes`` gives the minimum working
    minutes a slack instead (returned, so the caller can name what had to give).
    ``day_labels`` numbers the days in variable names (so one day's model maps onto a week's)."""
    skipped = set(skip)
    terms = RuleTerms()
    n = len(rules.days)
    lab = list(day_labels) if day_labels is not None else list(range(n))
    by_day: dict[tuple[str, int], list[tuple[str, cp_model.IntVar]]] = {}
    for (p, d, s), var in x.items():
        by_day.setdefault((p, d), []).append((s, var))
    for c in rules.contracts:
        p = c.person
        work = []
        if c.max_run or c.min_run or c.min_off or c.max_weekends is not None:
            for d in range(n):
                w = m.new_bool_var(f"work_{p}_{lab[d]}")
                m.add(w == sum(v for _, v in by_day.get((p, d), [])))
                work.append(w)
        if "days_off" not in skipped:
            for d in c.days_off:
                for _s, v in by_day.get((p, d), []):
                    m.add(v == 0)
        if "succession" not in skipped:
            for d in range(n - 1):
                for s1, v1 in by_day.get((p, d), []):
                    for s2, v2 in by_day.get((p, d + 1), []):
                        if (s1, s2) in rules.forbidden:
                            m.add_bool_or([v1.Not(), v2.Not()])
        if "max_shifts" not in skipped:
            for s_id, limit in c.max_shifts.items():
                m.add(sum(v for (pp, _d, s), v in x.items() if pp == p and s == s_id) <= limit)
        if "minutes" not in skipped:
            for lim in c.minutes:
                total = sum(
                    rules.minutes[s] * v for d in range(lim.first, lim.last + 1) for s, v in by_day.get((p, d), [])
                )
                if lim.high is not None:
                    m.add(total <= lim.high)
                if lim.low > 0:
                    if relax_minimum_minutes:
                        short = m.new_int_var(0, lim.low, f"slack_minutes_{p}_{lab[lim.first]}")
                        m.add(total + short >= lim.low)
                        terms.slacks.append((f"minutes:{p}:{lim.first}", short))
                    else:
                        m.add(total >= lim.low)
        if c.max_run is not None and "max_run" not in skipped:
            for d in range(n - c.max_run):
                m.add(sum(work[d : d + c.max_run + 1]) <= c.max_run)
        if c.min_run is not None and c.min_run > 1 and "min_run" not in skipped:
            for d in range(1, n):  # a run starting on day d (after a day off) lasts min_run days
                for j in range(1, c.min_run):
                    if d + j < n:
                        m.add_bool_or([work[d - 1], work[d].Not(), work[d + j]])
        if c.min_off is not None and c.min_off > 1 and "min_off" not in skipped:
            for d in range(1, n):
                for j in range(1, c.min_off):
                    if d + j < n:
                        m.add_bool_or([work[d - 1].Not(), work[d], work[d + j].Not()])
        if c.max_weekends is not None and "weekends" not in skipped:
            worked_weekends = []
            for wk in rules.weekends():
                we = m.new_bool_var(f"weekend_{p}_{lab[wk[0]]}")
                m.add_max_equality(we, [work[d] for d in wk])
                worked_weekends.append(we)
            if worked_weekends:
                m.add(sum(worked_weekends) <= c.max_weekends)
    for r in rules.requests:
        if r.on:
            asked = x.get((r.person, r.day, r.shift or ""))
            terms.requests.append((r.weight, 1 - asked if asked is not None else 1))
        else:
            hits = [v for s, v in by_day.get((r.person, r.day), []) if r.shift is None or s == r.shift]
            if hits:
                terms.requests.append((r.weight, sum(hits)))
    for (_p, _d, s), v in x.items():
        if rules.costs.get(s):
            terms.costs.append((rules.costs[s], v))
    return terms


def explain(rules: Rules, x_allowed: Mapping[str, Mapping[int, list[str]]]) -> list[str]:
    """For each person whose rules cannot all hold with the shifts they may work
    (``x_allowed``: person -> day index -> shift ids), the rules that cannot be met,
    e.g. 「张伟 12月7日–13日 无法满足至少2个连休日」. Empty when every contract can be met."""
    reasons = []
    span = zh_span(rules.days[0], rules.days[-1])
    for c in rules.contracts:
        alone = Rules(rules.days, rules.minutes, (c,), rules.forbidden, (), {}, rules.shift_names)

        def feasible(skip: Iterable[str], c: Contract = c, alone: Rules = alone) -> bool:
            m = cp_model.CpModel()
            x = {
                (c.person, d, s): m.new_bool_var(f"x_{d}_{s}")
                for d, shifts in x_allowed.get(c.person, {}).items()
                for s in shifts
            }
            for d in range(len(rules.days)):
                m.add_at_most_one(v for (_p, dd, _s), v in x.items() if dd == d)
            add_rules(m, alone, x, skip=skip)
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = 1
            solver.parameters.max_deterministic_time = 5
            return solver.solve(m) in (cp_model.OPTIMAL, cp_model.FEASIBLE)

        if feasible(()):
            continue
        culprits = [k for k in KINDS if feasible((k,))] or [k for k in KINDS if _has(c, rules, k)]
        for kind in culprits:
            zh, en = rule_words(kind, c, rules)
            reasons.append(
                f"{c.name or c.person} {span} 无法满足{zh}"
                f" ({c.person} {rules.days[0]}–{rules.days[-1]}: cannot meet {en})"
            )
    return reasons


def _has(c: Contract, rules: Rules, kind: str) -> bool:
    return {
        "days_off": bool(c.days_off),
        "succession": bool(rules.forbidden),
        "max_shifts": bool(c.max_shifts),
        "minutes": any(m.low for m in c.minutes),
        "max_run": c.max_run is not None,
        "min_run": c.min_run is not None,
        "min_off": c.min_off is not None,
        "weekends": c.max_weekends is not None,
    }[kind]


def hard_floor(hall: Hall, need: int) -> int:
    """Clerks a category must have in an interval whatever it costs: the no-empty-post floor
    (``roster.min_cover``), or ``roster.hard_cover`` of the need when that is more."""
    return max(min(hall.roster.min_cover, need), math.ceil(hall.roster.hard_cover * need - 1e-9))


def for_hall(hall: Hall, days: Sequence[date]) -> Rules:
    """The hall's rules over ``days``: each clerk's contract (``clerks[]``), weekly hours per
    7-day block from the first day (the minimum only for a whole block), and the hall's
    successions and shift costs (``roster:``)."""
    n = len(days)
    blocks = [(first, min(first + 6, n - 1)) for first in range(0, n, 7)]
    contracts = []
    requests = []
    index = {day: d for d, day in enumerate(days)}
    for clerk in hall.clerks:
        limits = tuple(
            MinutesLimit(
                first,
                last,
                round(clerk.min_hours_per_week * 60) if last - first == 6 else 0,
                round(clerk.max_hours_per_week * 60),
            )
            for first, last in blocks
        )
        off = {
            d
            for d, day in enumerate(days)
            if WEEKDAYS[day.weekday()] in clerk.days_off
            or any(u.start is None and u.covers(day, time(0), time(23, 59)) for u in clerk.unavailable)
        }
        contracts.append(
            Contract(
                person=clerk.id,
                name=clerk.name,
                max_shifts=dict(clerk.max_shifts),
                minutes=limits,
                min_run=clerk.min_consecutive_days,
                max_run=clerk.max_consecutive_days,
                min_off=clerk.min_consecutive_days_off,
                max_weekends=clerk.max_weekends,
                days_off=frozenset(off),
            )
        )
        for r in clerk.requests:
            if r.day in index:
                requests.append(Request(clerk.id, index[r.day], r.shift, r.kind == "on", r.weight))
    shifts = hall.roster.shifts
    return Rules(
        days=tuple(days),
        minutes={s.id: s.paid_minutes() for s in shifts},
        contracts=tuple(contracts),
        forbidden=frozenset(hall.roster.forbidden_successions),
        requests=tuple(requests),
        costs={s.id: s.cost for s in shifts if s.cost},
        shift_names={s.id: s.name for s in shifts},
    )
