"""规划工作台 (the planner's workbench, /plan) in the browser, against a real server running real simulations.

Each test logs in, starts from a template and drives the page the way a planner would: the editor,
the validation next to the field, the run with its live progress over /ws/plan, the result with its
playback, scenarios and their comparison, cancelling and the run queue. Screenshots of the workbench
go to test-artifacts/screenshots/ (and docs/screenshots/ with HALLQ_DOCS_SCREENSHOTS=1).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.pages.conftest import keep_for_docs, screenshot

PLAN = "/api/v1/plan"
TEMPLATE = "starter"  # the built-in small hall: simulates in a couple of seconds
RUN_TIMEOUT = 60_000


def login(page: Page, srv: Any, user: str = "admin") -> None:
    page.goto(f"{srv.base}/plan?hall=demo")
    page.fill("#user", user)
    page.fill("#password", "hallq-demo")
    page.click("#login button[type=submit]")
    expect(page.locator("#bench")).to_be_visible()
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")


def start_from(page: Page, template: str = TEMPLATE) -> None:
    page.select_option("#template", template)
    page.click("#load-template")
    expect(page.locator("#source")).to_contain_text("当前")
    valid(page)


def valid(page: Page) -> None:
    expect(page.locator("#validity")).to_have_class("validity ok")
    expect(page.locator("#run")).to_be_enabled()


def set_run(page: Page, days: int = 1, reps: int = 3, label: str = "") -> None:
    page.fill("#days", str(days))
    page.fill("#reps", str(reps))
    page.fill("#seed", "7")
    if label:
        page.fill("#run-label", label)


def run_and_wait(page: Page, previous: str | None = None) -> tuple[str, float]:
    """Click 运行 and wait for the result: (run id, mean wait in minutes)."""
    page.click("#run")
    result = page.locator("#result")
    expect(page.locator("#run-status")).to_have_attribute("data-state", "done", timeout=RUN_TIMEOUT)
    expect(result).to_be_visible()
    if previous:
        expect(result).not_to_have_attribute("data-run", previous)
    run = result.get_attribute("data-run")
    assert run
    mean = page.locator('#kpis tr[data-key="overall.wait_mean"]').get_attribute("data-mean")
    assert mean is not None
    return run, float(mean)


def comprehensive_windows(page: Page) -> int:
    return int(page.locator("#summary").get_attribute("data-comprehensive") or "-1")


def api_token(srv: Any) -> str:
    r = srv.post("/api/v1/auth/login", {"user": "planner", "password": "hallq-demo"})
    assert r.status == 200, r.body
    return str(r.body["token"])


def test_fewer_comprehensive_windows_lengthen_the_wait_and_playback_follows_the_slider(page: Page, server):
    login(page, server)
    start_from(page)
    set_run(page, label="基准 baseline")
    first, base_wait = run_and_wait(page)
    # the KPIs carry their 95% intervals, the plots and the full report are there
    row = page.locator('#kpis tr[data-key="overall.wait_mean"]')
    expect(row).to_contain_text("平均等候")
    expect(row.locator("td").nth(2)).to_contain_text("[")
    assert page.locator("#plots img").count() >= 1
    assert "token=" not in (page.locator("#report-link").get_attribute("href") or "")  # the session is no URL's
    with page.expect_popup() as opened:
        page.click("#report-link")
    expect(opened.value.locator("body")).to_contain_text("仿真报告")

    # playback: moving the slider changes the floor plan (utilisation heat map and people waiting)
    svg = page.locator("#playback-floor")
    expect(svg.locator("g.win").first).to_be_visible()

    def picture() -> tuple[list[str | None], list[str | None]]:
        utils = svg.locator("g.win").evaluate_all("els => els.map(e => e.getAttribute('data-util'))")
        waits = svg.locator("g.zone").evaluate_all("els => els.map(e => e.getAttribute('data-waiting'))")
        return utils, waits

    busiest, clock = picture(), page.locator("#play-time").get_attribute("data-minute")
    page.locator("#slider").fill("0")
    assert page.locator("#play-time").get_attribute("data-minute") != clock
    opening = picture()
    assert opening != busiest
    at_start = page.locator("#play-time").get_attribute("data-minute") or ""
    page.click("#play")
    expect(page.locator("#play-time")).not_to_have_attribute("data-minute", at_start)
    page.click("#play")  # pause
    page.locator("#slider").fill(str(int(page.locator("#slider").get_attribute("max") or 0) // 2))
    page.locator("#result").scroll_into_view_if_needed()
    screenshot(page, "plan-result")
    keep_for_docs("plan-result")

    # fewer comprehensive windows → a longer mean wait (same seed, same demand)
    page.evaluate("window.scrollTo(0, 0)")
    before = comprehensive_windows(page)
    for _ in range(2):
        page.locator("#classes tr.kind-comprehensive [data-act=win-minus]:not([disabled])").first.click()
    expect(page.locator("#summary")).to_have_attribute("data-comprehensive", str(before - 2))
    valid(page)
    page.fill("#run-label", "少两个综合窗口 two fewer")
    _, fewer_wait = run_and_wait(page, previous=first)
    assert fewer_wait > base_wait, (base_wait, fewer_wait)
    # both runs stay listed until deleted
    expect(page.locator("#runs tr[data-state=done]")).to_have_count(2)
    page.locator(f"#runs tr[data-run='{first}'] [data-run-act=delete]").click()
    expect(page.locator("#runs tr[data-state=done]")).to_have_count(1)
    # … and after the page is opened again, the kept result opens from the list
    page.reload()
    expect(page.locator("#result")).to_be_hidden()
    page.locator("#runs tr[data-state=done] [data-run-act=view]").click()
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator('#kpis tr[data-key="overall.wait_mean"]')).to_have_attribute("data-mean", str(fewer_wait))


def test_an_invalid_edit_shows_its_error_next_to_the_field_and_runs_nothing(page: Page, server):
    login(page, server, user="planner")
    start_from(page, "hall:demo")  # the running hall: the "6+5" example, 27 windows in three zones
    expect(page.locator("#summary")).to_have_attribute("data-comprehensive", "12")
    expect(page.locator("#floor g.win")).to_have_count(27)
    screenshot(page, "plan-editor")
    keep_for_docs("plan-editor")
    growth = page.locator("#demand [data-path^='growth.']").first
    field = growth.get_attribute("data-path")
    growth.fill("20")  # growth factors are 0 < f ≤ 10
    note = page.locator(f'#demand .field-error[data-error-for="{field}"]')
    expect(note).to_be_visible()
    expect(page.locator("#run")).to_be_disabled()
    expect(page.locator("#validity")).to_have_class("validity bad")

    mean = page.locator('#demand [data-path="categories[0].service_time.mean"]')
    mean.fill("0")  # a service time must be positive
    expect(page.locator('#demand .field-error[data-error-for="categories[0].service_time.mean"]')).to_be_visible()
    expect(mean).to_have_class(re.compile(r"\binvalid\b"))
    page.locator("#sec-demand").scroll_into_view_if_needed()
    screenshot(page, "plan-invalid")
    page.locator("#run").click(force=True)  # a disabled button does nothing
    page.wait_for_timeout(300)
    runs = server.get(f"{PLAN}/runs", token=api_token(server))
    assert runs.status == 200 and runs.body["runs"] == []

    # fixing both makes the page valid again
    mean.fill("10")
    growth.fill("1.5")
    valid(page)
    expect(page.locator("#editor .field-error")).to_have_count(0)


def test_scenarios_are_saved_downloaded_and_compared_side_by_side(page: Page, server):
    login(page, server)
    start_from(page)
    tok = api_token(server)

    # drag a window on the floor plan: its position is saved with the scenario
    win = page.locator("#floor g.win").first
    number = win.get_attribute("data-window")
    box = win.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 60, steps=5)
    page.mouse.up()
    valid(page)
    # or with the keyboard: a focused window moves 0.5 m per arrow key, 3 m with Shift
    other = page.locator("#floor g.win").nth(1)
    other_number = other.get_attribute("data-window")
    other.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    expect(page.locator(f'#floor g.win[data-window="{other_number}"]')).to_be_focused()
    valid(page)
    page.fill("#scenario-name", "现状 as is")
    page.click("#save-scenario")
    expect(page.locator('#scenarios tr[data-name="现状 as is"]')).to_be_visible()
    saved = server.get(f"{PLAN}/scenarios/{quote('现状 as is')}", token=tok).body["config"]
    template = server.get(f"{PLAN}/templates/{TEMPLATE}", token=tok).body["config"]
    moved = next(w for w in saved["windows"] if str(w["number"]) == number)
    original = next(w for w in template["windows"] if str(w["number"]) == number)
    assert moved["y"] > original["y"] and moved["x"] > original["x"]
    keyed = next(w for w in saved["windows"] if str(w["number"]) == other_number)
    keyed_before = next(w for w in template["windows"] if str(w["number"]) == other_number)
    assert (keyed["x"] - keyed_before["x"], keyed["y"] - keyed_before["y"]) == (1.0, 3.0)

    # a second scenario with one more comprehensive window
    before = comprehensive_windows(page)
    page.locator("#classes tr.kind-comprehensive [data-act=win-plus]").first.click()
    expect(page.locator("#summary")).to_have_attribute("data-comprehensive", str(before + 1))
    valid(page)
    page.fill("#scenario-name", "多一个综合窗口 +1")
    page.click("#save-scenario")
    row = page.locator('#scenarios tr[data-name="多一个综合窗口 +1"]')
    expect(row).to_contain_text(f"综合 {before + 1}")

    # the YAML download is a configuration file
    with page.expect_download() as dl:
        row.locator("[data-sc-act=yaml]").click()
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert "windows:" in text and "window_classes:" in text

    set_run(page)
    page.locator('#scenarios tr[data-name="现状 as is"] input.pick').check()
    row.locator("input.pick").check()
    page.click("#compare")
    table = page.locator("#compare-table")
    expect(page.locator("#compare-result")).to_be_visible(timeout=RUN_TIMEOUT)
    expect(table.locator("th[data-scenario='现状 as is']")).to_be_visible()
    expect(table.locator("th[data-scenario='多一个综合窗口 +1']")).to_be_visible()
    wait_row = table.locator('tr[data-key="overall.wait_mean"] td')
    expect(wait_row).to_have_count(4)  # measure, two scenarios, the difference
    expect(wait_row.nth(3)).to_contain_text("[")
    # the first ticked is the base: one more comprehensive window shortens the mean wait
    assert table.locator("th[data-scenario]").evaluate_all("els => els.map(e => e.dataset.scenario)") == [
        "现状 as is",
        "多一个综合窗口 +1",
    ]
    assert float(wait_row.nth(3).get_attribute("data-diff") or "nan") < 0
    assert page.locator("#compare-plots img").count() >= 1
    screenshot(page, "plan-compare")
    keep_for_docs("plan-compare")

    # an unsaved edit is not lost by a stray click: loading asks first
    page.locator("#classes tr.kind-comprehensive [data-act=win-plus]").first.click()
    expect(page.locator("#summary")).to_have_attribute("data-comprehensive", str(before + 2))
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator('#scenarios tr[data-name="现状 as is"] [data-sc-act=load]').click()
    expect(page.locator("#summary")).to_have_attribute("data-comprehensive", str(before + 2))
    assert asked and "未保存" in asked[0]
    # load the first one back (dropping the edit), then delete it
    page.once("dialog", lambda d: d.accept())
    page.locator('#scenarios tr[data-name="现状 as is"] [data-sc-act=load]').click()
    expect(page.locator("#summary")).to_have_attribute("data-comprehensive", str(before))
    page.locator('#scenarios tr[data-name="现状 as is"] [data-sc-act=delete]').click()
    expect(page.locator('#scenarios tr[data-name="现状 as is"]')).to_have_count(0)
    assert server.get(f"{PLAN}/scenarios/{quote('现状 as is')}", token=tok).status == 404


def test_a_long_run_can_be_cancelled_and_a_full_queue_is_refused_with_a_message(page: Page, server):
    login(page, server)
    start_from(page)
    set_run(page, days=20, reps=200, label="很长的仿真 long")
    page.click("#run")
    status = page.locator("#run-status")
    expect(status).to_have_attribute("data-state", "running", timeout=20_000)
    expect(page.locator("#progress")).to_be_visible()
    long_run = page.locator("#runs tr[data-state=running]").get_attribute("data-run")
    # three more wait in the queue; the page says how many are ahead
    for ahead in (1, 2, 3):
        page.click("#run")
        expect(status).to_have_attribute("data-state", "queued")
        expect(status).to_contain_text(f"前面还有 {ahead} 个")
    # a fifth is refused with the server's message, and nothing more is queued
    page.click("#run")
    message = page.locator("#run-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("排队")
    expect(page.locator("#runs tr[data-state=queued]")).to_have_count(3)
    # cancel the queued ones from the list and the running one with 取消
    for _ in range(3):
        page.locator("#runs tr[data-state=queued] [data-run-act=cancel]").first.click()
    expect(page.locator("#runs tr[data-state=queued]")).to_have_count(0)
    page.locator(f"#runs tr[data-run='{long_run}'] [data-run-act=cancel]").click()
    expect(page.locator(f"#runs tr[data-run='{long_run}']")).to_have_attribute("data-state", "cancelled")
    expect(page.locator("#runs tr[data-state=cancelled]")).to_have_count(4)
    states = [r["state"] for r in server.get(f"{PLAN}/runs", token=api_token(server)).body["runs"]]
    assert states == ["cancelled"] * 4


def test_only_managers_and_planners_may_plan(page: Page, server):
    page.goto(f"{server.base}/")  # the index links the workbench
    page.click("text=规划工作台 Planner's workbench")
    expect(page).to_have_url(f"{server.base}/plan?hall=demo")
    page.fill("#user", "c01")
    page.fill("#password", "hallq-demo")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("没有规划权限")
    expect(page.locator("#bench")).to_be_hidden()
    page.click("[data-lang-switch]")
    expect(page.locator("#login-error .en")).to_be_visible()


def starter_events(srv: Any, path: Path, days: int = 15) -> Path:
    """An event export (the JSON lines of ``hallq events export``) of the starter hall: simulated days."""
    from queue_server.config import parse_config
    from simulation.events import day_events, write_jsonl
    from simulation.replications import simulate_replication, working_days
    from simulation.roster import default_shifts

    config = srv.get(f"{PLAN}/templates/{TEMPLATE}", token=api_token(srv)).body["config"]
    hall = parse_config(config).halls[0]
    results = simulate_replication(hall, working_days(hall, date(2026, 11, 2), days), seed=3, rep=0)
    events: list[Any] = []
    for res in results:
        events += day_events(hall, res, default_shifts(hall, res.day), start_seq=len(events) + 1)
    write_jsonl(events, str(path))
    return path


def test_calibrating_from_an_event_export_refits_the_demand(page: Page, server, tmp_path):
    login(page, server)
    start_from(page)
    arrivals = page.locator('#demand [data-path="categories[0].arrivals_per_day"]')
    expect(arrivals).to_have_value("40")

    broken = tmp_path / "broken.jsonl"
    broken.write_text("this is not an export\n", encoding="utf-8")
    page.set_input_files("#events-file", str(broken))
    page.click("#calibrate")
    expect(page.locator("#calibrate-error")).to_contain_text("第1行")  # names the line

    page.set_input_files("#events-file", str(starter_events(server, tmp_path / "events.jsonl")))
    page.click("#calibrate")
    expect(page.locator("#calibrate-report li").first).to_be_visible(timeout=30_000)
    expect(page.locator("#calibrate-error")).to_be_hidden()
    expect(arrivals).not_to_have_value("40")  # fitted from the export: near 40 a day, not exactly
    fitted = float(arrivals.input_value())
    assert 30 < fitted < 50, fitted
    valid(page)
