"""The 政务 kiosk: one page for walk-in tickets and check-in (keypad, QR code, ID card), every screen, every citizen."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import segno
from playwright.sync_api import Browser, Page, expect

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.citizen.conftest import TEST_APPOINTMENTS, book_household, id_number
from tests.conftest import LIVE_TZ_NAME
from tests.pages.conftest import CHROMIUM, CHROMIUM_ARGS, HALL, keep_for_docs, screenshot
from tests.server.conftest import SECRET, Server, write_test_config

PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}

# Every visible element inside the screen, no text cut by its box, the page itself not scrolling.
CLIPPED = """() => {
  const out = [], vw = innerWidth, vh = innerHeight;
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.print-ticket') || !el.checkVisibility()) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const name = el.id || el.className || el.tagName;
    if (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1) out.push('off screen: ' + name);
    const s = getComputedStyle(el);
    if (s.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) out.push('cut across: ' + name);
    if (s.overflowY !== 'visible' && el.scrollHeight > el.clientHeight + 1) out.push('cut below: ' + name);
  }
  return out;
}"""


@pytest.fixture
def hall(server_factory, tmp_path) -> tuple[Server, Authority]:
    config = write_test_config(tmp_path, appointments=TEST_APPOINTMENTS)
    text = config.read_text(encoding="utf-8")
    settings = "kiosk:\n  public_base_url: https://zwfw.example.gov.cn/hall\n  per_person_per_day: 1\n"
    config.write_text(text + settings, encoding="utf-8")
    server: Server = server_factory(config=config)
    return server, Authority(load_config(server.config), SECRET.encode())


def kiosk(page: Page, server: Server, authority: Authority, size: dict[str, int] = LANDSCAPE) -> None:
    page.set_viewport_size(size)
    page.goto(f"{server.base}/kiosk?hall=demo&token={authority.device_token('kiosk-1')}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")


def booking_state(server: Server, booking: dict[str, Any]) -> str:
    state: str = server.get(f"{HALL}/appointments/{booking['booking']}?token={booking['token']}").body["state"]
    return state


def nothing_clipped(page: Page, name: str) -> None:
    screenshot(page, name)
    assert page.evaluate(CLIPPED) == [], name


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_every_screen_fits_portrait_and_landscape(page: Page, hall, size):
    server, authority = hall
    shape = "portrait" if size is PORTRAIT else "landscape"
    kiosk(page, server, authority, size)
    # the whole name, not 「示例市政务服务中心（示…」
    expect(page.locator("h1 .zh")).to_have_text("示例市政务服务中心（示例配置） · 取号")
    zones = page.locator("#zones").bounding_box()
    assert zones is not None and zones["height"] > size["height"] * 0.35  # the choices use the screen
    nothing_clipped(page, f"kiosk-{shape}-home")
    page.click("[data-zone=zone-b]")
    nothing_clipped(page, f"kiosk-{shape}-categories")
    page.click("[data-category=tax]")
    nothing_clipped(page, f"kiosk-{shape}-confirm")
    page.click("#elderly")
    page.click("#take")
    expect(page.locator("#result-number")).to_have_text("L001")
    nothing_clipped(page, f"kiosk-{shape}-elderly-ticket")  # 打印凭条/完成 and the number stay on screen
    number = page.locator("#result-number").bounding_box()
    panel = page.locator(".result").bounding_box()
    assert number is not None and panel is not None and number["width"] < panel["width"]
    keep_for_docs(f"kiosk-{shape}-elderly-ticket")
    page.click("#done")
    page.click("[data-checkin=booking]")
    nothing_clipped(page, f"kiosk-{shape}-checkin")
    keep_for_docs(f"kiosk-{shape}-checkin")


def test_check_in_with_the_on_screen_keypad(page: Page, hall):
    server, authority = hall
    booking = book_household(server, 601)
    remote = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "phone", "phone": "13900009999"})
    assert remote.status == 201, remote.body
    kiosk(page, server, authority, PORTRAIT)
    page.click("[data-checkin=booking]")
    for letter in booking["booking"]:
        page.click(f"#keypad [data-key='{letter}']")
    expect(page.locator("#entry")).to_have_text(booking["booking"])
    page.click("#checkin-go")
    expect(page.locator("#result-number")).to_have_text(re.compile(r"^J\d{3}$"))
    expect(page.locator("#result-text .zh")).to_contain_text("预约签到成功，将在预约时段内优先叫号")
    page.click("#done")
    page.click("[data-checkin=phone]")
    for digit in "13900009999":
        page.click(f"#keypad [data-key='{digit}']")
    page.click("#keypad [data-key=del]")
    page.click("#keypad [data-key='9']")
    page.click("#checkin-go")
    expect(page.locator("#result-number")).to_have_text(remote.body["number"])
    assert server.get(f"{HALL}/tickets/{remote.body['ticket']}").body["arrived"] is True


def test_the_tickets_qr_code_uses_the_public_address_and_the_halls_clock(page: Page, hall):
    server, authority = hall
    page.context.close()
    context = page.context.browser.new_context(locale="en-US", timezone_id="America/New_York")  # a kiosk set wrong
    pg = context.new_page()
    kiosk(pg, server, authority)
    pg.click("[data-zone=zone-b]")
    pg.click("[data-category=tax]")
    pg.click("#take")
    expect(pg.locator("#result-number")).to_have_text("L001")
    ticket = pg.locator("#result-text").get_attribute("data-ticket")
    svg = pg.evaluate("fetch(document.getElementById('result-qr').src).then(r => r.text())")
    expected = io.BytesIO()  # the same drawing as the server's, of the public address
    segno.make(f"https://zwfw.example.gov.cn/hall/t/{ticket}?hall=demo", error="m").save(
        expected, kind="svg", scale=4, border=2, xmldecl=False, svgns=True
    )
    assert svg == expected.getvalue().decode()
    printed = pg.locator("#pt-time").text_content() or ""
    hall_now = pg.evaluate(f"new Date().toLocaleString('zh-CN', {{hour12: false, timeZone: '{LIVE_TZ_NAME}'}})")
    assert LIVE_TZ_NAME != "America/New_York"
    assert printed[:13] == hall_now[:13]  # the hall's date and hour, not the kiosk browser's
    context.close()


def test_an_id_card_read_checks_in_and_makes_a_walk_in_ticket_real_name(page: Page, hall):
    server, authority = hall
    booking = book_household(server, 602)
    kiosk(page, server, authority)
    page.click("[data-checkin=booking]")
    # a keyboard-wedge reader types the number fast and presses Enter
    page.keyboard.type(id_number(602), delay=5)
    page.keyboard.press("Enter")
    expect(page.locator("#result-number")).to_have_text(re.compile(r"^J\d{3}$"))
    assert booking_state(server, booking) == "checked_in"
    page.click("#done")
    # a reader bridge posts the number as a window message; the walk-in ticket becomes real-name
    page.evaluate(f"window.postMessage({{type: 'hallq:id-card', id_number: '{id_number(603)}'}}, '*')")
    expect(page.locator("#real-name .zh")).to_contain_text("已读取身份证 110***********")
    page.click("[data-zone=zone-b]")
    page.click("[data-category=tax]")
    page.click("#take")
    expect(page.locator("#result-number")).to_have_text("L001")
    page.click("#done")
    expect(page.locator("#real-name")).to_be_hidden()  # the next citizen starts anonymous
    page.evaluate(f"window.postMessage({{type: 'hallq:id-card', id_number: '{id_number(603)}'}}, '*')")
    page.click("[data-zone=zone-b]")
    page.click("[data-category=tax]")
    page.click("#take")  # per_person_per_day: 1
    expect(page.locator("#kiosk-error-text")).to_have_attribute("data-code", "person_cap_reached")
    expect(page.locator("#kiosk-error-text .zh")).to_contain_text("已达每人每日上限")
    events = server.get(f"{HALL}/events?after=0", token=_admin(server)).body["events"]
    assert id_number(603) not in str(events)  # only the keyed hash is kept


def _admin(server: Server) -> str:
    token: str = server.post("/api/v1/auth/login", {"user": "admin", "password": "hallq-demo"}).body["token"]
    return token


def _qr_frame(path: Path, text: str, width: int = 640, height: int = 480, scale: int = 8) -> tuple[int, int]:
    """A one-frame Y4M video of ``text``'s QR code, centred, ``scale`` pixels a module; returns its origin."""
    matrix = segno.make(text, error="m").matrix
    n = len(matrix)
    x0, y0 = (width - n * scale) // 2, (height - n * scale) // 2
    luma = bytearray([235]) * (width * height)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (y0 + r * scale + dy) * width + x0 + c * scale
                    luma[start : start + scale] = bytes([16]) * scale
    chroma = bytes([128]) * (width * height // 4)
    path.write_bytes(
        f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + bytes(luma) + chroma + chroma
    )
    return x0, y0


# Linux Chromium has no BarcodeDetector (the Shape Detection API ships on ChromeOS, macOS and
# Android). This stand-in reads the modules off the real camera frame the page hands it, at the
# positions the test drew them, so the page's camera → detect → check-in path runs for real.
STAND_IN_DETECTOR = """
window.BarcodeDetector = class {
  constructor(opts) { this.formats = opts.formats; }
  async detect(video) {
    const g = %(geometry)s, canvas = document.createElement('canvas');
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d'); ctx.drawImage(video, 0, 0);
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let r = 0; r < g.matrix.length; r++) for (let c = 0; c < g.matrix.length; c++) {
      const x = g.x0 + c * g.scale + g.scale / 2, y = g.y0 + r * g.scale + g.scale / 2;
      if ((px[(y * canvas.width + x) * 4] < 128 ? 1 : 0) !== g.matrix[r][c]) return [];
    }
    return [{format: 'qr_code', rawValue: g.text}];
  }
  static async getSupportedFormats() { return ['qr_code']; }
};
"""


def test_check_in_by_holding_the_bookings_qr_code_to_the_camera(hall, browser: Browser, tmp_path):
    server, authority = hall
    booking = book_household(server, 604)
    text = f"https://zwfw.example.gov.cn/hall/booking?hall=demo&booking={booking['booking']}"
    x0, y0 = _qr_frame(tmp_path / "qr.y4m", text)
    camera = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={tmp_path / 'qr.y4m'}"],
    )  # fmt: skip
    try:
        context = camera.new_context(viewport=LANDSCAPE, locale="zh-CN")
        context.grant_permissions(["camera"])
        matrix = [list(row) for row in segno.make(text, error="m").matrix]
        geometry = {"x0": x0, "y0": y0, "scale": 8, "matrix": matrix, "text": text}
        context.add_init_script(STAND_IN_DETECTOR % {"geometry": json.dumps(geometry)})
        pg = context.new_page()
        kiosk(pg, server, authority)
        pg.click("[data-checkin=booking]")
        expect(pg.locator("#scan")).to_be_visible()
        screenshot(pg, "kiosk-scan")
        keep_for_docs("kiosk-scan")
        expect(pg.locator("#result-number")).to_have_text(re.compile(r"^J\d{3}$"), timeout=15000)
        assert booking_state(server, booking) == "checked_in"
    finally:
        camera.close()


def test_without_a_camera_api_the_keypad_is_the_way(page: Page, hall):
    server, authority = hall
    kiosk(page, server, authority)
    assert page.evaluate("'BarcodeDetector' in window") is False  # Linux Chromium, as in many halls
    page.click("[data-checkin=booking]")
    expect(page.locator("#keypad [data-key=A]")).to_be_visible()
    expect(page.locator("#scan")).to_be_hidden()


def test_no_emoji_on_the_kiosk(page: Page, hall):
    server, authority = hall
    kiosk(page, server, authority)
    text = page.evaluate("document.body.innerText + document.documentElement.outerHTML")
    assert not re.search("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u23e9-\u23fa]", text)
    expect(page.locator("#sound-enable")).to_have_count(0)  # the kiosk's own taps unlock sound
