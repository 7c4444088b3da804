"""The hall as configuration: categories, windows, clerks, hours, policies.

A deployment file holds one hall (its fields at the top level) or several (a
``halls:`` list). :func:`load_config` parses the YAML, validates the structure
with pydantic and the cross-references (a window's class, a clerk's skills…)
with :func:`_check_references`, and raises :class:`ConfigError` listing *every*
problem with the field path that holds it, e.g.
``halls[0].windows[3].categories: unknown category 'X'``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError, ConfigIssue


class Invalid(ValueError):
    """A validator's refusal in both languages; ``str()`` is the English (pydantic's message)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]


class _Model(BaseModel):
    # A typo in a key is an error that names the key, never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_hhmm(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads 09:00 as sexagesimal 540
        return time(value // 60, value % 60)
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
        hh, mm = (int(p) for p in value.split(":"))
        if hh < 24 and mm < 60:
            return time(hh, mm)
    raise Invalid(f"应为时刻，如 '09:00'，而不是 {value!r}", f"expected a time of day like '09:00', got {value!r}")


class Period(_Model):
    """A span of the day, e.g. the lunch break."""

    start: time
    end: time

    _parse = field_validator("start", "end", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise Invalid(
                f"结束 {self.end:%H:%M} 须晚于开始 {self.start:%H:%M}",
                f"end {self.end:%H:%M} must be after start {self.start:%H:%M}",
            )
        return self


_WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class Hours(_Model):
    """Opening hours: open days, the day's span and an optional lunch break."""

    days: list[Weekday] = Field(default_factory=lambda: list(_WORKWEEK))
    open: time
    close: time
    lunch: Period | None = None
    holidays: list[date] = Field(default_factory=list)
    # Extra working days (调休上班), e.g. a Saturday made a working day.
    workdays: list[date] = Field(default_factory=list)

    _parse = field_validator("open", "close", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.close <= self.open:
            raise Invalid(
                f"关门 {self.close:%H:%M} 须晚于开门 {self.open:%H:%M}",
                f"close {self.close:%H:%M} must be after open {self.open:%H:%M}",
            )
        if self.lunch and not (self.open < self.lunch.start and self.lunch.end < self.close):
            raise Invalid("午休须在办公时间之内", "lunch must lie inside the opening hours")
        return self

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.workdays or WEEKDAYS[day.weekday()] in self.days

    def is_open_at(self, moment: datetime) -> bool:
        """True when the hall serves at ``moment`` (local time of the hall)."""
        if not self.is_working_day(moment.date()):
            return False
        t = moment.time()
        if not (self.open <= t < self.close):
            return False
        return not (self.lunch and self.lunch.start <= t < self.lunch.end)

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (weekends, holidays skipped; 调休 workdays count)."""
        if n < 0:
            raise ValueError("n must be ≥ 0")
        out = day
        while n > 0:
            out += timedelta(days=1)
            if self.is_working_day(out):
                n -= 1
        return out

    def service_periods(self) -> list[tuple[time, time]]:
        """The day's service spans: open–close, split around the lunch break."""
        if self.lunch is None:
            return [(self.open, self.close)]
        return [(self.open, self.lunch.start), (self.lunch.end, self.close)]

    def service_minutes(self) -> int:
        """Minutes of service in one working day (lunch excluded)."""
        total = _minutes(self.close) - _minutes(self.open)
        if self.lunch:
            total -= _minutes(self.lunch.end) - _minutes(self.lunch.start)
        return total


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class Zone(_Model):
    id: Slug
    name: str
    name_en: str = ""


class ServiceTime(_Model):
    """Service-time distribution of a category, in minutes."""

    distribution: Literal["lognormal", "exponential", "gamma", "deterministic", "uniform"] = "lognormal"
    mean: float = Field(gt=0)
    sd: float = Field(default=0.0, ge=0)
    low: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _shape(self) -> ServiceTime:
        if self.distribution in ("lognormal", "gamma") and self.sd <= 0:
            raise Invalid(f"{self.distribution} 分布需要 sd > 0", f"{self.distribution} needs sd > 0")
        if self.distribution == "uniform" and (self.low is None or self.high is None or self.low >= self.high):
            raise Invalid("均匀分布需要 low < high", "uniform needs low < high")
        return self


class JourneyStep(_Model):
    """After this category's service the citizen goes on to ``category`` with ``probability``."""

    category: str
    probability: float = Field(gt=0, le=1)


class Category(_Model):
    """A category of matters (事项类别): the unit a ticket is taken for."""

    id: Slug
    prefix: Annotated[str, Field(pattern=r"^[A-Z]{1,2}$")]
    name: str
    name_en: str = ""
    zone: str
    materials: list[str] = Field(default_factory=list)
    target_wait_minutes: int = Field(default=20, gt=0)
    daily_cap: int | None = Field(default=None, gt=0)
    service_time: ServiceTime
    arrivals_per_day: float = Field(default=0, ge=0)
    # Relative arrival weights per interval; defaults to the hall's demand shape.
    arrival_shape: list[float] | None = None
    patience_minutes: float | None = Field(default=None, gt=0)
    no_show_rate: float = Field(default=0.0, ge=0, le=1)
    journey: list[JourneyStep] = Field(default_factory=list)


class WindowClass(_Model):
    """A class of windows: comprehensive (无差别综合受理) or specialised (专业窗口)."""

    id: Slug
    name: str
    name_en: str = ""
    kind: Literal["comprehensive", "specialised"]
    categories: list[str] = Field(min_length=1)


class Window(_Model):
    number: int = Field(gt=0, lt=1000)
    zone: str
    window_class: str = Field(alias="class")
    # Narrows (never widens) the categories of its class, when given.
    categories: list[str] | None = Field(default=None, min_length=1)
    # Floor-plan position (planner's workbench), optional.
    x: float | None = None
    y: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Unavailability(_Model):
    """A time a clerk cannot work: a date (``day``) or a weekday, the whole day or ``start``–``end``."""

    day: date | None = None
    weekday: Weekday | None = None
    start: time | None = None
    end: time | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _times(cls, value: Any) -> time | None:
        return None if value is None else _parse_hhmm(value)

    @model_validator(mode="after")
    def _which(self) -> Unavailability:
        if (self.day is None) == (self.weekday is None):
            raise Invalid("须给出 day（日期）或 weekday 之一", "give either day (a date) or weekday")
        if (self.start is None) != (self.end is None):
            raise Invalid(
                "start 与 end 须同时给出（都不给表示全天）", "start and end go together (or neither, for the whole day)"
            )
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise Invalid("结束须晚于开始", "end must be after start")
        return self

    def covers(self, day: date, start: time, end: time) -> bool:
        """True when this unavailability overlaps ``start``–``end`` on ``day``."""
        if self.day is not None and self.day != day:
            return False
        if self.weekday is not None and WEEKDAYS[day.weekday()] != self.weekday:
            return False
        if self.start is None or self.end is None:
            return True
        return self.start < end and start < self.end


class ShiftRequest(_Model):
    """A clerk's wish for one day: to work ``shift`` (``on``) or not to (``off``; without
    ``shift``: no shift at all that day). A wish not granted costs ``weight`` in the roster."""

    day: date
    shift: str | None = None
    kind: Literal["on", "off"] = "off"
    weight: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _on_names_a_shift(self) -> ShiftRequest:
        if self.kind == "on" and self.shift is None:
            raise Invalid("上班申请（kind: on）须写明班次 shift", "an 'on' request names its shift")
        return self


class Clerk(_Model):
    """A clerk (窗口工作人员) and the categories they may serve, with a proficiency factor.

    A proficiency of 1.0 is the category's nominal speed; 0.8 means service takes
    1/0.8 = 1.25 times as long.
    """

    id: Slug
    name: str
    skills: dict[str, float] = Field(min_length=1)
    home_window: int | None = None
    max_hours_per_week: float = Field(default=40, gt=0)
    min_hours_per_week: float = Field(default=0, ge=0)
    days_off: list[Weekday] = Field(default_factory=list)
    # Roster contract (see :class:`RosterSettings`): allowed shift templates (None = all),
    # the longest working day, times the clerk cannot work, and preferred shifts.
    shifts: list[str] | None = None
    max_hours_per_day: float | None = Field(default=None, gt=0, le=24)
    unavailable: list[Unavailability] = Field(default_factory=list)
    preferred_shifts: list[str] = Field(default_factory=list)
    # Cross-day rules of the contract (None / empty = no such rule), checked by
    # ``scheduler.roster_rules``: shifts of a type over the horizon, runs of working
    # days, runs of days off, weekends worked, and weighted requests for a day.
    max_shifts: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    min_consecutive_days: int | None = Field(default=None, ge=1, le=14)
    max_consecutive_days: int | None = Field(default=None, ge=1, le=31)
    min_consecutive_days_off: int | None = Field(default=None, ge=1, le=14)
    max_weekends: int | None = Field(default=None, ge=0)
    requests: list[ShiftRequest] = Field(default_factory=list)

    @field_validator("skills")
    @classmethod
    def _factors(cls, skills: dict[str, float]) -> dict[str, float]:
        for cat, factor in skills.items():
            if not 0.1 <= factor <= 3:
                raise Invalid(
                    f"{cat!r} 的熟练度须在 0.1 到 3 之间，而不是 {factor}",
                    f"proficiency of {cat!r} must be between 0.1 and 3, got {factor}",
                )
        return skills


class PriorityGroup(_Model):
    """A group served first within its class (老年人, 残疾人, 军人 …).

    ``level`` orders groups under the strict policy (higher first); ``boost_minutes``
    is the head start a ticket gets under the weighted-aging policy.
    """

    id: Slug
    name: str
    name_en: str = ""
    level: int = Field(default=1, ge=1, le=9)
    boost_minutes: float = Field(default=30, ge=0)


class Policy(_Model):
    """The calling policy by name (see :mod:`queue_server.policy`) and its parameters."""

    name: Literal["strict_priority", "weighted_aging"] = "weighted_aging"
    # weighted_aging: no ticket waits longer than this before it is called regardless.
    max_wait_minutes: float = Field(default=45, gt=0)
    # An appointment ticket is served first from this long before its slot to its end.
    appointment_early_minutes: float = Field(default=10, ge=0)
    appointment_level: int = Field(default=5, ge=1, le=9)
    appointment_boost_minutes: float = Field(default=60, ge=0)


class Announcements(_Model):
    """Texts shown and spoken; ``{ticket}`` and ``{window}`` are filled in."""

    call: str = "请{ticket}号到{window}号窗口办理"
    recall: str = "重呼：请{ticket}号到{window}号窗口办理"
    call_en: str = "Number {ticket}, please go to window {window}"
    recall_en: str = "Recall: number {ticket}, please go to window {window}"

    @field_validator("call", "recall", "call_en", "recall_en")
    @classmethod
    def _placeholders(cls, text: str) -> str:
        names = set(re.findall(r"{(\w*)}", text))
        unknown = names - {"ticket", "window"}
        if unknown:
            first = sorted(unknown)[0]
            raise Invalid(
                f"未知占位符 {{{first}}}，请用 {{ticket}} 和 {{window}}",
                f"unknown placeholder {{{first}}}; use {{ticket}} and {{window}}",
            )
        if "ticket" not in names:
            raise Invalid("文本须包含 {ticket}", "the text must contain {ticket}")
        return text


class Demand(_Model):
    """Arrival profile over the day, shared by categories that have no shape of their own."""

    interval_minutes: Literal[15, 30, 60] = 30
    # Relative weights per interval from opening to closing (lunch intervals included).
    shape: list[float] = Field(min_length=1)
    weekday_factors: dict[Weekday, float] = Field(default_factory=dict)


class Targets(_Model):
    """Service-level target, e.g. 80% of citizens called within 10 minutes."""

    service_level: float = Field(default=0.8, gt=0, lt=1)
    within_minutes: float = Field(default=10, gt=0)


class Appointments(_Model):
    """预约办: bookable slots derived from capacity, keeping a share for walk-ins.

    A slot of ``slot_minutes`` offers the capacity of the windows serving the category
    (each shared window split by the categories' daily volumes) times
    ``1 - walk_in_share``. A citizen books at most one slot a day, up to ``days_ahead``
    working days ahead, cancels up to ``cancel_before_minutes`` before the slot, and
    checks in at the kiosk from ``early_minutes`` before to ``late_minutes`` after its
    start; later, they get an ordinary walk-in ticket. ``no_show_limit`` missed
    bookings within ``no_show_window_days`` bar booking for ``restriction_days``.
    """

    enabled: bool = True
    categories: list[str] | None = None  # bookable categories; None = all
    slot_minutes: int = Field(default=30, ge=10, le=240)
    walk_in_share: float = Field(default=0.5, ge=0, lt=1)
    days_ahead: int = Field(default=5, ge=0, le=60)
    cancel_before_minutes: int = Field(default=120, ge=0)
    early_minutes: int = Field(default=30, ge=0, le=240)
    late_minutes: int = Field(default=15, ge=0, le=240)
    no_show_limit: int = Field(default=3, ge=1)
    no_show_window_days: int = Field(default=90, ge=1, le=365)
    restriction_days: int = Field(default=30, ge=1, le=365)


class RemoteTickets(_Model):
    """线上取号: tickets taken on a phone; checked in at the kiosk on arrival, or they
    expire when their number comes up."""

    enabled: bool = True
    per_phone_per_day: int = Field(default=3, ge=1)


class FollowUps(_Model):
    """差评整改: every 不满意/非常不满意 opens an item due ``due_working_days`` working days out."""

    due_working_days: int = Field(default=15, ge=1, le=60)
    owner: str = Field(default="admin", min_length=1, max_length=40)  # the default owner (a manager id)


class ShiftTemplate(_Model):
    """A shift clerks may work (班次), e.g. 全天 09:00–17:00 with a 60-minute lunch break.

    The break (``break_minutes``, unpaid unless ``paid_break``) is placed by the roster
    somewhere inside ``break_window``.
    """

    id: Slug
    name: str
    name_en: str = ""
    start: time
    end: time
    break_minutes: int = Field(default=0, ge=0, le=240)
    break_window: Period | None = None
    paid_break: bool = False
    # A fixed cost of working this shift once (e.g. a night allowance), in objective units.
    cost: float = Field(default=0, ge=0)

    _parse = field_validator("start", "end", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _fits(self) -> ShiftTemplate:
        if self.end <= self.start:
            raise Invalid(
                f"结束 {self.end:%H:%M} 须晚于开始 {self.start:%H:%M}",
                f"end {self.end:%H:%M} must be after start {self.start:%H:%M}",
            )
        if self.break_minutes and self.break_window is None:
            raise Invalid("有休息时长就须给出 break_window", "a break needs a break_window")
        if self.break_window is not None:
            w = self.break_window
            if not (self.start <= w.start and w.end <= self.end):
                raise Invalid("break_window 须在班次之内", "break_window must lie inside the shift")
            if _minutes(w.end) - _minutes(w.start) < self.break_minutes:
                raise Invalid("break_window 短于 break_minutes", "break_window is shorter than break_minutes")
        return self

    def paid_minutes(self) -> int:
        total = _minutes(self.end) - _minutes(self.start)
        return total if self.paid_break else total - self.break_minutes


def _default_shifts() -> list[ShiftTemplate]:
    return [
        ShiftTemplate(
            id="full",
            name="全天班",
            name_en="Full day",
            start=time(8, 45),
            end=time(17, 15),
            break_minutes=60,
            break_window=Period(start=time(11, 30), end=time(14, 0)),
        ),
        ShiftTemplate(id="morning", name="上午班", name_en="Morning", start=time(8, 45), end=time(12, 45)),
        ShiftTemplate(id="afternoon", name="下午班", name_en="Afternoon", start=time(13, 15), end=time(17, 15)),
    ]


class RosterWeights(_Model):
    """How the roster trades its goals off (per 15 minutes of one clerk)."""

    under_cover: float = Field(default=100, ge=0)
    over_cover: float = Field(default=2, ge=0)
    paid_hour: float = Field(default=4, ge=0)
    category_switch: float = Field(default=3, ge=0)
    preference: float = Field(default=10, ge=0)
    fairness: float = Field(default=5, ge=0)


class RosterSettings(_Model):
    """Weekly roster (排班) settings: shift templates, shrinkage, hall limits, objective weights."""

    interval_minutes: Literal[15, 30] = 15
    # Share of rostered time lost to absence and unplanned duties (breaks are planned explicitly).
    shrinkage: float = Field(default=0.15, ge=0, lt=1)
    # 不允许出现空岗: while open, each category with demand has at least this many clerks.
    min_cover: int = Field(default=1, ge=0, le=5)
    shifts: list[ShiftTemplate] = Field(default_factory=_default_shifts, min_length=1)
    # Staffed windows per zone at once; a zone not listed may use all of its windows.
    zone_windows: dict[str, int] = Field(default_factory=dict)
    weights: RosterWeights = Field(default_factory=RosterWeights)
    # Shift pairs nobody may work on consecutive days, e.g. [late, early] (a late shift,
    # then an early one the next morning).
    forbidden_successions: list[tuple[str, str]] = Field(default_factory=list)
    # Share of each interval's staffing need that is a hard requirement (0: only min_cover).
    hard_cover: float = Field(default=0, ge=0, le=1)
    # Staffing needs follow the arrivals with a lag (more clerks just after a rush).
    lag_correction: bool = True

    def shift(self, shift_id: str) -> ShiftTemplate:
        for s in self.shifts:
            if s.id == shift_id:
                return s
        raise KeyError(shift_id)


class RebalanceSettings(_Model):
    """Live rebalancing (动态调岗): how far ahead to look and what a move costs."""

    horizon_minutes: int = Field(default=60, ge=15, le=240)
    # Minutes of service lost when a clerk walks to another window and logs in.
    switch_cost_minutes: float = Field(default=5, ge=0)
    # A clerk who moved (or whose window changed status) less than this ago stays put.
    min_stay_minutes: float = Field(default=30, ge=0)
    max_moves: int = Field(default=3, ge=1, le=20)
    # Recommend only when the predicted mean wait falls by at least this much.
    min_gain_minutes: float = Field(default=1, ge=0)
    mode: Literal["advise", "auto"] = "advise"


class LiveTwinSettings(_Model):
    """The live twin (实时仿真预测): the server simulates the hall forward from its live
    state and reports each waiting ticket's wait as a median and 90th percentile.

    ``reps`` futures per forecast over ``horizon_minutes``; a new forecast at most every
    ``refresh_seconds``, and only after the hall changed. Off by default. When on, the
    live rebalancer also checks its plans on the twin.
    """

    enabled: bool = False
    reps: int = Field(default=200, ge=1, le=5000)
    horizon_minutes: float = Field(default=120, gt=0, le=24 * 60)
    refresh_seconds: float = Field(default=30, gt=0)


class SimulationSettings(_Model):
    """Behaviour the simulation needs beyond the live configuration (all optional).

    ``hall_capacity``: people the hall holds; a citizen arriving to a full hall leaves
    (balking). ``call_timeout_minutes``: how long a clerk waits for a called citizen
    before marking 过号. ``no_show_return_probability``: share of no-shows who come back
    within ``no_show_recall_minutes`` and are recalled at the same window.
    ``priority_share``: share of arrivals in each priority group. ``appointment_share``:
    share of arrivals holding an appointment for the slot they arrive in.
    ``live_twin``: see :class:`LiveTwinSettings`.
    """

    hall_capacity: int | None = Field(default=None, gt=0)
    call_timeout_minutes: float = Field(default=1.0, ge=0)
    no_show_return_probability: float = Field(default=0.5, ge=0, le=1)
    priority_share: dict[str, float] = Field(default_factory=dict)
    appointment_share: float = Field(default=0.0, ge=0, le=1)
    live_twin: LiveTwinSettings = Field(default_factory=LiveTwinSettings)

    @model_validator(mode="after")
    def _shares(self) -> SimulationSettings:
        if any(v < 0 for v in self.priority_share.values()):
            raise Invalid("priority_share 的值须 ≥ 0", "priority_share values must be >= 0")
        if sum(self.priority_share.values()) + self.appointment_share > 1 + 1e-9:
            raise Invalid(
                "priority_share 与 appointment_share 之和超过 1",
                "priority_share plus appointment_share add up to more than 1",
            )
        return self


class Hall(_Model):
    id: Slug
    name: str
    name_en: str = ""
    example: bool = False
    timezone: str = "Asia/Shanghai"
    hours: Hours
    ticket_number_width: int = Field(default=3, ge=2, le=5)
    no_show_recall_minutes: float = Field(default=10, ge=0)
    policy: Policy = Field(default_factory=Policy)
    announcements: Announcements = Field(default_factory=Announcements)
    targets: Targets = Field(default_factory=Targets)
    priority_groups: list[PriorityGroup] = Field(default_factory=list)
    zones: list[Zone] = Field(min_length=1)
    window_classes: list[WindowClass] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    windows: list[Window] = Field(min_length=1)
    clerks: list[Clerk] = Field(default_factory=list)
    demand: Demand | None = None
    appointments: Appointments = Field(default_factory=Appointments)
    remote_tickets: RemoteTickets = Field(default_factory=RemoteTickets)
    followups: FollowUps = Field(default_factory=FollowUps)
    roster: RosterSettings = Field(default_factory=RosterSettings)
    rebalance: RebalanceSettings = Field(default_factory=RebalanceSettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Invalid(f"未知时区 {value!r}", f"unknown time zone {value!r}") from exc
        return value

    # Lookups used everywhere; cheap enough to compute on demand.
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def category(self, category_id: str) -> Category:
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise KeyError(category_id)

    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def window(self, number: int) -> Window:
        for win in self.windows:
            if win.number == number:
                return win
        raise KeyError(number)

    def window_class(self, class_id: str) -> WindowClass:
        for wc in self.window_classes:
            if wc.id == class_id:
                return wc
        raise KeyError(class_id)

    def window_categories(self, number: int) -> list[str]:
        """Categories window ``number`` accepts: its own list, else its class's."""
        win = self.window(number)
        return list(win.categories or self.window_class(win.window_class).categories)

    def clerk(self, clerk_id: str) -> Clerk:
        for clerk in self.clerks:
            if clerk.id == clerk_id:
                return clerk
        raise KeyError(clerk_id)

    def priority_group(self, group_id: str) -> PriorityGroup:
        for group in self.priority_groups:
            if group.id == group_id:
                return group
        raise KeyError(group_id)

    def zone(self, zone_id: str) -> Zone:
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise KeyError(zone_id)

    def arrival_rates(self, category_id: str, weekday: int = 0) -> list[float]:
        """Expected arrivals per interval of ``demand.interval_minutes`` for one category.

        The category's daily volume is spread over the day by its shape (or the hall's),
        times the weekday factor (``weekday`` 0 = Monday).
        """
        cat = self.category(category_id)
        shape = cat.arrival_shape or (self.demand.shape if self.demand else [1.0])
        total = sum(shape)
        factor = 1.0
        if self.demand:
            factor = self.demand.weekday_factors.get(WEEKDAYS[weekday], 1.0)
        return [cat.arrivals_per_day * factor * w / total for w in shape]

    def intervals_per_day(self) -> int:
        step = self.demand.interval_minutes if self.demand else 30
        return -(-(_minutes(self.hours.close) - _minutes(self.hours.open)) // step)

    def interval_start(self, index: int) -> time:
        step = self.demand.interval_minutes if self.demand else 30
        start = datetime.combine(date(2000, 1, 1), self.hours.open) + timedelta(minutes=step * index)
        return start.time()


class Storage(_Model):
    """Where the embedded store keeps its journal and how often it forces it to disk.

    ``fsync``: ``always`` (every command; survives power loss), ``everysec`` (at most
    about one second lost on power loss), ``never`` (left to the OS). A killed
    process loses nothing under any of them: the journal is written before a command
    is acknowledged.
    """

    data_dir: str = "data"
    fsync: Literal["always", "everysec", "never"] = "everysec"


class User(_Model):
    """Someone who logs in: a hall manager, a clerk (``id`` = the clerk's id in ``hall``), or a
    planner (规划员: the planner's workbench only; nothing on the live hall)."""

    id: Slug
    role: Literal["manager", "clerk", "planner"]
    hall: str | None = None  # a manager without a hall manages every hall
    name: str = ""
    password_hash: str = Field(pattern=r"^scrypt\$")


class Device(_Model):
    """A kiosk (取号机), display (board / window screen) or rating pad (评价器) of a hall.

    Its token is derived from the deployment's secret: ``hallq device-token ID``.
    """

    id: Slug
    role: Literal["kiosk", "display", "pad"]
    hall: str
    window: int | None = None  # a rating pad belongs to one window


class RateLimits(_Model):
    tickets_per_device_per_minute: int = Field(default=120, gt=0)
    tickets_per_phone_per_day: int = Field(default=3, gt=0)
    tickets_per_address_per_hour: int = Field(default=20, gt=0)


class Auth(_Model):
    session_minutes: int = Field(default=600, gt=0, le=7 * 24 * 60)
    users: list[User] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    rate_limits: RateLimits = Field(default_factory=RateLimits)


class Deployment(_Model):
    storage: Storage = Field(default_factory=Storage)
    auth: Auth = Field(default_factory=Auth)
    halls: list[Hall] = Field(min_length=1)

    def hall(self, hall_id: str) -> Hall:
        for hall in self.halls:
            if hall.id == hall_id:
                return hall
        raise KeyError(hall_id)


def _check_references(dep: Deployment) -> list[ConfigIssue]:
    """Cross-references pydantic cannot see: every name used must be defined once."""
    issues: list[ConfigIssue] = []

    def dupes(path: str, values: list[Any], what: str) -> None:
        seen: set[Any] = set()
        for i, v in enumerate(values):
            if v in seen:
                issues.append(
                    ConfigIssue(f"{path}[{i}]", f"duplicate {what} {v!r}", f"重复的{WHAT_ZH.get(what, what)} {v!r}")
                )
            seen.add(v)

    dupes("halls", [h.id for h in dep.halls], "hall id")
    hall_ids = {h.id for h in dep.halls}
    dupes("auth.users", [u.id for u in dep.auth.users], "user id")
    dupes("auth.devices", [d.id for d in dep.auth.devices], "device id")
    for i, user in enumerate(dep.auth.users):
        if user.hall is not None and user.hall not in hall_ids:
            issues.append(
                ConfigIssue(f"auth.users[{i}].hall", f"unknown hall {user.hall!r}", f"未知大厅 {user.hall!r}")
            )
        elif user.role == "clerk":
            if user.hall is None and len(dep.halls) > 1:
                issues.append(
                    ConfigIssue(
                        f"auth.users[{i}].hall", "a clerk belongs to one hall; name it", "窗口人员属于一个大厅，请写明"
                    )
                )
            hall = dep.hall(user.hall) if user.hall else dep.halls[0]
            if hall.clerks and user.id not in {c.id for c in hall.clerks}:
                issues.append(
                    ConfigIssue(
                        f"auth.users[{i}].id",
                        f"no clerk {user.id!r} in hall {hall.id!r}",
                        f"大厅 {hall.id!r} 没有人员 {user.id!r}",
                    )
                )
    for i, device in enumerate(dep.auth.devices):
        if device.hall not in hall_ids:
            issues.append(
                ConfigIssue(f"auth.devices[{i}].hall", f"unknown hall {device.hall!r}", f"未知大厅 {device.hall!r}")
            )
        elif device.window is not None and device.window not in {w.number for w in dep.hall(device.hall).windows}:
            issues.append(
                ConfigIssue(f"auth.devices[{i}].window", f"unknown window {device.window}", f"未知窗口 {device.window}")
            )
    for h_i, hall in enumerate(dep.halls):
        p = f"halls[{h_i}]" if len(dep.halls) > 1 else ""

        def at(rest: str, p: str = p) -> str:
            return f"{p}.{rest}" if p else rest

        cats = {c.id for c in hall.categories}
        zones = {z.id for z in hall.zones}
        classes = {w.id for w in hall.window_classes}
        dupes(at("zones"), [z.id for z in hall.zones], "zone id")
        dupes(at("categories"), [c.id for c in hall.categories], "category id")
        dupes(at("categories"), [c.prefix for c in hall.categories], "ticket prefix")
        dupes(at("window_classes"), [w.id for w in hall.window_classes], "window class id")
        dupes(at("windows"), [w.number for w in hall.windows], "window number")
        dupes(at("clerks"), [c.id for c in hall.clerks], "clerk id")
        dupes(at("priority_groups"), [g.id for g in hall.priority_groups], "priority group id")
        for i, cat in enumerate(hall.categories):
            if cat.zone not in zones:
                issues.append(
                    ConfigIssue(at(f"categories[{i}].zone"), f"unknown zone {cat.zone!r}", f"未知分区 {cat.zone!r}")
                )
            for j, step in enumerate(cat.journey):
                if step.category not in cats:
                    issues.append(
                        ConfigIssue(
                            at(f"categories[{i}].journey[{j}].category"),
                            f"unknown category {step.category!r}",
                            f"未知事项 {step.category!r}",
                        )
                    )
            if sum(s.probability for s in cat.journey) > 1 + 1e-9:
                issues.append(
                    ConfigIssue(at(f"categories[{i}].journey"), "probabilities add up to more than 1", "概率之和超过 1")
                )
            if hall.demand and cat.arrival_shape and len(cat.arrival_shape) != len(hall.demand.shape):
                issues.append(
                    ConfigIssue(
                        at(f"categories[{i}].arrival_shape"),
                        f"has {len(cat.arrival_shape)} intervals, demand.shape has {len(hall.demand.shape)}",
                        f"有 {len(cat.arrival_shape)} 个时段，demand.shape 有 {len(hall.demand.shape)} 个",
                    )
                )
        managers = {u.id for u in dep.auth.users if u.role == "manager" and u.hall in (None, hall.id)}
        if dep.auth.users and hall.followups.owner not in managers:
            issues.append(
                ConfigIssue(
                    at("followups.owner"),
                    f"no manager {hall.followups.owner!r} in auth.users",
                    f"auth.users 中没有管理人员 {hall.followups.owner!r}",
                )
            )
        for c in hall.appointments.categories or []:
            if c not in cats:
                issues.append(ConfigIssue(at("appointments.categories"), f"unknown category {c!r}", f"未知事项 {c!r}"))
        for i, wc in enumerate(hall.window_classes):
            for c in wc.categories:
                if c not in cats:
                    issues.append(
                        ConfigIssue(at(f"window_classes[{i}].categories"), f"unknown category {c!r}", f"未知事项 {c!r}")
                    )
        for i, win in enumerate(hall.windows):
            if win.zone not in zones:
                issues.append(
                    ConfigIssue(at(f"windows[{i}].zone"), f"unknown zone {win.zone!r}", f"未知分区 {win.zone!r}")
                )
            if win.window_class not in classes:
                issues.append(
                    ConfigIssue(
                        at(f"windows[{i}].class"),
                        f"unknown window class {win.window_class!r}",
                        f"未知窗口类别 {win.window_class!r}",
                    )
                )
            elif win.categories is not None:
                allowed = set(hall.window_class(win.window_class).categories)
                for c in win.categories:
                    if c not in cats:
                        issues.append(
                            ConfigIssue(at(f"windows[{i}].categories"), f"unknown category {c!r}", f"未知事项 {c!r}")
                        )
                    elif c not in allowed:
                        issues.append(
                            ConfigIssue(
                                at(f"windows[{i}].categories"),
                                f"category {c!r} is not served by window class {win.window_class!r}",
                                f"窗口类别 {win.window_class!r} 不办理事项 {c!r}",
                            )
                        )
        served = {c for win in hall.windows if win.window_class in classes for c in _win_cats(hall, win)}
        for i, cat in enumerate(hall.categories):
            if cat.id not in served:
                issues.append(
                    ConfigIssue(
                        at(f"categories[{i}]"), f"no window serves category {cat.id!r}", f"没有窗口办理事项 {cat.id!r}"
                    )
                )
        numbers = {w.number for w in hall.windows}
        shift_ids_list = [sh.id for sh in hall.roster.shifts]
        shift_ids = set(shift_ids_list)
        for i, clerk in enumerate(hall.clerks):
            for c in clerk.skills:
                if c not in cats:
                    issues.append(ConfigIssue(at(f"clerks[{i}].skills"), f"unknown category {c!r}", f"未知事项 {c!r}"))
            if clerk.home_window is not None and clerk.home_window not in numbers:
                issues.append(
                    ConfigIssue(
                        at(f"clerks[{i}].home_window"),
                        f"unknown window {clerk.home_window}",
                        f"未知窗口 {clerk.home_window}",
                    )
                )
            if clerk.min_hours_per_week > clerk.max_hours_per_week:
                issues.append(
                    ConfigIssue(
                        at(f"clerks[{i}].min_hours_per_week"), "is above max_hours_per_week", "高于 max_hours_per_week"
                    )
                )
            for field_name in ("shifts", "preferred_shifts", "max_shifts"):
                for s_id in getattr(clerk, field_name) or []:
                    if s_id not in shift_ids:
                        issues.append(
                            ConfigIssue(
                                at(f"clerks[{i}].{field_name}"), f"unknown shift {s_id!r}", f"未知班次 {s_id!r}"
                            )
                        )
            issues += _contract_issues(at(f"clerks[{i}]"), clerk, shift_ids)
        dupes(at("roster.shifts"), list(shift_ids_list), "shift id")
        for j, pair in enumerate(hall.roster.forbidden_successions):
            for s_id in pair:
                if s_id not in shift_ids:
                    issues.append(
                        ConfigIssue(
                            at(f"roster.forbidden_successions[{j}]"), f"unknown shift {s_id!r}", f"未知班次 {s_id!r}"
                        )
                    )
        for zone_id, count in hall.roster.zone_windows.items():
            if zone_id not in zones:
                issues.append(
                    ConfigIssue(
                        at(f"roster.zone_windows.{zone_id}"), f"unknown zone {zone_id!r}", f"未知分区 {zone_id!r}"
                    )
                )
            elif count < 0:
                issues.append(ConfigIssue(at(f"roster.zone_windows.{zone_id}"), "must not be negative", "不能为负"))
        groups = {g.id for g in hall.priority_groups}
        for g in hall.simulation.priority_share:
            if g not in groups:
                issues.append(
                    ConfigIssue(at("simulation.priority_share"), f"unknown priority group {g!r}", f"未知优先群体 {g!r}")
                )
        if hall.demand:
            expected = hall.intervals_per_day()
            if len(hall.demand.shape) != expected:
                issues.append(
                    ConfigIssue(
                        at("demand.shape"),
                        f"has {len(hall.demand.shape)} intervals; opening hours need {expected} "
                        f"of {hall.demand.interval_minutes} minutes",
                        f"有 {len(hall.demand.shape)} 个时段；办公时间需要 {expected} 个"
                        f" {hall.demand.interval_minutes} 分钟的时段",
                    )
                )
    return issues


def _contract_issues(path: str, clerk: Clerk, shift_ids: set[str]) -> list[ConfigIssue]:
    """A contract's cross-day rules that contradict each other or name an unknown shift."""
    issues = []
    low, high = clerk.min_consecutive_days, clerk.max_consecutive_days
    if low is not None and high is not None and low > high:
        issues.append(
            ConfigIssue(
                f"{path}.min_consecutive_days",
                f"{low} is above max_consecutive_days {high}",
                f"{low} 高于 max_consecutive_days {high}",
            )
        )
    for j, req in enumerate(clerk.requests):
        if req.shift is not None and req.shift not in shift_ids:
            issues.append(
                ConfigIssue(f"{path}.requests[{j}].shift", f"unknown shift {req.shift!r}", f"未知班次 {req.shift!r}")
            )
    return issues


def _win_cats(hall: Hall, win: Window) -> list[str]:
    return list(win.categories or hall.window_class(win.window_class).categories)


WHAT_ZH = {
    "hall id": "大厅编号",
    "user id": "用户编号",
    "device id": "设备编号",
    "zone id": "分区编号",
    "category id": "事项编号",
    "ticket prefix": "票号前缀",
    "window class id": "窗口类别编号",
    "window number": "窗口号",
    "clerk id": "人员编号",
    "priority group id": "优先群体编号",
    "shift id": "班次编号",
}

# pydantic's error types in Chinese ({…} are filled from the error's ctx)
_PYDANTIC_ZH = {
    "missing": "必填项缺失",
    "extra_forbidden": "未知字段（请检查拼写）",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须大于或等于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须小于或等于 {le}",
    "int_type": "须为整数",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数",
    "float_type": "须为数字",
    "float_parsing": "须为数字",
    "finite_number": "须为有限数字",
    "bool_type": "须为 true 或 false",
    "bool_parsing": "须为 true 或 false",
    "string_type": "须为文本",
    "string_too_short": "文本过短（至少 {min_length} 个字符）",
    "string_too_long": "文本过长（至多 {max_length} 个字符）",
    "string_pattern_mismatch": "格式不符（应匹配 {pattern}）",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "至多 {max_length} 项",
    "literal_error": "须为以下之一：{expected}",
    "enum": "须为以下之一：{expected}",
    "dict_type": "须为映射（键: 值）",
    "list_type": "须为列表",
    "model_type": "须为映射（键: 值）",
    "model_attributes_type": "须为映射（键: 值）",
    "date_type": "须为日期 YYYY-MM-DD",
    "date_parsing": "须为日期 YYYY-MM-DD",
    "date_from_datetime_parsing": "须为日期 YYYY-MM-DD",
    "date_from_datetime_inexact": "须为日期 YYYY-MM-DD",
    "time_type": "须为时刻，如 09:00",
    "time_parsing": "须为时刻，如 09:00",
    "none_required": "须为空",
}


def pydantic_zh(err: Any) -> str:
    """The Chinese text of one pydantic error ("" when there is none)."""
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):
        return cause.zh
    template = _PYDANTIC_ZH.get(err["type"], "")
    ctx = {
        k: int(v) if isinstance(v, float) and v.is_integer() else str(v).replace("' or '", "' 或 '")
        for k, v in (err.get("ctx") or {}).items()
    }
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return template.split("{")[0].rstrip("（ ：")


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def parse_config(raw: Any, source: str = "") -> Deployment:
    """Validate an already-parsed YAML document; raise :class:`ConfigError` on any problem."""
    if not isinstance(raw, dict):
        raise ConfigError(
            [
                ConfigIssue(
                    "", "the file must hold a mapping (a hall, or 'halls:')", "文件须为映射（一个大厅，或 'halls:'）"
                )
            ],
            source,
        )
    single = "halls" not in raw
    doc = dict(raw)
    if single:
        shared = {key: doc.pop(key) for key in ("storage", "auth") if key in doc}
        doc = {"halls": [doc]} | shared
    try:
        dep = Deployment.model_validate(doc)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if single and loc[:2] == ("halls", 0):
                loc = loc[2:]
            # pydantic puts the failing union member / validator name in loc; drop those
            loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check its spelling)"
            issues.append(ConfigIssue(_loc(loc), msg, pydantic_zh(err)))
        raise ConfigError(issues, source) from None
    problems = _check_references(dep)
    if problems:
        raise ConfigError(problems, source)
    return dep


def load_config(path: str | Path) -> Deployment:
    """Read and validate a deployment file. Every failure is a :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue("", "file not found", "找不到文件")], str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue("", f"cannot read the file: {exc}", "无法读取文件")], str(p)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(where, f"not valid YAML: {problem}", "不是有效的 YAML")], str(p)) from None
    dep = parse_config(raw, str(p))
    data_dir = Path(dep.storage.data_dir)
    if not data_dir.is_absolute():  # relative to the file, not to wherever the command runs
        storage = dep.storage.model_copy(update={"data_dir": str(p.resolve().parent / data_dir)})
        dep = dep.model_copy(update={"storage": storage})
    return dep
