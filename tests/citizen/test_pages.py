"""Real-browser tests (Playwright driving Debian's Chromium) of the booking, check-in, follow-up and report pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.conftest import free_port
from tests.server.conftest import HALL, SECRET, Server, write_test_config

from .conftest import TEST_APPOINTMENTS, book_household, id_number


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Authority]]:
    config = write_test_config(tmp_path_factory.mktemp("pages"), appointments=TEST_APPOINTMENTS)
    server = Server(config, free_port())
    server.start()
    yield server, Authority(load_config(server.config), SECRET.encode())
    server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # the device's zone may differ from the hall's (tests.conftest.LIVE_TZ): pages show the hall's time
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def test_booking_page_books_with_masked_data_and_cancels(live, page):
    server, _ = live
    page.goto(server.base + "/booking?hall=demo")
    page.select_option("#category", "household")
    page.select_option("#day", index=1)  # tomorrow: more than 2 hours ahead, so it can be cancelled
    expect(page.locator("#slots button").first).to_contain_text("00:00")
    first = page.locator("#slots button:not([disabled])").first
    first.click()
    page.fill("#name", "孙悟空")
    page.fill("#id_number", "110101198001010000")
    page.fill("#phone", "13512345678")
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text("身份证号校验位")
    raw = id_number(501)
    page.fill("#id_number", raw)
    page.click("#submit")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#code")).to_have_text(re.compile(r"^[A-Z2-7]{8}$"))
    code = page.locator("#code").inner_text()
    expect(page.locator("#summary")).to_contain_text("孙*空")
    expect(page.locator("#summary")).to_contain_text("135****5678")
    mine = page.locator("#my-list")
    expect(mine).to_contain_text(code)
    expect(mine).to_contain_text("已预约")
    assert raw not in page.content() and "13512345678" not in page.inner_text("body")
    mine.get_by_role("button", name="取消预约 Cancel").click()
    expect(mine).to_contain_text("已取消")
    expect(mine.get_by_role("button")).to_have_count(0)


def test_check_in_is_on_the_kiosk_page(live, page):
    """The old /checkin address opens the kiosk on its check-in step (tests/pages/test_kiosk_checkin.py tests it)."""
    server, authority = live
    booking = book_household(server, 502)
    page.goto(server.base + f"/checkin?hall=demo&token={authority.device_token('kiosk-1')}")
    assert "/kiosk?" in page.url and "checkin=booking" in page.url
    expect(page.locator("#step-checkin")).to_be_visible()
    page.keyboard.type(booking["booking"].lower())  # a physical keyboard types like the on-screen keypad
    page.click("#checkin-go")
    expect(page.locator("#result-number")).to_have_text(re.compile(r"^J\d{3}$"))
    expect(page.locator("#result-text .zh")).to_contain_text("优先叫号")
    page.click("#done")
    expect(page.locator("#step-checkin")).to_be_visible()  # a check-in kiosk stays on check-in
    page.keyboard.type(booking["booking"])
    page.click("#checkin-go")
    expect(page.locator("#kiosk-error-text")).to_contain_text("已签到")


def _rated_service(server: Server, authority: Authority, window: int, clerk: str, level: int, reason: str) -> Any:
    """A social-insurance ticket served at ``window`` by ``clerk`` and rated ``level``."""
    kiosk = authority.device_token("kiosk-1")
    admin = server.post("/api/v1/auth/login", {"user": "admin", "password": "hallq-demo"}).body["token"]
    issued = server.post(f"{HALL}/tickets", {"category": "social-insurance"}, token=kiosk).body
    server.post(f"{HALL}/windows/{window}/open", {"clerk": clerk}, token=admin)
    for step in ("call-next", "start", "finish"):
        assert server.post(f"{HALL}/windows/{window}/{step}", {}, token=admin).status == 200
    body = {"level": level, "reason": reason, "token": issued["token"]}
    rated = server.post(f"{HALL}/tickets/{issued['ticket']}/rating", body)
    assert rated.status == 200
    return rated.body


def test_follow_up_page_lists_and_advances_a_bad_rating(live, page):
    server, authority = live
    rated = _rated_service(server, authority, 23, "c23", 1, "推诿")
    fid = rated["followup"]["id"]
    page.goto(server.base + "/followups?hall=demo")
    page.fill("#user", "admin")
    page.fill("#password", "wrong")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_contain_text("密码错误")
    page.fill("#password", "hallq-demo")
    page.click("#login-button")
    row = page.locator(f'tr[data-id="{fid}"]')
    expect(row).to_contain_text("非常不满意：推诿")
    expect(row.locator(".stage")).to_have_text("核实")
    page.once("dialog", lambda d: d.accept("已电话核实情况"))
    row.locator("button.advance").click()
    expect(row.locator(".stage")).to_have_text("整改")
    expect(row).to_contain_text("已电话核实情况")
    page.once("dialog", lambda d: d.dismiss())
    row.locator("button.advance").click()
    expect(page.locator("#error")).to_contain_text("需要填写说明")
    expect(row.locator(".stage")).to_have_text("整改")


def test_report_page_shows_tables_and_plots(live, page):
    server, authority = live
    _rated_service(server, authority, 24, "c24", 5, "很好")
    page.goto(server.base + "/reports?hall=demo")
    page.fill("#user", "admin")
    page.fill("#password", "hallq-demo")
    page.click("#login-button")
    expect(page.locator("#table tr").nth(1)).to_be_visible()
    expect(page.locator("#totals")).to_contain_text("好评率")
    assert page.locator("#plots svg").count() >= 2
    page.select_option("#by", "clerk")
    page.click("#run")
    expect(page.locator("#table")).to_contain_text("宋佳")
    header = [h.strip() for h in page.locator("#table tr").first.locator("th").all_inner_texts()]
    row = page.locator("#table tr", has_text="宋佳").locator("td").all_inner_texts()
    cells = dict(zip(header, row, strict=True))
    assert cells["评价数"] == "1" and cells["评价率"] == "100.0%" and cells["好评率"] == "100.0%"


def test_remote_ticket_page_follows_the_ticket_live(live, page):
    server, _ = live
    admin = server.post("/api/v1/auth/login", {"user": "admin", "password": "hallq-demo"}).body["token"]
    page.goto(server.base + "/remote?hall=demo")
    page.select_option("#category", "housing-fund")
    page.fill("#phone", "13700007777")
    page.click("#submit")
    expect(page.locator("#state")).to_contain_text("未签到")
    expect(page.locator("#where")).to_contain_text("取号机签到")
    number = page.locator("#number").inner_text()
    assert number.startswith("P")
    server.post(f"{HALL}/tickets", {"category": "housing-fund"}, token=admin)
    server.post(f"{HALL}/windows/26/open", {"clerk": "c26"}, token=admin)
    called = server.post(f"{HALL}/windows/26/call-next", {}, token=admin).body
    assert called["expired"]  # pushed to the phone over the WebSocket
    expect(page.locator("#state")).to_contain_text("已过期")
    expect(page.locator("#cancel")).to_be_hidden()
