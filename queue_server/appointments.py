"""Appointment slots (预约号源): how many bookings each slot of a day can take.

A slot's capacity comes from the windows on duty for the category: each window's
``slot_minutes`` are split among the categories it serves by their daily volumes
(``arrivals_per_day``), divided by the category's mean service time, and only
``1 - walk_in_share`` of that is offered for booking — the rest stays for walk-ins.

Which windows are on duty is a seam: :data:`WindowsOnDuty` defaults to every
configured window; the scheduler's weekly roster can be passed in instead.
Everything here is pure: the same hall, state and moment give the same slots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .config import Hall
from .model import HallState, slot_key

# (day, slot start) -> window numbers staffed then. The default: every configured window.
WindowsOnDuty = Callable[[date, time], Iterable[int]]


def all_windows(hall: Hall) -> WindowsOnDuty:
    numbers = [w.number for w in hall.windows]
    return lambda day, start: numbers


@dataclass(frozen=True, slots=True)
class Slot:
    category: str
    day: date
    start: float  # epoch seconds
    end: float
    capacity: int
    booked: int

    @property
    def left(self) -> int:
        return max(0, self.capacity - self.booked)

    def as_dict(self, hall: Hall) -> dict[str, object]:
        tz = hall.tz
        return {
            "category": self.category,
            "day": self.day.isoformat(),
            "start": self.start,
            "end": self.end,
            "label": f"{datetime.fromtimestamp(self.start, tz):%H:%M}–{datetime.fromtimestamp(self.end, tz):%H:%M}",
            "capacity": self.capacity,
            "booked": self.booked,
            "left": self.left,
        }


def bookable(hall: Hall, category: str) -> bool:
    cats = hall.appointments.categories
    return hall.appointments.enabled and (cats is None or category in cats)


def _window_share(hall: Hall, number: int, category: str) -> float:
    """The part of window ``number``'s time that goes to ``category`` (0 when it does not serve it)."""
    cats = hall.window_categories(number)
    if category not in cats:
        return 0.0
    volumes = [hall.category(c).arrivals_per_day for c in cats]
    total = sum(volumes)
    if total <= 0:
        return 1 / len(cats)
    return hall.category(category).arrivals_per_day / total


def slot_capacity(hall: Hall, category: str, day: date, start: time, on_duty: WindowsOnDuty | None = None) -> int:
    """Bookings a slot of ``category`` starting at ``start`` on ``day`` may take."""
    duty = (on_duty or all_windows(hall))(day, start)
    cfg = hall.appointments
    mean = hall.category(category).service_time.mean
    served = sum(_window_share(hall, n, category) for n in duty) * cfg.slot_minutes / mean
    return math.floor(served * (1 - cfg.walk_in_share) + 1e-9)


def slot_starts(hall: Hall) -> list[time]:
    """Slot start times of a working day: whole slots inside the service periods (lunch excluded)."""
    step = timedelta(minutes=hall.appointments.slot_minutes)
    out = []
    for begin, end in hall.hours.service_periods():
        t = datetime.combine(date(2000, 1, 1), begin)
        stop = datetime.combine(date(2000, 1, 1), end)
        while t + step <= stop:
            out.append(t.time())
            t += step
    return out


def local_day(hall: Hall, now: float) -> date:
    return datetime.fromtimestamp(now, hall.tz).date()


def last_bookable_day(hall: Hall, now: float) -> date:
    return hall.hours.add_working_days(local_day(hall, now), hall.appointments.days_ahead)


def day_slots(
    hall: Hall, state: HallState, category: str, day: date, now: float, on_duty: WindowsOnDuty | None = None
) -> list[Slot]:
    """The slots of ``category`` on ``day`` that start after ``now`` (empty on closed days)."""
    if not bookable(hall, category) or not hall.hours.is_working_day(day):
        return []
    minutes = hall.appointments.slot_minutes * 60
    out = []
    for start in slot_starts(hall):
        begin = datetime.combine(day, start, hall.tz).timestamp()
        if begin <= now:
            continue
        cap = slot_capacity(hall, category, day, start, on_duty)
        out.append(
            Slot(category, day, begin, begin + minutes, cap, state.slot_booked.get(slot_key(category, begin), 0))
        )
    return out


def no_shows(hall: Hall, state: HallState, person: str, now: float) -> list[str]:
    """Days within the look-back window on which ``person`` booked and never checked in."""
    cfg = hall.appointments
    since = now - cfg.no_show_window_days * 86400
    missed = [
        b.day
        for b in state.bookings.values()
        if b.person == person
        and b.state == "booked"
        and since <= b.slot_start
        and b.slot_start + cfg.late_minutes * 60 < now
    ]
    return sorted(missed)


def restricted_until(hall: Hall, state: HallState, person: str, now: float) -> date | None:
    """The first day ``person`` may book again after repeated no-shows, or None when not restricted."""
    cfg = hall.appointments
    missed = no_shows(hall, state, person, now)
    if len(missed) < cfg.no_show_limit:
        return None
    until = date.fromisoformat(missed[-1]) + timedelta(days=cfg.restriction_days + 1)
    return until if until > local_day(hall, now) else None
