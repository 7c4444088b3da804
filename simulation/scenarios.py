"""Small halls for checking the model against theory and other simulators.

:func:`single_queue_hall` builds, through the ordinary configuration path, a hall
with one category served by ``servers`` identical windows: the M/M/c family
(Erlang C, Erlang A, priority classes) when service and patience are exponential.
"""

from __future__ import annotations

from typing import Any

from queue_server.config import Hall, parse_config


def single_queue_hall(
    *,
    arrivals_per_hour: float | list[float],
    service_minutes: float,
    servers: int,
    patience_minutes: float | None = None,
    priority_share: float = 0.0,
    distribution: str = "exponential",
    open_at: str = "00:00",
    close_at: str = "23:00",
    policy: str = "strict_priority",
) -> Hall:
    """A one-category hall open ``open_at``–``close_at`` with hourly arrival rates (one rate or one per hour)."""
    hh0, hh1 = int(open_at[:2]), int(close_at[:2])
    hours = hh1 - hh0
    rates = arrivals_per_hour if isinstance(arrivals_per_hour, list) else [float(arrivals_per_hour)] * hours
    if len(rates) != hours:
        raise ValueError(f"need {hours} hourly rates, got {len(rates)}")
    category: dict[str, Any] = {
        "id": "q",
        "prefix": "A",
        "name": "排队",
        "zone": "z",
        "service_time": {"distribution": distribution, "mean": service_minutes}
        | ({"sd": service_minutes} if distribution in ("lognormal", "gamma") else {}),
        "arrivals_per_day": sum(rates),
        "target_wait_minutes": 10,
    }
    if patience_minutes is not None:
        category["patience_minutes"] = patience_minutes
    doc: dict[str, Any] = {
        "id": "theory",
        "name": "理论校验大厅",
        "hours": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": open_at, "close": close_at},
        "policy": {"name": policy},
        "priority_groups": [{"id": "elderly", "name": "老年人", "level": 1}],
        "zones": [{"id": "z", "name": "大厅"}],
        "window_classes": [{"id": "all", "name": "综合", "kind": "comprehensive", "categories": ["q"]}],
        "categories": [category],
        "windows": [{"number": i + 1, "zone": "z", "class": "all"} for i in range(servers)],
        "clerks": [
            {"id": f"k{i + 1}", "name": f"窗口员{i + 1}", "home_window": i + 1, "skills": {"q": 1.0}}
            for i in range(servers)
        ],
        "demand": {"interval_minutes": 60, "shape": [r if r > 0 else 0.0 for r in rates]},
        "simulation": {"priority_share": {"elderly": priority_share}} if priority_share else {},
    }
    return parse_config(doc).halls[0]
