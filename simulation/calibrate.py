"""Calibration: fit the model's inputs from a hall's event export.

From the events of ``hallq events export`` (one JSON event per line) this fits,
per category:

- **arrivals**: tickets issued per day, corrected by the weekday factors, which
  are fitted from the daily totals; the hall's arrival profile over the day
  (``demand.shape``) from the issue times of all tickets;
- **service time**: a lognormal by maximum likelihood on the logs of
  ``service_seconds`` of finished services, each first multiplied by the
  proficiency of the clerk who served it (so the fit is the nominal time);
- **patience**: the mean of an exponential patience by maximum likelihood with
  censoring — abandonments (``ticket.cancelled`` of a waiting ticket) divided
  into the total time tickets spent waiting, called or not;
- **no-show rate** (过号 per first call) and **journey** probabilities
  (transfers to the next category per finished service).

:func:`fit` returns the figures; :func:`apply_fit` writes them into a copy of the
configuration. Categories with too few observations keep their configured value
and the report says so.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from queue_server.config import WEEKDAYS, Hall, parse_config
from queue_server.errors import HallqError
from queue_server.model import Event

from .distributions import lognormal_moments
from .model import minutes_of

MIN_SERVICES = 20
MIN_ABANDONS = 10


@dataclass
class CategoryFit:
    arrivals_per_day: float | None = None
    service_mu: float | None = None
    service_sigma: float | None = None
    services: int = 0
    patience_minutes: float | None = None
    abandons: int = 0
    no_show_rate: float | None = None
    journey: dict[str, float] = field(default_factory=dict)

    @property
    def service_mean_sd(self) -> tuple[float, float] | None:
        if self.service_mu is None or self.service_sigma is None:
            return None
        return lognormal_moments(self.service_mu, self.service_sigma)


@dataclass
class Fit:
    hall: str
    days: list[str]
    weekday_factors: dict[str, float]
    shape: list[float]
    categories: dict[str, CategoryFit]


def read_events(path: str | Path) -> list[Event]:
    """Events of a JSONL export; a bad line is an error naming its line number."""
    events = []
    try:
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    e = Event.from_json(line)
                    e.at  # noqa: B018 - the timestamp must parse
                except (ValueError, TypeError, KeyError) as exc:
                    raise HallqError(
                        f"事件文件第{no}行无法解析 ({path} line {no}: not an exported event: {exc})"
                    ) from None
                events.append(e)
    except OSError as exc:
        raise HallqError(f"无法读取事件文件 (cannot read {path}): {exc}") from None
    if not events:
        raise HallqError(f"事件文件为空 ({path} holds no events)")
    return events


def fit(hall: Hall, events: list[Event]) -> Fit:
    tz = hall.tz
    step = hall.demand.interval_minutes if hall.demand else 30
    n_int = hall.intervals_per_day()
    open_min = minutes_of(hall.hours.open)
    cats = hall.category_ids()
    known = set(cats)
    issued: dict[str, tuple[str, float]] = {}  # ticket -> (category, queue entry epoch)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    shape = np.zeros(n_int)
    exposure: dict[str, float] = defaultdict(float)
    abandons: Counter[str] = Counter()
    logs: dict[str, list[float]] = defaultdict(list)
    first_calls: Counter[str] = Counter()
    no_shows: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    transfers: dict[str, Counter[str]] = defaultdict(Counter)
    waiting: dict[str, tuple[str, float]] = {}  # ticket -> (category, since)
    called_once: set[tuple[str, str]] = set()
    last_of_day: dict[str, float] = {}
    skills = {c.id: c.skills for c in hall.clerks}
    for e in events:
        d, at = e.data, e.at
        if e.type == "ticket.issued":
            cat = d["category"]
            if cat not in known:
                continue
            local = datetime.fromtimestamp(at, tz)
            per_day[d["day"]][cat] += 1
            k = int((local.hour * 60 + local.minute + local.second / 60 - open_min) // step)
            if 0 <= k < n_int:
                shape[k] += 1
            issued[d["ticket"]] = (cat, at)
            waiting[d["ticket"]] = (cat, at)
        elif e.type in ("ticket.called", "ticket.cancelled"):
            w = waiting.pop(d["ticket"], None)
            if w is None:
                continue
            exposure[w[0]] += (at - w[1]) / 60
            if e.type == "ticket.cancelled":
                abandons[w[0]] += 1
            elif (d["ticket"], w[0]) not in called_once:
                called_once.add((d["ticket"], w[0]))
                first_calls[w[0]] += 1
        elif e.type == "ticket.no_show":
            no_shows[d["category"]] += 1 if (d["ticket"], d["category"]) in called_once else 0
        elif e.type == "ticket.finished":
            cat = d["category"]
            finished[cat] += 1
            secs = d.get("service_seconds")
            if secs and secs > 0:
                prof = skills.get(d.get("clerk") or "", {}).get(cat, 1.0)
                logs[cat].append(math.log(secs * prof / 60))
        elif e.type == "ticket.transferred":
            transfers[d["from_category"]][d["to_category"]] += 1
            waiting[d["ticket"]] = (d["to_category"], at)
        if e.type.startswith("ticket.") and "ticket" in d and d["ticket"] in issued:
            day = d["ticket"].split("-")[0]
            last_of_day[day] = max(last_of_day.get(day, at), at)
    # Tickets still waiting when their day's events end are censored there.
    for ticket, (cat, since) in waiting.items():
        end = last_of_day.get(ticket.split("-")[0], since)
        exposure[cat] += max(0.0, end - since) / 60
    days = sorted(per_day)
    totals = {day: sum(per_day[day].values()) for day in days}
    weekday_of = {day: WEEKDAYS[datetime.fromisoformat(day).weekday()] for day in days}
    mean_total = float(np.mean(list(totals.values()))) if totals else 0.0
    factors: dict[str, float] = {}
    for wd in WEEKDAYS:
        mine = [totals[d] for d in days if weekday_of[d] == wd]
        if mine and mean_total > 0:
            factors[wd] = round(float(np.mean(mine)) / mean_total, 3)
    out: dict[str, CategoryFit] = {}
    for cat in cats:
        cf = CategoryFit()
        if days:
            cf.arrivals_per_day = float(np.mean([per_day[d][cat] / factors.get(weekday_of[d], 1.0) for d in days]))
        lg = logs.get(cat, [])
        cf.services = len(lg)
        if len(lg) >= MIN_SERVICES:
            cf.service_mu, cf.service_sigma = float(np.mean(lg)), float(np.std(lg, ddof=1))
        cf.abandons = abandons[cat]
        if abandons[cat] >= MIN_ABANDONS:
            cf.patience_minutes = exposure[cat] / abandons[cat]
        if first_calls[cat]:
            cf.no_show_rate = no_shows[cat] / first_calls[cat]
        if finished[cat]:
            cf.journey = {to: n / finished[cat] for to, n in transfers[cat].items()}
        out[cat] = cf
    total_shape = shape / shape.sum() if shape.sum() else shape
    return Fit(hall.id, days, factors, [round(float(x), 4) for x in total_shape], out)


def apply_fit(raw: dict[str, Any], hall_id: str, result: Fit) -> dict[str, Any]:
    """A copy of the raw configuration document with the fitted figures written in."""
    doc = json.loads(json.dumps(raw, default=str))
    halls = doc.get("halls", [doc])
    target = next((h for h in halls if h.get("id") == hall_id), None)
    if target is None:
        raise HallqError(f"配置中没有大厅 {hall_id!r} (the events are of hall {hall_id!r}, not in the configuration)")
    demand = target.setdefault("demand", {})
    demand["shape"] = result.shape
    demand["weekday_factors"] = result.weekday_factors
    for c in target["categories"]:
        cf = result.categories.get(c["id"])
        if cf is None:
            continue
        if cf.arrivals_per_day is not None:
            c["arrivals_per_day"] = round(cf.arrivals_per_day, 2)
        ms = cf.service_mean_sd
        if ms is not None:
            c["service_time"] = {"distribution": "lognormal", "mean": round(ms[0], 3), "sd": round(ms[1], 3)}
        if cf.patience_minutes is not None:
            c["patience_minutes"] = round(cf.patience_minutes, 2)
        if cf.no_show_rate is not None:
            c["no_show_rate"] = round(cf.no_show_rate, 4)
        if cf.journey:
            c["journey"] = [{"category": k, "probability": round(min(v, 1.0), 4)} for k, v in cf.journey.items()]
        c.pop("arrival_shape", None)  # the hall's fitted profile serves every category
    return doc


def calibrate_file(events_path: str, config_path: str, out_path: str, hall_id: str | None = None) -> list[str]:
    """Fit ``events_path`` against ``config_path`` and write the calibrated configuration; returns report lines."""
    try:
        raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HallqError(f"无法读取配置 (cannot read {config_path}): {exc}") from None
    dep = parse_config(raw, config_path)
    events = read_events(events_path)
    hall_id = hall_id or events[0].hall
    try:
        hall = dep.hall(hall_id)
    except KeyError:
        raise HallqError(f"配置中没有大厅 {hall_id!r} (no hall {hall_id!r} in {config_path})") from None
    result = fit(hall, [e for e in events if e.hall == hall_id])
    doc = apply_fit(raw, hall_id, result)
    parse_config(doc, out_path)  # what we write must load
    Path(out_path).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lines = [f"大厅 hall {hall_id}: {len(result.days)} 天 days, {len(events)} 事件 events"]
    for cid, cf in result.categories.items():
        ms = cf.service_mean_sd
        svc = f"{ms[0]:.1f}±{ms[1]:.1f} min" if ms else f"— (only {cf.services} services, kept)"
        pat = f"{cf.patience_minutes:.1f} min" if cf.patience_minutes else f"— ({cf.abandons} abandons, kept)"
        lines.append(f"  {cid}: {cf.arrivals_per_day or 0:.1f}/day, service {svc}, patience {pat}")
    return lines
