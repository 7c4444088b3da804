"""Round trip: simulate the example hall → export its events → fit → the parameters come back.

Tolerances are stated as multiples of the standard error of each estimate, so they are
neither loose by design nor flaky: with N observations,
- expected arrivals of a category on a weekday: 4·sqrt(λ_d / D_wd) (Poisson counts),
- share of each half-hour of the day in the arrival profile: 0.01 absolute (≥4 SE here),
- lognormal service parameters: |μ̂−μ| ≤ 4σ/√n and |σ̂−σ| ≤ 4σ/√(2n),
- mean patience (exponential, censored MLE): 4·θ⁻¹/√(abandonments).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from queue_server.cli import main
from queue_server.config import WEEKDAYS, Hall, load_config
from queue_server.model import HallState, apply_event
from simulation.distributions import lognormal_params
from simulation.events import day_events, write_jsonl
from simulation.replications import simulate_replication, working_days
from simulation.roster import default_shifts

ROOT = Path(__file__).resolve().parents[2]
DAYS = 25


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, example_hall: Hall) -> tuple[Path, list]:
    from datetime import date

    days = working_days(example_hall, date(2026, 11, 23), DAYS)
    results = simulate_replication(example_hall, days, seed=21, rep=0)
    events = []
    for res in results:
        events += day_events(example_hall, res, default_shifts(example_hall, res.day), start_seq=len(events) + 1)
    path = tmp_path_factory.mktemp("cal") / "events.jsonl"
    write_jsonl(events, str(path))
    return path, events


def test_simulated_events_fold_through_the_core(exported, example_hall: Hall):
    _, events = exported
    state = HallState(example_hall.id)
    for e in events:
        apply_event(state, e)  # raises on a seq gap, an unknown ticket or window
    assert state.seq == len(events)
    kinds = {e.type for e in events}
    assert {
        "ticket.issued",
        "ticket.called",
        "ticket.finished",
        "ticket.transferred",
        "ticket.cancelled",
        "ticket.no_show",
        "ticket.recalled",
        "window.opened",
        "window.closed",
    } <= kinds
    assert all(e.ts.endswith("+08:00") for e in events[:50])
    calls = [e for e in events if e.type == "ticket.called"]
    assert all(e.data["reason"] for e in calls)  # the policy's own words, as the live hall logs them
    assert {"order", "aging"} <= {e.data["rule"] for e in calls}


def test_calibrate_recovers_the_parameters(exported, example_hall: Hall, tmp_path: Path, capsys):
    path, events = exported
    out = tmp_path / "calibrated.yaml"
    assert main(["calibrate", str(path), "--config", str(ROOT / "config.yaml"), "--out", str(out)]) == 0
    assert "calibrated configuration written" in capsys.readouterr().out
    fitted = load_config(out).halls[0]
    true_f, fit_f = example_hall.demand.weekday_factors, fitted.demand.weekday_factors
    days_per_wd = {wd: DAYS / 5 for wd in WEEKDAYS[:5]}
    abandons = {c: 0 for c in example_hall.category_ids()}
    services = {c: 0 for c in example_hall.category_ids()}
    for e in events:
        if e.type == "ticket.cancelled":
            abandons[e.data["category"]] += 1
        elif e.type == "ticket.finished":
            services[e.data["category"]] += 1
    for cat in example_hall.categories:
        fc = fitted.category(cat.id)
        for wd in ("mon", "wed"):
            lam = cat.arrivals_per_day * true_f[wd]
            got = fc.arrivals_per_day * fit_f[wd]
            assert abs(got - lam) <= 4 * math.sqrt(lam / days_per_wd[wd]), (cat.id, wd, got, lam)
        mu, sigma = lognormal_params(cat.service_time.mean, cat.service_time.sd)
        mu_hat, sigma_hat = lognormal_params(fc.service_time.mean, fc.service_time.sd)
        n = services[cat.id]
        assert abs(mu_hat - mu) <= 4 * sigma / math.sqrt(n), (cat.id, mu_hat, mu)
        assert abs(sigma_hat - sigma) <= 4 * sigma / math.sqrt(2 * n), (cat.id, sigma_hat, sigma)
        if abandons[cat.id] >= 50:
            assert abs(fc.patience_minutes - cat.patience_minutes) <= 4 * cat.patience_minutes / math.sqrt(
                abandons[cat.id]
            ), (cat.id, fc.patience_minutes, cat.patience_minutes)
    assert sum(a >= 50 for a in abandons.values()) >= 5  # patience was really tested
    shape = np.asarray(example_hall.demand.shape) / sum(example_hall.demand.shape)
    assert np.abs(np.asarray(fitted.demand.shape) - shape).max() <= 0.01
    assert fitted.category("business-setup").journey[0].probability == pytest.approx(0.3, abs=0.06)
    # the rest of the configuration is untouched
    assert [w.number for w in fitted.windows] == [w.number for w in example_hall.windows]
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["clerks"][0]["name"] == "张伟"


def test_bad_event_file_is_named(tmp_path: Path, capsys):
    bad = tmp_path / "events.jsonl"
    bad.write_text('{"seq": 1}\nnot json\n', encoding="utf-8")
    assert main(["calibrate", str(bad), "--config", str(ROOT / "config.yaml"), "--out", str(tmp_path / "o.yaml")]) == 1
    err = capsys.readouterr().err
    assert "第1行" in err and "line 1" in err
