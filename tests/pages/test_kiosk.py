"""The kiosk: clear refusals (hall closed, today's tickets gone), one ticket per tap, elderly mode, English."""

from __future__ import annotations

from datetime import datetime, timedelta

import yaml
from playwright.sync_api import Page, expect

from tests.conftest import LIVE_TZ
from tests.pages.conftest import HALL, keep_for_docs, open_window, screenshot, take, tokens_for
from tests.server.conftest import write_test_config


def choose(page: Page, zone: str, category: str) -> None:
    page.click(f"[data-zone={zone}]")
    page.click(f"[data-category={category}]")


def test_a_closed_hall_says_so(page: Page, server_factory, tmp_path):
    today = datetime.now(LIVE_TZ).date()
    holidays = [today + timedelta(days=d) for d in (-1, 0, 1)]  # whatever the hour, the hall is closed
    hours = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "00:00", "close": "23:59",
             "holidays": [d.isoformat() for d in holidays]}
    (tmp_path / "closed").mkdir()
    server = server_factory(config=write_test_config(tmp_path / "closed", hours=hours))
    kiosk_token = tokens_for(server).kiosk
    page.goto(f"{server.base}/kiosk?hall=demo&token={kiosk_token}")
    expect(page.locator("#closed-banner")).to_be_visible()
    choose(page, "zone-b", "tax")
    page.click("#take")
    expect(page.locator("#kiosk-error")).to_be_visible()
    expect(page.locator("#kiosk-error-text")).to_have_attribute("data-code", "hall_closed")
    expect(page.locator("#kiosk-error-text .zh")).to_have_text("大厅当前不在办公时间，暂停取号")
    screenshot(page, "kiosk-closed")
    page.click("#kiosk-error-ok")
    expect(page.locator("#step-zone")).to_be_visible()


def test_a_category_whose_tickets_are_gone_says_so(page: Page, server_factory, tmp_path):
    (tmp_path / "cap").mkdir()
    raw = yaml.safe_load((write_test_config(tmp_path / "cap")).read_text(encoding="utf-8"))
    for cat in raw["categories"]:
        if cat["id"] == "real-estate":
            cat["daily_cap"] = 1
        if cat["id"] == "social-insurance":
            cat["daily_cap"] = 5
    path = tmp_path / "cap" / "hall.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    server = server_factory(config=path)
    tokens = tokens_for(server)
    take(server, tokens, "real-estate")
    take(server, tokens, "social-insurance")
    page.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}")
    page.click("[data-zone=zone-c]")
    # the buttons say it before anyone taps: gone, or how few are left
    expect(page.locator("[data-category=real-estate]")).to_contain_text("今日号源已满")
    expect(page.locator("[data-category=social-insurance]")).to_contain_text("今日余4号")
    # a tap on a category whose tickets are gone gives the message at once, in the server's words
    page.click("[data-category=real-estate]")
    expect(page.locator("#kiosk-error-text")).to_have_attribute("data-code", "daily_cap_reached")
    expect(page.locator("#kiosk-error-text .zh")).to_have_text("不动产登记今日号源已满（1个），请改日办理或网上办理")
    screenshot(page, "kiosk-cap-reached")
    keep_for_docs("kiosk-cap-reached")


def test_a_double_tap_gives_one_ticket(page: Page, server, tokens):
    page.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}")
    choose(page, "zone-b", "tax")
    page.dblclick("#take")
    expect(page.locator("#result-number")).to_have_text("L001")
    snap = server.get(f"{HALL}/snapshot").body
    assert next(c for c in snap["categories"] if c["id"] == "tax")["issued_today"] == 1


def test_elderly_mode_is_larger_and_reads_the_ticket_aloud(page: Page, server, tokens):
    for _ in range(4):
        take(server, tokens, "business-setup")
    clerk = open_window(server, tokens, 1, "c01")
    server.post(f"{HALL}/windows/1/call-next", token=clerk)  # A001 at window 1; A002–A004 wait
    page.set_viewport_size({"width": 1080, "height": 1920})
    page.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}")
    normal = page.locator("[data-zone=zone-a]").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    page.click("#elderly")
    expect(page.locator("body")).to_have_class("kiosk elderly")
    large = page.locator("[data-zone=zone-a]").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert large >= normal * 1.3
    screenshot(page, "kiosk-elderly")
    choose(page, "zone-a", "business-setup")
    expect(page.locator("#step-confirm")).to_be_visible()
    page.click("[data-group=elderly]")
    expect(page.locator("[data-group=elderly]")).to_have_attribute("aria-pressed", "true")
    page.click("#take")
    # the elderly citizen's head start puts A005 before A002–A004: next when window 1 is free
    message = "您已领取A005号，前方等待0人，预计等待约15分钟（8–23分钟）"
    expect(page.locator("#result-text .zh")).to_have_text(message)
    page.wait_for_function(f"hallqVoice.log.some(a => a.text === '{message}')")
    screenshot(page, "kiosk-elderly-ticket")
    issued = server.get(f"{HALL}/tickets/{page.locator('#result-text').get_attribute('data-ticket')}").body
    assert issued["priority"] is True
    page.click("#done")
    expect(page.locator("body")).not_to_have_class("kiosk elderly")  # the next citizen starts in normal mode


def test_english_switch_is_remembered(page: Page, server, tokens):
    page.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}")
    expect(page.get_by_text("请选择办事区域")).to_be_visible()
    page.click("[data-lang-switch]")
    expect(page.get_by_text("Choose an area")).to_be_visible()
    expect(page.get_by_text("请选择办事区域")).to_be_hidden()
    expect(page.locator("[data-zone=zone-b] .en")).to_have_text("Public security and tax")
    expect(page.locator("[data-zone=zone-b] .en")).to_be_visible()
    page.set_viewport_size({"width": 1920, "height": 1080})
    screenshot(page, "kiosk-landscape-english")
    page.goto(f"{server.base}/board?hall=demo")  # another page of the hall, same browser
    expect(page.get_by_text("Recent calls")).to_be_visible()
    expect(page.get_by_text("最近呼叫")).to_be_hidden()
    page.click("[data-lang-switch]")
    expect(page.get_by_text("最近呼叫")).to_be_visible()
