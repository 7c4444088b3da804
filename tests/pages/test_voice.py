"""The hall's voice in the browser: Chinese number reading, one announcement at a time, the autoplay tap."""

from __future__ import annotations

import itertools

from playwright.sync_api import Browser, Page, expect

from tests.pages.conftest import CHROMIUM, CHROMIUM_ARGS, HALL, open_window, take


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


def test_calls_are_announced_one_at_a_time_in_order(page: Page, server, tokens):
    for _ in range(3):
        take(server, tokens, "tax")
    clerks = [open_window(server, tokens, w, f"c{w}") for w in (16, 17, 18)]
    page.goto(f"{server.base}/board?hall=demo&voice_rate=3")  # the same path, three times as fast
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    for window, clerk in zip((16, 17, 18), clerks, strict=True):
        assert server.post(f"{HALL}/windows/{window}/call-next", token=clerk).status == 200
    page.wait_for_function("hallqVoice.spoken.length === 3", timeout=30000)
    spoken = page.evaluate("hallqVoice.spoken")
    assert [s["text"] for s in spoken] == ["请L001号到16号窗口办理", "请L002号到17号窗口办理", "请L003号到18号窗口办理"]
    for before, after in itertools.pairwise(spoken):
        assert after["startedAt"] >= before["doneAt"]  # never two at once
    # headless Chromium has no zh-CN voice: the recorded clips speak instead
    first = spoken[0]
    assert first["mode"] in ("speech", "clips")
    if first["mode"] == "clips":
        assert first["clips"] == ["请", "L", "零", "零", "一", "号", "到", "十", "六", "号", "窗口", "办理"]


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
