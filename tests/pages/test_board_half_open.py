"""A board whose connection silently died (half-open: no close, no data) notices and catches up.

Between the browser and the server sits a small TCP proxy that can *cut* its open connections:
it keeps both sockets open but forwards nothing more — what a dropped NAT entry or a dead
switch does. The server's heartbeats stop reaching the board; the board must see that, show
正在重连…, reconnect with ``after=`` and get the calls it missed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import free_port
from tests.pages.conftest import HALL, open_window, take

SILENCE_MS = 40_000  # static/js/feed.js: a connection silent this long is dead


class CuttableProxy:
    """Forwards 127.0.0.1:``port`` to the server; :meth:`cut` silences the connections open now."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.open: list[dict[str, bool]] = []
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            link = {"dead": False}
            self.open.append(link)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, link), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, link), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, link: dict[str, bool]) -> None:
        try:
            while data := src.recv(65536):
                if not link["dead"]:  # a cut link swallows everything and closes nothing
                    dst.sendall(data)
        except OSError:
            pass
        if not link["dead"]:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for link in self.open:
            link["dead"] = True

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            s.close()


@pytest.fixture
def proxy(server) -> Iterator[CuttableProxy]:
    p = CuttableProxy(server.port)
    yield p
    p.close()


def test_a_board_notices_a_silent_connection_reconnects_and_gets_the_missed_call(page: Page, server, tokens, proxy):
    take(server, tokens, "business-setup")
    take(server, tokens, "business-setup")
    clerk = open_window(server, tokens, 1, "c01")
    page.clock.install()  # the board's timers on a clock the test can move
    page.goto(f"http://127.0.0.1:{proxy.port}/board?hall=demo")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")
    page.evaluate("""() => { window.connStates = [];
        new MutationObserver(() => connStates.push(document.getElementById('conn').dataset.state))
          .observe(document.getElementById('conn'), { attributes: true, attributeFilter: ['data-state'] }); }""")
    assert server.post(f"{HALL}/windows/1/call-next", token=clerk).status == 200
    expect(page.locator("#current-number")).to_have_text("A001")

    proxy.cut()  # the socket stays open, nothing passes any more
    assert server.post(f"{HALL}/windows/1/no-show", token=clerk).status == 200
    assert server.post(f"{HALL}/windows/1/call-next", token=clerk).status == 200  # A002: the board misses it
    page.clock.fast_forward(SILENCE_MS - 5_000)
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok")  # a short silence is no loss
    assert page.evaluate("hallqBoard.feed.silent") == 0

    page.clock.fast_forward(6_000)  # now it is: the board says so and reconnects through the proxy
    expect(page.locator("#conn")).to_have_attribute("data-state", "ok", timeout=15_000)
    assert page.evaluate("connStates")[:1] == ["down"]  # 正在重连… was shown before it came back
    assert page.evaluate("hallqBoard.feed.silent") == 1
    expect(page.locator("#current-number")).to_have_text("A002")
    seen = page.evaluate("hallqBoard.seen")
    assert [(s["number"], s["replay"]) for s in seen] == [("A001", False), ("A002", True)]  # replayed by after=
