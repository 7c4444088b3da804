"""Error messages reach the page whole: the server gives each language apart, and every named reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import Page, expect

from tests.conftest import ROOT
from tests.pages.conftest import HALL, tokens_for
from tests.server.conftest import write_test_config

MONDAY = "2026-11-23"


def _no_tax_clerk_early_in_the_week(server_factory: Any, directory: Path) -> Any:
    """The example hall with its office hours, and every tax clerk off on Monday and Tuesday: the roster
    cannot keep one clerk on the tax windows then, and says so per day (「11月23日（一） …」)."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for clerk in raw["clerks"]:
        if "tax" in clerk["skills"]:
            clerk["days_off"] = ["mon", "tue"]
    directory.mkdir()
    config = write_test_config(directory, hours=raw["hours"], demand=raw.get("demand"), clerks=raw["clerks"])
    return server_factory(config=config)


def test_the_rosters_named_reasons_reach_the_page_whole_in_both_languages(page: Page, server_factory, tmp_path):
    server = _no_tax_clerk_early_in_the_week(server_factory, tmp_path / "hall")
    admin = tokens_for(server).login("admin")
    resp = server.post(f"{HALL}/roster", {"week": MONDAY, "time_limit_seconds": 2}, token=admin)
    assert resp.status == 422, resp.body
    error = resp.error
    assert error["message"].startswith("无法排班 (no roster meets the requirements): ")  # as before, for old clients
    assert error["message_zh"] == "无法排班，以下要求无法同时满足："
    assert error["message_en"] == "no roster meets the requirements:"
    monday = next(d for d in error["details"] if "11月23日" in d["zh"])
    assert monday["zh"].startswith("11月23日（一） ")  # full-width brackets stay in the Chinese
    assert monday["zh"].endswith("但当时没有具备该资质且可上班的工作人员")
    assert monday["en"] == "2026-11-23 tax: fewer than 1 skilled clerk(s) can be on shift then"

    page.goto(f"{server.base}/roster?hall=demo")
    page.fill("#user", "admin")
    page.fill("#password", "hallq-demo")
    page.click("#login button[type=submit]")
    page.fill("#week", MONDAY)
    page.fill("#limit", "2")
    page.click("#run")
    box = page.locator("#error")
    expect(box).to_be_visible(timeout=30000)
    expect(box.locator(".zh").first).to_have_text("无法排班，以下要求无法同时满足：")
    items = box.locator(".error-details li")
    expect(items).to_have_count(len(error["details"]))
    expect(items.first.locator(".zh")).to_have_text(error["details"][0]["zh"])
    page.click("[data-lang-switch]")
    expect(items.first.locator(".en")).to_be_visible()
    expect(items.first.locator(".en")).to_have_text(error["details"][0]["en"])
    assert "无法" not in box.inner_text()  # English only, no mixed wall


def test_a_refusal_with_a_field_path_keeps_it_in_both_languages(server, tokens):
    admin = tokens.login("admin")
    resp = server.post(f"{HALL}/roster", {"week": "2026-11-24"}, token=admin)  # a Tuesday
    assert resp.status == 422
    assert resp.error["message_zh"] == "week: 2026-11-24 不是星期一，请给出一周的周一"
    assert resp.error["message_en"] == "week: not a Monday"
    assert resp.error["details"] == []
