"""The manager's scheduling API: staffing needs, the weekly roster, live rebalancing.

Declared in :data:`ROUTES_SCHEDULER` and appended to :data:`queue_server.api.ROUTES`
(like :mod:`queue_server.api_citizen`), so one declaration gives the handler and its
OpenAPI entry. The solvers are CPU work: the roster (CP-SAT, seconds to minutes) and
the rebalancing decision run in a thread (``asyncio.to_thread``) so the hall's event
loop keeps calling numbers meanwhile. One roster run at a time per hall (a lease in the
store, so it holds across workers and machines); the last result is kept in the store
(a file beside the journal, or a Redis key), so every worker's roster page shows it and
a restart keeps it.

Applying a recommendation is the core command :class:`~queue_server.commands.MoveClerk`
through ``HallService.execute``, so it produces a ``clerk.moved`` event like any move.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from datetime import date
from typing import Any

from pydantic import Field
from sanic import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from scheduler.export import summary
from scheduler.rebalance import (
    RebalancePlan,
    Recommendation,
    adoption,
    apply_recommendation,
    outcome,
    recommend_moves,
)
from scheduler.roster import Roster, RosterInfeasible, RosterOptions, build_roster
from scheduler.staffing import staffing_plan

from . import api
from .api import API, ApiError, Route, _Body, _in_hall, _principal, _run, _service, parse_body
from .commands import Command, MoveClerk, SetWindowProfile
from .config import Hall
from .errors import Bilingual, CommandRejected, HallqError

log = logging.getLogger("hallq.rebalance")
HALL = API + "/halls/<hall:str>"
AUTO_ACTOR = "system:rebalancer"
MANAGER = ("manager",)
MAX_REASONS = 8  # unmet requirements named in an error's message; its details (and the CLI) list them all
INFEASIBLE = Bilingual("无法排班，以下要求无法同时满足：", "no roster meets the requirements:")
ROSTER_WORKERS = 2  # CP-SAT search workers: the server shares its cores with the hall
LEASE_MARGIN_SECONDS = 60  # a roster run's lease outlasts its solver time limit by this much


class RosterBody(_Body):
    week: str = Field(description="the week's Monday, YYYY-MM-DD")
    time_limit_seconds: float = Field(default=20, ge=1, le=120, description="solver time limit, 1–120 s")


class ApplyBody(_Body):
    """A move (``clerk`` to ``to_window``) or a work profile (``window`` calls ``categories``)."""

    clerk: str | None = Field(default=None, min_length=1, max_length=40)
    to_window: int | None = Field(default=None, gt=0, lt=1000)
    window: int | None = Field(default=None, gt=0, lt=1000)
    categories: list[str] | None = Field(default=None, min_length=1, max_length=40)


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        message = f"{name}: 日期格式应为 YYYY-MM-DD (a date YYYY-MM-DD, got {value!r})"
        raise ApiError(422, "invalid", message, name) from None


def _manager(request: Request, hall: str) -> Any:
    service = _service(request, hall)
    _in_hall(_principal(request), hall)
    return service


# ------------------------------------------------------------------ staffing


async def get_staffing(request: Request, hall: str) -> HTTPResponse:
    service = _manager(request, hall)
    value = request.args.get("date")
    if not value:
        raise ApiError(422, "invalid", "缺少日期参数 date=YYYY-MM-DD (date is required)", "date")
    day = _parse_day(value, "date")
    plan = await asyncio.to_thread(staffing_plan, service.hall, day)
    return json_response(plan.as_dict())


# ------------------------------------------------------------------ roster


def roster_grid(hall: Hall, roster: Roster) -> list[dict[str, Any]]:
    """One row per clerk: their shift, break and main window on each day of the week."""
    rows = []
    for clerk in hall.clerks:
        days: dict[str, Any] = {}
        for a in roster.for_clerk(clerk.id):
            days[a.day.isoformat()] = {
                "shift": a.shift,
                "start": f"{a.start:%H:%M}",
                "end": f"{a.end:%H:%M}",
                "break_start": f"{a.break_start:%H:%M}" if a.break_start else None,
                "break_end": f"{a.break_end:%H:%M}" if a.break_end else None,
                "window": a.main_window(),
                "paid_minutes": a.paid_minutes,
            }
        rows.append({"clerk": clerk.id, "name": clerk.name, "days": days})
    return rows


async def run_roster(request: Request, hall: str) -> HTTPResponse:
    service = _manager(request, hall)
    body: RosterBody = parse_body(request, RosterBody)
    week = _parse_day(body.week, "week")
    if week.weekday() != 0:
        raise ApiError(422, "invalid", f"week: {week} 不是星期一，请给出一周的周一 (not a Monday)", "week")
    # one run per hall across every worker and machine (the store's lease; it lapses if this process dies)
    if not await service.store.try_lease(hall, "roster", body.time_limit_seconds + LEASE_MARGIN_SECONDS):
        message = "该大厅正在排班，请等待本次排班完成后再试 (a roster run is already in progress)"
        raise ApiError(409, "roster_running", message)
    try:
        opts = RosterOptions(time_limit=body.time_limit_seconds, workers=ROSTER_WORKERS)
        try:
            roster = await asyncio.to_thread(build_roster, service.hall, week, opts)
        except RosterInfeasible as exc:
            reasons = exc.reasons[:MAX_REASONS]
            more = len(exc.reasons) - len(reasons)
            if more:
                reasons.append(f"……另有 {more} 项 (and {more} more)")
            message = "无法排班 (no roster meets the requirements): " + "；".join(reasons)
            raise ApiError(
                422, "roster_infeasible", message, text=INFEASIBLE, details=[Bilingual.parse(r) for r in exc.reasons]
            ) from None
        except HallqError as exc:  # out of time before any roster was found: the manager can give it longer
            raise ApiError(422, "roster_time_limit", str(exc), "time_limit_seconds") from None
    finally:
        await service.store.release_lease(hall, "roster")
    h: Hall = service.hall
    result = summary(roster) | {
        "days": [d.isoformat() for d in roster.days],
        "shift_names": {s.id: s.name for s in h.roster.shifts},
        "grid": roster_grid(h, roster),
        "assignments": len(roster.assignments),
    }
    # kept in the store: every worker shows the same roster, and a restart keeps it
    await service.store.put_document(hall, "roster", json.dumps(result, ensure_ascii=False))
    return json_response(result)


async def get_roster(request: Request, hall: str) -> HTTPResponse:
    service = _manager(request, hall)
    text = await service.store.get_document(hall, "roster")
    if text is None:
        raise ApiError(404, "no_roster", "尚未排班，请先提交排班 (no roster has been run yet)")
    return json_response(json.loads(text))


# ------------------------------------------------------------------ rebalancing

PLAN_DOC = "rebalance-plan"  # the last advice shown, with its predictions
ADOPTED_DOC = "rebalance-adopted"  # every piece of advice applied today, kept to compare with what happened
KEEP_ADOPTED = 50


async def _decide(service: Any) -> RebalancePlan:
    """The advice on the live state, decided in a thread; kept as the hall's last plan."""
    await service.catch_up()
    state = copy.deepcopy(service.state)  # the thread reads a still picture of the hall
    plan = await asyncio.to_thread(recommend_moves, service.hall, state, service.clock.now())
    await service.store.put_document(service.hall.id, PLAN_DOC, json.dumps(plan.as_dict(), ensure_ascii=False))
    return plan


async def _adopted(service: Any) -> list[dict[str, Any]]:
    text = await service.store.get_document(service.hall.id, ADOPTED_DOC)
    day = service.state.day
    return [a for a in (json.loads(text) if text else []) if a.get("day") == day]


async def _keep_adopted(service: Any, rec: dict[str, Any], actor: str) -> None:
    kept = await _adopted(service)
    kept.append(adoption(rec, service.clock.now(), actor) | {"day": service.state.day})
    text = json.dumps(kept[-KEEP_ADOPTED:], ensure_ascii=False)
    await service.store.put_document(service.hall.id, ADOPTED_DOC, text)


async def get_rebalance(request: Request, hall: str) -> HTTPResponse:
    service = _manager(request, hall)
    plan = await _decide(service)
    now = service.clock.now()
    adopted = [outcome(service.hall, service.state, a, now) for a in await _adopted(service)]
    return json_response(plan.as_dict() | {"adopted": adopted[::-1]})


def _command(body: ApplyBody) -> Command:
    if body.clerk is not None and body.to_window is not None:
        return MoveClerk(body.clerk, body.to_window)
    if body.window is not None and body.categories:
        return SetWindowProfile(body.window, tuple(body.categories))
    message = (
        "请给出 clerk 与 to_window（调岗），或 window 与 categories（工作模式）"
        " (give clerk and to_window, or window and categories)"
    )
    raise ApiError(422, "invalid", message, "clerk" if body.window is None else "categories")


async def apply_move(request: Request, hall: str) -> HTTPResponse:
    """Apply a move or a work profile; if it is one the dashboard was advised, keep the advice
    and its prediction to show beside what then happens."""
    service = _manager(request, hall)
    command = _command(parse_body(request, ApplyBody))
    response = await _run(request, service, command)
    if response.status == 200:
        text = await service.store.get_document(hall, PLAN_DOC)
        wanted = Recommendation.command_of(command)
        for rec in json.loads(text)["recommendations"] if text else []:
            if rec["command"] == wanted:
                await _keep_adopted(service, rec, _principal(request).actor)
                break
    return response


async def auto_rebalance(service: Any) -> None:
    """``rebalance.mode: auto``: decide every ``rebalance.auto_every_seconds`` and apply the
    ready advice through the command path, on one worker at a time (the store's lease)."""
    every = service.hall.rebalance.auto_every_seconds
    while True:
        await asyncio.sleep(every)
        try:
            if not await service.store.try_lease(service.hall.id, "rebalance", every):
                continue
            plan = await _decide(service)
            for rec in plan.recommendations:
                if not rec.ready:
                    continue
                try:
                    await apply_recommendation(service, rec, AUTO_ACTOR)
                except CommandRejected:
                    continue  # the hall changed meanwhile
                await _keep_adopted(service, rec.as_dict(), AUTO_ACTOR)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; the hall keeps calling numbers
            log.exception("hall %s: automatic rebalancing failed", service.hall.id)


ROUTES_SCHEDULER: list[Route] = [
    Route(
        "GET",
        HALL + "/staffing",
        get_staffing,
        "人员需求测算 Staffing needs per category and interval",
        roles=MANAGER,
        tag="scheduling",
        params={"date": "YYYY-MM-DD"},
    ),
    Route(
        "POST",
        HALL + "/roster",
        run_roster,
        "周排班（CP-SAT） Solve the week's roster",
        roles=MANAGER,
        body=RosterBody,
        tag="scheduling",
    ),
    Route("GET", HALL + "/roster", get_roster, "最近一次排班结果 The last roster", roles=MANAGER, tag="scheduling"),
    Route(
        "GET",
        HALL + "/rebalance",
        get_rebalance,
        "动态调岗建议 Rebalancing recommendations",
        roles=MANAGER,
        tag="scheduling",
    ),
    Route(
        "POST",
        HALL + "/rebalance/apply",
        apply_move,
        "采纳调岗建议 Apply a move (clerk.moved) or a work profile (window.profile_set)",
        roles=MANAGER,
        body=ApplyBody,
        tag="scheduling",
    ),
]

api.ROUTES += [r for r in ROUTES_SCHEDULER if r not in api.ROUTES]
