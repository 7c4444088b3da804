"""``hallq serve`` and the account helpers (``hash-password``, ``device-token``)."""

from __future__ import annotations

import argparse
import getpass
import sys
from functools import partial

from .auth import Authority, hash_password, load_secret
from .config import Deployment, load_config
from .errors import HallqError

PAGES = (
    ("首页 Index", "/"),
    ("取号机 Kiosk", "/kiosk?hall={hall}&token={kiosk}"),
    ("综合屏 Hall board", "/board?hall={hall}"),
    ("窗口屏 Window display", "/window/{window}?hall={hall}"),
    ("工作台 Clerk console", "/console?hall={hall}"),
    ("评价器 Rating pad", "/rate/{window}?hall={hall}&token={pad}"),
    ("查询 Citizen tracker", "/t/<ticket>?hall={hall}"),
    ("管理 Manager dashboard", "/manager?hall={hall}"),
    ("排班 Weekly roster", "/roster?hall={hall}"),
    ("规划工作台 Planner's workbench", "/plan?hall={hall}"),
    ("预约 Booking", "/booking?hall={hall}"),
    ("签到 Kiosk check-in", "/checkin?hall={hall}&token={kiosk}"),
    ("线上取号 Phone ticket", "/remote?hall={hall}"),
    ("差评整改 Follow-ups", "/followups?hall={hall}"),
    ("报表 Reports", "/reports?hall={hall}"),
)


def page_urls(dep: Deployment, authority: Authority, base: str) -> list[str]:
    lines = []
    for hall in dep.halls:
        kiosk = next((d.id for d in dep.auth.devices if d.hall == hall.id and d.role == "kiosk"), None)
        window = hall.windows[0].number
        pad = next((d for d in dep.auth.devices if d.hall == hall.id and d.role == "pad" and d.window == window), None)
        lines.append(f"大厅 Hall {hall.id} — {hall.name}")
        for label, path in PAGES:
            url = path.format(
                hall=hall.id,
                window=window,
                kiosk=authority.device_token(kiosk) if kiosk else "<kiosk device token>",
                pad=authority.device_token(pad.id) if pad else "<pad device token>",
            )
            lines.append(f"  {label:<24} {base}{url}")
    lines.append(f"  {'API docs':<24} {base}/api/docs   (OpenAPI: {base}/api/v1/openapi.json)")
    lines.append(f"  {'健康检查 Health':<24} {base}/healthz  {base}/readyz  {base}/metrics")
    return lines


def cmd_serve(args: argparse.Namespace) -> int:
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from .app import HeaderDeadlineProtocol, create_app

    if args.workers < 1:
        raise HallqError("--workers must be at least 1")
    if args.workers > 1 and not args.redis:
        raise HallqError(
            f"--workers {args.workers} 需要 --redis：内置存储只能由一个进程使用 "
            "(several workers need --redis URL: the embedded store serves one process)"
        )
    dep = load_config(args.config)  # a bad file stops here with field-named errors
    authority = Authority(dep, load_secret(dep.storage.data_dir))
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown_host}:{args.port}"
    store = f"Redis {args.redis}" if args.redis else f"内置存储 embedded journal in {dep.storage.data_dir}/"
    print(f"hallq 启动 starting on {base} — {store}, {args.workers} worker(s)")
    print("\n".join(page_urls(dep, authority, base)), flush=True)
    loader = AppLoader(factory=partial(create_app, args.config, args.redis))
    app = loader.load()
    app.prepare(
        host=args.host,
        port=args.port,
        workers=args.workers,
        single_process=args.workers == 1,
        motd=False,
        access_log=args.access_log,
        protocol=HeaderDeadlineProtocol,
    )
    if args.workers == 1:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    password = args.password if args.password is not None else getpass.getpass("密码 Password: ")
    if len(password) < 8:
        raise HallqError("密码至少8位 (a password needs at least 8 characters)")
    print(hash_password(password))
    return 0


def cmd_device_token(args: argparse.Namespace) -> int:
    dep = load_config(args.config)
    if args.device not in {d.id for d in dep.auth.devices}:
        known = ", ".join(d.id for d in dep.auth.devices) or "none"
        raise HallqError(f"no device {args.device!r} in {args.config} (devices: {known})")
    print(Authority(dep, load_secret(dep.storage.data_dir)).device_token(args.device))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the server (HTTP API, WebSockets, pages)")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--redis", help="Redis URL, e.g. redis://127.0.0.1:6379/0 (default: the embedded store)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--access-log", action="store_true")
    p.set_defaults(handler=cmd_serve)

    h = sub.add_parser("hash-password", help="print the scrypt hash of a password for config.yaml")
    h.add_argument("--password", help="(default: ask on the terminal)")
    h.set_defaults(handler=cmd_hash_password)

    d = sub.add_parser("device-token", help="print the token of a kiosk, display or rating pad")
    d.add_argument("device")
    d.add_argument("--config", default="config.yaml")
    d.set_defaults(handler=cmd_device_token)


if __name__ == "__main__":
    from .cli import main

    sys.exit(main())
