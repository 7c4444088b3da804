"""The planner's workbench API against a real server: templates, validation, scenarios, runs, compare."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from typing import Any
from urllib.parse import quote

import yaml

from tests.conftest import ROOT
from tests.plan.conftest import PLAN, kpi, simulate, template, wait_run, write
from tests.server.conftest import HALL

BUSY = {"business": 2.0, "social": 2.0}  # the starter hall's comprehensive windows under pressure


def more_comprehensive(config: dict[str, Any], extra: int = 3) -> dict[str, Any]:
    """The same hall with ``extra`` more comprehensive windows, each with its clerk."""
    out = copy.deepcopy(config)
    top = max(w["number"] for w in out["windows"])
    for n in range(top + 1, top + 1 + extra):
        out["windows"].append({"number": n, "zone": "zone-a", "class": "comp"})
        out["clerks"].append(
            {"id": f"k{n}", "name": f"新人{n}", "home_window": n, "skills": {"business": 1.0, "social": 1.0}}
        )
    return out


def test_templates_are_the_running_hall_and_a_starter(plan_server, planner):
    listed = plan_server.get(f"{PLAN}/templates", token=planner).body["templates"]
    ids = [t["id"] for t in listed]
    assert ids[0] == "hall:demo" and "starter" in ids
    assert all(t["name"] and t["name_en"] for t in listed)
    demo = template(plan_server, planner, "hall:demo")
    assert "storage" not in demo and "auth" not in demo  # secrets never leave the server
    assert demo["hours"]["open"] == "00:00" and demo["windows"][14]["class"] == "spec-police"
    # every window has a place on the floor plan; zones side by side, rows of 6, 3 m apart
    assert all(isinstance(w["x"], float) and isinstance(w["y"], float) for w in demo["windows"])
    a = [w for w in demo["windows"] if w["zone"] == "zone-a"]
    assert (a[1]["x"] - a[0]["x"], a[6]["y"] - a[0]["y"]) == (3.0, 3.0)
    b0 = next(w for w in demo["windows"] if w["zone"] == "zone-b")
    assert b0["x"] > max(w["x"] for w in a)
    ok = plan_server.post(f"{PLAN}/validate", {"config": demo, "growth": {}}, token=planner).body
    assert ok == {"ok": True, "errors": []}
    encoded = plan_server.get(f"{PLAN}/templates/hall%3Ademo", token=planner)  # a client that encodes the ':'
    assert encoded.status == 200 and encoded.body["config"]["windows"] == demo["windows"]
    wrong_body = plan_server.post(f"{PLAN}/validate", {"config": demo, "growth": {}, "extra": 1}, token=planner)
    assert wrong_body.status == 422 and wrong_body.error["message"].startswith("extra: 未知字段")
    missing = plan_server.get(f"{PLAN}/templates/nope", token=planner)
    assert missing.status == 404 and missing.error["code"] == "unknown_template"


def test_validate_names_the_field_like_check_config(plan_server, planner):
    config = template(plan_server, planner, "hall:demo")
    config["windows"][3]["class"] = "nope"
    body = plan_server.post(
        f"{PLAN}/validate", {"config": config, "growth": {"tax": 0, "ghost": 2}}, token=planner
    ).body
    assert body["ok"] is False
    assert [e["field"] for e in body["errors"]] == ["windows[3].class", "growth.tax", "growth.ghost"]
    cls = body["errors"][0]
    assert re.match("[\u4e00-\u9fff]", cls["message"]) and cls["message"].endswith("(unknown window class 'nope')")
    config["categories"][0]["service_time"]["mean"] = -1  # a structural error: named before the references
    body = plan_server.post(f"{PLAN}/validate", {"config": config}, token=planner).body
    assert [e["field"] for e in body["errors"]] == ["categories[0].service_time.mean"]
    # a plan carries no secrets and no other halls
    leak = plan_server.post(f"{PLAN}/validate", {"config": config | {"auth": {}}}, token=planner).body
    assert leak["errors"][0]["field"] == "auth"
    # a malformed body is an error, not a verdict
    raw = plan_server.request(
        "POST", f"{PLAN}/validate", raw=b"{nope", token=planner, headers={"Content-Type": "application/json"}
    )
    assert raw.status == 400 and raw.error["code"] == "malformed_json"
    deep = b"[" * 200_000 + b"]" * 200_000  # a plan may be up to 1 MiB: nesting too deep for the parser
    raw = plan_server.request(
        "POST", f"{PLAN}/validate", raw=deep, token=planner, headers={"Content-Type": "application/json"}
    )
    assert raw.status == 400 and raw.error["code"] == "malformed_json"
    typed = plan_server.post(f"{PLAN}/validate", {"config": [1, 2]}, token=planner)
    assert typed.status == 422 and typed.error["field"] == "config"


def test_scenarios_save_load_download_delete(plan_server, planner, tmp_path):
    config = template(plan_server, planner)
    config["windows"][0]["x"] = 40.5  # a dragged window keeps its place
    name = "6+5 综合.v2"
    path = f"{PLAN}/scenarios/{quote(name)}"
    saved = plan_server.request("PUT", path, {"config": config, "growth": {"tax": 1.5}, "notes": "试点"}, token=planner)
    assert saved.status == 200 and saved.body["name"] == name
    listed = plan_server.get(f"{PLAN}/scenarios", token=planner).body["scenarios"]
    assert {"name": name, "windows": 6, "comprehensive": 3, "specialised": 3}.items() <= next(
        s for s in listed if s["name"] == name
    ).items()
    loaded = plan_server.get(path, token=planner).body
    assert loaded["growth"] == {"tax": 1.5} and loaded["notes"] == "试点"
    assert loaded["config"]["windows"][0]["x"] == 40.5 and loaded["config"]["categories"] == config["categories"]

    download = plan_server.get(path + "/yaml", token=planner)
    assert download.status == 200
    headers = {k.lower(): v for k, v in download.headers.items()}
    assert headers["content-type"].startswith("text/yaml") and headers["content-disposition"].startswith("attachment")
    file = write(tmp_path / "plan.yaml", download.body)
    doc = yaml.safe_load(download.body)
    assert next(c for c in doc["categories"] if c["id"] == "tax")["arrivals_per_day"] == 75  # 50 × 1.5
    check = subprocess.run(
        [sys.executable, "-m", "queue_server.cli", "check-config", str(file)], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK:" in check.stdout and "Windows: 6 in 2 zones" in check.stdout

    # an invalid plan is refused with its field, and the saved one is untouched
    broken = copy.deepcopy(config)
    broken["windows"][3]["class"] = "nope"
    refused = plan_server.request("PUT", path, {"config": broken}, token=planner)
    assert refused.status == 422 and refused.error["field"] == "windows[3].class"
    assert plan_server.get(path, token=planner).body["config"]["windows"][3]["class"] == "spec-tax"
    bad_name = plan_server.request("PUT", f"{PLAN}/scenarios/{quote('a/b?')}", {"config": config}, token=planner)
    assert bad_name.status in (404, 422)
    bad_name = plan_server.request("PUT", f"{PLAN}/scenarios/{quote('x' * 41)}", {"config": config}, token=planner)
    assert bad_name.status == 422 and bad_name.error["field"] == "name"

    assert plan_server.request("DELETE", path, token=planner).body == {"deleted": name}
    gone = plan_server.get(path, token=planner)
    assert gone.status == 404 and gone.error["code"] == "unknown_scenario"
    assert name not in [s["name"] for s in plan_server.get(f"{PLAN}/scenarios", token=planner).body["scenarios"]]


def test_a_simulation_gives_kpis_plots_report_and_playback(plan_server, planner):
    config = template(plan_server, planner)
    run = simulate(plan_server, planner, config, days=1, reps=5, label="入门")
    assert run["kind"] == "simulate" and run["label"] == "入门" and run["progress"] == {"done": 5, "total": 5}
    assert run["started"] and run["finished"] and run["error"] is None
    result = run["result"]
    keys = [k["key"] for k in result["kpis"]]
    assert keys[:8] == [
        "overall.wait_mean",
        "overall.wait_p90",
        "overall.service_level",
        "overall.within_target",
        "overall.abandonment",
        "overall.one_visit",
        "overall.queue_mean",
        "overall.hall_max",
    ]
    assert "category.tax.wait_mean" in keys and keys[-1] == "window.6.utilisation"
    wait = kpi(result, "overall.wait_mean")
    assert wait["label"] and wait["label_en"] and wait["unit"] == "min" and wait["n"] == 5
    assert wait["low"] <= wait["mean"] <= wait["high"]
    assert (
        kpi(result, "overall.service_level")["unit"] == "%" and 0 <= kpi(result, "overall.service_level")["mean"] <= 1
    )
    assert set(result["plots"]) == {"waits", "day", "windows"}
    assert all(p.startswith("data:image/png;base64,iVBOR") for p in result["plots"].values())
    assert (result["days"], result["reps"]) == (1, 5)

    play = result["playback"]
    # 09:00–17:00 in 5-minute steps
    assert play["minutes"][0] == 540 and play["minutes"][-1] == 1015 and len(play["minutes"]) == 96
    assert set(play["zones"]) == {"zone-a", "zone-b"} and set(play["windows"]) == {str(n) for n in range(1, 7)}
    assert all(len(s) == 96 for s in [*play["zones"].values(), *play["windows"].values()])
    assert all(0 <= u <= 1 for s in play["windows"].values() for u in s)
    lunch = play["minutes"].index(12 * 60 + 30)
    assert all(s[lunch] == 0 for s in play["windows"].values())  # windows closed over lunch
    assert max(play["zones"]["zone-a"]) > 0 and max(play["windows"]["1"]) > 0.3
    assert [w["number"] for w in play["layout"]["windows"]] == [1, 2, 3, 4, 5, 6]
    assert play["layout"]["windows"][0]["kind"] == "comprehensive" and play["layout"]["zones"][0]["id"] == "zone-a"

    report = plan_server.get(result["report_url"], token=planner)  # as the page fetches it
    assert report.status == 200 and "仿真报告 Simulation report" in report.body and "data:image/png" in report.body
    assert plan_server.get(result["report_url"]).status == 401
    listed = plan_server.get(f"{PLAN}/runs", token=planner).body["runs"]
    assert listed[0]["run"] == run["run"] and "result" not in listed[0]


def test_more_comprehensive_windows_lower_the_mean_wait(plan_server, planner):
    base = template(plan_server, planner)
    few = simulate(plan_server, planner, base, growth=BUSY, reps=5, seed=3)["result"]
    many = simulate(plan_server, planner, more_comprehensive(base), growth=BUSY, reps=5, seed=3)["result"]
    before, after = kpi(few, "overall.wait_mean"), kpi(many, "overall.wait_mean")
    assert after["high"] < before["low"], (before, after)
    assert kpi(many, "category.business.wait_mean")["mean"] < kpi(few, "category.business.wait_mean")["mean"]
    assert len(many["playback"]["windows"]) == 9
    # an invalid plan runs nothing
    broken = copy.deepcopy(base)
    broken["windows"][0]["zone"] = "nowhere"
    before_runs = len(plan_server.get(f"{PLAN}/runs", token=planner).body["runs"])
    refused = plan_server.post(f"{PLAN}/runs", {"kind": "simulate", "config": broken}, token=planner)
    assert refused.status == 422 and refused.error["field"] == "windows[0].zone"
    assert len(plan_server.get(f"{PLAN}/runs", token=planner).body["runs"]) == before_runs


def test_compare_two_scenarios_side_by_side(plan_server, planner):
    base = template(plan_server, planner)
    for name, config in (("3 综合", base), ("6 综合", more_comprehensive(base))):
        body = {"config": config, "growth": BUSY}
        assert plan_server.request("PUT", f"{PLAN}/scenarios/{quote(name)}", body, token=planner).status == 200
    resp = plan_server.post(
        f"{PLAN}/runs", {"kind": "compare", "scenarios": ["3 综合", "6 综合"], "reps": 5, "seed": 3}, token=planner
    )
    assert resp.status == 202, resp.body
    run = wait_run(plan_server, planner, resp.body["run"])
    assert run["state"] == "done" and run["label"] == "3 综合 vs 6 综合" and run["progress"]["total"] == 10
    result = run["result"]
    assert result["scenarios"] == ["3 综合", "6 综合"] and set(result["plots"]) == {"overall", "waits"}
    row = next(r for r in result["rows"] if r["key"] == "overall.wait_mean")
    a, b = row["values"]
    assert a["mean"] > b["mean"] and row["label"] and row["unit"] == "min"
    first, diff = row["differences"]
    assert first is None
    assert abs(diff["mean"] - (b["mean"] - a["mean"])) < 1e-3 and diff["high"] < 0 and diff["significant"] is True
    assert any(r["key"] == "category.tax.wait_mean" for r in result["rows"])
    missing = plan_server.post(f"{PLAN}/runs", {"kind": "compare", "scenarios": ["3 综合", "没有"]}, token=planner)
    assert missing.status == 404 and missing.error["field"] == "scenarios[1]"
    one = plan_server.post(f"{PLAN}/runs", {"kind": "compare", "scenarios": ["3 综合"]}, token=planner)
    assert one.status == 422 and one.error["field"] == "scenarios"


def test_calibrate_from_an_event_export(plan_server, planner, plan_tokens):
    manager = plan_tokens.login("admin")
    for cat in ("tax", "tax", "household"):
        assert plan_server.post(f"{HALL}/tickets", {"category": cat, "channel": "counter"}, token=manager).status == 201
    events = plan_server.get(f"{HALL}/events", token=manager).body["events"]
    export = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    config = template(plan_server, planner, "hall:demo")
    resp = plan_server.post(f"{PLAN}/calibrate", {"config": config, "events": export}, token=planner)
    assert resp.status == 200, resp.body
    assert resp.body["config"]["id"] == "demo" and any("tax" in line for line in resp.body["report"])
    fitted = resp.body["config"]
    assert next(c for c in fitted["categories"] if c["id"] == "tax")["arrivals_per_day"] >= 2
    assert plan_server.post(f"{PLAN}/validate", {"config": fitted}, token=planner).body["ok"] is True
    bad = plan_server.post(f"{PLAN}/calibrate", {"config": config, "events": export + "{oops\n"}, token=planner)
    assert bad.status == 422 and bad.error["field"] == "events"
    assert f"line {len(events) + 1}" in bad.error["message"] and "/tmp" not in bad.error["message"]


def test_the_schema_of_every_plan_body_says_what_the_server_accepts(plan_server, planner):
    """An empty body is schema-valid exactly where the server takes it (no 422 for what the schema allows)."""
    import jsonschema_rs

    from queue_server.api import ROUTES, openapi_document

    doc = openapi_document()
    checked = 0
    for route in ROUTES:
        if route.tag != "plan" or route.body is None or route.method not in ("POST", "PUT"):
            continue
        path = route.path.replace("<name:str>", "empty-body").replace("<run:str>", "no-such-run")
        schema = {"$ref": f"#/components/schemas/{route.body.__name__}", "components": doc["components"]}
        valid = jsonschema_rs.validator_for(schema).is_valid({})
        answer = plan_server.request(route.method, path, {}, token=planner)
        assert (answer.status != 422) == valid, (route.method, path, valid, answer.status, answer.body)
        checked += 1
    assert checked >= 5
