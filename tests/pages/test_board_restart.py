"""A board survives a server restart and shows every call made while it was reconnecting."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.pages.conftest import HALL, open_window, screenshot, take


def test_board_reconnects_after_a_restart_and_replays_the_missed_calls(page: Page, server, tokens):
    for _ in range(3):
        take(server, tokens, "business-setup")
    clerk = open_window(server, tokens, 1, "c01")
    page.goto(f"{server.base}/board?hall=demo")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    assert server.post(f"{HALL}/windows/1/call-next", token=clerk).status == 200
    expect(page.locator("#current-number")).to_have_text("A001")

    server.stop()
    expect(page.locator("#conn")).to_have_attribute("data-state", "down")
    screenshot(page, "board-reconnecting")
    # let the board fail a few times, so its next try is seconds away and the calls below
    # happen while it is still reconnecting
    page.wait_for_function("hallqBoard.feed.attempts >= 3", timeout=15000)
    server.start()  # same port, same journal: the hall's state and seq survive
    for _ in range(2):
        assert server.post(f"{HALL}/windows/1/no-show", token=clerk).status == 200
        assert server.post(f"{HALL}/windows/1/call-next", token=clerk).status == 200
    assert server.post(f"{HALL}/windows/1/recall", token=clerk).status == 200

    expect(page.locator("#conn")).to_have_attribute("data-state", "ok", timeout=15000)
    expect(page.locator("#current-number")).to_have_text("A003")
    numbers = page.locator("#recent-calls li").evaluate_all("els => els.map(e => e.dataset.number)")
    assert numbers == ["A003", "A002", "A001"]
    seen = page.evaluate("hallqBoard.seen")
    replayed = [(s["number"], s["replay"]) for s in seen if s["replay"]]
    assert replayed == [("A002", True), ("A003", True), ("A003", True)]  # call, call, recall — none lost
    # of the fresh calls missed meanwhile only what is still current is said: window 1 has moved on from
    # A002 (a no-show), and the recall of A003 replaces its first call
    page.wait_for_function("hallqVoice.log.length === 2")
    texts = page.evaluate("hallqVoice.log.map(a => a.speech)")
    assert texts == ["请A零零一号到一号窗口办理", "重呼：请A零零三号到一号窗口办理"]
    # and the board keeps working live after the reconnection
    assert server.post(f"{HALL}/windows/1/no-show", token=clerk).status == 200
    take(server, tokens, "business-setup")
    assert server.post(f"{HALL}/windows/1/call-next", token=clerk).status == 200
    # the panel shows the call being said: A004 comes up once the recall's sentence has been spoken
    expect(page.locator("#current-number")).to_have_text("A004", timeout=30000)


def test_a_zone_board_shows_only_its_zone(page: Page, server, tokens):
    take(server, tokens, "tax")  # zone-b
    take(server, tokens, "housing-fund")  # zone-c
    page.goto(f"{server.base}/board?hall=demo&zone=zone-c")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    shown = page.locator("#queues tbody tr").evaluate_all("rows => rows.map(r => r.dataset.category)")
    assert shown == ["real-estate", "social-insurance", "housing-fund"]
    expect(page.locator("#queues tr[data-category=housing-fund] .waiting")).to_have_text("1")
    tax_clerk = open_window(server, tokens, 16, "c16")
    fund_clerk = open_window(server, tokens, 26, "c26")
    server.post(f"{HALL}/windows/16/call-next", token=tax_clerk)  # another zone: not on this board
    server.post(f"{HALL}/windows/26/call-next", token=fund_clerk)
    expect(page.locator("#current-number")).to_have_text("P001")
    numbers = page.locator("#recent-calls li").evaluate_all("els => els.map(e => e.dataset.number)")
    assert numbers == ["P001"]
    assert page.evaluate("hallqVoice.log.map(a => a.text)") == ["请P001号到26号窗口办理"]
    screenshot(page, "board-zone-c")


def test_pages_answer_for_a_bare_ticket_number_and_an_unknown_hall(server, tokens):
    t = take(server, tokens, "tax")
    page = server.get("/t/L001?hall=demo").body
    assert f'"ticket": "{t["ticket"]}"' in page  # today's L001
    qr = server.get(f"/qr/{t['ticket']}.svg?hall=demo")
    assert qr.status == 200 and "<svg" in qr.body
    missing = server.get("/board?hall=nope")
    assert missing.status == 404 and missing.error["code"] == "unknown_hall"


def test_a_zone_board_lists_its_own_last_calls_however_busy_the_other_zones(page: Page, server, tokens):
    tax = open_window(server, tokens, 16, "c16")  # zone-b
    business = open_window(server, tokens, 1, "c01")  # zone-a
    for window, clerk, category, count in ((16, tax, "tax", 3), (1, business, "business-setup", 10)):
        for _ in range(count):
            take(server, tokens, category)
            assert server.post(f"{HALL}/windows/{window}/call-next", token=clerk).status == 200
            assert server.post(f"{HALL}/windows/{window}/no-show", token=clerk).status == 200
    page.goto(f"{server.base}/board?hall=demo&zone=zone-b&n=8")  # its calls are older than the hall's last 10
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    numbers = page.locator("#recent-calls li").evaluate_all("els => els.map(e => e.dataset.number)")
    assert numbers == ["L003", "L002", "L001"]
