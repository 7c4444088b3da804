"""Curtois & Qu's "Employee Shift Scheduling Benchmark Data Sets" (schedulingbenchmarks.org), read,
written and solved on the roster's own rule layer (:mod:`scheduler.roster_rules`).

The text format has seven sections (``#`` starts a comment):

- ``SECTION_HORIZON`` — the days (the first is a Monday, day 0);
- ``SECTION_SHIFTS`` — ``ShiftID, Length in mins, Shifts which cannot follow this shift | separated``;
- ``SECTION_STAFF`` — ``ID, MaxShifts (D=14|L=7), MaxTotalMinutes, MinTotalMinutes,
  MaxConsecutiveShifts, MinConsecutiveShifts, MinConsecutiveDaysOff, MaxWeekends``;
- ``SECTION_DAYS_OFF`` — ``EmployeeID, DayIndexes…``;
- ``SECTION_SHIFT_ON_REQUESTS`` / ``SECTION_SHIFT_OFF_REQUESTS`` — ``EmployeeID, Day, ShiftID, Weight``;
- ``SECTION_COVER`` — ``Day, ShiftID, Requirement, Weight for under, Weight for over``.

Everything in the first five sections is hard; the objective is the benchmark's: the
weight of each shift-on request not granted, of each shift-off request not granted,
and per day and shift, under-cover × its weight plus over-cover × its weight.
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ortools.sat.python import cp_model

from queue_server.errors import HallqError

from .roster_rules import Contract, MinutesLimit, Request, Rules, Violation, add_rules, request_penalties, violations

SECTIONS = (
    "SECTION_HORIZON",
    "SECTION_SHIFTS",
    "SECTION_STAFF",
    "SECTION_DAYS_OFF",
    "SECTION_SHIFT_ON_REQUESTS",
    "SECTION_SHIFT_OFF_REQUESTS",
    "SECTION_COVER",
)
FIRST_DAY = date(2024, 1, 1)  # a Monday: the benchmark's day 0


@dataclass(frozen=True)
class NspShift:
    id: str
    minutes: int
    cannot_follow: tuple[str, ...]  # shifts that may not come the next day


@dataclass(frozen=True)
class NspStaff:
    id: str
    max_shifts: dict[str, int]
    max_minutes: int
    min_minutes: int
    max_consecutive: int
    min_consecutive: int
    min_days_off: int
    max_weekends: int


@dataclass(frozen=True)
class NspRequest:
    staff: str
    day: int
    shift: str
    weight: int


@dataclass(frozen=True)
class NspCover:
    day: int
    shift: str
    requirement: int
    under: int
    over: int


@dataclass
class NspInstance:
    horizon: int
    shifts: list[NspShift]
    staff: list[NspStaff]
    days_off: dict[str, list[int]] = field(default_factory=dict)
    on_requests: list[NspRequest] = field(default_factory=list)
    off_requests: list[NspRequest] = field(default_factory=list)
    cover: list[NspCover] = field(default_factory=list)

    def days(self) -> list[date]:
        return [FIRST_DAY + timedelta(days=d) for d in range(self.horizon)]


# ---------------------------------------------------------------- reading and writing


class NspFormatError(HallqError):
    """The file is not in the benchmark's format; the message names the line."""


def read_nsp(path: str | Path) -> NspInstance:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NspFormatError(f"无法读取 NSP 文件 {p} (cannot read the NSP file: {exc})") from None
    return parse_nsp(text, str(p))


def parse_nsp(text: str, source: str = "<nsp>") -> NspInstance:
    """Parse the benchmark's text format; any malformed line is an :class:`NspFormatError` naming it."""
    lines: dict[str, list[tuple[int, list[str]]]] = {s: [] for s in SECTIONS}
    section = None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("SECTION_"):
            if line not in lines:
                raise NspFormatError(f"{source} 第 {n} 行：未知段 {line} (line {n}: unknown section)")
            section = line
            continue
        if section is None:
            raise NspFormatError(
                f"{source} 第 {n} 行：数据出现在第一个 SECTION_ 之前 (line {n}: data before any section)"
            )
        lines[section].append((n, [part.strip() for part in line.split(",")]))
    for s in ("SECTION_HORIZON", "SECTION_SHIFTS", "SECTION_STAFF"):
        if not lines[s]:
            raise NspFormatError(f"{source}: 缺少 {s} (the file has no {s})")

    def ints(n: int, parts: list[str], what: str) -> list[int]:
        try:
            return [int(x) for x in parts]
        except ValueError:
            raise NspFormatError(f"{source} 第 {n} 行：{what} 应为整数 (line {n}: {what} must be integers)") from None

    def need(n: int, parts: list[str], count: int, what: str) -> None:
        if len(parts) < count:
            raise NspFormatError(
                f"{source} 第 {n} 行：{what} 需要 {count} 个字段 (line {n}: {what} needs {count} fields)"
            )

    n, parts = lines["SECTION_HORIZON"][0]
    horizon = ints(n, parts[:1], "horizon")[0]
    shifts = []
    for n, parts in lines["SECTION_SHIFTS"]:
        need(n, parts, 2, "SECTION_SHIFTS")
        follow = tuple(x for x in (parts[2] if len(parts) > 2 else "").split("|") if x)
        shifts.append(NspShift(parts[0], ints(n, parts[1:2], "length")[0], follow))
    shift_ids = {s.id for s in shifts}
    staff = []
    for n, parts in lines["SECTION_STAFF"]:
        need(n, parts, 8, "SECTION_STAFF")
        max_shifts = {}
        for item in (x for x in parts[1].split("|") if x):
            sid, _, count = item.partition("=")
            if sid not in shift_ids:
                raise NspFormatError(f"{source} 第 {n} 行：未知班次 {sid!r} (line {n}: unknown shift {sid!r})")
            max_shifts[sid] = ints(n, [count], "MaxShifts")[0]
        v = ints(n, parts[2:8], "SECTION_STAFF")
        staff.append(NspStaff(parts[0], max_shifts, v[0], v[1], v[2], v[3], v[4], v[5]))
    staff_ids = {s.id for s in staff}

    def person(n: int, sid: str) -> str:
        if sid not in staff_ids:
            raise NspFormatError(f"{source} 第 {n} 行：未知员工 {sid!r} (line {n}: unknown employee {sid!r})")
        return sid

    def day(n: int, d: int) -> int:
        if not 0 <= d < horizon:
            raise NspFormatError(f"{source} 第 {n} 行：第 {d} 天不在 0–{horizon - 1} 之内 (line {n}: day out of range)")
        return d

    def shift(n: int, sid: str) -> str:
        if sid not in shift_ids:
            raise NspFormatError(f"{source} 第 {n} 行：未知班次 {sid!r} (line {n}: unknown shift {sid!r})")
        return sid

    days_off = {
        person(n, p[0]): [day(n, d) for d in ints(n, p[1:], "DayIndexes")] for n, p in lines["SECTION_DAYS_OFF"]
    }

    def requests(section: str) -> list[NspRequest]:
        out = []
        for n, p in lines[section]:
            need(n, p, 4, section)
            out.append(NspRequest(person(n, p[0]), day(n, ints(n, p[1:2], "Day")[0]), shift(n, p[2]),
                                  ints(n, p[3:4], "Weight")[0]))  # fmt: skip
        return out

    cover = []
    for n, p in lines["SECTION_COVER"]:
        need(n, p, 5, "SECTION_COVER")
        d, req, under, over = ints(n, [p[0], *p[2:5]], "SECTION_COVER")
        cover.append(NspCover(day(n, d), shift(n, p[1]), req, under, over))
    return NspInstance(
        horizon, shifts, staff, days_off, requests("SECTION_SHIFT_ON_REQUESTS"), requests("SECTION_SHIFT_OFF_REQUESTS"),
        cover,
    )  # fmt: skip


def format_nsp(inst: NspInstance) -> str:
    """The instance in the benchmark's text format (what :func:`parse_nsp` reads back)."""
    out = [
        "SECTION_HORIZON",
        "# All instances start on a Monday",
        "# The horizon length in days:",
        str(inst.horizon),
        "",
    ]
    out += ["SECTION_SHIFTS", "# ShiftID, Length in mins, Shifts which cannot follow this shift | separated"]
    out += [f"{s.id},{s.minutes},{'|'.join(s.cannot_follow)}" for s in inst.shifts]
    out += ["", "SECTION_STAFF", "# ID, MaxShifts, MaxTotalMinutes, MinTotalMinutes, MaxConsecutiveShifts, "
            "MinConsecutiveShifts, MinConsecutiveDaysOff, MaxWeekends"]  # fmt: skip
    for p in inst.staff:
        caps = "|".join(f"{k}={v}" for k, v in p.max_shifts.items())
        out.append(f"{p.id},{caps},{p.max_minutes},{p.min_minutes},{p.max_consecutive},{p.min_consecutive},"
                   f"{p.min_days_off},{p.max_weekends}")  # fmt: skip
    out += ["", "SECTION_DAYS_OFF", "# EmployeeID, DayIndexes (start at zero)"]
    out += [",".join([p, *map(str, ds)]) for p, ds in inst.days_off.items()]
    for title, reqs in (
        ("SECTION_SHIFT_ON_REQUESTS", inst.on_requests),
        ("SECTION_SHIFT_OFF_REQUESTS", inst.off_requests),
    ):
        out += ["", title, "# EmployeeID, Day, ShiftID, Weight"]
        out += [f"{r.staff},{r.day},{r.shift},{r.weight}" for r in reqs]
    out += ["", "SECTION_COVER", "# Day, ShiftID, Requirement, Weight for under, Weight for over"]
    out += [f"{c.day},{c.shift},{c.requirement},{c.under},{c.over}" for c in inst.cover]
    return "\n".join(out) + "\n"


def write_nsp(inst: NspInstance, path: str | Path) -> Path:
    p = Path(path)
    p.write_text(format_nsp(inst), encoding="utf-8")
    return p


# ---------------------------------------------------------------- solving


def to_rules(inst: NspInstance) -> Rules:
    """The instance's hard rules and requests in the roster's rule layer."""
    contracts = tuple(
        Contract(
            person=p.id,
            name=p.id,
            max_shifts=dict(p.max_shifts),
            minutes=(MinutesLimit(0, inst.horizon - 1, p.min_minutes, p.max_minutes),),
            min_run=p.min_consecutive,
            max_run=p.max_consecutive,
            min_off=p.min_days_off,
            max_weekends=p.max_weekends,
            days_off=frozenset(inst.days_off.get(p.id, [])),
        )
        for p in inst.staff
    )
    requests = tuple(Request(r.staff, r.day, r.shift, True, r.weight) for r in inst.on_requests) + tuple(
        Request(r.staff, r.day, r.shift, False, r.weight) for r in inst.off_requests
    )
    return Rules(
        days=tuple(inst.days()),
        minutes={s.id: s.minutes for s in inst.shifts},
        contracts=contracts,
        forbidden=frozenset((s.id, b) for s in inst.shifts for b in s.cannot_follow),
        requests=requests,
    )


@dataclass
class NspResult:
    status: str
    objective: int
    bound: int
    wall_seconds: float
    first_solution_seconds: float | None
    roster: dict[tuple[str, int], str]  # (employee, day) -> shift
    penalties: dict[str, int]  # the benchmark's soft constraints
    violations: list[Violation]  # hard rules broken (none for a solver's roster)


def penalties(inst: NspInstance, roster: Mapping[tuple[str, int], str]) -> dict[str, int]:
    """The benchmark's objective, term by term, of a roster."""
    on_pen, off_pen = request_penalties(to_rules(inst), roster)
    under = over = 0
    for c in inst.cover:
        got = sum(1 for p in inst.staff if roster.get((p.id, c.day)) == c.shift)
        under += c.under * max(0, c.requirement - got)
        over += c.over * max(0, got - c.requirement)
    return {"shift_on_requests": on_pen, "shift_off_requests": off_pen, "cover_under": under, "cover_over": over}


class _FirstSolution(cp_model.CpSolverSolutionCallback):
    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.first: float | None = None

    def on_solution_callback(self) -> None:
        if self.first is None:
            self.first = _time.monotonic() - self.started


def solve_nsp(
    inst: NspInstance,
    time_limit: float = 60.0,
    workers: int = 1,
    seed: int = 0,
    deterministic_limit: float | None = None,
) -> NspResult:
    """Solve the instance with CP-SAT; raises :class:`HallqError` when no roster exists."""
    rules = to_rules(inst)
    m = cp_model.CpModel()
    x = {(p.id, d, s.id): m.new_bool_var(f"x_{p.id}_{d}_{s.id}") for p in inst.staff for d in range(inst.horizon)
         for s in inst.shifts}  # fmt: skip
    for p in inst.staff:
        for d in range(inst.horizon):
            m.add_at_most_one(x[p.id, d, s.id] for s in inst.shifts)
    terms = add_rules(m, rules, x)
    objective = [w * e for w, e in terms.requests]
    for c in inst.cover:
        got = sum(x[p.id, c.day, c.shift] for p in inst.staff)
        under = m.new_int_var(0, c.requirement, f"under_{c.day}_{c.shift}")
        over = m.new_int_var(0, len(inst.staff), f"over_{c.day}_{c.shift}")
        m.add(got + under - over == c.requirement)
        objective += [c.under * under, c.over * over]
    m.minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = time_limit
    # the full linear relaxation (cover sums, weekly minutes, run windows) is what proves these
    # instances: on one worker it takes Instance2's bound from 218 to the optimum 828
    solver.parameters.linearization_level = 2
    if deterministic_limit is not None:
        solver.parameters.max_deterministic_time = deterministic_limit
    started = _time.monotonic()
    callback = _FirstSolution(started)
    status = solver.solve(m, callback)
    wall = _time.monotonic() - started
    if status == cp_model.INFEASIBLE:
        raise HallqError("该 NSP 实例的硬约束无法同时满足 (the instance's hard constraints cannot all hold)")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise HallqError(f"在 {time_limit:g} 秒内未找到可行排班 (no roster found within the time limit)")
    roster = {(p, d): s for (p, d, s), v in x.items() if solver.value(v)}
    return NspResult(
        status=solver.status_name(status),
        objective=round(solver.objective_value),
        bound=round(solver.best_objective_bound),
        wall_seconds=wall,
        first_solution_seconds=callback.first,
        roster=roster,
        penalties=penalties(inst, roster),
        violations=violations(rules, roster),
    )


PENALTY_LABELS = {
    "shift_on_requests": "上班申请未满足 Shift on requests",
    "shift_off_requests": "休息申请未满足 Shift off requests",
    "cover_under": "缺员 Cover (under)",
    "cover_over": "超员 Cover (over)",
}


def report(inst: NspInstance, result: NspResult, source: str) -> list[str]:
    """The solve as printed lines, Chinese first, in the benchmark's own terms."""
    lines = [
        f"NSP 实例 instance {source}: {inst.horizon} 天 days, {len(inst.staff)} 人 employees, "
        f"{len(inst.shifts)} 种班次 shift types",
        f"求解 Solved: {result.status}, 目标值 objective {result.objective}, 下界 bound {result.bound}, "
        f"用时 {result.wall_seconds:.2f} s (首个可行解 first solution at {result.first_solution_seconds or 0:.2f} s)",
    ]
    lines += [f"  {PENALTY_LABELS[k]}: {v}" for k, v in result.penalties.items()]
    n = len(result.violations)
    lines.append(f"硬约束检查 Hard-constraint check: {n} 处违规 ({n} violations)")
    lines += [f"  - {v}" for v in result.violations]
    return lines


def format_roster(inst: NspInstance, roster: Mapping[tuple[str, int], str]) -> str:
    """The roster as a grid: one line per employee, one column per day (empty = off)."""
    head = ",".join(["employee", *(str(d) for d in range(inst.horizon))])
    rows = [",".join([p.id, *(roster.get((p.id, d), "") for d in range(inst.horizon))]) for p in inst.staff]
    return "\n".join([head, *rows]) + "\n"
