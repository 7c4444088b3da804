"""The clerk's desk in the console: the queue in calling order, 叫指定号 with a reason, 挂起/恢复办理,
the service timer and the count of services finished today — all from the keyboard."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.pages.conftest import HALL, keep_for_docs, screenshot, take
from tests.pages.test_flow import console_login, events


def test_the_queue_in_calling_order_and_a_chosen_call_with_its_reason(page: Page, server, tokens):
    first = take(server, tokens, "business-setup")
    elderly = take(server, tokens, "business-setup", priority_group="elderly")
    last = take(server, tokens, "business-change")
    page.set_viewport_size({"width": 1366, "height": 900})
    console_login(page, server, "c01", 1)
    rows = page.locator("#waiting tbody tr")
    # weighted_aging: the elderly citizen's 30-minute head start puts A002 first
    expect(rows).to_have_count(3)
    expect(rows.locator(".ticket-number")).to_have_text([elderly["number"], first["number"], last["number"]])
    expect(rows.nth(0)).to_contain_text("老年人优先")
    expect(page.locator("#waiting-count .zh")).to_have_text("3人")
    expect(page.locator("#keys")).to_contain_text("叫指定号")  # the keys are documented on screen

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(rows.nth(2)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("x")  # 叫指定号
    expect(page.locator("#choose-dialog")).to_be_visible()
    expect(page.locator("#choose-number")).to_have_text(last["number"])
    page.select_option("#choose-reason", "other")
    page.keyboard.press("Enter")  # 「其他」 without a note: the server's message names the problem
    expect(page.locator("#desk-message .zh")).to_contain_text("请填写备注")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    page.select_option("#choose-reason", "returned")
    page.fill("#choose-note", "已补交营业执照")
    page.keyboard.press("Enter")
    expect(page.locator("#current-number")).to_have_text(last["number"])
    expect(page.locator("#reason")).to_have_text("指定呼叫：补齐材料回到窗口（已补交营业执照）")
    expect(rows).to_have_count(2)
    screenshot(page, "console-desk")
    keep_for_docs("console-desk")

    [called] = [e for e in events(server, tokens, "ticket.called") if e["data"]["ticket"] == last["ticket"]]
    assert called["actor"] == "clerk:c01"
    assert (called["data"]["rule"], called["data"]["chosen_reason"], called["data"]["note"]) == (
        "chosen",
        "returned",
        "已补交营业执照",
    )


def test_suspend_and_resume_with_the_timer_and_served_today(page: Page, server, tokens):
    ticket = take(server, tokens, "business-setup")
    nxt = take(server, tokens, "business-setup")
    tracker = page.context.new_page()
    tracker.goto(f"{server.base}/t/{ticket['ticket']}?hall=demo")
    console_login(page, server, "c01", 1)
    expect(page.locator("#served-today .zh")).to_have_text("0件")
    page.keyboard.press("c")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    expect(page.locator("#timer")).to_have_text("—")  # the timer runs from 开始办理
    page.keyboard.press("s")
    expect(page.locator("#timer")).to_have_text("00:01", timeout=3000)
    expect(page.locator("#timer")).to_have_text("00:02", timeout=3000)

    page.keyboard.press("g")  # 挂起
    expect(page.locator("#suspend-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#current-number")).to_have_text("—")
    expect(page.locator("#suspended tbody tr")).to_have_count(1)
    expect(page.locator("#suspended")).to_contain_text(ticket["number"])
    expect(tracker.locator("#t-where .zh")).to_have_text("已挂起，请补齐材料后回到窗口")

    page.keyboard.press("c")  # the window serves the next citizen meanwhile
    expect(page.locator("#current-number")).to_have_text(nxt["number"])
    page.keyboard.press("s")
    expect(page.locator("#current-state")).to_have_attribute("data-state", "serving")
    page.keyboard.press("f")
    expect(page.locator("#finish-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#served-today .zh")).to_have_text("1件")

    page.keyboard.press("u")  # 恢复办理: the citizen is back with the document
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    expect(page.locator("#current-state")).to_have_attribute("data-state", "serving")
    expect(page.locator("#suspended-box")).to_be_hidden()
    expect(tracker.locator("#t-where .zh")).to_have_text("请到1号窗口")
    timer = page.locator("#timer").text_content() or ""
    assert timer.startswith("00:0"), timer  # the time away is not service time
    page.keyboard.press("f")
    expect(page.locator("#finish-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#served-today .zh")).to_have_text("2件")
    assert [e["data"]["number"] for e in events(server, tokens, "ticket.suspended")] == [ticket["number"]]
    assert [e["data"]["number"] for e in events(server, tokens, "ticket.resumed")] == [ticket["number"]]
    assert server.get(f"{HALL}/tickets/{ticket['ticket']}").body["state"] == "finished"
