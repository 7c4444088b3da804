"""The manager dashboard and the index page, in the browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.pages.conftest import HALL, keep_for_docs, open_window, screenshot, take


def test_dashboard_shows_queues_windows_and_ratings_live(page: Page, server, tokens):
    for category in ("business-setup", "business-setup", "tax"):
        take(server, tokens, category)
    clerk = open_window(server, tokens, 1, "c01")
    for step in ("call-next", "start"):
        server.post(f"{HALL}/windows/1/{step}", token=clerk)
    server.post(f"{HALL}/windows/1/finish", {"case_number": "C-1"}, token=clerk)
    pad = tokens.device("pad-1")
    a001 = server.get(f"{HALL}/snapshot").body["recent_calls"][0]["ticket"]
    rated = server.post(f"{HALL}/tickets/{a001}/rating", {"level": 2, "reason": "等候太久"}, token=pad)
    assert rated.status == 200, rated.body

    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(f"{server.base}/manager?hall=demo")
    page.fill("#user", "admin")
    page.fill("#password", "hallq-demo")
    page.click("#login button[type=submit]")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    row = page.locator("#categories tr[data-category=business-setup] td")
    expect(row.nth(1)).to_have_text("1")
    expect(page.locator("#windows tr[data-window='1'] td").nth(2)).to_have_text("张伟")
    expect(page.locator("#windows tr[data-window='1'] td").nth(5)).to_have_text("1")
    expect(page.locator("#ratings [data-level='2']")).to_have_text("1")
    expect(page.locator("#clerks [data-clerk=c01]")).to_contain_text("张伟")
    expect(page.locator("#ratings .bad")).to_contain_text("A001")
    expect(page.locator("#ratings .bad")).to_contain_text("等候太久")  # the reason, to follow up

    # live: a call moves the queue without reloading
    server.post(f"{HALL}/windows/1/call-next", token=clerk)
    expect(row.nth(1)).to_have_text("0")
    expect(page.locator("#windows tr[data-window='1'] td").nth(3)).to_have_text("A002")
    screenshot(page, "manager")
    keep_for_docs("manager")


def test_index_links_every_page_of_the_hall(page: Page, server):
    page.goto(server.base + "/")
    hrefs = page.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    for path in ("/kiosk?hall=demo", "/board?hall=demo", "/console?hall=demo", "/manager?hall=demo",
                 "/window/27?hall=demo", "/rate/27?hall=demo"):
        assert path in hrefs
    screenshot(page, "index")
    page.click("text=综合屏 Hall board")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")


def test_roster_page_shows_a_grid(page: Page, server_factory, tmp_path):
    from tests.scheduler.test_api import office_hours_server

    office, _ = office_hours_server(server_factory, tmp_path / "office")  # a roster needs working hours
    page.goto(f"{office.base}/roster?hall=demo")
    page.fill("#user", "admin")
    page.fill("#password", "hallq-demo")
    page.click("#login button[type=submit]")
    page.fill("#week", "2026-11-23")
    page.fill("#limit", "10")  # a wall-clock limit: room for a loaded CI machine
    page.click("#run")
    expect(page.locator("#roster tbody tr").first).to_be_visible(timeout=30000)
    expect(page.locator("#summary")).to_contain_text("下界")
    expect(page.locator("#summary")).to_contain_text("差距")
    assert page.locator("#roster td.shift").count() > 0
    screenshot(page, "roster")


def test_the_dashboard_shows_advice_with_its_interval_and_keeps_it_once_applied(page: Page, server_factory, tmp_path):
    from tests.scheduler.test_api import make_tax_queue, rebalancing_server

    srv, tok = rebalancing_server(server_factory, tmp_path / "rebalance")
    make_tax_queue(srv, tok)
    page.goto(f"{srv.base}/manager?hall=demo")
    page.fill("#user", "admin")
    page.fill("#password", "hallq-demo")
    page.click("#login button[type=submit]")
    rec = page.locator("#recommendations li.recommendation").first
    expect(rec).to_contain_text("建议")
    expect(rec).to_contain_text("预计税务办理平均等待")
    expect(rec).to_contain_text("95%区间")  # the predicted effect with its interval
    expect(page.locator("#adopted")).to_contain_text("今日尚未采纳")
    button = rec.locator("button[data-apply]")
    expect(button.locator(".zh")).to_have_text("采纳")
    expect(button.locator(".zh")).to_be_visible()  # Chinese first
    clerk = rec.get_attribute("data-clerk")
    text = rec.locator(".zh").first.inner_text()
    button.click()
    # the applied advice stays on the page: its prediction beside what is happening since
    adopted = page.locator("#adopted li.adopted").first
    expect(adopted).to_contain_text(text[:20])
    expect(adopted.locator(".gain")).to_contain_text("预计")
    expect(adopted.locator(".gain")).to_contain_text("实际")
    expect(adopted).to_contain_text("进行中")
    events = srv.get(f"{HALL}/events?after=0&limit=1000", token=tok.login("admin")).body["events"]
    assert any(e["type"] in ("clerk.moved", "window.profile_set") and e["data"].get("clerk") == clerk for e in events)
    screenshot(page, "manager-rebalance")
