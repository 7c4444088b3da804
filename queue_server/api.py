"""The JSON API under ``/api/v1``.

Every route is declared once in :data:`ROUTES` — method, path, the roles allowed,
the request body model — and that one list both registers the Sanic handlers and
produces the OpenAPI document (``/api/v1/openapi.json``), so the documentation
cannot drift from what the server does. Every state change goes through
``HallService.execute``; every POST takes an ``Idempotency-Key``.

Errors are ``{"error": {"code", "message", "field", "message_zh", "message_en", "details"}}``
with a 4xx status (``message`` is 「中文 (English)」, the same text is given split into its two
languages, and ``details`` lists every named reason as ``{zh, en}``); a request that is refused
changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from .auth import CITIZEN, Authority, Principal
from .commands import (
    CallNext,
    CallTicket,
    CancelTicket,
    CloseWindow,
    Command,
    FinishService,
    IssueTicket,
    MoveClerk,
    NoShow,
    OpenWindow,
    PauseWindow,
    RateService,
    Recall,
    ResumeTicket,
    ResumeWindow,
    StartService,
    SuspendTicket,
    Transfer,
)
from .config import Invalid, pydantic_zh
from .errors import Bilingual, CommandRejected
from .hall import HallService
from .model import CALL_REASONS, OUTCOMES, RATING_LEVELS
from .privacy import PersonalDataError, check_id_number
from .views import hall_snapshot, materials, ticket_status

API = "/api/v1"
MAX_IDEMPOTENCY_KEY = 100


class ApiError(Exception):
    """A refused request. ``message`` is 「中文 (English)」; ``text`` gives the two halves when the message
    does not follow that shape, and ``details`` lists every named reason (e.g. each unmet roster requirement)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        text: Bilingual | None = None,
        details: Sequence[Bilingual] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.text, self.details = text, tuple(details)


def error_body(
    code: str, message: str, field: str | None = None, text: Bilingual | None = None, details: Sequence[Bilingual] = ()
) -> dict[str, Any]:
    """``{"error": {code, message, field, message_zh, message_en, details: [{zh, en}]}}``: ``message`` as it
    always was, the same split into its languages, and the full list of reasons."""
    halves = text or Bilingual.parse(message)
    return {
        "error": {
            "code": code,
            "message": message,
            "field": field,
            "message_zh": halves.zh,
            "message_en": halves.en,
            "details": [d.as_dict() for d in details],
        }
    }


# ------------------------------------------------------------------ request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Empty(_Body):
    pass


class IssueBody(_Body):
    category: str = Field(max_length=40, description="category id (see GET /halls/{hall})")
    channel: Literal["kiosk", "phone", "counter"] = Field(
        default="kiosk", description="appointment tickets come only from checking a booking in (POST …/checkin)"
    )
    priority_group: str | None = Field(default=None, max_length=40)
    phone: str | None = Field(default=None, pattern=r"^1\d{10}$", description="for notices; never shown unmasked")
    id_number: str | None = Field(
        default=None, max_length=20, description="from the kiosk's ID-card reader: a real-name ticket; kept hashed"
    )

    @field_validator("channel", mode="before")
    @classmethod
    def _no_appointment(cls, value: Any) -> Any:
        # an appointment ticket keeps its slot ahead of the queue: only a booking's check-in may make one
        if value == "appointment":
            raise Invalid(
                "预约号只能通过预约签到生成，请在取号机上用预约码或身份证号签到 (POST …/checkin)",
                "appointment tickets come only from checking a booking in (POST …/checkin)",
            )
        return value


class TokenBody(_Body):
    token: str | None = Field(default=None, max_length=64, description="the ticket token given at issue")


class RatingBody(_Body):
    level: int = Field(ge=1, le=5, description="整体满意度: 5 非常满意 … 1 非常不满意")
    reason: str | None = Field(default=None, max_length=500)
    efficiency: int | None = Field(default=None, ge=1, le=5, description="服务效率 1–5")
    skill: int | None = Field(default=None, ge=1, le=5, description="服务水平 1–5")
    attitude: int | None = Field(default=None, ge=1, le=5, description="服务态度 1–5")
    token: str | None = Field(default=None, max_length=64)


class OpenBody(_Body):
    clerk: str | None = Field(
        default=None, max_length=40, description="managers name the clerk; clerks open for themselves"
    )


class RecallBody(_Body):
    ticket: str | None = Field(default=None, max_length=40, description="a no-show ticket of this window to take back")


class CallTicketBody(_Body):
    ticket: str = Field(min_length=1, max_length=40, description="the waiting ticket to call")
    reason: str = Field(min_length=1, max_length=40, description="a key of the hall's call_reasons (GET /halls/{hall})")
    note: str | None = Field(default=None, max_length=200)


class SuspendBody(_Body):
    reason: str = Field(default="补齐材料", min_length=1, max_length=100)


class TicketRef(_Body):
    ticket: str = Field(min_length=1, max_length=40)


class FinishBody(_Body):
    outcome: Literal["completed", "accepted", "accepted_pending", "supplement", "rejected"] = "completed"
    case_number: str | None = Field(default=None, min_length=1, max_length=64)


class TransferBody(_Body):
    to_category: str | None = Field(default=None, max_length=40)
    to_window: int | None = Field(default=None, gt=0, lt=1000)
    keep_place: bool = True


class PauseBody(_Body):
    reason: str = Field(default="paused", max_length=40, description="the id of one of the hall's pause_reasons")
    note: str | None = Field(default=None, max_length=100, description="free note: staff feeds only, never a board")


class MoveBody(_Body):
    to_window: int = Field(gt=0, lt=1000)


class LoginBody(_Body):
    user: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)
    hall: str | None = Field(default=None, max_length=40)


# ------------------------------------------------------------------ route registry

Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]
ANYONE: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: tuple[str, ...] = ANYONE  # empty: no login needed
    body: type[BaseModel] | None = None
    tag: str = "hall"
    params: dict[str, str] = field(default_factory=dict)  # query parameters: name -> description
    stream: bool = False  # the handler reads the body itself (its own size limit)


def parse_body(request: Request, model: type[BaseModel]) -> Any:
    raw: Any = {}
    if request.body:
        if not (request.content_type or "").startswith("application/json"):
            raise ApiError(415, "unsupported_media_type", "请求体须为 JSON (send Content-Type: application/json)")
        try:
            raw = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
            raise ApiError(400, "malformed_json", f"请求体不是合法的 JSON (malformed JSON: {exc})") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "malformed_json", "请求体须为 JSON 对象 (the body must be a JSON object)")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        zh = pydantic_zh(err)
        text = f"{zh} ({msg})" if zh else msg
        raise ApiError(422, "invalid", f"{where}: {text}" if where else text, where) from None


def _service(request: Request, hall: str) -> HallService:
    services: dict[str, HallService] = request.app.ctx.services
    service = services.get(hall)
    if service is None:
        raise ApiError(404, "unknown_hall", f"没有大厅 {hall!r} (no such hall)", "hall")
    return service


def _principal(request: Request) -> Principal:
    principal: Principal = request.ctx.principal
    return principal


def _in_hall(principal: Principal, hall: str) -> None:
    if principal.hall is not None and principal.hall != hall:
        raise ApiError(403, "forbidden", "无权访问该大厅 (not allowed in this hall)")


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        raise ApiError(422, "invalid", f"Idempotency-Key must be 1–{MAX_IDEMPOTENCY_KEY} characters", "Idempotency-Key")
    return key


async def _run(request: Request, service: HallService, cmd: Command, status: int = 200) -> HTTPResponse:
    principal = _principal(request)
    result = await service.execute(cmd, principal.actor, _idempotency_key(request))
    return json_response(result, status=status)


# ------------------------------------------------------------------ handlers: hall


async def list_halls(request: Request) -> HTTPResponse:
    halls = request.app.ctx.deployment.halls
    return json_response({"halls": [{"id": h.id, "name": h.name, "name_en": h.name_en} for h in halls]})


async def get_hall(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    h = service.hall
    return json_response(
        {
            "id": h.id,
            "name": h.name,
            "name_en": h.name_en,
            "timezone": h.timezone,
            "hours": json.loads(h.hours.model_dump_json()),
            "zones": [z.model_dump() for z in h.zones],
            "categories": materials(h),
            "priority_groups": [{"id": g.id, "name": g.name, "name_en": g.name_en} for g in h.priority_groups],
            "pause_reasons": [{"id": r.id, "name": r.name, "name_en": r.name_en} for r in h.pause_reasons],
            "windows": [
                {
                    "number": w.number,
                    "zone": w.zone,
                    "class": w.window_class,
                    "categories": h.window_categories(w.number),
                }
                for w in h.windows
            ],
            "window_classes": [c.model_dump() for c in h.window_classes],
            "outcomes": {k: {"zh": v[0], "en": v[1]} for k, v in OUTCOMES.items()},
            "call_reasons": {k: {"zh": v[0], "en": v[1]} for k, v in CALL_REASONS.items()},
            "rating_levels": {str(k): {"zh": v[0], "en": v[1]} for k, v in RATING_LEVELS.items()},
            "announcements": h.announcements.model_dump(),
            "languages": [lang.model_dump() for lang in h.languages],
        }
    )


async def get_snapshot(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    principal = _principal(request)
    staff = principal.role in ("manager", "clerk") and principal.hall in (None, hall)
    zone = request.args.get("zone")
    snap = hall_snapshot(
        service.hall, service.state, service.clock.now(), manager=staff, zone=zone, twin=service.twin_wait
    )
    return json_response(snap)


def _log_page(request: Request) -> tuple[int, int]:
    """``after`` and ``limit`` of a read of an event log (the hall's, the audit log)."""
    try:
        after = int(request.args.get("after", "0"))
        limit = min(int(request.args.get("limit", "500")), 5000)
    except ValueError:
        raise ApiError(422, "invalid", "after and limit must be integers", "after") from None
    if after < 0 or limit <= 0:
        raise ApiError(422, "invalid", "after must be ≥ 0 and limit > 0", "after")
    return after, limit


async def get_events(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    after, limit = _log_page(request)
    events = await service.store.read(hall, after, limit)
    return json_response({"events": [e.as_dict() for e in events], "last_seq": service.state.seq})


# ------------------------------------------------------------------ handlers: tickets


async def issue_ticket(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    principal = _principal(request)
    body: IssueBody = parse_body(request, IssueBody)
    limits = request.app.ctx.deployment.auth.rate_limits
    limiter = request.app.ctx.limiter
    authority = request.app.ctx.authority
    if principal.role == "citizen":
        if body.channel != "phone" or not body.phone:
            raise ApiError(401, "login_required", "线上取号须提供手机号 (phone tickets need a phone number)", "phone")
        if not await limiter.allow(f"ip:{client_address(request)}", limits.tickets_per_address_per_hour, 3600):
            raise ApiError(429, "rate_limited", "取号过于频繁，请稍后再试 (too many tickets from this address)")
    else:
        _in_hall(principal, hall)
        if principal.role == "kiosk" and body.channel != "kiosk":
            raise ApiError(403, "forbidden", "取号机只能发放现场号 (kiosks issue kiosk tickets)", "channel")
        if principal.role == "kiosk" and not await limiter.allow(
            f"device:{principal.id}", limits.tickets_per_device_per_minute, 60
        ):
            raise ApiError(429, "rate_limited", "取号过于频繁，请稍后再试 (this kiosk is issuing too fast)")
    if body.phone and not await limiter.allow(
        f"phone:{authority.phone_key(body.phone)}", limits.tickets_per_phone_per_day, 86400
    ):
        raise ApiError(
            429, "rate_limited", "该手机号今日取号次数已达上限 (this phone number reached today's limit)", "phone"
        )
    if not service.hall.hours.is_open_at(_local(service)) and principal.role != "manager":
        raise ApiError(409, "hall_closed", "大厅当前不在办公时间，暂停取号 (the hall is closed now)")
    phone_key = authority.phone_key(body.phone) if body.phone else None
    cmd = IssueTicket(
        body.category,
        body.channel,
        body.priority_group,
        phone_key=phone_key,
        person_key=_person_key(authority, body.id_number),
    )
    result = await service.execute(cmd, principal.actor, _idempotency_key(request))
    ticket = service.state.tickets.get(result["ticket"])
    out = result | {"token": authority.ticket_token(hall, result["ticket"])}
    if body.phone:
        out["phone"] = f"{body.phone[:3]}****{body.phone[-4:]}"
    if ticket is not None:
        out["status"] = ticket_status(service.hall, service.state, ticket, service.clock.now(), service.twin_wait)
    return json_response(out, status=201)


def _person_key(authority: Authority, id_number: str | None) -> str | None:
    """The keyed hash of a checked ID number (never the number itself), or None without one."""
    if id_number is None:
        return None
    try:
        return authority.person_key(check_id_number(id_number))
    except PersonalDataError as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None


def client_address(request: Request) -> str:
    """The caller's address: the one a trusted proxy forwarded (``proxy:`` in the config), else the peer's."""
    return request.remote_addr or request.ip


def _local(service: HallService) -> datetime:
    return datetime.fromtimestamp(service.clock.now(), service.hall.tz)


async def get_ticket(request: Request, hall: str, ticket: str) -> HTTPResponse:
    service = _service(request, hall)
    t = service.state.tickets.get(ticket)
    if t is None:
        raise ApiError(404, "unknown_ticket", f"找不到票号 {ticket} (no such ticket)", "ticket")
    return json_response(ticket_status(service.hall, service.state, t, service.clock.now(), service.twin_wait))


def _owns_ticket(request: Request, hall: str, ticket: str, token: str | None) -> None:
    principal = _principal(request)
    if principal.role == "manager":
        _in_hall(principal, hall)
        return
    if token and request.app.ctx.authority.check_ticket_token(hall, ticket, token):
        return
    raise ApiError(403, "forbidden", "需要取号时给出的凭证 (the ticket's token is required)", "token")


async def cancel_ticket(request: Request, hall: str, ticket: str) -> HTTPResponse:
    service = _service(request, hall)
    body: TokenBody = parse_body(request, TokenBody)
    _owns_ticket(request, hall, ticket, body.token)
    return await _run(request, service, CancelTicket(ticket))


async def rate_ticket(request: Request, hall: str, ticket: str) -> HTTPResponse:
    service = _service(request, hall)
    body: RatingBody = parse_body(request, RatingBody)
    principal = _principal(request)
    if principal.role == "pad":
        _in_hall(principal, hall)
        t = service.state.tickets.get(ticket)
        if t is not None and principal.window is not None and t.window != principal.window:
            raise ApiError(403, "forbidden", "评价器只能评价本窗口的办件 (a pad rates its own window's services)")
    else:
        _owns_ticket(request, hall, ticket, body.token)
    cmd = RateService(ticket, body.level, body.reason, body.efficiency, body.skill, body.attitude)
    return await _run(request, service, cmd)


# ------------------------------------------------------------------ handlers: windows


def _window_guard(request: Request, service: HallService, window: int) -> None:
    principal = _principal(request)
    _in_hall(principal, service.hall.id)
    if principal.role == "clerk":
        live = service.state.windows.get(window)
        if live is None or live.status == "closed" or live.clerk != principal.id:
            raise ApiError(
                403, "forbidden", f"您未登录{window}号窗口 (you are not logged in to window {window})", "window"
            )


async def open_window(request: Request, hall: str, window: int) -> HTTPResponse:
    service = _service(request, hall)
    principal = _principal(request)
    _in_hall(principal, hall)
    body: OpenBody = parse_body(request, OpenBody)
    if principal.role == "clerk":
        if body.clerk not in (None, principal.id):
            raise ApiError(403, "forbidden", "工作人员只能为自己登录窗口 (clerks open windows for themselves)", "clerk")
        clerk = principal.id
    else:
        if not body.clerk:
            raise ApiError(422, "invalid", "clerk: 请指定工作人员 (name the clerk)", "clerk")
        clerk = body.clerk
    return await _run(request, service, OpenWindow(window, clerk))


def _window_action(make: Callable[[int, Any], Command], body: type[BaseModel]) -> Handler:
    async def handler(request: Request, hall: str, window: int) -> HTTPResponse:
        service = _service(request, hall)
        _window_guard(request, service, window)
        parsed = parse_body(request, body)
        return await _run(request, service, make(window, parsed))

    return handler


def _window_route(action: str, make: Callable[[int, Any], Command], body: type[BaseModel], summary: str) -> Route:
    """A clerk's operation on their window: POST .../windows/{n}/<action> with ``body``."""
    return Route("POST", f"{WIN}/{action}", _window_action(make, body), summary, roles=STAFF, body=body, tag="windows")


async def move_clerk(request: Request, hall: str, clerk: str) -> HTTPResponse:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    body: MoveBody = parse_body(request, MoveBody)
    return await _run(request, service, MoveClerk(clerk, body.to_window))


# ------------------------------------------------------------------ handlers: auth


async def login(request: Request) -> HTTPResponse:
    """Log in; failed attempts are limited per account and per address, and every attempt is audited.

    The password hash (scrypt, ~40 ms of CPU) runs in a worker thread, never on the event loop
    that feeds every board; a locked account or address is refused before any hash.
    """
    body: LoginBody = parse_body(request, LoginBody)
    authority = request.app.ctx.authority
    limits = request.app.ctx.deployment.auth.rate_limits
    limiter, audit = request.app.ctx.limiter, request.app.ctx.audit
    address = client_address(request)
    window = limits.login_lockout_minutes * 60
    keys = (f"login-failed:user:{body.user}", f"login-failed:ip:{address}")
    seen = {"user": body.user, "address": address, "hall": body.hall}
    caps = (limits.failed_logins_per_account, limits.failed_logins_per_address)
    if any([await limiter.hits(key, window) >= cap for key, cap in zip(keys, caps, strict=True)]):
        await audit.record(f"user:{body.user}", "auth.login_locked", seen)
        raise ApiError(
            429,
            "login_locked",
            f"登录失败次数过多，请{limits.login_lockout_minutes}分钟后再试 "
            f"(too many failed logins; try again in {limits.login_lockout_minutes} minutes)",
            "user",
        )
    result = await asyncio.to_thread(authority.login, body.user, body.password, body.hall)
    if result is None:
        for key in keys:
            await limiter.allow(key, 2**31, window)  # count the failure
        await audit.record(f"user:{body.user}", "auth.login_failed", seen)
        raise ApiError(401, "bad_credentials", "用户名或密码错误 (wrong user or password)", "password")
    token, principal = result
    await audit.record(principal.actor, "auth.login", seen | {"hall": principal.hall, "role": principal.role})
    return json_response(
        {
            "token": token,
            "role": principal.role,
            "user": principal.id,
            "hall": principal.hall,
            "expires_in": authority.session_seconds,
        }
    )


async def get_audit(request: Request) -> HTTPResponse:
    """The audit log (see :mod:`queue_server.audit`); a hall's manager reads that hall's entries."""
    after, limit = _log_page(request)
    events = await request.app.ctx.audit.read(after, limit, _principal(request).hall)
    return json_response({"entries": [e.as_dict() for e in events]})


async def whoami(request: Request) -> HTTPResponse:
    p = _principal(request)
    return json_response({"role": p.role, "id": p.id, "hall": p.hall, "window": p.window})


STAFF = ("manager", "clerk")
HALL = API + "/halls/<hall:str>"
WIN = HALL + "/windows/<window:int>"

ROUTES: list[Route] = [
    Route("POST", API + "/auth/login", login, "登录（工作人员、管理人员） Log in", body=LoginBody, tag="auth"),
    Route("GET", API + "/me", whoami, "当前身份 Who am I", tag="auth"),
    Route(
        "GET",
        API + "/audit",
        get_audit,
        "审计日志（登录与管理操作） Audit log: logins and managers' requests",
        roles=("manager",),
        tag="auth",
        params={"after": "last seq seen", "limit": "at most this many (≤ 5000)"},
    ),
    Route("GET", API + "/halls", list_halls, "大厅列表 Halls"),
    Route("GET", HALL, get_hall, "大厅信息、事项与材料清单 Hall, categories and materials lists"),
    Route("GET", HALL + "/snapshot", get_snapshot, "实时状态 Live snapshot", params={"zone": "only this zone"}),
    Route(
        "GET",
        HALL + "/events",
        get_events,
        "事件日志（追溯） Event log after a seq",
        roles=("manager",),
        params={"after": "last seq seen", "limit": "at most this many (≤ 5000)"},
    ),
    Route(
        "POST",
        HALL + "/tickets",
        issue_ticket,
        "取号 Issue a ticket",
        roles=("kiosk", "manager", "citizen"),
        body=IssueBody,
        tag="tickets",
    ),
    Route("GET", HALL + "/tickets/<ticket:str>", get_ticket, "票号状态 Ticket status", tag="tickets"),
    Route(
        "POST",
        HALL + "/tickets/<ticket:str>/cancel",
        cancel_ticket,
        "取消 Cancel a ticket",
        roles=("manager", "citizen"),
        body=TokenBody,
        tag="tickets",
    ),
    Route(
        "POST",
        HALL + "/tickets/<ticket:str>/rating",
        rate_ticket,
        "好差评 Rate a service",
        roles=("pad", "manager", "citizen"),
        body=RatingBody,
        tag="tickets",
    ),
    Route("POST", WIN + "/open", open_window, "登录窗口 Open a window", roles=STAFF, body=OpenBody, tag="windows"),
    _window_route("call-next", lambda w, b: CallNext(w), Empty, "呼叫下一位 Call next"),
    _window_route(
        "call-ticket",
        lambda w, b: CallTicket(w, b.ticket, b.reason, b.note),
        CallTicketBody,
        "叫指定号 Call a chosen ticket (reason, note)",
    ),
    _window_route("recall", lambda w, b: Recall(w, b.ticket), RecallBody, "重呼 Recall"),
    _window_route("no-show", lambda w, b: NoShow(w), Empty, "过号 No-show"),
    _window_route("start", lambda w, b: StartService(w), Empty, "开始办理 Start service"),
    _window_route(
        "finish",
        lambda w, b: FinishService(w, b.outcome, b.case_number),
        FinishBody,
        "办结 Finish (outcome, case number)",
    ),
    _window_route(
        "transfer", lambda w, b: Transfer(w, b.to_category, b.to_window, b.keep_place), TransferBody, "转办 Transfer"
    ),
    _window_route("suspend", lambda w, b: SuspendTicket(w, b.reason), SuspendBody, "挂起 Set the ticket aside"),
    _window_route(
        "resume-ticket", lambda w, b: ResumeTicket(w, b.ticket), TicketRef, "恢复办理 Resume a suspended ticket"
    ),
    _window_route("pause", lambda w, b: PauseWindow(w, b.reason, b.note), PauseBody, "暂停 Pause"),
    _window_route("resume", lambda w, b: ResumeWindow(w), Empty, "恢复 Resume"),
    _window_route("close", lambda w, b: CloseWindow(w), Empty, "关闭窗口 Close"),
    Route(
        "POST",
        HALL + "/clerks/<clerk:str>/move",
        move_clerk,
        "调岗 Move a clerk to another window",
        roles=("manager",),
        body=MoveBody,
        tag="windows",
    ),
]


def _guarded(route: Route) -> Handler:
    # a route whose own ``token`` query parameter is not a session (the booking token) keeps it
    bearer = _header_token if "token" in route.params else _bearer

    async def handler(request: Request, **kwargs: Any) -> HTTPResponse:
        principal = request.app.ctx.authority.principal(bearer(request)) or CITIZEN
        if route.roles and principal.role not in route.roles:
            if principal is CITIZEN:
                raise ApiError(401, "login_required", "请先登录 (log in first)")
            raise ApiError(403, "forbidden", f"{principal.role} 无权执行此操作 (role {principal.role} may not do this)")
        request.ctx.principal = principal
        if principal.role != "manager" or route.method == "GET":
            return await route.handler(request, **kwargs)
        status = 500
        try:
            response = await route.handler(request, **kwargs)
            status = response.status
            return response
        except (ApiError, CommandRejected) as exc:
            status = exc.status
            raise
        finally:  # every change a manager asks for, granted or refused (等保)
            where = kwargs.get("hall")
            await request.app.ctx.audit.record(
                principal.actor,
                "manager.request",
                {"method": route.method, "path": request.path, "status": status, "hall": where,
                 "address": client_address(request)},
            )

    return handler


def _header_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _bearer(request: Request) -> str | None:
    """The bearer token of an HTTP request: from the ``Authorization`` header only.

    A token in the URL ends up in proxies' and servers' access logs and in the browser's
    history, so ``?token=`` is refused with a message that says where it belongs. Only the
    WebSocket upgrade, where browsers cannot set a header, reads it from the query string.
    """
    if "token" in request.args:
        raise ApiError(
            400,
            "token_in_url",
            "凭证请放在 Authorization 请求头中，不要放在网址里 "
            "(send the token in the header 'Authorization: Bearer …', not in ?token=)",
            "token",
        )
    return _header_token(request)


def register(app: Sanic) -> None:
    for i, route in enumerate(ROUTES):
        app.add_route(_guarded(route), route.path, methods=[route.method], name=f"api_{i}", stream=route.stream)
    app.add_route(openapi_json, API + "/openapi.json", methods=["GET"], name="openapi")


# ------------------------------------------------------------------ OpenAPI


def _openapi_path(path: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    out = path
    names = [("hall", "string"), ("ticket", "string"), ("clerk", "string"), ("code", "string"), ("followup", "string")]
    names += [("template", "string"), ("name", "string"), ("run", "string")]  # the planner's workbench
    for name, kind in (*names, ("window", "integer")):
        token = f"<{name}:{'int' if kind == 'integer' else 'str'}>"
        if token in out:
            out = out.replace(token, "{" + name + "}")
            params.append({"name": name, "in": "path", "required": True, "schema": {"type": kind}})
    return out, params


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "message_zh": {"type": "string", "description": "the message in Chinese"},
                        "message_en": {"type": "string", "description": "the message in English"},
                        "details": {
                            "type": "array",
                            "description": "every named reason, e.g. each roster requirement that cannot be met",
                            "items": {
                                "type": "object",
                                "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
                            },
                        },
                    },
                }
            },
        },
    }
    for route in ROUTES:
        path, params = _openapi_path(route.path)
        params += [
            {"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
            for n, d in route.params.items()
        ]
        op: dict[str, Any] = {
            "summary": route.summary,
            "tags": [route.tag],
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "4XX": {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if route.method == "POST":
            op["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
                }
            )
        if route.body is not None:
            schema = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas[route.body.__name__] = schema
            op["requestBody"] = {
                "required": route.body is not Empty,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}}},
            }
        if route.roles:
            op["security"] = [{"bearer": []}]
            op["description"] = "roles: " + ", ".join(route.roles)
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "hallq API", "version": "1", "description": "政务服务大厅排队叫号 API"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


async def openapi_json(request: Request) -> HTTPResponse:
    return json_response(openapi_document())


# Appointments, check-in, follow-ups and reports; staffing, rosters and rebalancing; the
# planner's workbench: their own modules (api_citizen, api_scheduler, api_plan) append their
# routes to ROUTES.
from . import api_citizen, api_plan, api_scheduler  # noqa: E402, F401
