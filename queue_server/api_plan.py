"""The planner's workbench API (``/api/v1/plan``): templates, validation, scenarios, runs, calibration.

Declared in :data:`ROUTES_PLAN` and appended to :data:`queue_server.api.ROUTES` (like
:mod:`queue_server.api_scheduler`), so one declaration gives the handler and its
OpenAPI entry; :func:`register` adds the ``/ws/plan`` feed and starts/stops the run
queue with the server. Managers and planners use it; a planner can do nothing on the
live hall (no other route lists the role). The work itself is in
:mod:`simulation.workbench`: simulations run in a worker process, never on this
event loop. The page (``/plan``) and the README section "规划工作台 Planner's workbench"
describe the API from the planner's side.

Bodies are read here (streaming routes) with their own limits: a plan may be larger
than the server's 64 KiB for ordinary requests, and an event export for calibration
up to 8 MiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sanic import Request, Sanic, Websocket
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse, html, text
from sanic.response import json as json_response

from simulation import workbench as wb

from . import api
from .api import API, ApiError, Empty, Route, _Body, _idempotency_key, parse_body
from .errors import Bilingual, ConfigError, HallqError

PLAN = API + "/plan"
PLANNERS = ("manager", "planner")
BODY_LIMIT = 1024 * 1024  # a plan (HALLDICT) of a large hall
EVENTS_LIMIT = 8 * 1024 * 1024  # calibrate: an event export
WS_PING_SECONDS = 15.0
WS_QUEUE = 256


class ValidateBody(_Body):
    config: dict[str, Any] = Field(description="HALLDICT: one hall's configuration in the YAML's shape")
    growth: dict[str, Any] = Field(default_factory=dict, description="{category: factor}, 0 < factor ≤ 10")


class ScenarioBody(ValidateBody):
    notes: str = Field(default="", max_length=2000)


class RunBody(_Body):
    # what the handler demands, said in the schema too: a simulation needs its config, a comparison
    # its scenarios (``{}`` is a simulation without a config, refused — so not schema-valid either)
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"kind": {"const": "simulate"}, "config": {"type": "object"}}, "required": ["config"]},
                {
                    "properties": {"kind": {"const": "compare"}, "scenarios": {"type": "array"}},
                    "required": ["kind", "scenarios"],
                },
            ]
        }
    )
    kind: Literal["simulate", "compare"] = "simulate"
    config: dict[str, Any] | None = Field(default=None, description="simulate: the HALLDICT")
    growth: dict[str, Any] = Field(default_factory=dict)
    label: str = Field(default="", max_length=80)
    scenarios: list[str] | None = Field(
        default=None, min_length=2, max_length=4, description="compare: 2–4 saved scenario names"
    )
    days: int = Field(default=1, ge=1, le=20)
    reps: int = Field(default=10, ge=2, le=200)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)


class CalibrateBody(_Body):
    config: dict[str, Any]
    events: str = Field(description="the JSON-lines text of `hallq events export` (≤ 8 MiB)")


# ------------------------------------------------------------------ helpers


def _queue(request: Request) -> wb.RunQueue:
    runs: wb.RunQueue = request.app.ctx.plan_runs
    return runs


def _scenarios(request: Request) -> wb.ScenarioStore:
    store: wb.ScenarioStore = request.app.ctx.plan_scenarios
    return store


async def _read(request: Request, model: type[BaseModel], limit: int = BODY_LIMIT) -> Any:
    """Read a streaming route's body (at most ``limit`` bytes), then parse it like any body."""
    stream = request.stream
    if stream is not None and not request.body:
        length = request.headers.get("content-length")
        too_big = ApiError(413, "payload_too_large", f"请求体过大，上限 {limit // 1024} KiB (request body too large)")
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_big
        stream.request_max_size = limit
        try:
            await request.receive_body()
        except PayloadTooLarge:
            raise too_big from None
    return parse_body(request, model)


def _invalid(errors: list[dict[str, str]]) -> ApiError:
    first = errors[0]
    more = f"（另有 {len(errors) - 1} 处 and {len(errors) - 1} more）" if len(errors) > 1 else ""
    listed = [Bilingual.parse(f"{e['field']}: {e['message']}" if e["field"] else e["message"]) for e in errors]
    return ApiError(
        422,
        "invalid_config",
        f"{first['field']}: {first['message']}{more}",
        first["field"] or None,
        text=Bilingual(f"配置有 {len(errors)} 处错误", f"the configuration has {len(errors)} error(s)"),
        details=listed,
    )


def _name(name: str) -> str:
    name = unquote(name)  # the path parameter arrives percent-encoded
    problem = wb.check_name(name)
    if problem:
        raise ApiError(422, "invalid", f"name: {problem}", "name")
    return name


def _scenario(request: Request, name: str) -> dict[str, Any]:
    name = _name(name)
    doc = _scenarios(request).load(name)
    if doc is None:
        raise ApiError(404, "unknown_scenario", f"没有方案 {name!r} (no such scenario)", "name")
    return doc


def _run_summary(request: Request, run: str) -> dict[str, Any]:
    summary = _queue(request).summary(run)
    if summary is None:
        raise ApiError(404, "unknown_run", f"没有仿真 {run!r} (no such run)", "run")
    return summary


# ------------------------------------------------------------------ templates and validation


async def list_templates(request: Request) -> HTTPResponse:
    _queue(request).warm()  # a planner opened the workbench: a run will follow
    return json_response({"templates": wb.templates(request.app.ctx.deployment)})


async def get_template(request: Request, template: str) -> HTTPResponse:
    template = unquote(template)  # "hall%3Ademo" and "hall:demo" name the same template
    config = wb.template(request.app.ctx.deployment, template)
    if config is None:
        raise ApiError(404, "unknown_template", f"没有模板 {template!r} (no such template)", "template")
    return json_response({"id": template, "config": config, "growth": {}})


async def validate(request: Request) -> HTTPResponse:
    body: ValidateBody = await _read(request, ValidateBody)
    _, errors = wb.check_plan(body.config, body.growth)
    return json_response({"ok": not errors, "errors": errors})


# ------------------------------------------------------------------ scenarios


async def list_scenarios(request: Request) -> HTTPResponse:
    return json_response({"scenarios": await asyncio.to_thread(_scenarios(request).list)})


async def put_scenario(request: Request, name: str) -> HTTPResponse:
    name = _name(name)
    body: ScenarioBody = await _read(request, ScenarioBody)
    _, errors = wb.check_plan(body.config, body.growth)
    if errors:
        raise _invalid(errors)
    doc = _scenarios(request).save(name, body.config, body.growth, body.notes)
    return json_response({"name": name, "updated": doc["updated"]})


async def get_scenario(request: Request, name: str) -> HTTPResponse:
    doc = _scenario(request, name)
    return json_response({k: doc.get(k) for k in ("name", "config", "growth", "notes", "updated")})


async def get_scenario_yaml(request: Request, name: str) -> HTTPResponse:
    doc = _scenario(request, name)
    name = doc["name"]
    body = wb.plan_yaml(name, doc["config"], doc.get("growth") or {})
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    disposition = f"attachment; filename=\"{ascii_name or 'scenario'}.yaml\"; filename*=UTF-8''{quote(name)}.yaml"
    return text(body, content_type="text/yaml; charset=utf-8", headers={"Content-Disposition": disposition})


async def delete_scenario(request: Request, name: str) -> HTTPResponse:
    doc = _scenario(request, name)
    _scenarios(request).delete(doc["name"])
    return json_response({"deleted": doc["name"]})


# ------------------------------------------------------------------ runs


async def submit_run(request: Request) -> HTTPResponse:
    key = _idempotency_key(request)
    body: RunBody = await _read(request, RunBody)
    job: dict[str, Any] = {"kind": body.kind, "days": body.days, "reps": body.reps, "seed": body.seed}
    if body.kind == "simulate":
        if body.config is None:
            raise ApiError(422, "invalid", "config: 请提供大厅配置 (simulate needs the config)", "config")
        _, errors = wb.check_plan(body.config, body.growth)
        if errors:
            raise _invalid(errors)
        job["config"] = wb.apply_growth(body.config, body.growth)
        label = body.label or "仿真 Simulation"
        total = (
            body.reps
            if body.reps * body.days <= wb.PLAYBACK_REP_DAYS
            else body.reps + max(1, wb.PLAYBACK_REP_DAYS // body.days)
        )
    else:
        if not body.scenarios:
            raise ApiError(422, "invalid", "scenarios: 请选择2–4个方案 (name 2–4 saved scenarios)", "scenarios")
        if len(set(body.scenarios)) != len(body.scenarios):
            raise ApiError(422, "invalid", "scenarios: 方案重复 (a scenario is named twice)", "scenarios")
        configs = []
        for i, name in enumerate(body.scenarios):
            if wb.check_name(name) or (doc := _scenarios(request).load(name)) is None:
                raise ApiError(404, "unknown_scenario", f"没有方案 {name!r} (no such scenario)", f"scenarios[{i}]")
            _, errors = wb.check_plan(doc["config"], doc.get("growth") or {})
            if errors:
                raise ApiError(
                    422, "invalid_config", f"{name}: {errors[0]['field']}: {errors[0]['message']}", f"scenarios[{i}]"
                )
            configs.append(wb.apply_growth(doc["config"], doc.get("growth") or {}))
        job |= {"configs": configs, "scenarios": body.scenarios}
        label = body.label or " vs ".join(body.scenarios)
        total = body.reps * len(body.scenarios)
    try:
        summary = _queue(request).submit(job, body.kind, label, total, key)
    except wb.QueueFull as exc:
        raise ApiError(429, "runs_busy", str(exc)) from None
    return json_response(
        {"run": summary["run"], "state": summary["state"], "position": summary["position"]}, status=202
    )


async def list_runs(request: Request) -> HTTPResponse:
    return json_response({"runs": _queue(request).summaries()})


async def get_run(request: Request, run: str) -> HTTPResponse:
    summary = _run_summary(request, run)
    result = await asyncio.to_thread(_queue(request).result, run) if summary["state"] == "done" else None
    return json_response(summary | {"result": result})


async def get_report(request: Request, run: str) -> HTTPResponse:
    summary = _run_summary(request, run)
    path = _queue(request).report_path(run)
    if summary["state"] != "done" or not path.exists():
        raise ApiError(
            404, "no_report", "该仿真没有报告（未完成或为比较） (no report: not finished, or a comparison)", "run"
        )
    return html(await asyncio.to_thread(path.read_text, encoding="utf-8"))


async def cancel_run(request: Request, run: str) -> HTTPResponse:
    parse_body(request, Empty)
    _run_summary(request, run)
    try:
        summary = await _queue(request).cancel(run)
    except KeyError:
        raise ApiError(404, "unknown_run", f"没有仿真 {run!r} (no such run)", "run") from None
    except ValueError as exc:
        raise ApiError(409, "run_finished", f"该仿真已结束 (the run already ended: {exc})", "run") from None
    return json_response(summary)


async def delete_run(request: Request, run: str) -> HTTPResponse:
    _run_summary(request, run)
    try:
        _queue(request).delete(run)
    except KeyError:
        raise ApiError(404, "unknown_run", f"没有仿真 {run!r} (no such run)", "run") from None
    except ValueError:
        raise ApiError(
            409, "run_active", "仿真排队或运行中，请先取消 (the run is queued or running; cancel it first)", "run"
        ) from None
    return json_response({"deleted": run})


# ------------------------------------------------------------------ calibration


def _calibrate(config: dict[str, Any], events: str) -> dict[str, Any]:
    """``hallq calibrate`` on the uploaded events (in a worker thread): the fitted plan and its report."""
    from simulation.calibrate import calibrate_file

    lines = [ln for ln in events.splitlines() if ln.strip()]
    if not lines:
        raise ApiError(422, "invalid", "events: 事件文件为空 (the export holds no events)", "events")
    try:
        events_hall = json.loads(lines[0]).get("hall")
    except (ValueError, AttributeError):
        raise ApiError(422, "invalid", "events: 事件第1行无法解析 (line 1: not an exported event)", "events") from None
    own = config.get("id")
    doc = dict(config) | ({"id": events_hall} if isinstance(events_hall, str) and events_hall else {})
    with tempfile.TemporaryDirectory(prefix="hallq-calibrate-") as tmp:
        d = Path(tmp)
        (d / "events.jsonl").write_text(events, encoding="utf-8")
        (d / "config.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        try:
            report = calibrate_file(str(d / "events.jsonl"), str(d / "config.yaml"), str(d / "out.yaml"))
        except ConfigError as err:
            issue = err.issues[0]
            raise ApiError(422, "invalid_config", f"{issue.path}: {wb.issue_text(issue)}", issue.path or None) from None
        except HallqError as exc:
            raise ApiError(422, "invalid", "events: " + str(exc).replace(str(d) + "/", ""), "events") from None
        fitted = yaml.safe_load((d / "out.yaml").read_text(encoding="utf-8"))
    fitted["id"] = own
    return {"config": wb.with_layout(wb.plain(fitted)), "report": report}


async def calibrate(request: Request) -> HTTPResponse:
    body: CalibrateBody = await _read(request, CalibrateBody, EVENTS_LIMIT)
    _, errors = wb.check_plan(body.config)
    if errors:
        raise _invalid(errors)
    return json_response(await asyncio.to_thread(_calibrate, body.config, body.events))


# ------------------------------------------------------------------ the /ws/plan feed


async def ws_plan(request: Request, ws: Websocket) -> None:
    """Run summaries: all of them on connect, then each change of state or progress."""
    principal = request.app.ctx.authority.principal(request.args.get("token"))
    if principal is None or principal.role not in PLANNERS:
        await ws.close(code=4403 if principal else 4401, reason="forbidden" if principal else "login required")
        return
    runs = _queue(request)
    outbox: asyncio.Queue[str] = asyncio.Queue(WS_QUEUE)

    def listener(summary: dict[str, Any]) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a stuck client misses updates, never the server
            outbox.put_nowait(json.dumps({"type": "run", "run": summary}, ensure_ascii=False))

    runs.listen(listener)
    try:
        await ws.send(json.dumps({"type": "runs", "runs": runs.summaries()}, ensure_ascii=False))
        while True:
            try:
                message = await asyncio.wait_for(outbox.get(), WS_PING_SECONDS)
            except TimeoutError:
                message = json.dumps({"type": "ping"})
            await ws.send(message)
    finally:
        runs.listeners.discard(listener)


def register(app: Sanic) -> None:
    """The ``/ws/plan`` feed, and the run queue started and stopped with the server."""
    app.add_websocket_route(ws_plan, "/ws/plan", name="ws_plan")

    @app.before_server_start
    async def _start_plan(app: Sanic) -> None:
        data = Path(app.ctx.deployment.storage.data_dir) / "plan"
        app.ctx.plan_scenarios = wb.ScenarioStore(data / "scenarios")
        app.ctx.plan_runs = wb.RunQueue(app.ctx.deployment.storage.data_dir)
        await app.ctx.plan_runs.start()

    @app.before_server_stop
    async def _stop_plan(app: Sanic) -> None:
        await app.ctx.plan_runs.stop()


# ------------------------------------------------------------------ routes

SCEN = PLAN + "/scenarios/<name:str>"
RUN = PLAN + "/runs/<run:str>"


def _route(
    method: str, path: str, handler: Any, summary: str, body: type[BaseModel] | None = None, stream: bool = False
) -> Route:
    return Route(method, path, handler, summary, roles=PLANNERS, body=body, tag="plan", stream=stream)


ROUTES_PLAN: list[Route] = [
    _route("GET", PLAN + "/templates", list_templates, "规划模板 Plan templates (running halls, built-ins)"),
    _route("GET", PLAN + "/templates/<template:str>", get_template, "模板配置 A template's configuration"),
    _route("POST", PLAN + "/validate", validate, "校验规划 Validate a plan (field-named errors)", ValidateBody, True),
    _route("GET", PLAN + "/scenarios", list_scenarios, "已存方案 Saved scenarios"),
    _route("PUT", SCEN, put_scenario, "保存方案 Save a scenario", ScenarioBody, True),
    _route("GET", SCEN, get_scenario, "读取方案 Load a scenario"),
    _route("GET", SCEN + "/yaml", get_scenario_yaml, "下载方案 YAML Download a scenario as a configuration file"),
    _route("DELETE", SCEN, delete_scenario, "删除方案 Delete a scenario"),
    _route("POST", PLAN + "/runs", submit_run, "仿真或比较 Queue a simulation or a comparison", RunBody, True),
    _route("GET", PLAN + "/runs", list_runs, "仿真列表 Runs, newest first"),
    _route("GET", RUN, get_run, "仿真状态与结果 A run and its result"),
    _route("GET", RUN + "/report", get_report, "仿真报告 The HTML report of a simulation"),
    _route("POST", RUN + "/cancel", cancel_run, "取消仿真 Cancel a run", Empty),
    _route("DELETE", RUN, delete_run, "删除仿真结果 Delete an ended run"),
    _route(
        "POST", PLAN + "/calibrate", calibrate, "由事件校准 Calibrate a plan from an event export", CalibrateBody, True
    ),
]

api.ROUTES += [r for r in ROUTES_PLAN if r not in api.ROUTES]
