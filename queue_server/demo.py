"""``hallq demo``: bring a running hall to life through its public HTTP API.

Citizens arrive per category at the configured daily volumes (a Poisson process,
``--speed`` times faster than real life), clerks log in to their home windows and
call, serve (service times drawn from the config, divided by ``--speed``) and
finish; now and then a citizen does not show up, a clerk recalls or transfers,
and a citizen rates the service on the window's pad. Every action is an ordinary
API request, so the boards, consoles, trackers and the dashboard show it all.

Tickets are taken through the manager account (channel kiosk or phone) so the
demo works outside opening hours and beyond kiosk rate limits; the event log
names that account as their actor. The demo drives only a hall of its own — an
example hall (``example: true``) with no window open — and refuses any other, so
it never collides with real clerks nor mixes into a real hall's records. A clerk
the rebalancer moves (``rebalance.mode: auto``) goes on at their new window.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .auth import Authority, load_secret
from .config import Category, Hall, load_config
from .errors import HallqError


@dataclass
class DemoStats:
    issued: int = 0
    served: int = 0
    no_shows: int = 0
    errors: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)


class Client:
    """A tiny JSON client over urllib (the demo has no other dependency)."""

    def __init__(self, base: str, stats: DemoStats) -> None:
        self.base = base.rstrip("/")
        self.stats = stats

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, expected: tuple[int, ...] = ()
    ) -> tuple[int, Any]:
        """One request; an answer ≥ 500, or 401/403/413/415/422 not in ``expected``, counts as an error."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            payload = json.loads(err.read() or b"null")
            if err.code >= 500 or (err.code in (401, 403, 413, 415, 422) and err.code not in expected):
                self.stats.add(errors=1)
                self.stats.last_error = f"{method} {path}: {err.code} {payload}"
            return err.code, payload
        except OSError as err:
            self.stats.add(errors=1)
            self.stats.last_error = f"{method} {path}: {err}"
            return 0, None


def _service_minutes(cat: Category, rng: random.Random) -> float:
    st = cat.service_time
    if st.distribution == "lognormal":
        sigma2 = math.log(1 + (st.sd / st.mean) ** 2)
        return rng.lognormvariate(math.log(st.mean) - sigma2 / 2, math.sqrt(sigma2))
    if st.distribution == "exponential":
        return rng.expovariate(1 / st.mean)
    if st.distribution == "uniform" and st.low is not None and st.high is not None:
        return rng.uniform(st.low, st.high)
    if st.distribution == "gamma":
        shape = (st.mean / st.sd) ** 2
        return rng.gammavariate(shape, st.mean / shape)
    return st.mean


def _login(client: Client, user: str, password: str, hall: str) -> str | None:
    status, body = client.call("POST", "/api/v1/auth/login", {"user": user, "password": password, "hall": hall})
    return str(body["token"]) if status == 200 else None


def refuse_real_use(hall: Hall, client: Client, manager: str) -> None:
    """The demo drives only a hall of its own: an example hall (``example: true``) that no
    clerk is using. On a real hall its simulated citizens would mix with real ones in the
    event log, the reports and the observed service times the estimates learn from; on a
    hall in use its clerks would collide with the real ones."""
    if not hall.example:
        raise HallqError(
            f"demo: 大厅 {hall.id} 不是示例大厅（example: true），演示数据会混入真实的事件记录、报表和办理时长，"
            f"已拒绝；请在单独的演示大厅运行 (refusing to drive a real hall: mark a hall of its own example: true)"
        )
    status, snap = client.call("GET", f"/api/v1/halls/{hall.id}/snapshot", token=manager)
    if status != 200:
        raise HallqError(f"demo: cannot read hall {hall.id}'s state ({status})")
    open_windows = [w["number"] for w in snap["windows"] if w["status"] != "closed"]
    if open_windows:
        shown = "、".join(str(n) for n in open_windows[:8]) + ("…" if len(open_windows) > 8 else "")
        raise HallqError(
            f"demo: 大厅 {hall.id} 有窗口正在使用（{shown}号），演示会与在岗工作人员冲突，已拒绝；"
            "请先关闭这些窗口或换一个大厅"
            f" (hall {hall.id} is in use: windows {shown} are open)"
        )


def _where(client: Client, api: str, manager: str, clerk_id: str) -> int | None:
    """The window ``clerk_id`` sits at now (the rebalancer may have moved them), if any."""
    status, snap = client.call("GET", f"{api}/snapshot", token=manager)
    if status != 200:
        return None
    return next((w["number"] for w in snap["windows"] if w.get("clerk") == clerk_id and w["status"] != "closed"), None)


def run_demo(
    hall: Hall,
    base: str,
    authority: Authority,
    speed: float,
    minutes: float,
    password: str,
    seed: int = 1,
    stats: DemoStats | None = None,
    quiet: bool = False,
) -> DemoStats:
    stats = stats or DemoStats()
    client = Client(base, stats)
    manager = _login(client, "admin", password, hall.id)
    if manager is None:
        raise HallqError("demo: cannot log in as 'admin' (pass --password)")
    api = f"/api/v1/halls/{hall.id}"
    refuse_real_use(hall, client, manager)
    stop = time.monotonic() + minutes * 60
    pads = {
        d.window: authority.device_token(d.id)
        for d in authority.deployment.auth.devices
        if d.hall == hall.id and d.role == "pad" and d.window is not None
    }

    per_day = sum(c.arrivals_per_day for c in hall.categories) or 1.0
    rate = per_day / hall.hours.service_minutes() * speed / 60  # arrivals per real second
    streams = max(1, math.ceil(rate / 4))  # one request at a time per stream: split a fast rate

    def citizens(seed: int) -> None:
        rng = random.Random(seed)
        weights = [c.arrivals_per_day for c in hall.categories]
        groups = [g.id for g in hall.priority_groups]
        while time.monotonic() < stop:
            time.sleep(min(rng.expovariate(rate / streams), max(0.0, stop - time.monotonic())))
            cat = rng.choices(hall.categories, weights)[0]
            body: dict[str, Any] = {"category": cat.id, "channel": "kiosk" if rng.random() < 0.85 else "counter"}
            if groups and rng.random() < 0.08:
                body["priority_group"] = rng.choice(groups)
            status, _ = client.call("POST", f"{api}/tickets", body, manager)
            if status == 201:
                stats.add(issued=1)

    def clerk(window: int, clerk_id: str, seed: int) -> None:
        r = random.Random(seed)
        token = _login(client, clerk_id, password, hall.id) or manager
        client.call("POST", f"{api}/windows/{window}/open", {"clerk": clerk_id} if token == manager else {}, token)
        while time.monotonic() < stop:
            status, called = client.call("POST", f"{api}/windows/{window}/call-next", {}, token, expected=(403,))
            if status == 403:  # moved by the rebalancer (or the manager): go on at the new window
                window = _where(client, api, manager, clerk_id) or window
            if status != 200:
                time.sleep(min(2.0, 30 / speed))
                continue
            time.sleep(min(3.0, 20 / speed))  # the citizen walks to the window
            if r.random() < hall.category(called["category"]).no_show_rate:
                client.call("POST", f"{api}/windows/{window}/recall", {}, token)
                client.call("POST", f"{api}/windows/{window}/no-show", {}, token)
                stats.add(no_shows=1)
                continue
            client.call("POST", f"{api}/windows/{window}/start", {}, token)
            time.sleep(_service_minutes(hall.category(called["category"]), r) * 60 / speed)
            outcome = r.choices(["completed", "accepted", "accepted_pending", "supplement"], [70, 15, 8, 7])[0]
            status, _ = client.call(
                "POST",
                f"{api}/windows/{window}/finish",
                {"outcome": outcome, "case_number": f"DEMO-{called['number']}"},
                token,
            )
            if status == 200:
                stats.add(served=1)
                if window in pads and r.random() < 0.6:
                    level = r.choices([5, 4, 3, 2, 1], [60, 25, 10, 3, 2])[0]
                    client.call(
                        "POST",
                        f"{api}/tickets/{called['ticket']}/rating",
                        {"level": level, **({"reason": "等候时间较长"} if level <= 2 else {})},
                        pads[window],
                    )
        client.call("POST", f"{api}/windows/{window}/close", {}, token)

    staff = [(c.home_window, c.id) for c in hall.clerks if c.home_window is not None]
    threads = [threading.Thread(target=citizens, args=(seed * 7919 + s,), daemon=True) for s in range(streams)]
    threads += [
        threading.Thread(target=clerk, args=(w, c, seed * 1000 + i), daemon=True) for i, (w, c) in enumerate(staff)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(5)
        if not quiet:
            print(
                f"取号 issued {stats.issued}  办结 served {stats.served}  过号 no-show {stats.no_shows}  "
                f"错误 errors {stats.errors}",
                flush=True,
            )
    return stats


def cmd_demo(args: argparse.Namespace) -> int:
    dep = load_config(args.config)
    hall = dep.hall(args.hall) if args.hall else dep.halls[0]
    authority = Authority(dep, load_secret(dep.storage.data_dir))
    print(f"演示 demo: {hall.name} at {args.url}, {args.speed:g}× real time, {args.minutes:g} minutes")
    stats = run_demo(hall, args.url, authority, args.speed, args.minutes, args.password, args.seed)
    if stats.errors:
        print(f"last error: {stats.last_error}")
    return 0 if stats.errors == 0 else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="drive a running server with simulated citizens and clerks")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--hall")
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--speed", type=float, default=60, help="times faster than real life (default 60)")
    p.add_argument("--minutes", type=float, default=10, help="how long to run, in real minutes")
    p.add_argument("--password", default="hallq-demo", help="the example accounts' password")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(handler=cmd_demo)
