"""``hallq simulate`` / ``hallq compare`` as a planner runs them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from queue_server.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "config.yaml")


def test_simulate_writes_html_csv_json(tmp_path: Path, capsys):
    out = tmp_path / "report"
    code = main(["simulate", CONFIG, "--days", "2", "--reps", "3", "--workers", "1", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr()
    assert "平均等候" in text.out and "report written" in text.out
    assert "simulating" in text.err  # the progress bar
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "仿真报告" in page and page.count("data:image/png;base64,") == 3
    assert "企业开办" in page and "95%" in page
    data = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert data["replications"] == 3 and data["days"] == ["2026-11-23", "2026-11-24"]
    wait = data["figures"]["overall.wait_mean"]
    assert wait["ci_low"] <= wait["mean"] <= wait["ci_high"]
    with open(out / "tickets.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["rep"] for r in rows} == {"0", "1", "2"}
    assert {r["outcome"] for r in rows} >= {"served", "abandoned"}
    served = [r for r in rows if r["outcome"] == "served"]
    assert all(r["called"] <= r["finished"] for r in served)
    with open(out / "kpis.csv", encoding="utf-8") as f:
        figures = {r["figure"] for r in csv.DictReader(f)}
    assert {
        "overall.service_level",
        "category.tax.wait_p90",
        "window.1.utilisation",
        "clerk.c01.utilisation",
    } <= figures


def test_compare_prints_differences_with_intervals(tmp_path: Path, capsys):
    raw = (ROOT / "config.yaml").read_text(encoding="utf-8")
    fewer = tmp_path / "fewer.yaml"
    # the same hall without clerk c19: window 19 (tax) stays closed
    fewer.write_text(
        raw.replace("  - {id: c19, name: 林峰,   home_window: 19,", "  - {id: c19, name: 林峰,"), encoding="utf-8"
    )
    out = tmp_path / "cmp.json"
    code = main(
        ["compare", CONFIG, str(fewer), "--days", "1", "--reps", "6", "--workers", "1", "--quiet", "--out", str(out)]
    )
    assert code == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("category.tax.wait_mean"))
    assert line.endswith("*")  # one tax window fewer: a significant difference
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["category.tax.wait_mean"]["difference"]["ci_low"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "missing.yaml"], "file not found"),
        (["simulate", CONFIG, "--roster", "nope.csv"], "cannot read roster"),
        (["calibrate", "nope.jsonl", "--config", CONFIG], "cannot read"),
    ],
)
def test_bad_input_is_named_not_a_traceback(argv, message, capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) in (1, 2)
    err = capfd.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_numbers_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", CONFIG, "--reps", "0"])
    assert exc.value.code == 2
    assert "正整数" in capsys.readouterr().err


def test_simulate_with_a_roster_states_per_interval_whether_the_target_was_met(tmp_path: Path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text(  # a skeleton roster: two clerks for the whole hall on Monday
        "clerk,date,start,end,break_start,break_end,window\n"
        "c16,2026-11-23,09:00,17:00,12:00,13:30,16\n"
        "c11,2026-11-23,09:00,17:00,12:00,13:30,11\n",
        encoding="utf-8",
    )
    out = tmp_path / "report"
    code = main(["simulate", CONFIG, "--roster", str(roster), "--days", "1", "--reps", "3", "--workers", "1",
                 "--quiet", "--out", str(out)])
    assert code == 0
    figures = json.loads((out / "kpis.json").read_text(encoding="utf-8"))["figures"]
    intervals = sorted(k for k in figures if k.startswith("interval."))
    # 16 half-hours from 09:00; nobody takes a ticket in the three lunch half-hours
    assert intervals == [f"interval.{i:02d}.service_level" for i in range(16) if i not in (6, 7, 8)]
    assert all(figures[k]["mean"] < 0.8 for k in intervals)  # two clerks cannot meet 80% in 10 minutes
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "分时段达标情况" in page
    assert page.count("未达标 missed") == len(intervals) and "<td>09:00</td>" in page and "<td>12:00</td>" not in page
