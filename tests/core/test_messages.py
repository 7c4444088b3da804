"""「中文 (English)」 messages split into their languages the way every page shows them."""

from __future__ import annotations

import pytest

from queue_server.errors import Bilingual


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("找不到票号 X (no such ticket)", "找不到票号 X", "no such ticket"),
        ("A001号无需签到（已叫号） (nothing to check in)", "A001号无需签到（已叫号）", "nothing to check in"),
        (
            "events: 事件文件为空 (the export holds no events)",
            "events: 事件文件为空",
            "events: the export holds no events",
        ),
        (
            "--hall: 没有大厅 'x' (no hall 'x'; halls: demo (main))",
            "--hall: 没有大厅 'x'",
            "--hall: no hall 'x'; halls: demo (main)",
        ),
        ("after must be ≥ 0 and limit > 0", "after must be ≥ 0 and limit > 0", "after must be ≥ 0 and limit > 0"),
        ("(only English)", "(only English)", "(only English)"),
    ],
)
def test_a_message_splits_at_its_closing_english_group(text: str, zh: str, en: str) -> None:
    assert Bilingual.parse(text) == Bilingual(zh, en)


def test_a_bilingual_message_prints_in_the_usual_shape() -> None:
    assert str(Bilingual("无法排班", "no roster")) == "无法排班 (no roster)"
    assert str(Bilingual("A001", "A001")) == "A001"
