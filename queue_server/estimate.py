"""A simple estimated wait for a waiting ticket.

Position among the tickets of its category that came before it, divided among the
windows that can serve the category now, times the category's recent mean service
time (the configured mean until a few services were finished today). The
simulation's live twin replaces this with quantiles when it is enabled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .commands import serving_categories
from .config import Hall
from .model import HallState, Ticket

# The live twin's answer for one waiting ticket (by id): (median, 90th percentile) minutes
# until its call, or None when no fresh forecast covers it. Set on the HallService by the
# server when the hall enables ``simulation.live_twin``; the core never imports the simulation.
TwinWait = Callable[[str], tuple[float, float] | None]


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    ahead: int  # tickets of the same category before this one
    servers: int  # windows open now that serve the category
    minutes: int | None  # None when no open window serves the category


def mean_service_seconds(hall: Hall, state: HallState, category: str) -> float:
    recent = state.recent_services.get(category)
    if recent and len(recent) >= 3:
        return sum(recent) / len(recent)
    return hall.category(category).service_time.mean * 60


def servers_for(hall: Hall, state: HallState, category: str) -> tuple[int, int]:
    """(open windows serving ``category``, of which idle now)."""
    total = idle = 0
    for win in state.windows.values():
        if win.status == "open" and category in serving_categories(hall, win):
            total += 1
            idle += win.current is None
    return total, idle


def estimate_wait(hall: Hall, state: HallState, ticket: Ticket) -> WaitEstimate:
    # Tickets before this one in queue order (arrival, then number). A plain loop over the
    # category's queue without building tuples: about 3× faster than a generator of tuples.
    order_at, number = ticket.order_at, ticket.number
    ahead = 0
    for t in state.queues.get(ticket.category, {}).values():
        if t.order_at < order_at or (t.order_at == order_at and t.number < number):
            ahead += 1
    total, idle = servers_for(hall, state, ticket.category)
    if total == 0:
        return WaitEstimate(ahead, 0, None)
    queue_before_me = max(0, ahead + 1 - idle)
    minutes = math.ceil(queue_before_me * mean_service_seconds(hall, state, ticket.category) / total / 60)
    return WaitEstimate(ahead, total, minutes)


def category_wait(hall: Hall, state: HallState, category: str) -> tuple[int, int | None]:
    """(waiting count, estimated minutes for a ticket taken now) for one category."""
    waiting = state.waiting_count(category)
    total, idle = servers_for(hall, state, category)
    if total == 0:
        return waiting, None
    queue = max(0, waiting + 1 - idle)
    return waiting, math.ceil(queue * mean_service_seconds(hall, state, category) / total / 60)
