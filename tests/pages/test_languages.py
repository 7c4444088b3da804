"""Languages as configuration: a hall in Xinjiang adds Uyghur (labels, announcements, speech) in config.yaml."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from queue_server.auth import Authority
from queue_server.config import load_config
from queue_server.views import announcement
from tests.pages.conftest import keep_for_docs, screenshot
from tests.server.conftest import SECRET, Server, write_test_config

# Uyghur (Arabic script, right to left) and Kazakh as a hall in Xinjiang would write them.
UYGHUR: dict[str, Any] = {
    "code": "ug",
    "name": "ئۇيغۇرچە",
    "direction": "rtl",
    "call": "{ticket} نومۇرلۇق، {window} نومۇرلۇق كۆزنەككە كېلىڭ",
    "recall": "قايتا چاقىرىش: {ticket} نومۇرلۇق، {window} نومۇرلۇق كۆزنەككە كېلىڭ",
    "labels": {
        "请选择办事区域": "ئىش بېجىرىش رايونىنى تاللاڭ",
        "公安税务区": "جامائەت خەۋپسىزلىكى ۋە باج رايونى",
        "语音引导已开启": "ئاۋازلىق يېتەكچى ئېچىلدى",
    },
}
KAZAKH: dict[str, Any] = {"code": "kk", "name": "قازاقشا", "direction": "rtl", "call": "{ticket} {window}",
                          "recall": "{ticket} {window}"}  # fmt: skip


@pytest.fixture
def hall(server_factory, tmp_path) -> tuple[Server, Authority]:
    server: Server = server_factory(config=write_test_config(tmp_path, languages=[UYGHUR, KAZAKH]))
    return server, Authority(load_config(server.config), SECRET.encode())


def test_the_calls_are_announced_in_every_configured_language(hall):
    server, _ = hall
    [h] = load_config(server.config).halls
    assert announcement(h, "A012", 5) == {
        "zh": "请A012号到5号窗口办理",
        "en": "Number A012, please go to window 5",
        "ug": "A012 نومۇرلۇق، 5 نومۇرلۇق كۆزنەككە كېلىڭ",
        "kk": "A012 5",
    }


def test_the_kiosk_speaks_and_shows_uyghur_from_the_config(page: Page, hall):
    server, authority = hall
    page.set_viewport_size({"width": 1080, "height": 1920})
    page.goto(f"{server.base}/kiosk?hall=demo&token={authority.device_token('kiosk-1')}&voice_rate=3")
    choices = page.locator("[data-lang-choices] [data-lang]")
    expect(choices).to_have_text(["ئۇيغۇرچە", "قازاقشا"])  # the config's names, as written
    page.click("[data-lang=ug]")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ug")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.locator("#step-zone h2 .xl").first).to_have_text("ئىش بېجىرىش رايونىنى تاللاڭ")
    expect(page.locator("#step-zone h2 .zh").first).to_be_hidden()
    expect(page.locator("[data-zone=zone-b] .xl")).to_have_text("جامائەت خەۋپسىزلىكى ۋە باج رايونى")
    expect(page.locator("[data-zone=zone-a] .xl")).to_have_text("综合受理区")  # no label: the Chinese original
    screenshot(page, "kiosk-uyghur")
    keep_for_docs("kiosk-uyghur")
    page.keyboard.press("ArrowDown")  # the audio guidance in Uyghur, from the server's offline engine
    page.wait_for_function("hallqVoice.spoken.some(a => a.lang === 'ug')", timeout=20000)
    said = page.evaluate("hallqVoice.spoken.find(a => a.lang === 'ug')")
    assert said["text"] == "ئاۋازلىق يېتەكچى ئېچىلدى" and said["mode"] == "server"
    page.click("[data-lang-switch]")  # back to Chinese
    expect(page.locator("#step-zone h2 .zh").first).to_be_visible()
    expect(html).to_have_attribute("dir", "ltr")


def test_a_language_code_twice_or_a_builtin_one_is_refused(tmp_path):
    from queue_server.errors import ConfigError

    with pytest.raises(ConfigError, match="language 'ug' is listed twice"):
        load_config(write_test_config(tmp_path, languages=[UYGHUR, UYGHUR]))
    with pytest.raises(ConfigError, match="en is built in"):
        load_config(write_test_config(tmp_path, languages=[UYGHUR | {"code": "en"}]))
