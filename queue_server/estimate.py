"""The wait a citizen is told: a point estimate with a range, from the best predictor the hall has.

The core's own predictor is the multi-server queue-length rule: the services that must
end before a ticket is called (the tickets the calling policy puts before it, less the
windows free now), times the category's mean service time, divided among the open
windows serving the category — a comprehensive window that also serves other
categories counts for the share of its waiting work that is this category's. The mean
service time is the configured one shrunk toward the day's finished services
(:func:`mean_service_seconds`: a prior worth :data:`PRIOR_SERVICES` services and a floor
that ignores clicks, not services). Citizens of a priority group who will arrive while a
ticket waits are called before it, and a lunch break inside the wait adds its length.
The range is the 10th–90th percentile of a gamma wait of that many calls, as variable
as the service times at one window and as a Poisson stream of calls at many.

When the server runs the live twin (``simulation.live_twin``), its forecast replaces
this: it knows the roster, the breaks and the arrivals. The server hands the twin's
latest fresh forecast in through :data:`TwinWait`; the core never imports the
simulation. :func:`shown_wait` and :func:`category_estimate` pick the predictor and
:func:`wait_text` words the answer (「预计等待约15分钟（10–22分钟）」).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time

from .commands import serving_categories
from .config import Hall
from .model import HallState, Ticket, WindowState
from .policy import CallRules, call_rules

# The configured mean counts as this many finished services: a few services move the
# estimate a little, a morning's services decide it.
PRIOR_SERVICES = 10
# When PRIOR_CONFLICT_SERVICES or more of the day's services and the configuration disagree
# by more than PRIOR_CONFLICT×, the configuration is wrong for today (or the hall runs an
# accelerated demo): trust the day.
PRIOR_CONFLICT = 3.0
PRIOR_CONFLICT_SERVICES = 3
# The twin's figures are used when at least this share of its futures call the ticket within
# its horizon (otherwise its mean is cut short by the horizon).
TWIN_CALLED_SHARE = 0.9
# A "service" shorter than MIN_SERVICE_SECONDS, or than this share of the recent median (a
# floor of at most MAX_FLOOR_SECONDS), is a clerk clicking 开始 and 办结 together, not a
# service: it is left out. Kept low, because leaving out the genuinely short services of a
# variable matter biases the mean upward.
MIN_SERVICE_SECONDS = 3.0
FLOOR_SHARE = 0.05
MAX_FLOOR_SECONDS = 10.0
# The range: the 10th and 90th percentiles of the Erlang wait (80 % nominal; the calls
# of a multi-server hall come closer together than that, so more fall inside).
RANGE_Z = 1.28


@dataclass(frozen=True, slots=True)
class Forecast:
    """The live twin's latest forecast: when it was made, its horizon (minutes), and per
    waiting ticket id the minutes until its call:
    ``p10``, ``p50``, ``p90``, ``mean`` and ``called_share`` (called within the horizon)."""

    at: float
    horizon_minutes: float
    waits: Mapping[str, Mapping[str, float]]


# The live twin's latest forecast while it is fresh, else None. Set on the HallService by the
# server when the hall enables ``simulation.live_twin``.
TwinWait = Callable[[], Forecast | None]


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    """``minutes`` (the point estimate, rounded) with ``low``–``high``; all None when no open
    window serves the category. ``beyond`` is the horizon (minutes) the wait exceeds, when
    the predictor can only say it is longer than that."""

    ahead: int  # tickets the calling policy puts before this one
    servers: int  # windows open now that serve the category
    minutes: int | None
    low: int | None = None
    high: int | None = None
    exact: float | None = None  # the point estimate before rounding (minutes)
    source: str = "queue"  # "queue" (the core's rule) or "twin" (the live twin)
    beyond: float | None = None


def mean_service_seconds(hall: Hall, state: HallState, category: str) -> float:
    """The category's mean service time: the configured mean worth PRIOR_SERVICES services,
    shrunk toward today's finished services (clicks below the floor left out); the day's
    mean alone when it disagrees with the configuration by more than PRIOR_CONFLICT×."""
    prior = hall.category(category).service_time.mean * 60
    recent = state.recent_services.get(category)
    if not recent:
        return prior
    floor = max(MIN_SERVICE_SECONDS, min(MAX_FLOOR_SECONDS, FLOOR_SHARE * statistics.median(recent)))
    seen = [s for s in recent if s >= floor]
    if not seen:
        return prior
    observed = sum(seen) / len(seen)
    if len(seen) >= PRIOR_CONFLICT_SERVICES and not 1 / PRIOR_CONFLICT <= observed / prior <= PRIOR_CONFLICT:
        return observed
    return (PRIOR_SERVICES * prior + sum(seen)) / (PRIOR_SERVICES + len(seen))


def calibrated_hall(hall: Hall, state: HallState) -> Hall:
    """``hall`` with each category's service time rescaled to :func:`mean_service_seconds`
    (what a predictor calibrated on today's event log should simulate)."""
    cats = []
    for cat in hall.categories:
        st = cat.service_time
        k = mean_service_seconds(hall, state, cat.id) / 60 / st.mean
        if abs(k - 1) < 1e-9:
            cats.append(cat)
            continue
        scaled = st.model_copy(
            update={
                "mean": st.mean * k,
                "sd": st.sd * k,
                "low": None if st.low is None else st.low * k,
                "high": None if st.high is None else st.high * k,
            }
        )
        cats.append(cat.model_copy(update={"service_time": scaled}))
    return hall.model_copy(update={"categories": cats})


def servers_for(hall: Hall, state: HallState, category: str) -> tuple[int, int]:
    """(open windows serving ``category``, of which idle now)."""
    total = idle = 0
    for win in state.windows.values():
        if win.status == "open" and category in serving_categories(hall, win):
            total += 1
            idle += win.current is None
    return total, idle


def _window_shares(hall: Hall, state: HallState, category: str) -> list[tuple[WindowState, float]]:
    """Open windows serving ``category``, each with its share of them: a shared window counts
    for this category's share of the work waiting for it (this category counted with one more
    ticket: the asker)."""
    means: dict[str, float] = {}

    def work(cat: str) -> float:
        if cat not in means:
            means[cat] = mean_service_seconds(hall, state, cat)
        return (state.waiting_count(cat) + (cat == category)) * means[cat]

    out = []
    for win in state.windows.values():
        cats = serving_categories(hall, win) if win.status == "open" else frozenset()
        if category in cats:
            total = sum(work(c) for c in cats)
            out.append((win, work(category) / total if total > 0 else 1.0))
    return out


def _effective_servers(hall: Hall, state: HallState, category: str) -> float:
    return sum(share for _, share in _window_shares(hall, state, category))


def residual_seconds(hall: Hall, state: HallState, category: str, elapsed: float) -> float:
    """Expected seconds left of a service of ``category`` that has run ``elapsed`` seconds: the
    configured distribution's shape, scaled to :func:`mean_service_seconds` (a gamma is taken
    as the lognormal of the same mean and spread)."""
    st = hall.category(category).service_time
    mean = mean_service_seconds(hall, state, category)
    k = mean / (st.mean * 60)
    least = 0.05 * mean  # a service past its expected end: it ends any moment
    if st.distribution == "exponential":
        return mean
    if st.distribution == "deterministic":
        return max(least, mean - elapsed)
    if st.distribution == "uniform":
        low, high = (st.low or 0) * 60 * k, (st.high or 0) * 60 * k
        if elapsed < low:
            return (low + high) / 2 - elapsed
        return max(least, (high - elapsed) / 2)
    sigma = math.sqrt(math.log(1 + (st.sd / st.mean) ** 2))
    mu = math.log(mean) - sigma**2 / 2
    if elapsed <= 0:
        return mean
    z = (mu - math.log(elapsed)) / sigma
    survive = _normal_cdf(z)
    if survive < 1e-9:
        return least
    return max(least, mean * _normal_cdf(z + sigma) / survive - elapsed)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _first_call_minutes(hall: Hall, state: HallState, category: str, now: float, step: float) -> float:
    """Expected minutes until the first of the busy windows serving ``category`` is free: the
    services under way end at the rate of their expected residuals (how long each has run
    already counts), rather than one interval ``step`` after now."""
    rate = 0.0
    for win, share in _window_shares(hall, state, category):
        t = state.tickets.get(win.current) if win.current else None
        if t is None:
            continue
        elapsed = now - t.started_at if t.started_at is not None else 0.0
        rate += share / residual_seconds(hall, state, t.category, elapsed)
    return 1 / rate / 60 if rate > 0 else step


def _rules(hall: Hall) -> CallRules:
    return call_rules(hall.policy, {g.id: g for g in hall.priority_groups})


def _head_start(rules: CallRules, t: Ticket, now: float) -> float:
    """Seconds the calling policy moves ``t`` forward in its queue (∞: a transfer to a window)."""
    if t.target_window is not None:
        return math.inf
    if rules.policy.name == "strict_priority":
        level = rules.appointment_level if rules.in_slot(t, now) else rules.levels.get(t.priority_group or "", 0)
        return level * 1e9  # a higher level always goes first
    if now - t.order_at >= rules.bound:
        return 1e12  # overdue: called before any head start counts
    if rules.in_slot(t, now):
        return rules.appointment_boost
    return rules.boosts.get(t.priority_group or "", 0.0)


def tickets_ahead(hall: Hall, state: HallState, ticket: Ticket, now: float) -> int:
    """Tickets of the same category the calling policy would call before ``ticket`` now."""
    rules = _rules(hall)
    mine = ticket.order_at - _head_start(rules, ticket, now), ticket.number
    ahead = 0
    for t in state.queues.get(ticket.category, {}).values():
        if t is not ticket and (t.order_at - _head_start(rules, t, now), t.number) < mine:
            ahead += 1
    return ahead


def _priority_load(hall: Hall, category: str, now: float, servers: float, mean_s: float) -> float:
    """The share of the windows' time that priority citizens arriving from now take (they
    are called before an ordinary ticket that is already waiting)."""
    share = sum(hall.simulation.priority_share.values())
    if share <= 0:
        return 0.0
    local = datetime.fromtimestamp(now, hall.tz)
    rates = hall.arrival_rates(category, local.weekday())
    if len(rates) == hall.intervals_per_day():  # a shape per interval of the day
        step = hall.demand.interval_minutes if hall.demand else 30
        i = int((_minute_of(local.time()) - _minute_of(hall.hours.open)) // step)
        per_minute = rates[i] / step if 0 <= i < len(rates) else 0.0
    else:  # one figure for the whole day: spread over the open hours
        per_minute = sum(rates) / hall.hours.service_minutes()
    return min(0.9, per_minute * share * mean_s / 60 / servers)


def _minute_of(t: time) -> float:
    return t.hour * 60 + t.minute + t.second / 60


def _lunch_minutes(hall: Hall, now: float, wait: float) -> float:
    """Minutes of the lunch break between now and the call (windows do not call then)."""
    lunch = hall.hours.lunch
    if lunch is None:
        return 0.0
    t = _minute_of(datetime.fromtimestamp(now, hall.tz).time())
    start, end = _minute_of(lunch.start), _minute_of(lunch.end)
    if start <= t < end:
        return end - t
    if t < start <= t + wait:
        return end - start
    return 0.0


def _call_interval_cv2(hall: Hall, category: str, servers: float) -> float:
    """Squared coefficient of variation of the time between calls: the service time's at one
    window, tending to 1 (calls as a Poisson stream) as more windows share the queue."""
    st = hall.category(category).service_time
    if st.distribution == "exponential":
        cv2 = 1.0
    elif st.distribution == "uniform":
        cv2 = ((st.high or 0) - (st.low or 0)) ** 2 / 12 / st.mean**2
    else:
        cv2 = (st.sd / st.mean) ** 2
    cv2 = max(0.05, cv2)
    return cv2 + (1 - cv2) * (1 - 1 / max(1.0, servers))


def _erlang_quantile(shape: float, z: float) -> float:
    """The z-quantile of a gamma(shape, 1) variable (Wilson–Hilferty)."""
    a = 1 / (9 * shape)
    return shape * max(0.0, 1 - a + z * math.sqrt(a)) ** 3


def _queue_estimate(
    hall: Hall, state: HallState, category: str, ahead: int, now: float, priority: bool
) -> WaitEstimate:
    total, idle = servers_for(hall, state, category)
    if total == 0:
        return WaitEstimate(ahead, 0, None)
    services = max(0, ahead + 1 - idle)  # services that must end before the call
    if services == 0:
        return WaitEstimate(ahead, total, 0, 0, 1, 0.0)
    mean_s = mean_service_seconds(hall, state, category)
    servers = _effective_servers(hall, state, category)
    step = mean_s / servers / 60  # minutes between calls
    if not priority:
        step /= 1 - _priority_load(hall, category, now, servers, mean_s)
    wait = _first_call_minutes(hall, state, category, now, step) + (services - 1) * step
    shape = services / _call_interval_cv2(hall, category, servers)
    low = _erlang_quantile(shape, -RANGE_Z) * wait / shape
    high = _erlang_quantile(shape, RANGE_Z) * wait / shape
    pause = _lunch_minutes(hall, now, wait)
    wait, low, high = wait + pause, low + _lunch_minutes(hall, now, low), high + _lunch_minutes(hall, now, high)
    return WaitEstimate(ahead, total, round(wait), math.floor(low), max(1, math.ceil(high)), wait)


def estimate_wait(hall: Hall, state: HallState, ticket: Ticket, now: float) -> WaitEstimate:
    """The core's estimate for a waiting ticket (the queue-length rule above)."""
    ahead = tickets_ahead(hall, state, ticket, now)
    return _queue_estimate(hall, state, ticket.category, ahead, now, ticket.priority_group is not None)


def _from_twin(
    core: WaitEstimate, q: Mapping[str, float], forecast: Forecast, now: float, extra: float
) -> WaitEstimate:
    since = max(0.0, now - forecast.at) / 60

    def left(key: str) -> float:
        return max(0.0, q[key] - since) + extra

    if q["called_share"] < TWIN_CALLED_SHARE:  # futures that do not call it within the horizon
        # The twin's windows close at closing time, the hall's clerks serve who holds a ticket:
        # a wait the queue rule puts well inside the horizon is answered by the queue rule.
        beyond = forecast.horizon_minutes
        if (core.exact or 0) < beyond / 2:
            return core
        minutes = max(core.minutes or 0, round(beyond))
        return replace(core, minutes=minutes, low=round(beyond), high=None, exact=None, source="twin", beyond=beyond)
    mean = left("mean")
    return replace(
        core, minutes=round(mean), low=math.floor(left("p10")), high=max(1, math.ceil(left("p90"))), exact=mean,
        source="twin",
    )  # fmt: skip


def _anchor(
    hall: Hall, state: HallState, category: str, mine: tuple[float, str], forecast: Forecast, now: float
) -> tuple[Mapping[str, float] | None, float]:
    """For a ticket the forecast does not cover (taken since it was made), at place ``mine``
    in the calling order: the forecast of the last ticket before it that the forecast
    covers, and the minutes the calls between that one and this one add (one interval
    between calls each, as in the queue rule)."""
    rules = _rules(hall)
    anchor: tuple[tuple[float, str], str] | None = None
    places: list[tuple[float, str]] = []
    for t in state.queues.get(category, {}).values():
        place = t.order_at - _head_start(rules, t, now), t.number
        if place < mine:
            places.append(place)
            if t.id in forecast.waits and (anchor is None or place > anchor[0]):
                anchor = place, t.id
    if anchor is None:
        return None, 0.0
    between = sum(1 for p in places if p > anchor[0])
    servers = _effective_servers(hall, state, category)
    step = mean_service_seconds(hall, state, category) / servers / 60 if servers else 0.0
    return forecast.waits[anchor[1]], (between + 1) * step


def shown_wait(hall: Hall, state: HallState, ticket: Ticket, now: float, twin: TwinWait | None) -> WaitEstimate:
    """What a citizen is told for a waiting ticket: the twin's forecast of it when a fresh
    one covers it — or, for a ticket taken since the forecast, the twin's forecast of the
    last ticket before it plus the calls in between — else the core's."""
    core = estimate_wait(hall, state, ticket, now)
    forecast = twin() if twin is not None and core.minutes is not None else None
    if forecast is None:
        return core
    q, extra = forecast.waits.get(ticket.id), 0.0
    if q is None:
        mine = ticket.order_at - _head_start(_rules(hall), ticket, now), ticket.number
        q, extra = _anchor(hall, state, ticket.category, mine, forecast, now)
    return core if q is None else _from_twin(core, q, forecast, now, extra)


def category_estimate(
    hall: Hall, state: HallState, category: str, now: float, twin: TwinWait | None = None
) -> tuple[int, WaitEstimate]:
    """(waiting count, the estimate for an ordinary ticket of ``category`` taken now: after
    everyone waiting, so anchored like a ticket the twin has not seen yet)."""
    waiting = state.waiting_count(category)
    core = _queue_estimate(hall, state, category, waiting, now, False)
    forecast = twin() if twin is not None and core.minutes is not None else None
    if forecast is None:
        return waiting, core
    q, extra = _anchor(hall, state, category, (now, "\uffff"), forecast, now)
    return waiting, core if q is None else _from_twin(core, q, forecast, now, extra)


def wait_text(est: WaitEstimate) -> dict[str, str]:
    """The estimate in words, Chinese and English."""
    if est.minutes is None:
        return {"zh": "暂无开放窗口", "en": "no window open"}
    if est.beyond is not None:
        hours = est.beyond / 60
        zh = f"{hours:g}小时" if hours >= 1 and hours == int(hours) else f"{est.beyond:g}分钟"
        en = f"{hours:g} hours" if hours >= 1 and hours == int(hours) else f"{est.beyond:g} min"
        return {"zh": f"预计超过{zh}", "en": f"more than {en}"}
    if (est.exact if est.exact is not None else est.minutes) < 1 and (est.high or 0) <= 1:
        return {"zh": "即将叫号（1分钟内）", "en": "you will be called within a minute"}
    minutes = max(1, est.minutes)
    low, high = est.low or 0, max(est.high or minutes, minutes)
    return {
        "zh": f"预计等待约{minutes}分钟（{low}–{high}分钟）",
        "en": f"about {minutes} min ({low}–{high} min)",
    }
