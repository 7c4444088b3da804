"""Small halls for fast roster and rebalancing tests, derived from the example hall."""

from __future__ import annotations

from typing import Any

import pytest

from queue_server.config import Hall, parse_config
from tests.server.conftest import server, server_factory, tokens  # noqa: F401  (real-server fixtures for test_api)


def small_hall_doc(**overrides: Any) -> dict[str, Any]:
    """A two-zone hall: 3 categories, 4 windows, 5 clerks, open Mon–Fri 09:00–12:00."""
    doc: dict[str, Any] = {
        "id": "small",
        "name": "小型测试大厅",
        "hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "12:00"},
        "demand": {"interval_minutes": 30, "shape": [4, 6, 6, 5, 4, 3]},
        "targets": {"service_level": 0.8, "within_minutes": 10},
        "zones": [{"id": "za", "name": "综合区"}, {"id": "zb", "name": "税务区"}],
        "categories": [
            {"id": "biz", "prefix": "A", "name": "企业开办", "zone": "za",
             "service_time": {"distribution": "exponential", "mean": 12}, "arrivals_per_day": 30},
            {"id": "social", "prefix": "E", "name": "社会事务", "zone": "za",
             "service_time": {"distribution": "exponential", "mean": 8}, "arrivals_per_day": 20},
            {"id": "tax", "prefix": "L", "name": "税务办理", "zone": "zb",
             "service_time": {"distribution": "exponential", "mean": 10}, "arrivals_per_day": 40},
        ],
        "window_classes": [
            {"id": "comp", "kind": "comprehensive", "name": "综合窗口", "name_en": "Comprehensive",
             "categories": ["biz", "social"]},
            {"id": "taxw", "kind": "specialised", "name": "税务窗口", "name_en": "Tax", "categories": ["tax"]},
        ],
        "windows": [
            {"number": 1, "zone": "za", "class": "comp"},
            {"number": 2, "zone": "za", "class": "comp"},
            {"number": 3, "zone": "zb", "class": "taxw"},
            {"number": 4, "zone": "zb", "class": "taxw"},
        ],
        "clerks": [
            {"id": "k1", "name": "张三", "skills": {"biz": 1.0, "social": 1.0}},
            {"id": "k2", "name": "李四", "skills": {"biz": 1.0, "tax": 1.0}},
            {"id": "k3", "name": "王五", "skills": {"tax": 1.0}},
            {"id": "k4", "name": "赵六", "skills": {"tax": 1.0, "social": 0.9}},
            {"id": "k5", "name": "钱七", "skills": {"social": 1.0}, "shifts": ["morning"]},
        ],
        "roster": {
            "interval_minutes": 15,
            "shifts": [
                {"id": "morning", "name": "上午班", "start": "08:45", "end": "12:00"},
                {"id": "early", "name": "早段班", "start": "09:00", "end": "10:30"},
            ],
        },
    }  # fmt: skip
    doc.update(overrides)
    return doc


def make_hall(**overrides: Any) -> Hall:
    return parse_config(small_hall_doc(**overrides)).halls[0]


@pytest.fixture
def small_hall() -> Hall:
    return make_hall()
