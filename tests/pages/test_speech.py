"""Every sentence is heard offline (the server's espeak-ng where no clip exists); a blind citizen takes a ticket."""

from __future__ import annotations

import urllib.request
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.pages.conftest import screenshot
from tests.server.conftest import Server, Tokens

RESULT = "您已领取L001号，前方等待0人，当前暂无开放窗口，请留意叫号"


def test_the_server_speaks_any_sentence_in_zh_and_en(server: Server):
    for lang, text in (("zh", "您已领取A005号，前方等待3人"), ("en", "You have number A005")):
        with urllib.request.urlopen(f"{server.base}/voice/say.wav?lang={lang}&text={quote(text)}", timeout=15) as resp:
            assert resp.headers["Content-Type"] == "audio/wav"
            wav = resp.read()
        assert wav[:4] == b"RIFF" and len(wav) > 8000  # a WAV with sound in it
    bad = server.get(f"/voice/say.wav?lang=xx&text={quote('你好')}")
    assert bad.status == 422 and "不支持的朗读语言" in bad.body["error"]["message"]


def test_the_elderly_read_aloud_is_heard_without_a_sound_button(page: Page, server: Server, tokens: Tokens):
    page.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}&voice_rate=2")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    page.click("#elderly")
    page.click("[data-zone=zone-b]")
    page.click("[data-category=tax]")
    page.click("#take")
    expect(page.locator("#result-text .zh")).to_have_text(RESULT)
    page.wait_for_function(f"hallqVoice.spoken.some(a => a.text === '{RESULT}')", timeout=20000)
    said = page.evaluate(f"hallqVoice.spoken.find(a => a.text === '{RESULT}')")
    # headless Chromium has no zh voice and the clips cover only the call: the server's engine says it
    assert said["mode"] == "server"
    assert said["doneAt"] - said["startedAt"] > 1500  # it played for seconds, not skipped


def test_english_is_spoken_offline_too(page: Page, server: Server, tokens: Tokens):
    page.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}&lang=en&voice_rate=2")
    page.click("#elderly")
    page.click("[data-zone=zone-b]")
    page.click("[data-category=tax]")
    page.click("#take")
    page.wait_for_function("hallqVoice.spoken.some(a => a.text.startsWith('You have number L001'))", timeout=20000)
    said = page.evaluate("hallqVoice.spoken.find(a => a.text.startsWith('You have number L001'))")
    assert said["lang"] == "en" and said["mode"] == "server"


def _focused(page: Page) -> str:
    return str(page.evaluate("(e => e.dataset.zone || e.dataset.category || e.id)(document.activeElement)"))


def _arrow_to(page: Page, target: str) -> None:
    for _ in range(25):
        if _focused(page) == target:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrows never reached {target}")


def test_a_blind_citizen_takes_a_ticket_with_the_keys_and_the_voice(page: Page, server: Server, tokens: Tokens):
    page.goto(f"{server.base}/kiosk?hall=demo&token={tokens.kiosk}&voice_rate=3")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    page.keyboard.press("ArrowDown")  # any arrow key starts the audio guidance
    page.wait_for_function("hallqVoice.log.some(a => a.text.startsWith('语音引导已开启'))")
    assert _focused(page) == "zone-a"
    _arrow_to(page, "zone-b")
    page.keyboard.press("Enter")
    expect(page.locator("#step-category")).to_be_visible()
    _arrow_to(page, "tax")
    page.keyboard.press("Enter")
    expect(page.locator("#step-confirm")).to_be_visible()
    _arrow_to(page, "take")
    page.keyboard.press("Enter")
    expect(page.locator("#result-number")).to_have_text("L001")
    screenshot(page, "kiosk-guide-ticket")
    page.wait_for_function(f"hallqVoice.spoken.some(a => a.text === '{RESULT}')", timeout=60000)
    log = page.evaluate("hallqVoice.log.map(a => a.text)")
    # every step was said: the areas, the focused buttons, the service, the confirmation, the ticket
    for heard in ("请选择办事区域，或预约签到、线上取号签到。综合受理区", "公安税务区", "请选择办理事项", "税务办理",
                  "确认取号", RESULT, "按确认键打印凭条，按返回键结束"):  # fmt: skip
        assert any(heard in line for line in log), (heard, log)
    spoken = page.evaluate("hallqVoice.spoken.filter(a => a.mode === 'muted').length")
    assert spoken == 0  # the key presses unlocked sound: nothing was only shown
    page.keyboard.press("Escape")  # 完成: the next citizen
    expect(page.locator("#step-zone")).to_be_visible()
