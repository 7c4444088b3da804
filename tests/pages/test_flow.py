"""The whole path of a citizen through real pages in a real browser.

kiosk → ticket; console → call; board shows it within a second with the announcement
queued for the voice; the tracker on the phone shows 「请到1号窗口」; the clerk finishes
with a case number; the rating pad asks about that service and records the rating.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.pages.conftest import HALL, keep_for_docs, screenshot


def events(server, tokens, kind):
    manager = tokens.login("admin")
    body = server.get(f"{HALL}/events?after=0", token=manager).body
    return [e for e in body["events"] if e["type"] == kind]


def console_login(page: Page, server, user: str, window: int) -> None:
    page.goto(f"{server.base}/console?hall=demo")
    page.fill("#user", user)
    page.fill("#password", "hallq-demo")
    page.fill("#window", str(window))
    page.click("#login button[type=submit]")
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")


def test_ticket_from_kiosk_is_called_shown_spoken_tracked_and_rated(browser: Browser, page: Page, server, tokens):
    board = page
    board.goto(f"{server.base}/board?hall=demo")
    expect(board.locator("#conn")).to_have_attribute("data-state", "ok")

    ctx = board.context
    kiosk = ctx.new_page()
    kiosk.set_viewport_size({"width": 1080, "height": 1920})
    kiosk.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}")
    expect(kiosk.locator("#conn")).to_have_attribute("data-state", "ok")
    screenshot(kiosk, "kiosk-portrait-zones")
    kiosk.click("[data-zone=zone-a]")
    kiosk.click("[data-category=business-setup]")
    expect(kiosk.locator("#materials")).to_contain_text("法定代表人身份证原件")  # 一次性告知
    screenshot(kiosk, "kiosk-portrait-materials")
    kiosk.click("#take")
    expect(kiosk.locator("#result-text .zh")).to_have_text("您已领取A001号，前方等待0人，当前暂无开放窗口，请留意叫号")
    expect(kiosk.locator("#result-number")).to_have_text("A001")
    ticket = kiosk.locator("#result-text").get_attribute("data-ticket")
    assert ticket and ticket.endswith("-A001")
    kiosk.wait_for_function("document.getElementById('result-qr').naturalWidth > 0")  # the QR code loaded
    screenshot(kiosk, "kiosk-portrait-ticket")
    keep_for_docs("kiosk-portrait-ticket")

    phone_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        phone = phone_ctx.new_page()
        # record the vibration pattern (headless Chromium has no vibration motor to observe)
        phone.add_init_script("navigator.vibrate = p => { window.vibrated = p; return true; };")
        phone.goto(f"{server.base}/t/{ticket}?hall=demo")
        expect(phone.locator("#t-state")).to_have_attribute("data-state", "waiting")
        expect(phone.locator("#t-ahead")).to_contain_text("0人")
        screenshot(phone, "tracker-waiting")

        pad = ctx.new_page()
        pad.set_viewport_size({"width": 1280, "height": 800})
        pad.goto(f"{server.base}/rate/1?hall=demo&token={tokens.device('pad-1')}")
        expect(pad.locator("#conn")).to_have_attribute("data-state", "ok")
        expect(pad.locator("#rate-idle")).to_be_visible()

        clerk = ctx.new_page()
        clerk.set_viewport_size({"width": 1366, "height": 900})
        console_login(clerk, server, "c01", 1)
        expect(clerk.locator("#queues tr[data-category=business-setup] .waiting")).to_have_text("1")
        clerk.click("[data-action=call]")
        # on the board within one second, with its announcement queued for the voice
        expect(board.locator("#current-number")).to_have_text("A001", timeout=1000)
        expect(board.locator("#recent-calls li").first).to_have_attribute("data-number", "A001", timeout=1000)
        board.wait_for_function(
            "hallqVoice.log.some(a => a.text === '请A001号到1号窗口办理')", timeout=1000
        )
        spoken = board.evaluate("hallqVoice.log.map(a => a.speech)")
        assert spoken == ["请A零零一号到一号窗口办理"]
        expect(board.locator("#last-announcement")).to_contain_text("请A001号到1号窗口办理")
        screenshot(board, "board")
        keep_for_docs("board")

        # the clerk sees which ticket the policy chose and why
        expect(clerk.locator("#current-number")).to_have_text("A001")
        expect(clerk.locator("#reason")).to_have_text(re.compile("取号顺序"))

        # the phone: full screen 「请到1号窗口」
        expect(phone.locator("#called")).to_be_visible()
        expect(phone.locator("#called-where .zh")).to_have_text("请到1号窗口")
        phone.wait_for_function("hallqVoice.log.some(a => a.text === '请A001号到1号窗口办理')")
        assert phone.evaluate("window.vibrated") == [400, 200, 400, 200, 400]
        screenshot(phone, "tracker-called")
        keep_for_docs("tracker-called")

        # start and finish with a case number; the pad asks about exactly that service
        clerk.click("[data-action=start]")
        expect(clerk.locator("#current-state")).to_have_attribute("data-state", "serving")
        clerk.click("[data-action=finish]")
        clerk.fill("#case-number", "QY-2026-000123")
        screenshot(clerk, "console-finish")
        clerk.click("#finish-dialog button[type=submit]")
        expect(clerk.locator("#current-number")).to_have_text("—")
        screenshot(clerk, "console")
        keep_for_docs("console")

        expect(pad.locator("#rate-ask")).to_be_visible()
        expect(pad.locator("#rate-number")).to_have_text("A001")
        expect(pad.locator("#rate-case")).to_have_attribute("data-case", "QY-2026-000123")
        screenshot(pad, "rating-pad")
        keep_for_docs("rating-pad")
        pad.click("[data-level='5']")
        expect(pad.locator("#rate-thanks")).to_be_visible()
        expect(phone.locator("#t-state")).to_have_attribute("data-state", "finished")
    finally:
        phone_ctx.close()

    rated = events(server, tokens, "ticket.rated")
    assert [(e["data"]["number"], e["data"]["level"], e["data"]["case_number"]) for e in rated] == [
        ("A001", 5, "QY-2026-000123")
    ]


def test_a_bad_rating_asks_for_the_reason(page: Page, server, tokens):
    clerk = tokens.login("c01")
    server.post(f"{HALL}/tickets", {"category": "business-setup"}, token=tokens.kiosk)
    assert server.post(f"{HALL}/windows/1/open", token=clerk).status == 200
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{server.base}/rate/1?hall=demo&token={tokens.device('pad-1')}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    for step in ("call-next", "start"):
        assert server.post(f"{HALL}/windows/1/{step}", token=clerk).status == 200
    assert server.post(f"{HALL}/windows/1/finish", {"outcome": "supplement"}, token=clerk).status == 200
    expect(page.locator("#rate-number")).to_have_text("A001")
    page.click("[data-level='1']")
    expect(page.locator("#rate-reason")).to_be_visible()
    page.click("[data-reason='0']")
    page.fill("#reason-text", "材料清单不完整")
    screenshot(page, "rating-pad-reason")
    page.click("#reason-submit")
    expect(page.locator("#rate-thanks")).to_be_visible()
    rated = events(server, tokens, "ticket.rated")
    assert rated[-1]["data"]["level"] == 1
    assert rated[-1]["data"]["reason"] == "等候时间太长；材料清单不完整"


def test_a_pad_of_another_window_is_refused(page: Page, server, tokens):
    page.goto(f"{server.base}/rate/2?hall=demo&token={tokens.device('pad-1')}")
    expect(page.locator("#rate-error")).to_contain_text("评价器的凭证")
