"""The hall's voice in the browser: Chinese number reading, one announcement at a time, the autoplay tap."""

from __future__ import annotations

import itertools

from playwright.sync_api import Browser, Page, expect

from tests.pages.conftest import CHROMIUM, CHROMIUM_ARGS, HALL, keep_for_docs, open_window, screenshot, take


def test_numbers_are_read_the_chinese_way(page: Page, server):
    page.goto(f"{server.base}/board?hall=demo")
    said = page.evaluate(
        """[hallqVoice.speechText('请A012号到5号窗口办理'),
            hallqVoice.speechText('请B100号到12号窗口办理'),
            hallqVoice.speechText('请AB007号到20号窗口办理'),
            hallqVoice.speechText('请C003号到105号窗口办理', true),
            hallqVoice.speechText('重呼：请C003号到10号窗口办理', true)]"""
    )
    assert said == [
        "请A零一二号到五号窗口办理",
        "请B一零零号到十二号窗口办理",
        "请AB零零七号到二十号窗口办理",
        "重呼：请C零零三号到一百零五号窗口办理",
        "重呼：请C零零三号到十号窗口办理",  # never 重呼 twice
    ]


def test_the_board_shows_the_call_it_speaks_and_says_a_burst_compactly(page: Page, server, tokens):
    for _ in range(4):
        take(server, tokens, "tax")
    windows = (16, 17, 18, 19)
    clerks = dict(zip(windows, (open_window(server, tokens, w, f"c{w}") for w in windows), strict=True))
    page.goto(f"{server.base}/board?hall=demo&voice_rate=3")  # the same path, three times as fast
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    # sample what the big panel shows against what the voice is saying, every 50 ms
    page.evaluate(
        """window.samples = []; setInterval(() => { const s = hallqBoard.sample();
             if (s.speaking.length) samples.push([s.shown.join(' '), s.speaking.join(' ')]); }, 50)"""
    )
    assert server.post(f"{HALL}/windows/16/call-next", token=clerks[16]).status == 200
    page.wait_for_function("hallqVoice.current && hallqVoice.current.calls[0] === 'L001'", timeout=5000)
    for window in (17, 18, 19):  # a burst while L001 is being said
        assert server.post(f"{HALL}/windows/{window}/call-next", token=clerks[window]).status == 200
    assert server.post(f"{HALL}/windows/17/recall", token=clerks[17]).status == 200  # replaces L002's waiting call
    # the newer calls wait visibly, in order, while the panel still shows the one being said
    expect(page.locator("#next-calls li")).to_have_count(3)
    assert page.locator("#next-calls li").evaluate_all("els => els.map(e => e.dataset.number)") == [
        "L002",
        "L003",
        "L004",
    ]
    expect(page.locator("#current-number")).to_have_text("L001")
    screenshot(page, "board-burst")
    keep_for_docs("board-burst")
    page.wait_for_function("hallqVoice.spoken.length === 3", timeout=30000)
    spoken = page.evaluate("hallqVoice.spoken")
    assert [s["text"] for s in spoken] == [
        "请L001号到16号窗口办理",
        "重呼：请L002号到17号窗口办理",  # a recall is said on its own
        "请L003号到18号窗口，L004号到19号窗口办理",  # the rest of the burst in one sentence
    ]
    for before, after in itertools.pairwise(spoken):
        assert after["startedAt"] >= before["doneAt"]  # never two at once
    samples = page.evaluate("samples")
    assert {speaking for _, speaking in samples} == {"L001", "L002", "L003 L004"}
    assert all(shown == speaking for shown, speaking in samples)  # the number on screen is the one being said
    expect(page.locator("#next")).to_be_hidden()
    # headless Chromium has no zh-CN voice: the recorded clips speak instead, with a pause between calls
    first = spoken[0]
    assert first["mode"] in ("speech", "clips")
    if first["mode"] == "clips":
        assert first["clips"] == ["请", "L", "零", "零", "一", "号", "到", "十", "六", "号", "窗口", "办理"]
        assert "，" in spoken[2]["clips"]


def test_a_call_its_window_has_moved_on_from_is_not_announced_but_stays_listed(page: Page, server, tokens):
    for _ in range(3):
        take(server, tokens, "tax")
    clerk = open_window(server, tokens, 16, "c16")
    other = open_window(server, tokens, 17, "c17")
    page.goto(f"{server.base}/board?hall=demo&voice_rate=3")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    assert server.post(f"{HALL}/windows/17/call-next", token=other).status == 200  # L001, being said
    page.wait_for_function("hallqVoice.current && hallqVoice.current.calls[0] === 'L001'", timeout=5000)
    assert server.post(f"{HALL}/windows/16/call-next", token=clerk).status == 200  # L002 waits…
    assert server.post(f"{HALL}/windows/16/no-show", token=clerk).status == 200
    assert server.post(f"{HALL}/windows/16/call-next", token=clerk).status == 200  # …and window 16 moved on: L003
    page.wait_for_function("hallqVoice.spoken.length === 2", timeout=30000)
    assert page.evaluate("hallqVoice.spoken.map(s => s.text)") == ["请L001号到17号窗口办理", "请L003号到16号窗口办理"]
    numbers = page.locator("#recent-calls li").evaluate_all("els => els.map(e => e.dataset.number)")
    assert numbers == ["L003", "L002", "L001"]  # L002 is still listed


def test_without_the_autoplay_flag_the_board_asks_for_one_tap(server, browser: Browser):
    pw_browser = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[a for a in CHROMIUM_ARGS if not a.startswith("--autoplay-policy")]
    )
    try:
        page = pw_browser.new_page()
        page.goto(f"{server.base}/board?hall=demo")
        button = page.locator("#sound-enable")
        expect(button).to_be_visible()
        assert page.evaluate("hallqVoice.soundAllowed()") is False
        button.click()
        expect(button).to_be_hidden()
        assert page.evaluate("hallqVoice.soundAllowed()") is True
    finally:
        pw_browser.close()


def test_a_call_not_reached_within_the_bound_is_shown_but_not_said(page: Page, server, tokens):
    for _ in range(2):
        take(server, tokens, "tax")
    first, second = open_window(server, tokens, 16, "c16"), open_window(server, tokens, 17, "c17")
    page.clock.install()  # the board's own clock, moved by the test
    page.goto(f"{server.base}/board?hall=demo")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    assert server.post(f"{HALL}/windows/16/call-next", token=first).status == 200
    expect(page.locator("#next-calls li")).to_have_count(1)
    page.clock.run_for(500)  # the board gathers a burst for 0.3 s, then says L001
    page.wait_for_function("hallqVoice.current && hallqVoice.current.calls[0] === 'L001'")
    assert server.post(f"{HALL}/windows/17/call-next", token=second).status == 200  # L002 waits its turn…
    expect(page.locator("#next-calls li")).to_have_count(1)
    page.clock.fast_forward("01:05")  # …while the voice is held up for more than the 60 s bound
    page.wait_for_function("hallqBoard.skipped.length === 1")
    assert page.evaluate("hallqBoard.skipped") == ["L002"]
    assert page.evaluate("hallqVoice.log.map(a => a.text)") == ["请L001号到16号窗口办理"]
    numbers = page.locator("#recent-calls li").evaluate_all("els => els.map(e => e.dataset.number)")
    assert numbers == ["L002", "L001"]  # still shown
    expect(page.locator("#next")).to_be_hidden()
