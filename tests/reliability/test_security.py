"""Security: roles on every endpoint and feed, hashed passwords, expiring tokens, rate limits, no personal data."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from queue_server.api import ROUTES
from queue_server.auth import Authority, verify_password
from queue_server.config import load_config
from tests.conftest import ROOT
from tests.server.conftest import HALL, SECRET, write_test_config

ACTOR = re.compile(r"^((kiosk|display|pad|clerk|manager):[A-Za-z0-9_-]+|citizen|system)$")


def _concrete(path: str) -> str:
    return (path.replace("<hall:str>", "demo").replace("<window:int>", "16").replace("<ticket:str>", "20261123-L001")
            .replace("<clerk:str>", "c16"))


def test_every_endpoint_refuses_the_wrong_role(server, tokens):
    board = tokens.device("board-1")
    clerk = tokens.login("c17")  # logged in, but at no window
    checked = 0
    for route in ROUTES:
        if not route.roles:
            continue
        path = _concrete(route.path)
        body = {"category": "tax"} if route.path.endswith("/tickets") else {}
        anonymous = server.request(route.method, path, body if route.method == "POST" else None)
        if "citizen" not in route.roles:
            assert anonymous.status == 401, (route.method, path, anonymous.body)
        wrong = server.request(route.method, path, body if route.method == "POST" else None, token=board)
        assert wrong.status == 403, (route.method, path, wrong.body)
        if "clerk" in route.roles and "/windows/" in route.path and not route.path.endswith("/open"):
            other = server.request(route.method, path, body, token=clerk)
            assert other.status == 403 and other.error["field"] == "window", (path, other.body)
        checked += 1
    assert checked >= 15
    assert server.get(f"{HALL}/snapshot").body["seq"] == 0  # nothing refused was stored


def test_staff_feeds_refuse_devices_and_citizens(server, tokens):
    async def code(url):
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            return info.value.rcvd.code

    async def scenario():
        for feed in ("/ws/manager", "/ws/console/16"):
            assert await code(f"{server.ws}{feed}") == 4401
            assert await code(f"{server.ws}{feed}?token={tokens.device('board-1')}") == 4403
            assert await code(f"{server.ws}{feed}?token={tokens.kiosk}") == 4403

    asyncio.run(scenario())


def test_passwords_are_only_stored_hashed(tmp_path):
    dep = load_config(ROOT / "config.yaml")
    for user in dep.auth.users:
        assert user.password_hash.startswith("scrypt$")
        assert "hallq-demo" not in user.password_hash
    assert verify_password("hallq-demo", dep.auth.users[0].password_hash)
    assert not verify_password("hallq-dem0", dep.auth.users[0].password_hash)


def test_session_tokens_expire_and_cannot_be_forged():
    dep = load_config(ROOT / "config.yaml")
    authority = Authority(dep, SECRET.encode())
    token, principal = authority.login("admin", "hallq-demo", None)
    assert authority.principal(token) == principal

    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:  # a token signed a day ago, past the 600-minute session
            return int(time.time()) - 24 * 3600

    stale = URLSafeTimedSerializer(SECRET.encode(), salt="hallq-session", signer=Yesterday).dumps(
        {"r": "manager", "i": "admin", "h": None}
    )
    assert authority.principal(stale) is None
    forged = URLSafeTimedSerializer(b"another secret", salt="hallq-session").dumps({"r": "manager", "i": "admin"})
    assert authority.principal(forged) is None
    assert authority.principal("dev.kiosk-1." + "A" * 32) is None


def test_kiosk_rate_limit_holds(server_factory, tokens_for, tmp_path):
    config = write_test_config(tmp_path, auth={
        **load_config(ROOT / "config.yaml").auth.model_dump(mode="json"),
        "rate_limits": {"tickets_per_device_per_minute": 5, "tickets_per_phone_per_day": 3,
                        "tickets_per_address_per_hour": 20},
    })
    server = server_factory(config=config)
    tokens = tokens_for(server)
    statuses = [server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).status for _ in range(7)]
    assert statuses == [201] * 5 + [429] * 2
    # another kiosk is not affected
    assert server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.device("kiosk-2")).status == 201


def test_rate_limits_hold_across_workers_with_redis(server_factory, tokens_for, tmp_path, redis_url):
    """Two workers behind one port share the counters: a kiosk gets its limit, not its limit per worker."""
    config = write_test_config(tmp_path, auth={
        **load_config(ROOT / "config.yaml").auth.model_dump(mode="json"),
        "rate_limits": {"tickets_per_device_per_minute": 6, "tickets_per_phone_per_day": 2,
                        "tickets_per_address_per_hour": 20},
    })
    server = server_factory(redis=redis_url, workers=2, config=config)
    tokens = tokens_for(server)
    statuses = [server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).status for _ in range(14)]
    assert statuses == [201] * 6 + [429] * 8
    manager = tokens.login("admin")
    phone = {"category": "tax", "channel": "phone", "phone": "13812345678"}
    assert [server.post(f"{HALL}/tickets", phone, token=manager).status for _ in range(5)] == [201] * 2 + [429] * 3
    # failed logins too: an account is locked after its 5 failures, whichever worker saw them
    bad = {"user": "c20", "password": "guess"}
    assert [server.post("/api/v1/auth/login", bad).status for _ in range(7)] == [401] * 5 + [429] * 2
    # and both workers write one audit log, in Redis
    kinds = [e["type"] for e in server.get("/api/v1/audit", token=manager).body["entries"]]
    assert kinds.count("auth.login_failed") == 5 and kinds.count("auth.login_locked") == 2


def test_no_public_payload_or_stored_event_carries_personal_data(server, tokens):
    phones = ["13812345678", "13987654321", "15011112222"]
    manager = tokens.login("admin")
    clerk = tokens.login("c16")
    server.post(f"{HALL}/windows/16/open", token=clerk)
    collected: list[str] = []

    async def watch(url, until_seq):
        async with connect(url) as ws:
            while True:
                raw = await asyncio.wait_for(ws.recv(), 10)
                collected.append(raw)
                msg = json.loads(raw)
                if msg.get("seq", 0) >= until_seq and msg["type"] in ("event", "status", "snapshot"):
                    return

    tickets = []
    for phone in phones:
        resp = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "phone", "phone": phone})
        assert resp.status == 201
        tickets.append(resp.body)
        # on arrival the citizen checks the phone ticket in at a kiosk (by phone number)
        assert server.post(f"{HALL}/checkin", {"phone": phone}, token=tokens.kiosk).status in (200, 201)
    server.post(f"{HALL}/windows/16/call-next", token=clerk)
    server.post(f"{HALL}/windows/16/start", token=clerk)
    server.post(f"{HALL}/windows/16/finish", token=clerk)
    last = server.get(f"{HALL}/snapshot").body["seq"]
    rated = server.post(f"{HALL}/tickets/{tickets[0]['ticket']}/rating",  # the citizen types their number in
                        {"level": 1, "reason": f"等了很久，请回电 {phones[0]}", "token": tickets[0]["token"]})
    assert rated.status == 200

    async def scenario():
        await asyncio.gather(
            watch(f"{server.ws}/ws/hall?hall=demo&after=0", last),
            watch(f"{server.ws}/ws/window/16?hall=demo&after=0", last),
            watch(f"{server.ws}/ws/ticket/{tickets[1]['ticket']}?hall=demo", last),
        )

    asyncio.run(scenario())
    public = [json.dumps(server.get(f"{HALL}/snapshot").body, ensure_ascii=False),
              json.dumps(server.get(f"{HALL}").body, ensure_ascii=False)]
    public += [json.dumps(server.get(f"{HALL}/tickets/{t['ticket']}").body, ensure_ascii=False) for t in tickets]
    events = server.get(f"{HALL}/events?after=0", token=manager).body["events"]
    journal = (server.config.parent / "data" / "demo.journal").read_text(encoding="utf-8")
    for text in [*public, *collected, json.dumps(events, ensure_ascii=False), journal]:
        for phone in phones:
            assert phone not in text
            assert phone[3:7] not in text  # not even the masked-out middle digits
    assert events[-1]["data"]["reason"] == "等了很久，请回电 138****78"
    assert all(ACTOR.match(e["actor"]) for e in events)
    assert [e["actor"] for e in events[:1]] == ["clerk:c16"]
    assert {e["actor"] for e in events if e["type"] == "ticket.issued"} == {"citizen"}


def test_only_a_bookings_check_in_makes_an_appointment_ticket(server, tokens):
    """A kiosk (or anyone) cannot mint a priority appointment ticket without a booking."""
    manager = tokens.login("admin")
    slot = time.time() + 600
    for token in (tokens.kiosk, manager):
        direct = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "appointment"}, token=token)
        assert direct.status == 422 and direct.error["field"] == "channel", direct.body
        assert "预约签到" in direct.error["message"] and "checkin" in direct.error["message"]
        slotted = server.post(f"{HALL}/tickets", {"category": "tax", "appointment_start": slot,
                                                  "appointment_end": slot + 900}, token=token)
        assert slotted.status == 422 and slotted.error["field"] == "appointment_start", slotted.body
    assert server.get(f"{HALL}/snapshot").body["seq"] == 0


def test_session_tokens_go_in_the_header_never_in_the_url(server, tokens):
    """``?token=`` lands in access logs: HTTP routes refuse it and say where it belongs; WebSockets keep it."""
    manager = tokens.login("admin")
    for path in (f"{HALL}/events?token={manager}", f"/pages/manager?hall=demo&token={manager}",
                 f"/pages/pad/5?hall=demo&token={tokens.device('pad-5')}"):
        refused = server.get(path)
        assert refused.status == 400 and refused.error["code"] == "token_in_url", (path, refused.body)
        assert "Authorization" in refused.error["message"] and refused.error["field"] == "token"
    assert server.get(f"{HALL}/events", token=manager).status == 200
    assert server.get("/pages/pad/5?hall=demo", token=tokens.device("pad-5")).status == 200

    async def first_message() -> dict:
        async with connect(f"{server.ws}/ws/manager?hall=demo&token={manager}") as ws:
            return dict(json.loads(await asyncio.wait_for(ws.recv(), 5)))

    assert asyncio.run(first_message())["type"] == "snapshot"


@pytest.mark.parametrize("trusted", [True, False], ids=["behind-trusted-proxy", "no-proxy-configured"])
def test_the_per_address_limit_sees_the_citizen_behind_a_trusted_proxy_only(trusted, server_factory, tmp_path):
    """Behind the documented nginx, X-Forwarded-For names the citizen; without ``proxy:`` it is ignored (forgeable)."""
    auth = load_config(ROOT / "config.yaml").auth.model_dump(mode="json")
    auth["rate_limits"] = {"tickets_per_device_per_minute": 120, "tickets_per_phone_per_day": 3,
                           "tickets_per_address_per_hour": 2}
    extra = {"proxy": {"proxies_count": 1}} if trusted else {}
    server = server_factory(config=write_test_config(tmp_path, auth=auth, **extra))

    def phone_ticket(n: int, address: str) -> int:
        body = {"category": "tax", "channel": "phone", "phone": f"1390000{n:04d}"}
        return server.post(f"{HALL}/tickets", body, headers={"X-Forwarded-For": address}).status

    first = [phone_ticket(n, "203.0.113.7") for n in range(3)]
    neighbour = phone_ticket(9, "198.51.100.20")  # another citizen, through the same proxy
    if trusted:
        assert (first, neighbour) == ([201, 201, 429], 201)
    else:  # the header is not believed: every ticket counts against the one peer address
        assert (first, neighbour) == ([201, 201, 429], 429)


def test_failed_logins_lock_the_account_and_the_address_and_every_login_is_audited(server_factory, tmp_path):
    auth = load_config(ROOT / "config.yaml").auth.model_dump(mode="json")
    auth["rate_limits"] |= {"failed_logins_per_account": 3, "failed_logins_per_address": 5,
                            "login_lockout_minutes": 15}
    server = server_factory(config=write_test_config(tmp_path, auth=auth))

    def login(user: str, password: str = "hallq-demo") -> tuple[int, str]:
        resp = server.post("/api/v1/auth/login", {"user": user, "password": password})
        return resp.status, resp.body.get("token") or resp.error["code"]

    assert [login("c16", "guess")[0] for _ in range(3)] == [401] * 3
    assert login("c16") == (429, "login_locked")  # even the right password: the account is locked
    locked = server.post("/api/v1/auth/login", {"user": "c16", "password": "hallq-demo"})
    assert "15分钟后再试" in locked.error["message"] and locked.error["field"] == "user"
    status, manager = login("admin")  # another account from the same address still may
    assert status == 200
    assert [login(f"nobody{i}", "guess")[0] for i in range(2)] == [401, 401]  # 5 failures from this address
    assert login("c17")[0] == 429  # the address is locked now, for every account

    # a manager's change is audited with its answer; the audit log is not in the hall's event log
    assert server.post(f"{HALL}/windows/16/open", {"clerk": "c16"}, token=manager).status == 200
    assert server.post(f"{HALL}/windows/99/open", {"clerk": "c16"}, token=manager).status == 404
    server.stop()
    server.start()  # it lives in the store: a restart keeps it
    entries = server.get("/api/v1/audit", token=manager).body["entries"]
    kinds = [(e["type"], e["actor"]) for e in entries]
    assert kinds[:5] == [("auth.login_failed", "user:c16")] * 3 + [("auth.login_locked", "user:c16")] * 2
    assert ("auth.login", "manager:admin") in kinds and ("auth.login_locked", "user:c17") in kinds
    requests = [(e["data"]["path"], e["data"]["status"]) for e in entries if e["type"] == "manager.request"]
    assert requests == [(f"{HALL}/windows/16/open", 200), (f"{HALL}/windows/99/open", 404)]
    assert all(e["data"]["address"] == "127.0.0.1" for e in entries)
    assert "hallq-demo" not in json.dumps(entries) and "guess" not in json.dumps(entries)
    hall_log = server.get(f"{HALL}/events?after=0", token=manager).body["events"]
    assert not [e for e in hall_log if e["type"].startswith(("auth.", "manager."))]
    assert server.get("/api/v1/audit", token=server.post("/api/v1/auth/login", {"user": "c18", "password": "x"})
                      .body.get("token")).status == 401


def test_a_flood_of_logins_does_not_stall_the_boards(server):
    """While 64 logins hash at once, every one is answered and the server keeps answering others.

    How fast it answers meanwhile (the hash runs off the event loop) is a figure, measured by
    bench/server_login_flood.py and recorded in docs/BENCHMARKS.md, not asserted here."""
    from concurrent.futures import ThreadPoolExecutor

    def login(_: int) -> int:
        return server.post("/api/v1/auth/login", {"user": "admin", "password": "hallq-demo"}).status

    with ThreadPoolExecutor(16) as pool:
        flood = [pool.submit(login, i) for i in range(64)]
        while not all(f.done() for f in flood):
            assert server.get("/healthz").status == 200
        assert [f.result() for f in flood] == [200] * 64  # a good password is never locked out by a flood


def test_a_pause_shows_only_the_configured_reason_in_public_and_the_note_to_staff(server, tokens):
    """A clerk's own words (「为张三丰办理加急 13812345678」) never reach a board: only the hall's list does."""
    clerk = tokens.login("c16")
    manager = tokens.login("admin")
    server.post(f"{HALL}/windows/16/open", token=clerk)
    free = server.post(f"{HALL}/windows/16/pause", {"reason": "为张三丰办理加急"}, token=clerk)
    assert free.status == 422 and free.error["code"] == "unknown_pause_reason" and free.error["field"] == "reason"
    assert "业务咨询" in free.error["message"]
    reasons = {r["id"]: r["name"] for r in server.get(HALL).body["pause_reasons"]}
    assert reasons["consulting"] == "业务咨询"
    seen: dict[str, str] = {}

    async def watch(name: str, url: str) -> None:
        async with connect(url) as ws:
            seen[name] = await asyncio.wait_for(ws.recv(), 5)  # the snapshot
            while "window.paused" not in seen[name]:
                seen[name] += await asyncio.wait_for(ws.recv(), 5)

    async def scenario() -> None:
        watchers = [
            watch("board", f"{server.ws}/ws/hall?hall=demo"),
            watch("window", f"{server.ws}/ws/window/16?hall=demo"),
            watch("console", f"{server.ws}/ws/console/16?hall=demo&token={clerk}"),
            watch("manager", f"{server.ws}/ws/manager?hall=demo&token={manager}"),
        ]
        tasks = [asyncio.create_task(w) for w in watchers]
        await asyncio.sleep(0.5)
        paused = await asyncio.to_thread(
            server.post, f"{HALL}/windows/16/pause", {"reason": "consulting", "note": "为张三丰办理加急 13812345678"},
            token=clerk,
        )
        assert paused.status == 200, paused.body
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    public = {"snapshot": json.dumps(server.get(f"{HALL}/snapshot").body, ensure_ascii=False),
              "board": seen["board"], "window": seen["window"]}
    for name, text in public.items():
        # neither the words nor the number, whole or masked ("138" alone also occurs in timestamps)
        assert "张三丰" not in text and "13812345678" not in text and "138****78" not in text, name
    assert "业务咨询" in public["board"] and "业务咨询" in public["window"]
    window16 = next(w for w in server.get(f"{HALL}/snapshot").body["windows"] if w["number"] == 16)
    assert (window16["pause_reason"], window16["pause_reason_en"]) == ("业务咨询", "Consulting")
    for name in ("console", "manager"):  # staff see the note, its numbers masked
        assert "为张三丰办理加急 138****78" in seen[name] and "13812345678" not in seen[name], name
    staff = next(w for w in server.get(f"{HALL}/snapshot", token=manager).body["windows"] if w["number"] == 16)
    assert staff["pause_note"] == "为张三丰办理加急 138****78"
