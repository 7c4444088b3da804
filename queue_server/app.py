"""The Sanic application: API, WebSocket feeds, health and metrics over the hall core.

:func:`create_app` is a factory so that every Sanic worker process builds its own
app, store connection and feed hubs (resources are opened in
``before_server_start``, never at import). With Redis, each worker follows each
hall's event stream (``XREAD BLOCK`` from its last ``seq``), so an event made by
any worker on any machine reaches every client of every worker, in order, and a
Redis reconnect resumes from the last ``seq`` applied — nothing is skipped.

A hall with ``simulation.live_twin.enabled`` also gets, in each worker, the
simulation's live twin: a background task forecasts the hall in a worker thread
(never on the event loop) and the ticket tracker reports its median and 90th
percentile wait (see :func:`_start_twin`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sanic import Request, Sanic, Websocket
from sanic.exceptions import SanicException
from sanic.http.constants import Stage
from sanic.response import HTTPResponse, raw
from sanic.response import json as json_response
from sanic.server.protocols.websocket_protocol import WebSocketProtocol

from . import api
from .auth import Authority, load_secret
from .cli import open_store
from .clock import SystemClock
from .config import Deployment, load_config
from .errors import CommandRejected, StoreUnavailable
from .estimate import Forecast, calibrated_hall
from .feeds import ConsoleFeed, Feed, HallFeed, Hub, ManagerFeed, TicketFeed, WindowFeed, cancel_quietly
from .hall import HallService
from .model import Event
from .ratelimit import open_rate_limiter

if TYPE_CHECKING:
    from simulation.twin import WaitForecaster

log = logging.getLogger("hallq")

REQUEST_MAX_BYTES = 64 * 1024
FOLLOW_BLOCK_MS = 2000


class HeaderDeadlineProtocol(WebSocketProtocol):
    """HTTP/1.1 with a deadline for a request's headers.

    Sanic restarts its request timer on every byte received, so a client that
    drips one header line a second (slow-loris) would hold a connection forever.
    Here the timer keeps running while a request's headers arrive: they must all
    be in within ``REQUEST_TIMEOUT`` of their first byte.
    """

    def data_received(self, data: bytes) -> None:
        http = getattr(self, "_http", None)
        started = self._time
        super().data_received(data)
        if http is not None and http.stage is Stage.REQUEST:
            self._time = started


def _dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), **kwargs)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.issued = Counter("hallq_tickets_issued", "Tickets issued", ["hall", "category", "channel"], registry=r)
        self.calls = Counter("hallq_calls", "Tickets called (first calls)", ["hall"], registry=r)
        self.wait = Histogram(
            "hallq_wait_seconds",
            "Wait from issue to first call",
            ["hall"],
            registry=r,
            buckets=(60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200),
        )
        self.clients = Gauge("hallq_ws_clients", "Connected WebSocket clients", ["hall", "feed"], registry=r)
        self.lag = Gauge("hallq_event_lag", "Events in the store not yet applied by this worker", ["hall"], registry=r)
        self.seq = Gauge("hallq_last_seq", "Last event seq applied by this worker", ["hall"], registry=r)

    def listener(self, service: HallService) -> Any:
        hall = service.hall.id
        issued: dict[tuple[str, str], Any] = {}  # labelled children, looked up once (labels() costs ~5 µs)
        calls, wait = self.calls.labels(hall), self.wait.labels(hall)

        def on_event(event: Event) -> None:
            if event.type == "ticket.issued":
                key = (event.data["category"], event.data["channel"])
                child = issued.get(key)
                if child is None:
                    child = issued[key] = self.issued.labels(hall, *key)
                child.inc()
            elif event.type == "ticket.called":
                calls.inc()
                t = service.state.tickets.get(event.data["ticket"])
                if t is not None and t.called_at is not None:
                    wait.observe(max(0.0, t.called_at - t.order_at))

        return on_event


def create_app(config_path: str = "config.yaml", redis_url: str | None = None, name: str = "hallq") -> Sanic:
    """Build the app for one deployment file; the store opens when the server starts."""
    deployment = load_config(config_path)
    app = Sanic(name, configure_logging=True, dumps=_dumps)
    app.config.AUTO_EXTEND = False
    app.config.REQUEST_MAX_SIZE = REQUEST_MAX_BYTES
    # headers must arrive within this many seconds of their first byte (see HeaderDeadlineProtocol)
    app.config.REQUEST_TIMEOUT = int(os.environ.get("HALLQ_REQUEST_TIMEOUT", "10"))
    app.config.WEBSOCKET_MAX_SIZE = 16 * 1024
    app.config.KEEP_ALIVE_TIMEOUT = 30
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.deployment = deployment
    app.ctx.redis_url = redis_url
    # The deployment's one clock: its halls' events, idempotency records, rate-limit windows and
    # session ages are all measured on it (the wall clock here; tests and the simulation inject
    # theirs into the core), so nothing that ages reads a second clock of its own.
    app.ctx.clock = SystemClock()
    app.ctx.metrics = Metrics()
    api.register(app)
    _register_ws(app)
    api.api_plan.register(app)  # the planner's workbench: /ws/plan and its run queue
    _register_ops(app)
    _register_errors(app)
    try:
        from displays import pages
    except ModuleNotFoundError:
        pass
    else:
        pages.register(app)
    try:
        from displays import accountability
    except ModuleNotFoundError:
        pass
    else:
        accountability.register(app)

    @app.before_server_start
    async def _open(app: Sanic) -> None:
        dep: Deployment = app.ctx.deployment
        app.ctx.authority = Authority(dep, load_secret(dep.storage.data_dir), app.ctx.clock)
        store = open_store(dep, app.ctx.redis_url)
        # ticket-issue limits: shared by all workers through Redis when the hall runs on Redis
        app.ctx.limiter = open_rate_limiter(store, app.ctx.clock)
        app.ctx.store = store
        app.ctx.services = {}
        app.ctx.hubs = {}
        app.ctx.followers = []
        app.ctx.twins = []
        for hall in dep.halls:
            service = HallService(hall, store, app.ctx.clock)
            service.subscribe(app.ctx.metrics.listener(service))
            if app.ctx.redis_url:
                try:
                    await service.start()
                except StoreUnavailable as exc:  # the follower keeps trying
                    log.warning("hall %s: %s", hall.id, exc)
            else:
                await service.start()
            app.ctx.services[hall.id] = service
            app.ctx.hubs[hall.id] = Hub(service)
            if app.ctx.redis_url:
                app.ctx.followers.append(asyncio.create_task(_follow(service)))
            if hall.simulation.live_twin.enabled:
                app.ctx.twins.append(_start_twin(service))
        # Everything made so far (modules, configuration, the replayed halls) lives as long as the
        # worker: keep it out of the collector's full scans, which otherwise stall a loaded
        # worker for 100-600 ms at a time (the p99 of the ticket-issue bench).
        gc.collect()
        gc.freeze()

    @app.before_server_stop
    async def _close(app: Sanic) -> None:
        for task in app.ctx.followers + app.ctx.twins:
            await cancel_quietly(task)
        for hub in app.ctx.hubs.values():
            await hub.close()
        await app.ctx.store.close()
        await app.ctx.limiter.close()

    return app


async def _follow(service: HallService) -> None:
    """Apply events other workers append, as they arrive; survive Redis outages."""
    store: Any = service.store
    backoff = 0.1
    while True:
        try:
            events = await store.wait_for_events(service.hall.id, service.state.seq, FOLLOW_BLOCK_MS)
            if events:
                await service.ingest(events)
            backoff = 0.1
        except StoreUnavailable as exc:
            log.warning("hall %s: following the event stream: %s; retrying", service.hall.id, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


def _start_twin(service: HallService) -> asyncio.Task[None]:
    """Give ``service`` the live twin: set its ``twin_wait`` hook, start the refresh task.

    The simulation is imported here, only for a hall that enables it. A forecast is
    *fresh* while the hall has not changed since it was made, or for twice
    ``refresh_seconds`` (at least a minute) after — the time the next one may take.
    The core takes off the minutes since it was made (:func:`queue_server.estimate.shown_wait`).
    """
    from simulation.twin import WaitForecaster

    settings = service.hall.simulation.live_twin
    forecaster = WaitForecaster(service.hall, settings.reps, settings.horizon_minutes, settings.refresh_seconds)
    fresh_for = max(2 * settings.refresh_seconds, 60.0)

    def twin_wait() -> Forecast | None:
        seq, at, waits = forecaster.latest
        if not waits or (seq != service.state.seq and service.clock.now() - at > fresh_for):
            return None
        return Forecast(at, settings.horizon_minutes, waits)

    service.twin_wait = twin_wait
    return asyncio.create_task(_run_twin(service, forecaster))


async def _run_twin(service: HallService, forecaster: WaitForecaster) -> None:
    """Refresh the twin's forecast when it is due, in one worker thread per hall.

    The snapshot is taken on the event loop (a consistent view), with the hall's service
    times calibrated on today's finished services (:func:`queue_server.estimate.calibrated_hall`:
    the twin simulates the clerks as they really work, an accelerated demo included); the
    simulation runs in the thread. On shutdown a forecast already running finishes in its
    thread; no new one starts.
    """
    from simulation.twin import snapshot

    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"twin-{service.hall.id}")
    poll = min(1.0, forecaster.refresh_seconds)
    try:
        while True:
            now = service.clock.now()
            wait = poll
            if forecaster.due(service.state, now):
                forecaster.hall = calibrated_hall(service.hall, service.state)
                try:
                    await loop.run_in_executor(pool, forecaster.refresh, snapshot(service.state), now)
                except Exception:  # a bad forecast must not stop the next ones; retry later
                    log.exception("hall %s: live twin forecast failed", service.hall.id)
                    wait = forecaster.refresh_seconds
            await asyncio.sleep(wait)
    finally:
        service.twin_wait = None
        pool.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------ WebSockets


def _hall_for(request: Request) -> tuple[HallService, Hub] | None:
    hall_id = request.args.get("hall") or request.app.ctx.deployment.halls[0].id
    service = request.app.ctx.services.get(hall_id)
    if service is None:
        return None
    return service, request.app.ctx.hubs[hall_id]


def _after(request: Request) -> int | None:
    value = request.args.get("after")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _refuse(ws: Websocket, code: int, reason: str) -> None:
    await ws.close(code=code, reason=reason[:120])


async def _serve_feed(request: Request, ws: Websocket, make: Any, roles: tuple[str, ...] = ()) -> None:
    found = _hall_for(request)
    if found is None:
        await _refuse(ws, 4404, "unknown hall")
        return
    service, hub = found
    principal = request.app.ctx.authority.principal(request.args.get("token"))
    if roles and (principal is None or principal.role not in roles or principal.hall not in (None, service.hall.id)):
        await _refuse(ws, 4403 if principal else 4401, "forbidden" if principal else "login required")
        return
    feed: Feed | None = make(service, principal)
    if feed is None:
        await _refuse(ws, 4403, "forbidden")
        return
    gauge = request.app.ctx.metrics.clients.labels(service.hall.id, feed.key.split(":")[0])
    gauge.inc()
    try:
        await hub.serve(feed, ws.send, _after(request))
    finally:
        gauge.dec()


def _console_feed(window: int) -> Any:
    def make(service: HallService, principal: Any) -> Feed | None:
        try:
            service.hall.window(window)
        except KeyError:
            return None
        live = service.state.windows.get(window)
        if principal.role == "clerk" and live is not None and live.status != "closed" and live.clerk != principal.id:
            return None  # another clerk's window
        return ConsoleFeed(service, window)

    return make


def _register_ws(app: Sanic) -> None:
    async def ws_hall(request: Request, ws: Websocket) -> None:
        zone = request.args.get("zone") or None
        await _serve_feed(request, ws, lambda s, p: HallFeed(s, zone))

    async def ws_window(request: Request, ws: Websocket, window: int) -> None:
        def make(service: HallService, principal: Any) -> Feed | None:
            try:
                service.hall.window(window)
            except KeyError:
                return None
            return WindowFeed(service, window)

        await _serve_feed(request, ws, make)

    async def ws_ticket(request: Request, ws: Websocket, ticket: str) -> None:
        await _serve_feed(request, ws, lambda s, p: TicketFeed(s, ticket))

    async def ws_console(request: Request, ws: Websocket, window: int) -> None:
        await _serve_feed(request, ws, _console_feed(window), roles=("clerk", "manager"))

    async def ws_manager(request: Request, ws: Websocket) -> None:
        await _serve_feed(request, ws, lambda s, p: ManagerFeed(s), roles=("manager",))

    app.add_websocket_route(ws_hall, "/ws/hall", name="ws_hall")
    app.add_websocket_route(ws_window, "/ws/window/<window:int>", name="ws_window")
    app.add_websocket_route(ws_ticket, "/ws/ticket/<ticket:str>", name="ws_ticket")
    app.add_websocket_route(ws_console, "/ws/console/<window:int>", name="ws_console")
    app.add_websocket_route(ws_manager, "/ws/manager", name="ws_manager")


# ------------------------------------------------------------------ health and metrics


def _register_ops(app: Sanic) -> None:
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    async def readyz(request: Request) -> HTTPResponse:
        try:
            await request.app.ctx.store.ping()
        except StoreUnavailable as exc:
            return json_response(api.error_body("store_unavailable", str(exc)), status=503)
        return json_response(
            {"status": "ready", "halls": {h: s.state.seq for h, s in request.app.ctx.services.items()}}
        )

    async def metrics(request: Request) -> HTTPResponse:
        m: Metrics = request.app.ctx.metrics
        for hall_id, service in request.app.ctx.services.items():
            m.seq.labels(hall_id).set(service.state.seq)
            try:
                m.lag.labels(hall_id).set(await service.store.last_seq(hall_id) - service.state.seq)
            except StoreUnavailable:
                m.lag.labels(hall_id).set(-1)
        return raw(generate_latest(m.registry), content_type=CONTENT_TYPE_LATEST)

    app.add_route(healthz, "/healthz", name="healthz")
    app.add_route(readyz, "/readyz", name="readyz")
    app.add_route(metrics, "/metrics", name="metrics")


# ------------------------------------------------------------------ errors as JSON


def _register_errors(app: Sanic) -> None:
    def respond(status: int, code: str, message: str, field: str | None = None) -> HTTPResponse:
        return json_response(api.error_body(code, message, field), status=status)

    @app.exception(api.ApiError)
    async def on_api_error(request: Request, exc: api.ApiError) -> HTTPResponse:
        return respond(exc.status, exc.code, exc.message, exc.field)

    @app.exception(CommandRejected)
    async def on_rejected(request: Request, exc: CommandRejected) -> HTTPResponse:
        return respond(exc.status, exc.code, exc.message, exc.field)

    @app.exception(StoreUnavailable)
    async def on_store(request: Request, exc: StoreUnavailable) -> HTTPResponse:
        return respond(503, "store_unavailable", str(exc))

    @app.exception(SanicException)
    async def on_sanic(request: Request, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 500) or 500
        codes = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            408: "request_timeout",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }
        messages = {
            404: "找不到该地址 (no such path)",
            405: "不支持该请求方法 (method not allowed)",
            413: f"请求体过大，上限 {REQUEST_MAX_BYTES // 1024} KiB (request body too large)",
        }
        return respond(status, codes.get(status, "error"), messages.get(status, str(exc)))

    @app.exception(Exception)
    async def on_error(request: Request, exc: Exception) -> HTTPResponse:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return respond(500, "internal", "服务器内部错误，已记录 (internal error; it was logged)")
