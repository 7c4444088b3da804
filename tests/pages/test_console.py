"""The clerk's console driven from the keyboard; the window's own screen follows it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.pages.conftest import HALL, keep_for_docs, screenshot, take
from tests.pages.test_flow import console_login, events


def test_keyboard_shortcuts_run_the_window(page: Page, server, tokens):
    take(server, tokens, "business-setup")
    take(server, tokens, "business-change")
    display = page.context.new_page()
    display.goto(f"{server.base}/window/1?hall=demo")
    expect(display.locator("#window-main")).to_have_attribute("data-status", "closed")

    page.set_viewport_size({"width": 1366, "height": 900})
    console_login(page, server, "c01", 1)
    expect(display.locator("#window-main")).to_have_attribute("data-status", "open")

    page.keyboard.press("c")  # 呼叫下一位
    expect(page.locator("#current-number")).to_have_text("A001")
    expect(display.locator("#window-ticket")).to_have_text("A001")
    expect(display.locator("#window-main")).to_have_attribute("data-status", "called")
    screenshot(display, "window-display")
    keep_for_docs("window-display")

    page.keyboard.press("r")  # 重呼
    expect(page.locator("#log li").first).to_contain_text("重呼 A001")
    page.keyboard.press("s")  # 开始办理
    expect(page.locator("#current-state")).to_have_attribute("data-state", "serving")
    page.keyboard.press("f")  # 办结: outcome and case number, Enter confirms
    expect(page.locator("#finish-dialog")).to_be_visible()
    page.select_option("#outcome", "accepted_pending")
    page.fill("#case-number", "RQ-0001")
    page.keyboard.press("Enter")
    expect(page.locator("#current-number")).to_have_text("—")

    page.keyboard.press("c")
    expect(page.locator("#current-number")).to_have_text("B001")
    page.keyboard.press("n")  # 过号
    expect(page.locator("#current-number")).to_have_text("—")
    expect(page.locator("#queues tr[data-category=business-change] .waiting")).to_have_text("0")

    page.keyboard.press("p")  # 暂停, with a reason
    page.select_option("#pause-reason", "break")  # 临时离岗, from the hall's pause_reasons
    page.fill("#pause-note", "为张三丰取材料")  # the clerk's own words: staff only
    page.press("#pause-note", "Enter")
    expect(page.locator("#desk-status")).to_have_class("state-paused")
    expect(display.locator("#window-state .zh")).to_have_text("暂停服务（临时离岗）")
    expect(page.locator("#log")).to_contain_text("暂停：临时离岗（为张三丰取材料）")
    assert "张三丰" not in display.content()
    screenshot(display, "window-display-paused")
    page.keyboard.press("p")  # 恢复
    expect(page.locator("#desk-status")).to_have_class("state-open")

    page.keyboard.press("c")  # nobody waits: the server's message is shown
    expect(page.locator("#desk-message .zh")).to_have_text("当前没有可呼叫的等候人员")

    types = [e["type"] for e in events(server, tokens, "ticket.finished")]
    assert types == ["ticket.finished"]
    finished = events(server, tokens, "ticket.finished")[0]["data"]
    assert (finished["number"], finished["outcome"], finished["case_number"]) == ("A001", "accepted_pending", "RQ-0001")
    assert [e["data"]["number"] for e in events(server, tokens, "ticket.no_show")] == ["B001"]
    paused = [e["data"] for e in events(server, tokens, "window.paused")]
    assert [(d["reason"], d["reason_zh"], d["note"]) for d in paused] == [("break", "临时离岗", "为张三丰取材料")]


def test_transfer_from_the_console(page: Page, server, tokens):
    take(server, tokens, "business-setup")
    console_login(page, server, "c01", 1)
    page.keyboard.press("c")
    expect(page.locator("#current-number")).to_have_text("A001")
    page.keyboard.press("t")
    page.select_option("#to-category", "delivery")
    page.click("#transfer-dialog button[type=submit]")
    expect(page.locator("#current-number")).to_have_text("—")
    moved = events(server, tokens, "ticket.transferred")[0]["data"]
    assert (moved["number"], moved["to_category"], moved["keep_place"]) == ("A001", "delivery", True)
    assert server.get(f"{HALL}/tickets/{moved['ticket']}").body["state"] == "waiting"


def test_wrong_password_is_refused_clearly(page: Page, server):
    page.goto(f"{server.base}/console?hall=demo")
    page.fill("#user", "c01")
    page.fill("#password", "wrong")
    page.fill("#window", "1")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error .zh")).to_have_text("用户名或密码错误")
