"""The planner's report: an HTML page with plots, plus the same figures as CSV and JSON.

``report/index.html`` shows, per category and for the hall, waits (mean, median,
90th percentile, maximum), the share called within target, abandonment, the
served-in-one-visit rate, utilisation per window and per clerk, and the queue and
the people in the hall over the day — each figure with its 95% confidence
interval over replications. ``kpis.csv`` / ``kpis.json`` hold the figures,
``series.csv`` the curves, ``tickets.csv`` one row per step of every simulated
visit. Plot labels are Chinese first when the machine has a Chinese font
(``scripts/system-deps.sh`` installs WenQuanYi Micro Hei), English alone otherwise.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from queue_server.config import Hall

from .kpis import LABELS, Estimate, is_share
from .model import OUTCOME_NAMES
from .replications import StudyResult


def _fmt(x: float, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:.1f}%" if pct else f"{x:.2f}"


def fmt_estimate(e: Estimate, name: str) -> str:
    pct = is_share(name)
    if e.n < 2 or math.isnan(e.low):
        return _fmt(e.mean, pct)
    return f"{_fmt(e.mean, pct)} [{_fmt(e.low, pct)}, {_fmt(e.high, pct)}]"


# Chinese fonts matplotlib may find, in order of preference
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
_cjk: list[str | None] = []


def cjk_font() -> str | None:
    """The first Chinese font installed (looked up once per process), or None."""
    if not _cjk:
        from matplotlib import font_manager

        found = None
        for name in CJK_FONTS:
            try:
                font_manager.findfont(name, fallback_to_default=False)
            except ValueError:
                continue
            found = name
            break
        if found:
            matplotlib.rcParams["font.sans-serif"] = [found, *matplotlib.rcParams["font.sans-serif"]]
        _cjk.append(found)
    return _cjk[0]


def plot_text(zh: str, en: str) -> str:
    """「中文 English」 on a plot when a Chinese font is there, the English alone when not."""
    return f"{zh} {en}" if cjk_font() else en


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(hall: Hall, study: StudyResult) -> dict[str, str]:
    f = study.summary.figures
    cats = hall.category_ids()
    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(9, 3.8))
    means = [f[f"category.{c}.wait_mean"].mean for c in cats]
    err = [
        [m - f[f"category.{c}.wait_mean"].low for c, m in zip(cats, means, strict=True)],
        [f[f"category.{c}.wait_mean"].high - m for c, m in zip(cats, means, strict=True)],
    ]
    err_arr = np.nan_to_num(np.asarray(err, dtype=float))
    names = [hall.category(c).name if cjk_font() else c for c in cats]
    ax.bar(names, means, yerr=err_arr, capsize=3, color="#4a7ab5", label=plot_text("平均等候", "mean wait (95% CI)"))
    p90 = [f[f"category.{c}.wait_p90"].mean for c in cats]
    ax.plot(names, p90, "D", color="#c0504d", label=plot_text("90%等候", "p90 wait"))
    targets = [hall.category(c).target_wait_minutes for c in cats]
    ax.plot(names, targets, "_", ms=18, color="k", label=plot_text("目标", "target"))
    ax.set_ylabel(plot_text("分钟", "minutes"))
    ax.set_title(plot_text("各事项等候", "Wait per category"))
    ax.tick_params(axis="x", rotation=45)
    ax.legend()
    out["waits"] = _png(fig)

    s = study.summary.series
    hours = np.asarray(s["minute"]) / 60
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.step(hours, s["in_hall"], where="post", label=plot_text("在厅人数", "people in hall"))
    ax.step(hours, s["queue"], where="post", label=plot_text("等候人数", "waiting"))
    ax.set_xlabel(plot_text("时刻", "hour of day"))
    ax.set_ylabel(plot_text("人数（各天各次平均）", "people (mean over days and replications)"))
    ax.set_title(plot_text("全天变化", "Over the day"))
    ax.legend()
    out["day"] = _png(fig)

    wins = [w.number for w in hall.windows]
    util = [f.get(f"window.{n}.utilisation", Estimate(math.nan, math.nan, math.nan, 0)).mean for n in wins]
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.bar([str(n) for n in wins], np.nan_to_num(util), color="#9bbb59")
    ax.set_ylim(0, 1)
    ax.set_xlabel(plot_text("窗口", "window"))
    ax.set_ylabel(plot_text("利用率", "utilisation"))
    ax.set_title(plot_text("各窗口利用率", "Utilisation per window"))
    out["windows"] = _png(fig)
    return out


def _table(rows: Sequence[Sequence[str]], head: Sequence[str]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _label(key: str) -> str:
    zh, en = LABELS.get(key, (key, key))
    return f"{zh} {en}"


CATEGORY_COLUMNS = ("arrivals", "wait_mean", "wait_p50", "wait_p90", "wait_max", "within_target", "abandonment")


def render_html(hall: Hall, study: StudyResult, reps: int, seed: int) -> str:
    f = study.summary.figures
    plots = _plots(hall, study)
    overall_keys = [
        "arrivals",
        "wait_mean",
        "wait_p50",
        "wait_p90",
        "wait_max",
        "service_level",
        "within_target",
        "abandonment",
        "one_visit",
        "queue_mean",
        "hall_mean",
        "hall_max",
    ]
    overall = [(_label(k), fmt_estimate(f[f"overall.{k}"], f"overall.{k}")) for k in overall_keys]
    cat_rows = [
        [f"{c.prefix} {c.name}", *(fmt_estimate(f[f"category.{c.id}.{k}"], k) for k in CATEGORY_COLUMNS)]
        for c in hall.categories
    ]
    win_rows = [
        [str(w.number), w.window_class, fmt_estimate(f[f"window.{w.number}.utilisation"], "utilisation")]
        for w in hall.windows
        if f"window.{w.number}.utilisation" in f
    ]
    clerk_rows = [[k.split(".")[1], fmt_estimate(e, "utilisation")] for k, e in f.items() if k.startswith("clerk.")]
    interval_rows = []
    for key in sorted(k for k in f if k.startswith("interval.")):
        i = int(key.split(".")[1])
        e = f[key]
        met = "达标 met" if e.mean >= hall.targets.service_level else "未达标 missed"
        interval_rows.append([hall.interval_start(i).strftime("%H:%M"), fmt_estimate(e, key), met])
    days = ", ".join(d.isoformat() for d in study.days)
    title = f"{hall.name} — 仿真报告 Simulation report"
    t = hall.targets
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f0f3f7}}td:first-child{{text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>工作日 Working days: {html.escape(days)} · 重复次数 replications: {reps} · 随机种子 seed: {seed}.
方括号为95%置信区间 (brackets: 95% confidence interval over replications).
服务水平目标 Target: {t.service_level:.0%} 在 {t.within_minutes:g} 分钟内叫号
(called within {t.within_minutes:g} min).</p>
<h2>全厅 Whole hall</h2>
{_table(overall, ["指标 Figure", "值 Value"])}
<img alt="waits" src="data:image/png;base64,{plots["waits"]}">
<h2>各事项类别 Per category</h2>
{_table(cat_rows, ["类别 Category", *(_label(k) for k in CATEGORY_COLUMNS)])}
<h2>分时段达标情况 Target met per interval</h2>
<p>按取号时段，{t.within_minutes:g} 分钟内被叫号的比例，目标 {t.service_level:.0%}
(share called within {t.within_minutes:g} min, by the time the citizen took the ticket).</p>
{_table(interval_rows, ["时段 From", "服务水平 Service level", "目标 Target"])}
<h2>全天 Over the day</h2>
<img alt="day" src="data:image/png;base64,{plots["day"]}">
<h2>窗口利用率 Window utilisation</h2>
<img alt="windows" src="data:image/png;base64,{plots["windows"]}">
{_table(win_rows, ["窗口 Window", "类别 Class", _label("utilisation")])}
<h2>工作人员利用率 Clerk utilisation</h2>
{_table(clerk_rows, ["工作人员 Clerk", _label("utilisation")])}
<p>文件 Files: kpis.csv, kpis.json, series.csv, tickets.csv.</p>
</body></html>
"""


def write_report(hall: Hall, study: StudyResult, out: str | Path, reps: int, seed: int) -> Path:
    """Write the report files into ``out`` (created if missing); returns the HTML path."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    f = study.summary.figures
    with open(d / "kpis.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["figure", "mean", "ci_low", "ci_high", "replications"])
        for k, e in f.items():
            w.writerow([k, e.mean, e.low, e.high, e.n])
    meta = {"hall": hall.id, "days": [x.isoformat() for x in study.days], "replications": reps, "seed": seed}
    (d / "kpis.json").write_text(
        json.dumps(meta | study.summary.as_dict(), ensure_ascii=False, indent=1, allow_nan=True), encoding="utf-8"
    )
    s = study.summary.series
    with open(d / "series.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["minute_of_day", "waiting", "in_hall"])
        w.writerows(zip(s["minute"], s["queue"], s["in_hall"], strict=True))
    write_tickets_csv(hall, study, d / "tickets.csv")
    page = d / "index.html"
    page.write_text(render_html(hall, study, reps, seed), encoding="utf-8")
    return page


def write_tickets_csv(hall: Hall, study: StudyResult, path: Path) -> None:
    cats = hall.category_ids()
    groups = {-1: "", -2: "appointment"} | dict(enumerate(hall.simulation.priority_share))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "rep",
                "day",
                "citizen",
                "step",
                "category",
                "group",
                "arrived",
                "queued",
                "called",
                "started",
                "finished",
                "left",
                "wait",
                "window",
                "outcome",
            ]
        )
        for o in study.outputs:
            r = o.records
            if r is None:
                continue
            for i in range(len(r["outcome"])):
                called = r["called"][i]
                w.writerow(
                    [
                        int(r["rep"][i]),
                        date.fromordinal(int(r["day"][i])).isoformat(),
                        int(r["citizen"][i]),
                        int(r["step"][i]),
                        cats[r["category"][i]],
                        groups.get(int(r["group"][i]), ""),
                        *(_clock(r[k][i]) for k in ("arrived", "queued", "called", "started", "finished", "left")),
                        "" if math.isnan(called) else f"{called - r['queued'][i]:.2f}",
                        "" if r["window"][i] < 0 else int(r["window"][i]),
                        OUTCOME_NAMES[r["outcome"][i]],
                    ]
                )


def _clock(minutes: float) -> str:
    if math.isnan(minutes):
        return ""
    sec = round(minutes * 60)
    return f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
