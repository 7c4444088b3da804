"""The planner's workbench (规划工作台): scenarios on disk, a run queue, results and playback.

The server side of ``/plan`` (see ``queue_server/api_plan.py`` for the HTTP API):

* **Plans** are one hall's configuration in the YAML's own shape (``HALLDICT``, no
  ``storage``/``auth``) plus per-category **growth** factors on ``arrivals_per_day``.
  :func:`check_plan` validates them with :func:`queue_server.config.parse_config`, so
  errors carry the same field paths as ``hallq check-config``.
* **Scenarios** are saved plans, one JSON file each under
  ``<data_dir>/plan/scenarios/`` (:class:`ScenarioStore`).
* **Runs** (:class:`RunQueue`): one simulation or comparison at a time, up to
  :data:`MAX_WAITING` more waiting; the run directory is the queue, shared by every
  server process. Each runs in a separate worker process (the
  ``spawn`` start method; never in the server's event loop), which reports progress
  over a queue; cancelling a running run terminates that process. The worker writes
  the result (``<id>.result.json``) and, for a simulation, the HTML report of
  ``hallq simulate`` (``<id>.report.html``) under ``<data_dir>/plan/runs/``; they stay
  until deleted. The worker process stays up between runs (its imports take a second).
* **Playback** (:func:`playback`): from the simulation's per-step records, the mean
  number of people waiting per zone and each window's utilisation per 5 minutes.

Heavy imports (numpy, SimPy, matplotlib) happen in the worker process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import json
import logging
import math
import multiprocessing
import os
import queue as queue_mod
import re
import secrets
import tempfile
import threading
import time as time_mod
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from queue_server.config import Deployment, Hall, parse_config
from queue_server.errors import ConfigError, ConfigIssue, HallqError

log = logging.getLogger("hallq.plan")

MAX_WAITING = 3  # runs waiting behind the running one
MAX_GROWTH = 10.0
MAX_ARRIVALS_PER_DAY = 20000  # a plan's whole hall per day (growth applied): keeps a run's memory bounded
PLAYBACK_STEP = 5  # minutes
PLAYBACK_REP_DAYS = 400  # playback averages at most this many replication-days (memory of the records)
STUDY_WORKERS = 1  # run_study processes inside the worker: the server shares two cores with the hall
POLL_SECONDS = 0.1
IDLE_POLL_SECONDS = 0.25  # how soon a run added or changed by another server process is seen
RUN_ID = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{4}$")
LAYOUT_PER_ROW = 6
LAYOUT_SPACING = 3.0  # metres between windows
LAYOUT_MARGIN = 2.0
NAME_RE = re.compile(r"^[\w +\-.]{1,40}$")
FORBIDDEN_KEYS = ("storage", "auth", "halls")
ENDED = ("done", "failed", "cancelled")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------ plans (HALLDICT + growth)


def plain(value: Any) -> Any:
    """A dumped model as the YAML's own shape: times ``"HH:MM"``, dates ``"YYYY-MM-DD"``."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def with_layout(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` where every window has ``x``/``y`` (metres on the floor plan).

    Windows without a position get the default grid: zones side by side from left to
    right, each zone's windows in rows of :data:`LAYOUT_PER_ROW`, :data:`LAYOUT_SPACING`
    metres apart. Positions already given are kept.
    """
    out = copy.deepcopy(doc)
    windows = out.get("windows")
    zones = out.get("zones")
    if not isinstance(windows, list) or not isinstance(zones, list):
        return out
    zone_ids = [z.get("id") for z in zones if isinstance(z, dict)]
    members: dict[Any, list[dict[str, Any]]] = {z: [] for z in zone_ids}
    for w in windows:
        if isinstance(w, dict):
            members.setdefault(w.get("zone"), []).append(w)
    x0 = LAYOUT_MARGIN
    for zone in [*zone_ids, *[z for z in members if z not in zone_ids]]:
        mine = members.get(zone, [])
        for k, w in enumerate(mine):
            if not isinstance(w.get("x"), int | float) or not isinstance(w.get("y"), int | float):
                w["x"] = x0 + (k % LAYOUT_PER_ROW) * LAYOUT_SPACING
                w["y"] = LAYOUT_MARGIN + (k // LAYOUT_PER_ROW) * LAYOUT_SPACING
        x0 += max(1, min(LAYOUT_PER_ROW, len(mine))) * LAYOUT_SPACING + LAYOUT_SPACING
    return out


def hall_dict(hall: Hall) -> dict[str, Any]:
    """A configured hall as a HALLDICT (the YAML's shape, with a floor-plan layout)."""
    raw = hall.model_dump(mode="python", by_alias=True, exclude_none=True)
    return with_layout(plain(raw))


def apply_growth(doc: dict[str, Any], growth: dict[str, float]) -> dict[str, Any]:
    """A copy of ``doc`` with each category's ``arrivals_per_day`` times its growth factor."""
    out = copy.deepcopy(doc)
    for cat in out.get("categories") or []:
        factor = growth.get(str(cat.get("id")), 1.0) if isinstance(cat, dict) else 1.0
        if factor != 1.0:
            cat["arrivals_per_day"] = round(float(cat.get("arrivals_per_day", 0) or 0) * factor, 3)
    return out


# Chinese first: the English messages of the configuration loader, prefixed with their gist.
_ZH = (
    ("unknown window class", "未知的窗口类别"),
    ("unknown category", "未知的事项类别"),
    ("unknown zone", "未知的分区"),
    ("unknown window", "未知的窗口"),
    ("unknown shift", "未知的班次"),
    ("unknown priority group", "未知的优先群体"),
    ("unknown field", "未知字段，请检查拼写"),
    ("duplicate", "重复"),
    ("no window serves category", "没有窗口办理该类别"),
    ("is not served by window class", "该窗口类别不办理此类别"),
    ("Field required", "缺少必填项"),
    ("expected a time of day", "时间格式应为 HH:MM"),
    ("must be after", "结束时间须晚于开始时间"),
    ("lunch must lie inside", "午休须在营业时间内"),
    ("intervals", "时段数与营业时间不符"),
    ("should be greater", "数值须更大"),
    ("should be less", "数值须更小"),
    ("at least", "数量不足"),
    ("should match pattern", "格式不对"),
    ("Input should be", "类型或取值不对"),
)


def issue_text(issue: ConfigIssue) -> str:
    """「中文 (English)」 of a configuration issue: its own Chinese text when it has one."""
    zh = getattr(issue, "zh", "")
    return f"{zh} ({issue.message})" if zh else zh_message(issue.message)


def zh_message(message: str) -> str:
    for en, zh in _ZH:
        if en in message:
            return f"{zh} ({message})"
    return f"取值无效 ({message})"


def _issue(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def check_growth(growth: Any, categories: list[str] | None) -> list[dict[str, str]]:
    if not isinstance(growth, dict):
        return [_issue("growth", "增长系数须为对象 (growth must be an object {category: factor})")]
    errors = []
    for cat, factor in growth.items():
        field = f"growth.{cat}"
        if categories is not None and cat not in categories:
            errors.append(_issue(field, f"未知的事项类别 (unknown category {cat!r})"))
        elif isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= MAX_GROWTH:
            errors.append(
                _issue(
                    field, f"增长系数须大于0且不超过{MAX_GROWTH:g} (a factor > 0 and ≤ {MAX_GROWTH:g}, got {factor!r})"
                )
            )
    return errors


def check_plan(config: Any, growth: Any = None) -> tuple[Hall | None, list[dict[str, str]]]:
    """Validate a plan; the hall (growth applied) when it is valid, else the errors with their fields."""
    growth = {} if growth is None else growth
    if not isinstance(config, dict):
        return None, [_issue("config", "配置须为对象 (the configuration must be an object)")]
    errors = [
        _issue(key, f"规划中不能包含 {key} (not part of a plan: {key} stays on the server)")
        for key in FORBIDDEN_KEYS
        if key in config
    ]
    if errors:
        return None, errors
    hall: Hall | None = None
    try:
        hall = parse_config(config).halls[0]
    except ConfigError as err:
        errors += [_issue(i.path, issue_text(i)) for i in err.issues]
    if hall is not None:
        cats: list[str] | None = hall.category_ids()
    else:
        raw_cats = config.get("categories")
        cats = [str(c.get("id")) for c in raw_cats if isinstance(c, dict)] if isinstance(raw_cats, list) else None
    errors += check_growth(growth, cats)
    if errors or hall is None:
        return None, errors
    grown = parse_config(apply_growth(config, growth)).halls[0]
    total = sum(c.arrivals_per_day for c in grown.categories)
    if total > MAX_ARRIVALS_PER_DAY:
        errors.append(
            _issue(
                "categories",
                f"每日到达总数 {total:.0f} 超过上限 {MAX_ARRIVALS_PER_DAY} "
                f"(arrivals per day {total:.0f} exceed {MAX_ARRIVALS_PER_DAY}, growth applied)",
            )
        )
        return None, errors
    return grown, []


def plan_yaml(name: str, config: dict[str, Any], growth: dict[str, float]) -> str:
    """The complete configuration file of a plan (growth applied), for ``hallq check-config``/``simulate``."""
    doc = apply_growth(config, growth)
    grown = ", ".join(f"{k} ×{v:g}" for k, v in growth.items() if v != 1.0) or "—"
    head = (
        f"# hallq 规划方案 scenario: {name}\n"
        f"# 导出时间 exported {now_iso()}; 增长系数已计入 growth applied: {grown}\n"
        "# 检查 check: hallq check-config FILE · 仿真 simulate: hallq simulate FILE\n"
    )
    return head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def counts(config: dict[str, Any]) -> dict[str, int]:
    """Windows in all, comprehensive and specialised (by their class's kind)."""
    kinds = {c.get("id"): c.get("kind") for c in config.get("window_classes") or [] if isinstance(c, dict)}
    windows = [w for w in config.get("windows") or [] if isinstance(w, dict)]
    comp = sum(1 for w in windows if kinds.get(w.get("class")) == "comprehensive")
    spec = sum(1 for w in windows if kinds.get(w.get("class")) == "specialised")
    return {"windows": len(windows), "comprehensive": comp, "specialised": spec}


# ------------------------------------------------------------------ templates


def _starter() -> dict[str, Any]:
    """A small two-zone hall: three comprehensive windows and three specialised ones."""
    lunch = {"start": "12:00", "end": "13:30"}

    def cat(cid: str, prefix: str, name: str, en: str, zone: str, per_day: float, mean: float) -> dict[str, Any]:
        return {
            "id": cid,
            "prefix": prefix,
            "name": name,
            "name_en": en,
            "zone": zone,
            "target_wait_minutes": 20,
            "service_time": {"distribution": "lognormal", "mean": mean, "sd": round(mean * 0.4, 1)},
            "arrivals_per_day": per_day,
            "patience_minutes": 60,
            "no_show_rate": 0.03,
        }

    def clerk(n: int, name: str, skills: dict[str, float]) -> dict[str, Any]:
        return {"id": f"k{n}", "name": name, "home_window": n, "skills": skills}

    comp = {"business": 1.0, "social": 1.0}
    return {
        "id": "starter",
        "name": "新建大厅（入门模板）",
        "name_en": "New hall (starter template)",
        "timezone": "Asia/Shanghai",
        "hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00", "lunch": lunch},
        "policy": {"name": "weighted_aging", "max_wait_minutes": 45},
        "targets": {"service_level": 0.8, "within_minutes": 10},
        "zones": [
            {"id": "zone-a", "name": "综合受理区", "name_en": "Comprehensive windows"},
            {"id": "zone-b", "name": "专业窗口区", "name_en": "Specialised windows"},
        ],
        "demand": {"interval_minutes": 30, "shape": [6, 9, 10, 9, 8, 7, 0, 0, 0, 4, 7, 8, 7, 6, 4, 2]},
        "categories": [
            cat("business", "A", "企业开办", "Business start-up", "zone-a", 40, 14),
            cat("social", "B", "社会事务", "Social affairs", "zone-a", 60, 8),
            cat("tax", "C", "税务", "Tax", "zone-b", 50, 10),
            cat("household", "D", "户政", "Household registration", "zone-b", 40, 8),
        ],
        "window_classes": [
            {
                "id": "comp",
                "kind": "comprehensive",
                "name": "综合受理窗口",
                "name_en": "Comprehensive",
                "categories": ["business", "social"],
            },
            {"id": "spec-tax", "kind": "specialised", "name": "税务窗口", "name_en": "Tax", "categories": ["tax"]},
            {
                "id": "spec-police",
                "kind": "specialised",
                "name": "户政窗口",
                "name_en": "Household registration",
                "categories": ["household"],
            },
        ],
        "windows": [
            {"number": 1, "zone": "zone-a", "class": "comp"},
            {"number": 2, "zone": "zone-a", "class": "comp"},
            {"number": 3, "zone": "zone-a", "class": "comp"},
            {"number": 4, "zone": "zone-b", "class": "spec-tax"},
            {"number": 5, "zone": "zone-b", "class": "spec-tax"},
            {"number": 6, "zone": "zone-b", "class": "spec-police"},
        ],
        "clerks": [
            clerk(1, "张伟", comp),
            clerk(2, "王芳", comp),
            clerk(3, "李娜", comp | {"tax": 0.8}),
            clerk(4, "刘洋", {"tax": 1.0}),
            clerk(5, "陈静", {"tax": 1.0}),
            clerk(6, "杨磊", {"household": 1.0}),
        ],
    }


BUILTIN_TEMPLATES: dict[str, tuple[str, str, Callable[[], dict[str, Any]]]] = {
    "starter": (
        "入门模板：两区小厅（3综合+3专业）",
        "Starter: a small two-zone hall (3 comprehensive + 3 specialised)",
        _starter,
    ),
}


def templates(dep: Deployment) -> list[dict[str, str]]:
    out = [
        {"id": f"hall:{h.id}", "name": f"运行中的大厅：{h.name}", "name_en": f"Running hall: {h.name_en or h.id}"}
        for h in dep.halls
    ]
    out += [{"id": tid, "name": zh, "name_en": en} for tid, (zh, en, _) in BUILTIN_TEMPLATES.items()]
    return out


def template(dep: Deployment, template_id: str) -> dict[str, Any] | None:
    if template_id.startswith("hall:"):
        try:
            return hall_dict(dep.hall(template_id[5:]))
        except KeyError:
            return None
    found = BUILTIN_TEMPLATES.get(template_id)
    return with_layout(found[2]()) if found else None


# ------------------------------------------------------------------ scenarios


def check_name(name: str) -> str | None:
    """The error message for a bad scenario name, or None."""
    if not NAME_RE.match(name) or not name.strip(" ."):
        return "方案名称须为1–40个字符：字母（含中文）、数字、空格或 + - _ . (1–40 letters, digits, space, + - _ .)"
    return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class ScenarioStore:
    """Saved plans, one JSON file each (the file name is the hex of the UTF-8 name)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def _path(self, name: str) -> Path:
        return self.dir / (name.encode("utf-8").hex() + ".json")

    def save(self, name: str, config: dict[str, Any], growth: dict[str, float], notes: str) -> dict[str, Any]:
        doc = {"name": name, "config": with_layout(config), "growth": growth, "notes": notes, "updated": now_iso()}
        _write_atomic(self._path(name), json.dumps(doc, ensure_ascii=False))
        return doc

    def load(self, name: str) -> dict[str, Any] | None:
        try:
            doc: dict[str, Any] = json.loads(self._path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc

    def delete(self, name: str) -> bool:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            out.append({"name": doc["name"], "updated": doc["updated"], **counts(doc.get("config") or {})})
        out.sort(key=lambda s: s["name"])
        return out


# ------------------------------------------------------------------ results (computed in the worker)


def _num(x: Any, digits: int = 4) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, digits)


def _unit(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    if last.startswith("wait_"):
        return "min"
    if last in ("within_target", "service_level", "abandonment", "one_visit", "utilisation"):
        return "%"
    return ""


OVERALL_KPIS = (
    "wait_mean",
    "wait_p90",
    "service_level",
    "within_target",
    "abandonment",
    "one_visit",
    "queue_mean",
    "hall_max",
)


def kpi_label(hall: Hall | None, key: str) -> tuple[str, str]:
    """zh-CN and English labels of a figure name (from :data:`simulation.kpis.LABELS`)."""
    from .kpis import LABELS

    parts = key.split(".")
    zh, en = LABELS.get(parts[-1], (parts[-1], parts[-1]))
    if parts[0] == "category" and len(parts) == 3:
        cat = None
        if hall is not None:
            with contextlib.suppress(KeyError):
                cat = hall.category(parts[1])
        name, name_en = (cat.name, cat.name_en or cat.id) if cat else (parts[1], parts[1])
        return f"{name} {zh}", f"{name_en}: {en}"
    if parts[0] in ("window", "clerk") and len(parts) == 3:
        what = "窗口" if parts[0] == "window" else "工作人员"
        return f"{what} {parts[1]} {zh}", f"{parts[0]} {parts[1]}: {en}"
    return zh, en


def kpi_keys(hall: Hall, figures: dict[str, Any]) -> list[str]:
    keys = [f"overall.{k}" for k in OVERALL_KPIS]
    keys += [f"category.{c}.wait_mean" for c in hall.category_ids()]
    keys += [f"window.{w.number}.utilisation" for w in hall.windows]
    return [k for k in keys if k in figures]


def kpis(hall: Hall, figures: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in kpi_keys(hall, figures):
        e = figures[key]
        zh, en = kpi_label(hall, key)
        out.append(
            {
                "key": key,
                "label": zh,
                "label_en": en,
                "unit": _unit(key),
                "mean": _num(e.mean),
                "low": _num(e.low),
                "high": _num(e.high),
                "n": e.n,
            }
        )
    return out


def layout(hall: Hall) -> dict[str, Any]:
    doc = with_layout(hall_dict(hall))
    kinds = {c.id: c.kind for c in hall.window_classes}
    return {
        "zones": [{"id": z.id, "name": z.name, "name_en": z.name_en} for z in hall.zones],
        "windows": [
            {
                "number": w["number"],
                "zone": w["zone"],
                "class": w["class"],
                "kind": kinds.get(w["class"], ""),
                "x": w["x"],
                "y": w["y"],
            }
            for w in doc["windows"]
        ],
    }


def playback(hall: Hall, study: Any, step: int = PLAYBACK_STEP) -> dict[str, Any]:
    """People waiting per zone and utilisation per window, every ``step`` minutes of the opening hours.

    From the per-step records of ``run_study(..., keep_records=True)``: a step waits from
    joining its queue (``queued``) until its first call (``called``), or until it leaves
    (``left``) when never called; its category's zone is where it waits. A window is busy
    from ``started`` to ``finished`` of each service; its utilisation in a bin is the busy
    share of the bin's minutes. Both are means over replications and days.
    """
    import numpy as np

    from .model import minutes_of

    lo, hi = minutes_of(hall.hours.open), minutes_of(hall.hours.close)
    grid = np.arange(lo, hi, step, dtype=float)
    n = len(grid)
    edges = np.append(grid, grid[-1] + step) if n else np.zeros(1)
    zone_ids = [z.id for z in hall.zones]
    zone_of_cat = np.asarray([zone_ids.index(c.zone) for c in hall.categories], dtype=np.int64)
    numbers = [w.number for w in hall.windows]
    win_index = {num: i for i, num in enumerate(numbers)}
    waiting = np.zeros((len(zone_ids), n + 1))
    busy = np.zeros((len(numbers), n + 1))
    rep_days = 0
    for out in study.outputs:
        r = out.records
        if r is None:
            continue
        rep_days += len(study.days)
        q = r["queued"]
        end = np.where(np.isnan(r["called"]), r["left"], r["called"])
        ok = ~np.isnan(q) & ~np.isnan(end) & (end > q)
        i0 = np.clip(np.ceil((q[ok] - lo) / step), 0, n).astype(np.int64)
        i1 = np.clip(np.ceil((end[ok] - lo) / step), 0, n).astype(np.int64)
        z = zone_of_cat[r["category"][ok]]
        np.add.at(waiting, (z, i0), 1.0)
        np.add.at(waiting, (z, i1), -1.0)
        s, f = r["started"], r["finished"]
        win = np.asarray([win_index.get(int(x), -1) for x in r["window"]], dtype=np.int64)
        served = ~np.isnan(s) & ~np.isnan(f) & (win >= 0)
        if served.any():
            ss, ff = s[served][:, None], f[served][:, None]
            # busy minutes up to each bin edge, per service; then summed per window
            upto = np.clip(edges[None, :] - ss, 0.0, ff - ss)
            np.add.at(busy, win[served], upto)
    rep_days = max(rep_days, 1)
    per_zone = np.cumsum(waiting, axis=1)[:, :n] / rep_days
    util = np.clip(np.diff(busy, axis=1) / (step * rep_days), 0.0, 1.0)
    return {
        "minutes": [int(m) for m in grid],
        "zones": {zid: [round(float(v), 3) for v in per_zone[i]] for i, zid in enumerate(zone_ids)},
        "windows": {str(num): [round(float(v), 3) for v in util[i]] for i, num in enumerate(numbers)},
        "layout": layout(hall),
    }


def _data_url(b64: str) -> str:
    return "data:image/png;base64," + b64


def simulate_result(job: dict[str, Any], out_dir: Path, tick: Callable[[int], None]) -> dict[str, Any]:
    from .replications import run_study
    from .report import _plots, render_html

    hall = parse_config(job["config"]).halls[0]
    days, reps, seed = job["days"], job["reps"], job["seed"]
    keep = reps * days <= PLAYBACK_REP_DAYS
    study = run_study(hall, days=days, reps=reps, seed=seed, workers=STUDY_WORKERS, keep_records=keep, progress=tick)
    shown = study
    if not keep:  # the first replications again, with their records (same seeds: the same days)
        few = max(1, PLAYBACK_REP_DAYS // days)
        shown = run_study(hall, days=days, reps=few, seed=seed, workers=STUDY_WORKERS, keep_records=True, progress=tick)
    page = render_html(hall, study, reps, seed)
    # the report's own plots, taken from its page rather than drawn a second time
    plots = dict(re.findall(r'<img alt="(\w+)" src="data:image/png;base64,([^"]+)"', page))
    if set(plots) != {"waits", "day", "windows"}:
        plots = _plots(hall, study)
    result = {
        "kpis": kpis(hall, study.summary.figures),
        "plots": {k: _data_url(v) for k, v in plots.items()},
        "report_url": f"/api/v1/plan/runs/{job['run']}/report",
        "playback": playback(hall, shown),
        "days": days,
        "reps": reps,
    }
    _write_atomic(out_dir / f"{job['run']}.report.html", page)
    return result


def compare_rows(halls: list[Hall], studies: list[Any]) -> list[dict[str, Any]]:
    """The ``hallq compare`` table for two or more layouts: each figure per layout, and its
    difference from the first layout paired by replication."""
    from .compare import paired_differences

    first = studies[0]
    diffs = [None, *(paired_differences(first, s) for s in studies[1:])]
    keys: list[str] = []
    for s in studies:
        for k in s.summary.figures:
            if k in keys or k.startswith(("window.", "clerk.", "interval.")):
                continue
            if k.startswith("overall.") or k.endswith((".wait_mean", ".abandonment")):
                keys.append(k)
    rows = []
    for key in keys:
        owner = next((h for h, s in zip(halls, studies, strict=True) if key in s.summary.figures), None)
        zh, en = kpi_label(owner, key)
        values: list[dict[str, Any] | None] = []
        for s in studies:
            e = s.summary.figures.get(key)
            values.append(None if e is None else {"mean": _num(e.mean), "low": _num(e.low), "high": _num(e.high)})
        differences: list[dict[str, Any] | None] = []
        for d in diffs:
            e = d.get(key) if d is not None else None
            if e is None:
                differences.append(None)
                continue
            significant = e.n > 1 and not math.isnan(e.low) and (e.low > 0 or e.high < 0)
            differences.append(
                {"mean": _num(e.mean), "low": _num(e.low), "high": _num(e.high), "significant": bool(significant)}
            )
        rows.append(
            {"key": key, "label": zh, "label_en": en, "unit": _unit(key), "values": values, "differences": differences}
        )
    return rows


def compare_plots(names: list[str], halls: list[Hall], studies: list[Any]) -> dict[str, str]:
    """Mean wait (with its 95% interval) and 90th percentile per scenario, overall and per category."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .report import _png

    labels = [f"{chr(65 + i)}" for i in range(len(names))]  # plot text in Latin letters (fonts may lack Chinese)
    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for j, key in enumerate(("overall.wait_mean", "overall.wait_p90")):
        es = [s.summary.figures[key] for s in studies]
        means = [e.mean for e in es]
        err = np.nan_to_num(np.asarray([[e.mean - e.low for e in es], [e.high - e.mean for e in es]], dtype=float))
        xs = np.arange(len(es)) + (j - 0.5) * 0.38
        ax.bar(xs, means, 0.36, yerr=err, capsize=3, label=key.split(".")[1].replace("_", " "))
    ax.set_xticks(np.arange(len(names)), labels)
    ax.set_ylabel("minutes")
    ax.set_title("Whole hall: " + ", ".join(f"{a} = scenario {i + 1}" for i, a in enumerate(labels)))
    ax.legend()
    out["overall"] = _data_url(_png(fig))
    cats = list(dict.fromkeys(c for h in halls for c in h.category_ids()))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(studies)
    for i, s in enumerate(studies):
        vals = [s.summary.figures.get(f"category.{c}.wait_mean") for c in cats]
        ax.bar(
            np.arange(len(cats)) + (i - (len(studies) - 1) / 2) * width,
            [0.0 if v is None or math.isnan(v.mean) else v.mean for v in vals],
            width,
            label=labels[i],
        )
    ax.set_xticks(np.arange(len(cats)), cats, rotation=45, ha="right")
    ax.set_ylabel("mean wait (minutes)")
    ax.set_title("Mean wait per category")
    ax.legend()
    out["waits"] = _data_url(_png(fig))
    return out


def compare_result(job: dict[str, Any], out_dir: Path, tick: Callable[[int], None]) -> dict[str, Any]:
    from .replications import run_study

    halls = [parse_config(c).halls[0] for c in job["configs"]]
    studies = [
        run_study(h, days=job["days"], reps=job["reps"], seed=job["seed"], workers=STUDY_WORKERS, progress=tick)
        for h in halls
    ]
    return {
        "scenarios": job["scenarios"],
        "rows": compare_rows(halls, studies),
        "plots": compare_plots(job["scenarios"], halls, studies),
        "days": job["days"],
        "reps": job["reps"],
    }


def execute(job: dict[str, Any], out_dir: Path, tick: Callable[[int], None]) -> None:
    """Run one job and write ``<run>.result.json`` (in the worker process)."""
    make = simulate_result if job["kind"] == "simulate" else compare_result
    result = make(job, out_dir, tick)
    _write_atomic(out_dir / f"{job['run']}.result.json", json.dumps(result, ensure_ascii=False, allow_nan=False))


def worker_main(jobs: Any, events: Any, parent: int, out_dir: str) -> None:
    """The worker process: run jobs one after another, report progress and the end of each."""

    def orphan_guard() -> None:  # the server died without stopping us: stop too
        while True:
            time_mod.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=orphan_guard, daemon=True).start()
    while True:
        job = jobs.get()
        if job is None:
            return
        run = job["run"]
        done = 0

        def tick(n: int, run: str = run) -> None:
            nonlocal done
            done += n
            events.put(("progress", run, done))

        try:
            execute(job, Path(out_dir), tick)
        except HallqError as exc:
            events.put(("failed", run, str(exc)))
        except Exception as exc:  # a failed run must not take the worker down
            log.exception("plan run %s failed", run)
            events.put(("failed", run, f"仿真失败 (the run failed: {type(exc).__name__}: {exc})"))
        else:
            events.put(("done", run, None))


# ------------------------------------------------------------------ the run queue (in the server)


class QueueFull(HallqError):
    pass


def _close(*queues: Any) -> None:
    for q in queues:
        if q is not None:
            with contextlib.suppress(Exception):
                q.cancel_join_thread()
                q.close()


class RunQueue:
    """Runs one job at a time in a worker process; up to :data:`MAX_WAITING` wait.

    The run directory is the queue, so every worker of a multi-process server sees
    the same runs: each run is ``<id>.json`` (its summary, rewritten on every change of
    state or progress) and, until it starts, ``<id>.job.json`` (what to run). One
    server process at a time **owns** the queue (an exclusive lock on ``owner.lock``):
    it starts the runs in order in its worker process and cancels them; the others
    add runs, ask for cancellation with a ``<id>.cancel`` marker, and read. Every
    process publishes the summaries that changed on disk to its own listeners (the
    ``/ws/plan`` feeds). Short critical sections (adding a run, taking the next one)
    hold ``queue.lock``. A run that was queued or running when the owner stopped is
    marked failed on the next start.
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.dir = Path(data_dir) / "plan" / "runs"
        self.listeners: set[Callable[[dict[str, Any]], None]] = set()
        self.keys: dict[str, str] = {}  # Idempotency-Key -> run (a retried POST queues nothing new)
        self.owner = False
        self._owner_file: Any = None
        self.waiting: deque[str] = deque()  # the owner's: runs taken in, in order
        self.current: str | None = None
        self._proc: Any = None
        self._jobs_q: Any = None
        self._events_q: Any = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._seen: dict[str, tuple[int, int]] = {}  # summary file -> (inode, mtime) last published
        self._ctx = multiprocessing.get_context("spawn")

    # -- files

    def _path(self, rid: str, suffix: str = ".json") -> Path:
        return self.dir / f"{rid}{suffix}"

    def _read(self, rid: str) -> dict[str, Any] | None:
        if not RUN_ID.match(rid):
            return None
        try:
            summary: dict[str, Any] = json.loads(self._path(rid).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return summary

    def _write(self, summary: dict[str, Any]) -> None:
        """Write a summary and tell this process's listeners at once (other processes see the file change)."""
        path = self._path(summary["run"])
        _write_atomic(path, json.dumps(summary, ensure_ascii=False))
        if self.listeners:
            with contextlib.suppress(OSError):
                st = path.stat()
                self._seen[summary["run"]] = (st.st_ino, st.st_mtime_ns)
            self._publish(summary)

    def _publish(self, summary: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(dict(summary))
            except Exception:  # one broken listener must not stop the others
                log.exception("plan run listener failed")

    def _ids(self) -> list[str]:
        return sorted(p.name[:-5] for p in self.dir.glob("*.json") if RUN_ID.match(p.name[:-5]))

    def _all(self) -> list[dict[str, Any]]:
        return [s for s in (self._read(rid) for rid in self._ids()) if s is not None]

    @contextlib.contextmanager
    def _locked(self) -> Any:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "queue.lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- lifecycle

    async def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._try_own()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._drive())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.owner:
            self._adopt()
            for rid in [*self.waiting, *([self.current] if self.current else [])]:
                self._end(rid, "failed", "服务停止，仿真中断 (interrupted: the server stopped)")
            self.waiting.clear()
            self.current = None
            self._stop_worker(graceful=True)
            self.owner = False
        if self._owner_file is not None:
            self._owner_file.close()  # releases the lock
            self._owner_file = None

    def _try_own(self) -> None:
        if self.owner:
            return
        f = open(self.dir / "owner.lock", "a+")  # noqa: SIM115 - held open for the process's life
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return
        self._owner_file, self.owner = f, True
        # runs left by an owner that stopped: a running one is lost; a queued one is lost
        # unless its job file is there (another process added it meanwhile)
        for summary in self._all():
            if summary["state"] == "running" or (
                summary["state"] == "queued" and not self._path(summary["run"], ".job.json").exists()
            ):
                summary |= {
                    "state": "failed",
                    "position": None,
                    "finished": now_iso(),
                    "error": "服务器重启，仿真中断 (interrupted: the server restarted)",
                }
                self._write(summary)

    # -- reading

    def summaries(self) -> list[dict[str, Any]]:
        return sorted(self._all(), key=lambda s: s["run"], reverse=True)

    def summary(self, rid: str) -> dict[str, Any] | None:
        return self._read(rid)

    def result(self, rid: str) -> Any:
        try:
            return json.loads(self._path(rid, ".result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def report_path(self, rid: str) -> Path:
        return self._path(rid, ".report.html")

    # -- changing (any process)

    def submit(self, job: dict[str, Any], kind: str, label: str, total: int, key: str | None = None) -> dict[str, Any]:
        if key is not None and key in self.keys and (known := self._read(self.keys[key])) is not None:
            return known
        with self._locked():
            states = [s["state"] for s in self._all()]
            ahead = states.count("queued") + states.count("running")  # the first queued one may not be running yet
            if ahead > MAX_WAITING:
                waiting = ahead - 1
                raise QueueFull(
                    f"已有 {waiting} 个仿真在排队，请稍后再试 ({waiting} runs are already waiting; try again later)"
                )
            # sortable to the microsecond: the queue's order is the order of the ids
            rid = f"{datetime.now(UTC):%Y%m%d-%H%M%S-%f}-{secrets.token_hex(2)}"
            summary = {
                "run": rid,
                "kind": kind,
                "label": label,
                "state": "queued",
                "position": ahead,
                "progress": {"done": 0, "total": total},
                "created": now_iso(),
                "started": None,
                "finished": None,
                "error": None,
            }
            _write_atomic(self._path(rid, ".job.json"), json.dumps(job | {"run": rid}, ensure_ascii=False))
            self._write(summary)
        if key is not None:
            if len(self.keys) >= 1000:
                self.keys.clear()
            self.keys[key] = rid
        if self.owner and self.current is None:
            self._adopt()
            self._begin_next()  # answer "running" right away when nothing is ahead
        if self._wake is not None:
            self._wake.set()
        return self._read(rid) or summary

    async def cancel(self, rid: str) -> dict[str, Any]:
        summary = self._read(rid)
        if summary is None:
            raise KeyError(rid)
        if summary["state"] in ENDED:
            raise ValueError(summary["state"])
        if self.owner:
            await self._cancel_here(rid)
        else:  # ask the owner, and wait for its answer
            self._path(rid, ".cancel").touch()
            deadline = time_mod.monotonic() + 10
            while time_mod.monotonic() < deadline:
                await asyncio.sleep(POLL_SECONDS)
                now = self._read(rid)
                if now is None or now["state"] in ENDED:
                    break
        return self._read(rid) or summary

    def delete(self, rid: str) -> None:
        summary = self._read(rid)
        if summary is None:
            raise KeyError(rid)
        if summary["state"] not in ENDED:
            raise ValueError(summary["state"])
        for suffix in (".json", ".result.json", ".report.html", ".job.json", ".cancel"):
            with contextlib.suppress(OSError):
                self._path(rid, suffix).unlink()

    def warm(self) -> None:
        """Start the worker process ahead of the first run (its imports take a second or two)."""
        if self.owner and self.current is None and (self._proc is None or not self._proc.is_alive()):
            try:
                self._ensure_worker()
            except Exception:  # the first run will try again and report it
                log.exception("cannot start the plan worker")

    # -- the owner

    def _adopt(self) -> None:
        """Take in runs queued on disk (by any process), oldest first: those with a job file."""
        known = set(self.waiting) | ({self.current} if self.current else set())
        fresh = []
        for job in self.dir.glob("*.job.json"):
            rid = job.name[: -len(".job.json")]
            if rid not in known and (summary := self._read(rid)) is not None and summary["state"] == "queued":
                fresh.append(summary)
        for s in sorted(fresh, key=lambda s: s["run"]):
            self.waiting.append(s["run"])

    def _update(self, rid: str, **changes: Any) -> dict[str, Any] | None:
        summary = self._read(rid)
        if summary is None:
            return None
        summary |= changes
        self._write(summary)
        return summary

    def _positions(self) -> None:
        self._adopt()
        ahead = 1 if self.current else 0
        for i, rid in enumerate(self.waiting):
            summary = self._read(rid)
            if summary is not None and summary["position"] != i + ahead:
                self._update(rid, position=i + ahead)

    def _end(self, rid: str, state: str, error: str | None) -> None:
        summary = self._read(rid)
        if summary is not None:
            changes: dict[str, Any] = {"state": state, "position": None, "finished": now_iso(), "error": error}
            if state == "done":
                changes["progress"] = {"done": summary["progress"]["total"], "total": summary["progress"]["total"]}
            self._update(rid, **changes)
        for suffix in (".job.json", ".cancel"):
            with contextlib.suppress(OSError):
                self._path(rid, suffix).unlink()
        if rid in self.waiting:
            self.waiting.remove(rid)
        if self.current == rid:
            self.current = None
        self._positions()

    async def _cancel_here(self, rid: str) -> None:
        if rid == self.current:
            # detach the worker first: the next run may start (in a new worker) while this one is joined
            proc, queues = self._proc, (self._jobs_q, self._events_q)
            self._proc = self._jobs_q = self._events_q = None
            self.current = None
            if proc is not None:
                proc.terminate()
                await asyncio.to_thread(proc.join, 5)
                if proc.is_alive():
                    proc.kill()
                    await asyncio.to_thread(proc.join, 5)
            _close(*queues)
            for suffix in (".result.json", ".report.html"):
                with contextlib.suppress(OSError):
                    self._path(rid, suffix).unlink()
        with self._locked():
            summary = self._read(rid)
            if summary is not None and summary["state"] not in ENDED:
                self._end(rid, "cancelled", None)
        if self._wake is not None:
            self._wake.set()

    def _ensure_worker(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self._close_queues()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._jobs_q = self._ctx.Queue()
        self._events_q = self._ctx.Queue()
        proc = self._ctx.Process(
            target=worker_main,
            args=(self._jobs_q, self._events_q, os.getpid(), str(self.dir)),
            name="hallq-plan-worker",
            daemon=True,
        )
        # A Sanic worker of a multi-process server is itself a daemon process, which
        # multiprocessing forbids to have children; our worker watches its parent
        # (worker_main's orphan guard) and is terminated on shutdown, so allow it.
        me = multiprocessing.current_process()
        config = getattr(me, "_config", {})
        was_daemon = config.get("daemon", False)
        config["daemon"] = False
        try:
            proc.start()
        finally:
            config["daemon"] = was_daemon
        self._proc = proc

    def _close_queues(self) -> None:
        _close(self._jobs_q, self._events_q)
        self._jobs_q = self._events_q = None

    def _stop_worker(self, graceful: bool) -> None:
        proc = self._proc
        self._proc = None
        if proc is not None:
            if graceful and proc.is_alive() and self._jobs_q is not None:
                with contextlib.suppress(Exception):
                    self._jobs_q.put(None)
            proc.terminate()
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
        self._close_queues()

    def _begin_next(self) -> None:
        while self.current is None and self.waiting:
            rid = self.waiting.popleft()
            with self._locked():
                summary = self._read(rid)
                if summary is None or summary["state"] != "queued":
                    continue  # cancelled meanwhile
                try:
                    job = json.loads(self._path(rid, ".job.json").read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    self._end(rid, "failed", "仿真任务丢失 (the run's job file is missing)")
                    continue
                self.current = rid
                self._update(rid, state="running", position=0, started=now_iso())
            try:
                self._ensure_worker()
                self._jobs_q.put(job)
            except Exception as exc:
                log.exception("cannot start the plan worker")
                self._end(rid, "failed", f"无法启动仿真进程 (cannot start the worker process: {exc})")
                continue
            with contextlib.suppress(OSError):
                self._path(rid, ".job.json").unlink()
            self._positions()

    def _drain(self) -> None:
        q = self._events_q
        while q is not None:
            try:
                kind, rid, value = q.get_nowait()
            except queue_mod.Empty:
                return
            except (OSError, ValueError, EOFError):
                return
            if rid != self.current:
                continue
            if kind == "progress":
                summary = self._read(rid)
                if summary is not None:
                    total = summary["progress"]["total"]
                    self._update(rid, progress={"done": min(int(value), total), "total": total})
            elif kind == "done":
                self._end(rid, "done", None)
            elif kind == "failed":
                self._end(rid, "failed", str(value))

    async def _owner_round(self) -> None:
        for marker in self.dir.glob("*.cancel"):
            rid = marker.name[: -len(".cancel")]
            summary = self._read(rid)
            if summary is None or summary["state"] in ENDED:
                with contextlib.suppress(OSError):
                    marker.unlink()
            else:
                await self._cancel_here(rid)
        self._adopt()
        self._begin_next()
        self._drain()
        if self.current is not None and (self._proc is None or not self._proc.is_alive()):
            await asyncio.sleep(POLL_SECONDS)
            self._drain()  # its last words may still be in the pipe
            if self.current is not None:
                code = self._proc.exitcode if self._proc is not None else None
                self._end(self.current, "failed", f"仿真进程意外退出 (the worker process exited: {code})")
                self._proc = None

    # -- every process: publish what changed on disk

    def _publish_changes(self) -> None:
        if not self.listeners:
            self._seen.clear()
            return
        seen: dict[str, tuple[int, int]] = {}
        for rid in self._ids():
            try:
                st = self._path(rid).stat()
            except OSError:
                continue
            seen[rid] = (st.st_ino, st.st_mtime_ns)
            if self._seen.get(rid) != seen[rid]:
                summary = self._read(rid)
                if summary is not None:
                    self._publish(summary)
        self._seen = seen

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Add ``listener``; it hears of changes from now on (not of the runs as they are)."""
        if not self.listeners:
            self._seen = {}
            self._prime()
        self.listeners.add(listener)

    def _prime(self) -> None:
        for rid in self._ids():
            with contextlib.suppress(OSError):
                st = self._path(rid).stat()
                self._seen[rid] = (st.st_ino, st.st_mtime_ns)

    async def _drive(self) -> None:
        assert self._wake is not None
        while True:
            try:
                if not self.owner:
                    self._try_own()  # the owner may have gone
                if self.owner:
                    await self._owner_round()
                self._publish_changes()
                busy = self.current is not None or any(self.dir.glob("*.cancel"))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS if busy else IDLE_POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the queue alive whatever happens to one run
                log.exception("plan run queue")
                await asyncio.sleep(1.0)
