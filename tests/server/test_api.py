"""The HTTP API of a real server process: every endpoint, its errors and its roles."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.server.conftest import HALL


def issue(server, tokens, category="tax", **extra):
    resp = server.post(f"{HALL}/tickets", {"category": category, **extra}, token=tokens.kiosk)
    assert resp.status == 201, resp.body
    return resp.body


def test_a_ticket_goes_from_kiosk_to_window_to_rating(server, tokens):
    ticket = issue(server, tokens)
    assert ticket["number"] == "L001"
    assert ticket["status"]["state"] == "waiting" and ticket["status"]["position"] == 1
    assert "token" in ticket

    clerk = tokens.login("c16")
    assert server.post(f"{HALL}/windows/16/open", token=clerk).status == 200
    called = server.post(f"{HALL}/windows/16/call-next", token=clerk)
    assert called.status == 200
    assert called.body["number"] == "L001" and called.body["reason"]

    status = server.get(f"{HALL}/tickets/{ticket['ticket']}").body
    assert status["state"] == "called" and status["window"] == 16
    assert status["where"]["zh"] == "请到16号窗口"
    assert status["announcement"]["zh"] == "请L001号到16号窗口办理"

    assert server.post(f"{HALL}/windows/16/start", token=clerk).status == 200
    done = server.post(
        f"{HALL}/windows/16/finish", {"outcome": "accepted_pending", "case_number": "2026-TX-0001"}, token=clerk
    )
    assert done.status == 200 and done.body["outcome"] == "accepted_pending"

    rating = server.post(
        f"{HALL}/tickets/{ticket['ticket']}/rating", {"level": 2, "reason": "等太久"}, token=tokens.device("pad-16")
    )
    assert rating.status == 200 and rating.body["label"] == "不满意"

    manager = tokens.login("admin")
    events = server.get(f"{HALL}/events?after=0", token=manager).body["events"]
    assert [e["type"] for e in events] == [
        "ticket.issued",
        "window.opened",
        "ticket.called",
        "ticket.started",
        "ticket.finished",
        "ticket.rated",
    ]
    assert [e["actor"] for e in events] == [
        "kiosk:kiosk-1",
        "clerk:c16",
        "clerk:c16",
        "clerk:c16",
        "clerk:c16",
        "pad:pad-16",
    ]


def test_double_click_on_call_next_never_skips_a_ticket(server, tokens):
    first, second = issue(server, tokens), issue(server, tokens)
    clerk = tokens.login("c16")
    server.post(f"{HALL}/windows/16/open", token=clerk)
    a = server.post(f"{HALL}/windows/16/call-next", token=clerk, headers={"Idempotency-Key": "click-1"})
    b = server.post(f"{HALL}/windows/16/call-next", token=clerk, headers={"Idempotency-Key": "click-1"})
    assert a.status == b.status == 200
    assert a.body["ticket"] == b.body["ticket"] == first["ticket"]
    assert b.body.get("replayed") is True
    assert server.get(f"{HALL}/tickets/{second['ticket']}").body["state"] == "waiting"
    # the same key for a different request is refused, not silently answered
    other = server.post(f"{HALL}/windows/16/no-show", token=clerk, headers={"Idempotency-Key": "click-1"})
    assert other.status == 422 and other.error["code"] == "idempotency_key_reused"


def test_kiosk_retry_with_the_same_key_issues_one_ticket(server, tokens):
    key = {"Idempotency-Key": "kiosk-1-req-42"}
    a = server.post(f"{HALL}/tickets", {"category": "household"}, token=tokens.kiosk, headers=key)
    b = server.post(f"{HALL}/tickets", {"category": "household"}, token=tokens.kiosk, headers=key)
    assert a.body["ticket"] == b.body["ticket"]
    snap = server.get(f"{HALL}/snapshot").body
    household = next(c for c in snap["categories"] if c["id"] == "household")
    assert household["waiting"] == 1


def test_bad_input_gets_a_clear_error_and_changes_nothing(server, tokens):
    k = tokens.kiosk
    cases = [
        (
            server.request(
                "POST", f"{HALL}/tickets", raw=b"{not json", token=k, headers={"Content-Type": "application/json"}
            ),
            400,
            "malformed_json",
            None,
        ),
        (
            server.request(
                "POST",
                f"{HALL}/tickets",
                raw=b"category=tax",
                token=k,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            415,
            "unsupported_media_type",
            None,
        ),
        (server.post(f"{HALL}/tickets", {"category": "nope"}, token=k), 422, "unknown_category", "category"),
        (server.post(f"{HALL}/tickets", {"category": "tax", "colour": "red"}, token=k), 422, "invalid", "colour"),
        (
            server.post(f"{HALL}/tickets", {"category": "tax", "priority_group": "vip"}, token=k),
            422,
            "unknown_priority_group",
            "priority_group",
        ),
        (
            server.request(
                "POST", f"{HALL}/tickets", raw=b"[1,2]", token=k, headers={"Content-Type": "application/json"}
            ),
            400,
            "malformed_json",
            None,
        ),
        (server.post("/api/v1/halls/nowhere/tickets", {"category": "tax"}, token=k), 404, "unknown_hall", "hall"),
        (server.get(f"{HALL}/tickets/20261123-Z999"), 404, "unknown_ticket", "ticket"),
        (
            server.request(
                "POST",
                f"{HALL}/tickets",
                raw=b'{"category":"' + b"x" * 100_000 + b'"}',
                token=k,
                headers={"Content-Type": "application/json"},
            ),
            413,
            "payload_too_large",
            None,
        ),
        (server.get("/api/v1/no/such/path"), 404, "not_found", None),
        (server.request("DELETE", f"{HALL}/tickets"), 405, "method_not_allowed", None),
    ]
    assert cases[-1][0].headers["Allow"] == "POST"  # a 405 says what the path does take
    for resp, status, code, field in cases:
        assert resp.status == status, (code, resp.body)
        assert resp.error["code"] == code
        assert resp.error["message"]
        if field:
            assert resp.error["field"] == field
    snap = server.get(f"{HALL}/snapshot").body
    assert snap["seq"] == 0 and sum(c["waiting"] for c in snap["categories"]) == 0


def test_illegal_transitions_are_refused_with_409(server, tokens):
    clerk = tokens.login("c16")
    assert server.post(f"{HALL}/windows/16/call-next", token=clerk).error["code"] == "forbidden"  # not logged in
    server.post(f"{HALL}/windows/16/open", token=clerk)
    empty = server.post(f"{HALL}/windows/16/call-next", token=clerk)
    assert empty.status == 409 and empty.error["code"] == "queue_empty"
    issue(server, tokens)
    server.post(f"{HALL}/windows/16/call-next", token=clerk)
    finish = server.post(f"{HALL}/windows/16/finish", token=clerk)
    assert finish.status == 409 and finish.error["code"] == "illegal_transition"
    busy = server.post(f"{HALL}/windows/16/close", token=clerk)
    assert busy.status == 409 and busy.error["code"] == "window_busy"


def test_roles_are_checked_on_every_endpoint(server, tokens):
    ticket = issue(server, tokens)
    clerk16, clerk17 = tokens.login("c16"), tokens.login("c17")
    server.post(f"{HALL}/windows/16/open", token=clerk16)
    board = tokens.device("board-1")
    # a citizen (no token) cannot call, and cannot take a kiosk ticket
    assert server.post(f"{HALL}/windows/16/call-next").status == 401
    assert server.post(f"{HALL}/tickets", {"category": "tax"}).status == 401
    # a board is read-only
    assert server.post(f"{HALL}/tickets", {"category": "tax"}, token=board).status == 403
    assert server.post(f"{HALL}/windows/16/call-next", token=board).status == 403
    # a kiosk cannot call; a clerk cannot act on another clerk's window
    assert server.post(f"{HALL}/windows/16/call-next", token=tokens.kiosk).status == 403
    assert server.post(f"{HALL}/windows/16/call-next", token=clerk17).status == 403
    # a clerk cannot read the audit log or move clerks; a forged token is nobody
    assert server.get(f"{HALL}/events", token=clerk16).status == 403
    assert server.post(f"{HALL}/clerks/c16/move", {"to_window": 17}, token=clerk16).status == 403
    assert server.get(f"{HALL}/events", token=clerk16[:-2] + "xx").status == 401
    assert server.get(f"{HALL}/events", token="dev.kiosk-1.forged").status == 401
    # cancelling needs the ticket's own token
    wrong = server.post(f"{HALL}/tickets/{ticket['ticket']}/cancel", {"token": "0" * 16})
    assert wrong.status == 403
    # non-ASCII tokens (the fuzzer once sent "\x80") are wrong tokens too, not a server error
    for junk in ("\x80", "号码", "dev.kiosk-1.\x80"):
        assert server.post(f"{HALL}/tickets/{ticket['ticket']}/cancel", {"token": junk}).status == 403
    assert server.get(f"{HALL}/events", token="dev.kiosk-1.\x80").status == 401
    right = server.post(f"{HALL}/tickets/{ticket['ticket']}/cancel", {"token": ticket["token"]})
    assert right.status == 200 and right.body["event"] == "ticket.cancelled"
    # a wrong password is refused
    bad = server.post("/api/v1/auth/login", {"user": "admin", "password": "guess"})
    assert bad.status == 401 and bad.error["code"] == "bad_credentials"


def test_phone_tickets_are_masked_and_rate_limited(server):
    for _ in range(3):
        resp = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "phone", "phone": "13812345678"})
        assert resp.status == 201, resp.body
        assert resp.body["phone"] == "138****5678"
        assert "13812345678" not in str(server.get(f"{HALL}/tickets/{resp.body['ticket']}").body)
    fourth = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "phone", "phone": "13812345678"})
    assert fourth.status == 429 and fourth.error["field"] == "phone"
    other = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "phone", "phone": "13900000000"})
    assert other.status == 201


def test_manager_moves_a_clerk_and_the_snapshot_shows_it(server, tokens):
    manager = tokens.login("admin")
    assert server.post(f"{HALL}/windows/18/open", {"clerk": "c18"}, token=manager).status == 200
    moved = server.post(f"{HALL}/clerks/c18/move", {"to_window": 2}, token=manager)
    assert moved.status == 200 and moved.body["from_window"] == 18
    snap = server.get(f"{HALL}/snapshot", token=manager).body
    windows = {w["number"]: w for w in snap["windows"]}
    assert windows[2]["status"] == "open" and windows[2]["clerk"] == "c18"
    assert windows[18]["status"] == "closed"
    public = server.get(f"{HALL}/snapshot").body
    assert "clerk" not in next(w for w in public["windows"] if w["number"] == 2)


def test_openapi_describes_every_route_and_docs_render(server):
    doc = server.get("/api/v1/openapi.json").body
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in (
        "/api/v1/halls/{hall}/tickets",
        "/api/v1/halls/{hall}/windows/{window}/call-next",
        "/api/v1/halls/{hall}/events",
        "/api/v1/auth/login",
    ):
        assert path in paths
    assert "IssueBody" in doc["components"]["schemas"]
    page = server.get("/api/docs")
    assert page.status == 200 and "呼叫下一位" in page.body


def test_health_readiness_and_metrics(server, tokens):
    issue(server, tokens)
    assert server.get("/healthz").body == {"status": "ok"}
    assert server.get("/readyz").body["halls"] == {"demo": 1}
    metrics = server.get("/metrics").body
    assert 'hallq_tickets_issued_total{category="tax",channel="kiosk",hall="demo"} 1.0' in metrics
    assert 'hallq_event_lag{hall="demo"} 0.0' in metrics


def test_serve_refuses_several_workers_without_redis_and_bad_configs(tmp_path):
    run = [sys.executable, "-m", "queue_server.cli", "serve", "--workers", "2"]
    out = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--redis" in out.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "config.yaml").read_text(encoding="utf-8").replace("class: spec-tax}", "class: tax}", 1))
    out = subprocess.run(
        [sys.executable, "-m", "queue_server.cli", "serve", "--config", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "windows[15].class: 未知窗口类别 'tax' (unknown window class 'tax')" in out.stderr


def test_every_page_url_serve_prints_answers(server, tokens):
    """`hallq serve` prints the URL of every page; each one opens (the tracker with a real ticket)."""
    import re

    ticket = issue(server, tokens)["ticket"]
    printed = re.findall(r"http://127\.0\.0\.1:\d+(/[^\s)]*)", server.log.read_text(encoding="utf-8"))
    paths = [p.replace("<ticket>", ticket) for p in printed]
    pages = ("/kiosk", "/board", "/console", "/manager", "/roster", "/plan", "/booking", "/reports", "/api/docs")
    for expected in pages:
        assert any(p.startswith(expected) for p in paths), (expected, paths)
    for path in paths:
        assert server.get(path).status == 200, path
