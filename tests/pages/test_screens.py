"""The hall board and the window display on every screen shape a hall hangs up: nothing cut, nothing on top
of anything else, the figures large; opening hours when closed, the 通知公告 line, the connection state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.pages.conftest import CHROMIUM, CHROMIUM_ARGS, HALL, keep_for_docs, open_window, screenshot, take
from tests.server.conftest import write_test_config

SIZES = [(1920, 1080), (1366, 768), (3840, 2160), (1080, 1920), (1280, 400), (800, 480)]

# Every box that must lie inside the screen, whole, and apart from the others; and every element whose
# content must fit its box (no scrolling, nothing cut). The 通知公告 track scrolls inside its viewport by design.
LAYOUT = """(sel) => {
  const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 &&
    getComputedStyle(e).visibility !== 'hidden'; };
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, r: r.right, b: r.bottom}; };
  const root = document.documentElement;
  const out = {boxes: {}, cut: [], outside: [], page: [root.scrollWidth, root.scrollHeight]};
  for (const s of sel.boxes) { const e = document.querySelector(s); if (e && visible(e)) out.boxes[s] = box(e); }
  for (const s of sel.fit) for (const e of document.querySelectorAll(s)) {
    if (visible(e) && (e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1))
      out.cut.push(s + ' ' + e.scrollWidth + 'x' + e.scrollHeight + ' in ' + e.clientWidth + 'x' + e.clientHeight);
  }
  for (const e of document.querySelectorAll(sel.texts)) {
    if (!visible(e) || e.closest('.notice-viewport')) continue;
    const b = box(e);
    if (b.x < -1 || b.y < -1 || b.r > innerWidth + 1 || b.b > innerHeight + 1)
      out.outside.push(e.textContent.trim().slice(0, 30));
  }
  return out;
}"""
BOARD = {
    "boxes": [".topbar", "#current", "#next", ".recent", "#queue-panel", "#notices"],
    "fit": [".topbar h1", "#current", "#current-calls", "#next", ".recent", "#queue-panel", "#notices"],
    "texts": ".topbar > *, #current-calls .current-call, #queues tr, .recent-calls li, #next-calls li, "
    "#notices .notice-label",
}
WINDOW = {
    "boxes": [".topbar", "#window-main", "#notices"],
    "fit": [".topbar h1", "#window-main"],
    "texts": ".topbar > *, .window-number, #window-ticket, #window-state",
}


def _apart(boxes: dict[str, dict[str, float]]) -> list[str]:
    names = list(boxes)
    return [
        f"{a} overlaps {b}"
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if min(boxes[a]["r"], boxes[b]["r"]) - max(boxes[a]["x"], boxes[b]["x"]) > 1
        and min(boxes[a]["b"], boxes[b]["b"]) - max(boxes[a]["y"], boxes[b]["y"]) > 1
    ]


def check_layout(page: Page, selectors: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    found = page.evaluate(LAYOUT, selectors)
    assert found["page"] == [width, height], "the page scrolls"
    assert found["cut"] == [], f"content cut at {width}×{height}"
    assert found["outside"] == [], f"off the screen at {width}×{height}"
    assert _apart(found["boxes"]) == [], f"boxes overlap at {width}×{height}"
    return dict(found)


@pytest.fixture(scope="module")
def tap_browser(browser: Browser) -> Iterator[Browser]:
    """A Chromium that needs the one tap for sound, so the board shows its 「点击开启叫号声音」 button."""
    b = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[a for a in CHROMIUM_ARGS if not a.startswith("--autoplay-policy")]
    )
    yield b
    b.close()


def test_board_and_window_display_fit_every_screen(tap_browser: Browser, server, tokens):
    hall = server.get(f"{HALL}").body
    for cat in hall["categories"]:  # every matter of the example has people waiting
        take(server, tokens, cat["id"])
    clerk = open_window(server, tokens, 5, "c05")
    assert server.post(f"{HALL}/windows/5/call-next", token=clerk).status == 200
    for width, height in SIZES:
        for lang in ("zh", "en"):
            page = tap_browser.new_page(viewport={"width": width, "height": height})
            try:
                page.goto(f"{server.base}/board?hall=demo&lang={lang}")
                expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
                expect(page.locator("#sound-enable")).to_be_visible()
                expect(page.locator("#current-number")).to_have_text("C001")
                expect(page.locator("#queues tbody tr")).to_have_count(len(hall["categories"]))
                page.wait_for_timeout(200)  # the fitting runs on the next frame
                found = check_layout(page, BOARD, width, height)
                assert set(found["boxes"]) >= {".topbar", "#current", "#queue-panel", "#notices"}
                if lang == "zh":
                    screenshot(page, f"board-{width}x{height}")
                if (width, height) == (1920, 1080) and lang == "zh":
                    # readable from the seats: the queue figures were 21–23 px, the connection state 16 px
                    waiting = page.locator("#queues tbody tr .waiting").first.evaluate(
                        "e => parseFloat(getComputedStyle(e).fontSize)"
                    )
                    assert waiting >= 30
                    assert page.locator("#conn").evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 24
                    assert (
                        page.locator("#current-number").evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 150
                    )
                    keep_for_docs(f"board-{width}x{height}")
                page.goto(f"{server.base}/window/5?hall=demo&lang={lang}")
                expect(page.locator("#window-ticket")).to_have_text("C001")
                page.wait_for_timeout(200)
                check_layout(page, WINDOW, width, height)
                if lang == "zh":
                    screenshot(page, f"window-{width}x{height}")
                if (width, height) == (1280, 400) and lang == "zh":
                    keep_for_docs(f"window-{width}x{height}")
            finally:
                page.close()


def test_a_closed_hall_shows_its_hours_and_the_board_its_notices(page: Page, server_factory, tmp_path):
    config = write_test_config(
        tmp_path,
        hours={"days": ["mon", "tue", "wed", "thu", "fri"], "open": "00:00", "close": "00:30"},  # closed at midday
        notices=[
            {"text": "今天下午停电检修，自助服务区暂停使用", "text_en": "Self-service area closed this afternoon"}
        ],
    )
    server = server_factory(config=config)
    page.goto(f"{server.base}/board?hall=demo")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    expect(page.locator("#closed-hours .zh")).to_have_text("办公时间：周一、二、三、四、五 00:00–00:30")
    expect(page.locator("#notices")).to_be_visible()
    expect(page.locator("#notice-track .zh").first).to_have_text("今天下午停电检修，自助服务区暂停使用")
    page.click("[data-lang-switch]")
    expect(page.locator("#closed-hours .en")).to_have_text("Opening hours: Mon, Tue, Wed, Thu, Fri 00:00–00:30")
    expect(page.locator("#notice-track .en").first).to_have_text("Self-service area closed this afternoon")
    # the connection state, visible from the seats: the whole top bar changes colour
    bar = page.locator(".topbar").evaluate("e => getComputedStyle(e).backgroundColor")
    server.stop()
    expect(page.locator("#conn")).to_have_attribute("data-state", "down")
    assert page.locator(".topbar").evaluate("e => getComputedStyle(e).backgroundColor") != bar
