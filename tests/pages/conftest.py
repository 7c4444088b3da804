"""Browser fixtures: Debian's Chromium driven by Playwright, against a real ``hallq serve``.

One browser per test module (Playwright's sync API holds an event loop while it runs,
so it is stopped before other modules' asyncio tests); a fresh context per test. The server fixtures
are the ones the server tests use (a real process on a free port, the example hall open
around the clock, its journal in a temporary directory). Screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT
from tests.server.conftest import HALL, SECRET, Server, Tokens, server, server_factory, tokens  # noqa: F401

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def _ensure_chromium() -> None:
    """Install Debian's chromium with apt when it is missing (never a downloaded browser)."""
    if Path(CHROMIUM).exists():
        return
    subprocess.run(["bash", str(ROOT / "scripts" / "system-deps.sh")], check=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing and could not be installed: apt-get install chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it is started, and asyncio.run() in later test modules would then fail.
    _ensure_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot as a test artefact (and return its path)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def keep_for_docs(name: str) -> None:
    """Copy a screenshot artefact to docs/screenshots/ (the ones the README shows), at most 960 px wide.

    Only when ``HALLQ_DOCS_SCREENSHOTS=1``, so an ordinary test run leaves the repository untouched.
    """
    if os.environ.get("HALLQ_DOCS_SCREENSHOTS") != "1":
        return
    from PIL import Image  # Pillow comes with matplotlib

    docs = ROOT / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    with Image.open(SCREENSHOTS / f"{name}.png") as image:
        if image.width > 960:
            image = image.resize((960, round(image.height * 960 / image.width)), Image.LANCZOS)
        # a 256-colour palette keeps UI screenshots small in the repository
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
            docs / f"{name}.png", optimize=True
        )


def open_window(srv: Server, tok: Tokens, window: int, clerk: str) -> str:
    token = tok.login(clerk)
    resp = srv.post(f"{HALL}/windows/{window}/open", token=token)
    assert resp.status == 200, resp.body
    return token


def take(srv: Server, tok: Tokens, category: str, **body: Any) -> dict[str, Any]:
    resp = srv.post(f"{HALL}/tickets", {"category": category, **body}, token=tok.kiosk)
    assert resp.status == 201, resp.body
    return dict(resp.body)


def tokens_for(srv: Server) -> Tokens:
    """Tokens for a server started from its own configuration file."""
    return Tokens(Authority(load_config(srv.config), SECRET.encode()), srv)
