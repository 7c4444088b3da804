"""The citizen-facing and accountability API: appointments, check-in, follow-ups, reports.

Declared in :data:`ROUTES_CITIZEN` and appended to :data:`queue_server.api.ROUTES`,
so one declaration gives the handler and its OpenAPI entry. Personal data stops
here: an ID number is checked and turned into a keyed hash, names and phones are
masked, and only those reach the hall core and its event log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field
from sanic import Request
from sanic.response import HTTPResponse, text
from sanic.response import json as json_response

from . import api, appointments, reports
from .api import API, ApiError, Route, _Body, _idempotency_key, _in_hall, _principal, _run, _service, parse_body
from .auth import tokens_equal
from .commands import (
    AdvanceFollowUp,
    AppealRating,
    AssignFollowUp,
    BookAppointment,
    CancelBooking,
    CheckIn,
    CheckInTicket,
    DecideAppeal,
    NoteFollowUp,
)
from .followups import followup_rows
from .hall import HallService
from .model import BOOKING_STATES, FOLLOWUP_STAGES, RATING_INDICATORS, RATING_LEVELS
from .privacy import PersonalDataError, check_id_number, check_phone, mask_name, mask_phone
from .views import ticket_status

HALL = API + "/halls/<hall:str>"


class BookBody(_Body):
    category: str = Field(max_length=40)
    slot_start: float = Field(description="the slot's start, epoch seconds (from GET …/appointments/slots)")
    name: str = Field(min_length=1, max_length=30, description="real name; stored and shown masked only")
    id_number: str = Field(min_length=15, max_length=20, description="居民身份证号; stored only as a keyed hash")
    phone: str = Field(min_length=11, max_length=13, description="mobile; stored and shown masked only")


class BookingTokenBody(_Body):
    token: str | None = Field(default=None, max_length=64, description="the booking token given when booking")


class CheckInBody(_Body):
    booking: str | None = Field(default=None, max_length=16, description="预约码")
    id_number: str | None = Field(default=None, max_length=20, description="身份证号 (appointments)")
    ticket: str | None = Field(default=None, max_length=40, description="a remote ticket id (线上取号)")
    phone: str | None = Field(default=None, max_length=13, description="the phone of a remote ticket")


class NoteBody(_Body):
    note: str = Field(min_length=1, max_length=1000)


class AssignBody(_Body):
    owner: str = Field(min_length=1, max_length=40)


class AppealBody(_Body):
    reason: str = Field(min_length=1, max_length=1000)


class DecideBody(_Body):
    upheld: bool
    note: str = Field(min_length=1, max_length=1000)


def _personal(exc: PersonalDataError) -> ApiError:
    return ApiError(422, "invalid", exc.message, exc.field)


def _now(service: HallService) -> float:
    return service.clock.now()


def _today(service: HallService) -> date:
    return datetime.fromtimestamp(_now(service), service.hall.tz).date()


def _day_arg(request: Request, name: str, default: date) -> date:
    value = request.args.get(name)
    if not value:
        return default
    try:
        return reports.parse_day(value, name)
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), name) from None


# ------------------------------------------------------------------ appointments


async def get_slots(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    h = service.hall
    category = request.args.get("category", "")
    try:
        h.category(category)
    except KeyError:
        raise ApiError(422, "unknown_category", f"没有事项类别 {category!r} (unknown category)", "category") from None
    day = _day_arg(request, "day", _today(service))
    last = appointments.last_bookable_day(h, _now(service))
    slots = [] if day > last else appointments.day_slots(h, service.state, category, day, _now(service))
    return json_response(
        {
            "category": category,
            "day": day.isoformat(),
            "bookable": appointments.bookable(h, category),
            "working_day": h.hours.is_working_day(day),
            "first_day": _today(service).isoformat(),
            "last_day": last.isoformat(),
            "slots": [s.as_dict(h) for s in slots],
        }
    )


async def get_appointment_options(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    h = service.hall
    today = _today(service)
    last = appointments.last_bookable_day(h, _now(service))
    days = []
    d = today
    while d <= last:
        if h.hours.is_working_day(d):
            days.append(d.isoformat())
        d = date.fromordinal(d.toordinal() + 1)
    cfg = h.appointments
    return json_response(
        {
            "categories": [
                {"id": c.id, "name": c.name, "name_en": c.name_en, "materials": list(c.materials)}
                for c in h.categories
                if appointments.bookable(h, c.id)
            ],
            "days": days,
            "rules": {
                "slot_minutes": cfg.slot_minutes,
                "days_ahead": cfg.days_ahead,
                "cancel_before_minutes": cfg.cancel_before_minutes,
                "early_minutes": cfg.early_minutes,
                "late_minutes": cfg.late_minutes,
                "no_show_limit": cfg.no_show_limit,
                "restriction_days": cfg.restriction_days,
            },
        }
    )


async def book(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    body: BookBody = parse_body(request, BookBody)
    authority = request.app.ctx.authority
    try:
        person = authority.person_key(check_id_number(body.id_number))
        name, phone = mask_name(body.name), mask_phone(check_phone(body.phone))
    except PersonalDataError as exc:
        raise _personal(exc) from None
    cmd = BookAppointment(body.category, body.slot_start, person, name, phone)
    result = await service.execute(cmd, _principal(request).actor, _idempotency_key(request))
    token = authority.booking_token(hall, result["booking"])
    return json_response(result | {"token": token, "state": "booked"}, status=201)


def _booking_access(request: Request, hall: str, code: str, token: str | None) -> None:
    principal = _principal(request)
    if principal.role in ("manager", "kiosk"):
        _in_hall(principal, hall)
        return
    authority = request.app.ctx.authority
    if token and tokens_equal(authority.booking_token(hall, code.upper()), token):
        return
    raise ApiError(403, "forbidden", "需要预约时给出的凭证 (the booking's token is required)", "token")


async def get_booking(request: Request, hall: str, code: str) -> HTTPResponse:
    service = _service(request, hall)
    _booking_access(request, hall, code, request.args.get("token"))
    b = service.state.bookings.get(code.upper())
    if b is None:
        raise ApiError(404, "unknown_booking", f"找不到预约 {code} (no such booking)", "booking")
    return json_response(b.view() | {"category_name": service.hall.category(b.category).name})


async def cancel_booking(request: Request, hall: str, code: str) -> HTTPResponse:
    service = _service(request, hall)
    body: BookingTokenBody = parse_body(request, BookingTokenBody)
    _booking_access(request, hall, code, body.token)
    return await _run(request, service, CancelBooking(code.upper()))


async def list_bookings(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    day = _day_arg(request, "day", _today(service)).isoformat()
    rows = [b.view() for b in service.state.bookings.values() if b.day == day]
    rows.sort(key=lambda r: (r["slot_start"], r["code"]))
    return json_response({"day": day, "bookings": rows, "states": {k: v[0] for k, v in BOOKING_STATES.items()}})


async def check_in(request: Request, hall: str) -> HTTPResponse:
    """One kiosk button for both: an appointment (code or ID number) or a remote ticket (ticket or phone)."""
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    body: CheckInBody = parse_body(request, CheckInBody)
    authority = request.app.ctx.authority
    given = [k for k in ("booking", "id_number", "ticket", "phone") if getattr(body, k)]
    if len(given) != 1:
        raise ApiError(422, "invalid", "请输入预约码、身份证号、票号或手机号之一 (give exactly one of them)", "booking")
    try:
        if body.booking or body.id_number:
            person = authority.person_key(check_id_number(body.id_number)) if body.id_number else None
            cmd: Any = CheckIn(booking=body.booking.strip().upper() if body.booking else None, person=person)
        else:
            phone_key = authority.phone_key(check_phone(body.phone)) if body.phone else None
            cmd = CheckInTicket(ticket=body.ticket, phone_key=phone_key)
    except PersonalDataError as exc:
        raise _personal(exc) from None
    now = datetime.fromtimestamp(_now(service), service.hall.tz)
    if not service.hall.hours.is_open_at(now) and _principal(request).role != "manager":
        raise ApiError(409, "hall_closed", "大厅当前不在办公时间，暂停签到 (the hall is closed now)")
    result = await service.execute(cmd, _principal(request).actor, _idempotency_key(request))
    ticket = service.state.tickets.get(result["ticket"])
    out = result | {"token": authority.ticket_token(hall, result["ticket"])}
    if ticket is not None:
        out["status"] = ticket_status(service.hall, service.state, ticket, _now(service), service.twin_wait)
    return json_response(out, status=201 if result["event"] == "ticket.issued" else 200)


# ------------------------------------------------------------------ follow-ups


async def list_followups(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    principal = _principal(request)
    _in_hall(principal, hall)
    rows = followup_rows(service.hall, service.state, _now(service), request.args.get("open") != "1")
    if principal.role == "clerk":  # a clerk sees the items about their own services (to appeal)
        rows = [r for r in rows if r["clerk"] == principal.id]
    return json_response(
        {
            "today": _today(service).isoformat(),
            "followups": rows,
            "stages": {k: {"zh": v[0], "en": v[1]} for k, v in FOLLOWUP_STAGES.items()},
            "overdue": sum(1 for r in rows if r["overdue"]),
        }
    )


def _followup_action(make: Any, body_model: type[_Body], roles_own: bool = False) -> Any:
    async def handler(request: Request, hall: str, followup: str) -> HTTPResponse:
        service = _service(request, hall)
        principal = _principal(request)
        _in_hall(principal, hall)
        body = parse_body(request, body_model)
        if roles_own and principal.role == "clerk":
            f = service.state.followups.get(followup)
            if f is not None and f.clerk != principal.id:
                raise ApiError(403, "forbidden", "只能对本人的评价申诉 (clerks appeal their own ratings)")
        return await _run(request, service, make(followup, body))

    return handler


# ------------------------------------------------------------------ reports


async def _events(service: HallService) -> list[Any]:
    return list(await service.store.read(service.hall.id, 0))


def _range(request: Request, service: HallService) -> tuple[date, date]:
    today = _today(service)
    start = _day_arg(request, "from", date(today.year, today.month, 1))
    end = _day_arg(request, "to", today)
    if end < start:
        raise ApiError(422, "invalid", "结束日期早于开始日期 (to is before from)", "to")
    return start, end


def _report_args(request: Request) -> tuple[str, str]:
    period = request.args.get("period", "daily")
    by = request.args.get("by", "category")
    if period not in reports.PERIODS:
        raise ApiError(422, "invalid", f"period: 应为 {' / '.join(reports.PERIODS)}", "period")
    if by not in reports.DIMENSIONS:
        raise ApiError(422, "invalid", f"by: 应为 {' / '.join(reports.DIMENSIONS)}", "by")
    return period, by


async def get_report(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    start, end = _range(request, service)
    period, by = _report_args(request)
    events = await _events(service)
    rows = reports.summary(service.hall, events, start, end, period, by)
    out: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "period": period,
        "by": by,
        "columns": [{"key": k, "zh": zh} for k, zh in reports.COLUMNS],
        "rows": rows,
        "totals": reports.totals(service.hall, events, start, end),
        "bookings": reports.booking_summary(service.hall, events, start, end, _now(service)),
        "booking_columns": [{"key": k, "zh": zh} for k, zh in reports.BOOKING_COLUMNS],
    }
    if request.args.get("plots") == "1":
        out["plots"] = reports.plots(rows)
    return json_response(out)


async def get_report_csv(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    start, end = _range(request, service)
    period, by = _report_args(request)
    rows = reports.summary(service.hall, await _events(service), start, end, period, by)
    name = f"{hall}-{by}-{period}-{start}-{end}.csv"
    return text(
        reports.to_csv(rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def get_rating_export(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    start, end = _range(request, service)
    return json_response(reports.rating_export(service.hall, await _events(service), start, end))


async def get_evaluation(request: Request, hall: str) -> HTTPResponse:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    today = _today(service)
    quarter = request.args.get("quarter") or f"{today.year}Q{(today.month - 1) // 3 + 1}"
    try:
        rows = reports.evaluation(service.hall, await _events(service), quarter)
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), "quarter") from None
    if request.args.get("format") == "csv":
        return text(
            reports.to_csv(rows, reports.EVALUATION_COLUMNS),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{hall}-evaluation-{quarter}.csv"'},
        )
    cols = [{"key": k, "zh": zh} for k, zh in reports.EVALUATION_COLUMNS]
    return json_response({"quarter": quarter.upper(), "columns": cols, "rows": rows})


async def get_rating_scheme(request: Request, hall: str) -> HTTPResponse:
    _service(request, hall)
    return json_response(
        {
            "levels": {str(k): {"zh": v[0], "en": v[1]} for k, v in RATING_LEVELS.items()},
            "indicators": {k: {"zh": v[0], "en": v[1]} for k, v in RATING_INDICATORS.items()},
        }
    )


MANAGER = ("manager",)
RANGE = {"from": "first day, e.g. 2026-11-01", "to": "last day"}

ROUTES_CITIZEN: list[Route] = [
    Route(
        "GET",
        HALL + "/appointments/options",
        get_appointment_options,
        "可预约事项与日期 Bookable categories and days",
        tag="appointments",
    ),
    Route(
        "GET",
        HALL + "/appointments/slots",
        get_slots,
        "预约时段与余量 Slots of a day",
        tag="appointments",
        params={"category": "category id", "day": "YYYY-MM-DD (default today)"},
    ),
    Route(
        "POST",
        HALL + "/appointments",
        book,
        "实名预约 Book a slot (ID number hashed, name/phone masked)",
        roles=("citizen", "manager"),
        body=BookBody,
        tag="appointments",
    ),
    Route(
        "GET",
        HALL + "/appointments",
        list_bookings,
        "当日预约（脱敏） Bookings of a day, masked",
        roles=MANAGER,
        tag="appointments",
        params={"day": "YYYY-MM-DD"},
    ),
    Route(
        "GET",
        HALL + "/appointments/<code:str>",
        get_booking,
        "查看预约 A booking (with its token)",
        roles=("citizen", "manager", "kiosk"),
        tag="appointments",
        params={"token": "the booking token"},
    ),
    Route(
        "POST",
        HALL + "/appointments/<code:str>/cancel",
        cancel_booking,
        "取消预约 Cancel a booking (up to 2 h before)",
        roles=("citizen", "manager"),
        body=BookingTokenBody,
        tag="appointments",
    ),
    Route(
        "POST",
        HALL + "/checkin",
        check_in,
        "取号机签到 Kiosk check-in: booking code / ID number / remote ticket / phone",
        roles=("kiosk", "manager"),
        body=CheckInBody,
        tag="appointments",
    ),
    Route("GET", HALL + "/ratings/scheme", get_rating_scheme, "好差评等级与指标 Rating levels and indicators"),
    Route(
        "GET",
        HALL + "/followups",
        list_followups,
        "差评整改清单（超期在前） Follow-ups, overdue first",
        roles=("manager", "clerk"),
        tag="followups",
        params={"open": "1 = open items only"},
    ),
    Route(
        "POST",
        HALL + "/followups/<followup:str>/advance",
        _followup_action(lambda f, b: AdvanceFollowUp(f, b.note), NoteBody),
        "推进整改阶段 Advance: 核实 → 整改 → 回访 → 办结",
        roles=MANAGER,
        body=NoteBody,
        tag="followups",
    ),
    Route(
        "POST",
        HALL + "/followups/<followup:str>/note",
        _followup_action(lambda f, b: NoteFollowUp(f, b.note), NoteBody),
        "添加备注 Add a note",
        roles=MANAGER,
        body=NoteBody,
        tag="followups",
    ),
    Route(
        "POST",
        HALL + "/followups/<followup:str>/assign",
        _followup_action(lambda f, b: AssignFollowUp(f, b.owner), AssignBody),
        "指定责任人 Assign an owner",
        roles=MANAGER,
        body=AssignBody,
        tag="followups",
    ),
    Route(
        "POST",
        HALL + "/followups/<followup:str>/appeal",
        _followup_action(lambda f, b: AppealRating(f, b.reason), AppealBody, roles_own=True),
        "差评申诉 Appeal an unfair rating",
        roles=("clerk", "manager"),
        body=AppealBody,
        tag="followups",
    ),
    Route(
        "POST",
        HALL + "/followups/<followup:str>/decide-appeal",
        _followup_action(lambda f, b: DecideAppeal(f, b.upheld, b.note), DecideBody),
        "申诉审核 Decide an appeal",
        roles=MANAGER,
        body=DecideBody,
        tag="followups",
    ),
    Route(
        "GET",
        HALL + "/reports",
        get_report,
        "统计报表 Report (from the event log)",
        roles=MANAGER,
        tag="reports",
        params=RANGE
        | {"period": "daily | weekly | monthly", "by": "category | window | clerk", "plots": "1 = SVG plots"},
    ),
    Route(
        "GET",
        HALL + "/reports.csv",
        get_report_csv,
        "报表 CSV Report as CSV",
        roles=MANAGER,
        tag="reports",
        params=RANGE | {"period": "daily | weekly | monthly", "by": "category | window | clerk"},
    ),
    Route(
        "GET",
        HALL + "/ratings/export",
        get_rating_export,
        "好差评数据导出（省平台对接） Ratings export for a provincial platform",
        roles=MANAGER,
        tag="reports",
        params=RANGE,
    ),
    Route(
        "GET",
        HALL + "/evaluation",
        get_evaluation,
        "窗口人员季度考评 Quarterly clerk evaluation",
        roles=MANAGER,
        tag="reports",
        params={"quarter": "e.g. 2026Q4", "format": "csv for a download"},
    ),
]

# Appended here rather than in api.py so that importing either module first works.
api.ROUTES += [r for r in ROUTES_CITIZEN if r not in api.ROUTES]
