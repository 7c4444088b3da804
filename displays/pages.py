"""The pages people look at, rendered with Jinja2; live data comes over the WebSocket feeds.

Every page is one template plus one hand-written script in ``static/js``; the hall's
configuration (categories, materials, windows, announcement templates…) is embedded in
the page as JSON, so a page needs nothing but this server — halls are often offline.
Pages read ``hall`` from the query string and fall back to the first configured hall.

Besides the pages there are three small helpers the pages need and the JSON API does
not give: the QR code of a ticket's tracker page (SVG, drawn here with segno), the
ticket a rating pad should ask about (with its case number, which public feeds never
carry), and the manager's figures for today (utilisation, alerts, ratings).
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sanic import Request, Sanic
from sanic.response import HTTPResponse, html, raw
from sanic.response import json as json_response

from queue_server import api
from queue_server.auth import Principal
from queue_server.hall import HallService
from queue_server.views import hall_alerts, hall_snapshot, pending_rating, ratings_today, utilisation_today

ROOT = Path(__file__).resolve().parent


def _static_dir() -> Path:
    """``static/`` of a checkout, else the installed data package ``hallq_static`` (see pyproject.toml)."""
    checkout = ROOT.parent / "static"
    if checkout.is_dir():
        return checkout
    spec = importlib.util.find_spec("hallq_static")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else checkout


STATIC = _static_dir()
env = Environment(loader=FileSystemLoader(ROOT / "templates"), autoescape=select_autoescape(["html"]))


def render(name: str, **context: Any) -> HTTPResponse:
    return html(env.get_template(name).render(**context))


def _json_script(value: Any) -> Markup:
    """JSON safe to put inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _service(request: Request) -> HallService:
    """The hall named by ``?hall=``, else the first configured hall; 404 for an unknown hall."""
    hall_id = request.args.get("hall") or request.app.ctx.deployment.halls[0].id
    return api._service(request, hall_id)  # same 404 as the API (unknown_hall)


async def _hall_info(request: Request, service: HallService) -> Any:
    """The public hall description, exactly what ``GET /api/v1/halls/{hall}`` answers."""
    response = await api.get_hall(request, service.hall.id)
    return json.loads(response.body or b"{}")


async def _page(request: Request, template: str, title: str, **extra: Any) -> HTTPResponse:
    service = _service(request)
    info = await _hall_info(request, service)
    page = {"hall": service.hall.id, **extra}
    return render(
        template,
        title=title,
        hall=service.hall,
        info=_json_script(info),
        page=_json_script(page),
        extra=extra,
    )


# ------------------------------------------------------------------ pages


async def index(request: Request) -> HTTPResponse:
    return render("index.html", halls=request.app.ctx.deployment.halls)


async def kiosk(request: Request) -> HTTPResponse:
    return await _page(request, "kiosk.html", "取号机 Kiosk", autoprint=request.args.get("autoprint") == "1")


async def board(request: Request) -> HTTPResponse:
    try:
        recent = max(1, min(20, int(request.args.get("n", "8"))))
    except ValueError:
        recent = 8
    return await _page(request, "board.html", "综合屏 Hall board", zone=request.args.get("zone") or None, recent=recent)


async def window_display(request: Request, window: int) -> HTTPResponse:
    _window_exists(request, window)
    return await _page(request, "window.html", f"{window}号窗口 Window {window}", window=window)


async def console(request: Request) -> HTTPResponse:
    clerks = [{"id": c.id, "name": c.name, "home_window": c.home_window} for c in _service(request).hall.clerks]
    return await _page(request, "console.html", "窗口工作台 Clerk console", clerks=clerks)


async def rating_pad(request: Request, window: int) -> HTTPResponse:
    _window_exists(request, window)
    return await _page(request, "rate.html", f"{window}号窗口评价器 Rating pad", window=window)


async def tracker(request: Request, ticket: str) -> HTTPResponse:
    service = _service(request)
    found = _find_ticket(service, ticket)
    return await _page(
        request, "tracker.html", f"{found or ticket} 排队进度 Queue status", ticket=found or ticket, known=bool(found)
    )


async def manager(request: Request) -> HTTPResponse:
    return await _page(request, "manager.html", "管理看板 Manager dashboard")


async def roster(request: Request) -> HTTPResponse:
    """周排班: run the week's roster (CP-SAT) and see who sits where; manager login as on the dashboard."""
    service = _service(request)
    clerks = [{"id": c.id, "name": c.name} for c in service.hall.clerks]
    return await _page(request, "roster.html", "周排班 Weekly roster", clerks=clerks)


async def plan(request: Request) -> HTTPResponse:
    """规划工作台: the planner's workbench (issue #9); everything it shows comes from /api/v1/plan."""
    return await _page(request, "plan.html", "规划工作台 Planner's workbench")


def _window_exists(request: Request, window: int) -> None:
    try:
        _service(request).hall.window(window)
    except KeyError:
        raise api.ApiError(404, "unknown_window", f"没有{window}号窗口 (no window {window})", "window") from None


def _find_ticket(service: HallService, ticket: str) -> str | None:
    """A ticket id; a bare number such as ``A005`` means today's ticket with that number."""
    if ticket in service.state.tickets:
        return ticket
    today = [t for t in service.state.tickets.values() if t.number == ticket.upper() and t.day == service.state.day]
    return today[0].id if today else None


# ------------------------------------------------------------------ helpers for the pages


def tracker_url(request: Request, hall: str, ticket: str) -> str:
    """The absolute address of a ticket's tracker page, as the citizen's phone will open it."""
    host = request.headers.get("host") or f"{request.server_name}:{request.server_port}"
    return f"{request.scheme}://{host}/t/{quote(ticket)}?hall={quote(hall)}"


async def qr_code(request: Request, name: str) -> HTTPResponse:
    """The QR code printed on a ticket (``/qr/<ticket>.svg``): an SVG pointing to its tracker page."""
    service = _service(request)
    ticket = name.removesuffix(".svg")
    if not name.endswith(".svg") or ticket not in service.state.tickets:
        raise api.ApiError(404, "unknown_ticket", f"找不到票号 {ticket} (no such ticket)", "ticket")
    out = io.BytesIO()
    segno.make(tracker_url(request, service.hall.id, ticket), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True
    )
    return raw(out.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


def _principal(request: Request) -> Principal | None:
    principal: Principal | None = request.app.ctx.authority.principal(api._bearer(request))
    return principal


async def pad_ticket(request: Request, window: int) -> HTTPResponse:
    """The service a rating pad should ask about now: the window's latest finished, unrated ticket."""
    service = _service(request)
    principal = _principal(request)
    allowed = principal is not None and (
        (principal.role == "pad" and principal.window == window and principal.hall == service.hall.id)
        or (principal.role == "manager" and principal.hall in (None, service.hall.id))
    )
    if not allowed:
        raise api.ApiError(403, "forbidden", f"需要{window}号窗口评价器的凭证 (the pad's device token is required)")
    return json_response({"pending": pending_rating(service.hall, service.state, window, service.clock.now())})


async def manager_summary(request: Request) -> HTTPResponse:
    """Everything the manager dashboard shows: the live state plus today's figures and alerts."""
    service = _service(request)
    principal = _principal(request)
    if principal is None or principal.role != "manager" or principal.hall not in (None, service.hall.id):
        status = 401 if principal is None else 403
        raise api.ApiError(status, "login_required", "请以管理人员身份登录 (log in as a manager)")
    hall, state, now = service.hall, service.state, service.clock.now()
    return json_response(
        {
            "snapshot": hall_snapshot(hall, state, now, manager=True, twin=service.twin_wait),
            "utilisation": utilisation_today(hall, state, now),
            "alerts": hall_alerts(hall, state, now),
            "ratings": ratings_today(hall, state, now),
        }
    )


async def api_docs(request: Request) -> HTTPResponse:
    from queue_server.api import openapi_document

    return render("api_docs.html", doc=openapi_document())


def register(app: Sanic) -> None:
    app.add_route(index, "/", name="page_index")
    app.add_route(kiosk, "/kiosk", name="page_kiosk")
    app.add_route(board, "/board", name="page_board")
    app.add_route(window_display, "/window/<window:int>", name="page_window")
    app.add_route(console, "/console", name="page_console")
    app.add_route(rating_pad, "/rate/<window:int>", name="page_rate")
    app.add_route(tracker, "/t/<ticket:str>", name="page_tracker")
    app.add_route(manager, "/manager", name="page_manager")
    app.add_route(roster, "/roster", name="page_roster")
    app.add_route(plan, "/plan", name="page_plan")
    app.add_route(qr_code, "/qr/<name:str>", name="page_qr")
    app.add_route(pad_ticket, "/pages/pad/<window:int>", name="page_pad_ticket")
    app.add_route(manager_summary, "/pages/manager", name="page_manager_summary")
    app.add_route(api_docs, "/api/docs", name="page_api_docs")
    if STATIC.is_dir():
        app.static("/static", STATIC, name="static")
