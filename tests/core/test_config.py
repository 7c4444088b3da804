"""Configuration: the example loads; every broken file names the field and the problem.

``hallq check-config FILE`` is run as a real subprocess (both the ``hallq`` script
and ``python -m queue_server.cli``): a summary and exit 0, or the errors and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from queue_server.config import load_config, parse_config
from queue_server.errors import ConfigError, ConfigIssue

from .conftest import ROOT, example_raw, tiny_raw, write_yaml

Mutation = Callable[[dict[str, Any]], Any]


def hallq(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m queue_server.cli ARGS`` with this checkout first on the path."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=60,
    )


CJK = re.compile(r"[\u4e00-\u9fff]")


def english(issue: ConfigIssue) -> str:
    """``path: message`` in English, after checking the issue also says it in Chinese (shown first)."""
    assert CJK.search(issue.zh), f"no Chinese text for {issue}"
    assert str(issue) == (f"{issue.path}: " if issue.path else "") + f"{issue.zh} ({issue.message})"
    return f"{issue.path}: {issue.message}" if issue.path else issue.message


def issues_of(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "broken.yaml")
    return [english(i) for i in info.value.issues]


# ------------------------------------------------------------------ the example


def test_the_example_hall_loads() -> None:
    dep = load_config(ROOT / "config.yaml")
    [hall] = dep.halls
    assert hall.id == "demo" and hall.example
    assert len(hall.windows) == 27
    kinds = [c.kind for c in hall.window_classes]
    assert (kinds.count("comprehensive"), kinds.count("specialised")) == (6, 5)
    assert hall.window_categories(15) == ["exit-entry"]  # a window narrows its class
    assert hall.window_categories(13) == ["household", "exit-entry"]
    assert hall.category("real-estate").daily_cap == 120
    assert hall.hours.service_minutes() == 8 * 60 - 90
    assert len(hall.demand.shape if hall.demand else []) == hall.intervals_per_day() == 16
    assert dep.storage.fsync == "everysec"


def test_an_unquoted_yaml_time_is_read_as_a_time(tmp_path: Path) -> None:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8").replace('close: "17:00"', "close: 17:00")
    assert "close: 17:00" in text  # YAML 1.1 reads this as the number 1020
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path).halls[0].hours.close.hour == 17


# ------------------------------------------------------------------ broken files, field by field


def _set(path: str, value: Any) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        node: Any = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


BROKEN: list[tuple[str, Mutation, str]] = [
    ("window category", _set("windows.3.categories", ["X"]), "windows[3].categories: unknown category 'X'"),
    (
        "window category outside its class",
        _set("windows.3.categories", ["tax"]),
        "windows[3].categories: category 'tax' is not served by window class 'comp-investment'",
    ),
    ("window class", _set("windows.3.class", "nope"), "windows[3].class: unknown window class 'nope'"),
    ("window zone", _set("windows.0.zone", "zone-z"), "windows[0].zone: unknown zone 'zone-z'"),
    ("window number", _set("windows.0.number", 0), "windows[0].number: Input should be greater than 0"),
    ("duplicate window", _set("windows.1.number", 1), "windows[1]: duplicate window number 1"),
    ("typo", _set("hours.opne", "09:00"), "hours.opne: unknown field (check its spelling)"),
    ("time", _set("hours.open", "9am"), "hours.open: expected a time of day like '09:00', got '9am'"),
    ("hours order", _set("hours.close", "08:00"), "hours: close 08:00 must be after open 09:00"),
    (
        "lunch",
        _set("hours.lunch", {"start": "08:00", "end": "09:30"}),
        "hours: lunch must lie inside the opening hours",
    ),
    ("weekday", _set("hours.days", ["mon", "funday"]), "hours.days[1]: Input should be 'mon'"),
    ("prefix", _set("categories.0.prefix", "a"), "categories[0].prefix: String should match pattern"),
    ("duplicate prefix", _set("categories.1.prefix", "A"), "categories[1]: duplicate ticket prefix 'A'"),
    ("category zone", _set("categories.2.zone", "moon"), "categories[2].zone: unknown zone 'moon'"),
    ("service time", _set("categories.0.service_time", {"mean": 5}), "categories[0].service_time: lognormal needs"),
    ("daily cap", _set("categories.0.daily_cap", 0), "categories[0].daily_cap: Input should be greater than 0"),
    (
        "journey",
        _set("categories.0.journey", [{"category": "nope", "probability": 0.5}]),
        "categories[0].journey[0].category: unknown category 'nope'",
    ),
    ("clerk skill", _set("clerks.2.skills", {"X": 1.0}), "clerks[2].skills: unknown category 'X'"),
    (
        "proficiency",
        _set("clerks.0.skills", {"tax": 9}),
        "clerks[0].skills: proficiency of 'tax' must be between 0.1 and 3, got 9",
    ),
    ("home window", _set("clerks.0.home_window", 99), "clerks[0].home_window: unknown window 99"),
    ("time zone", _set("timezone", "Mars/Olympus"), "timezone: unknown time zone 'Mars/Olympus'"),
    ("policy", _set("policy.name", "random"), "policy.name: Input should be 'strict_priority' or 'weighted_aging'"),
    ("width", _set("ticket_number_width", 9), "ticket_number_width: Input should be less than or equal to 5"),
    ("demand", _set("demand.shape", [1, 2]), "demand.shape: has 2 intervals; opening hours need 16 of 30 minutes"),
    (
        "placeholder",
        _set("announcements.call", "请{name}到窗口"),
        "announcements.call: unknown placeholder {name}; use {ticket} and {window}",
    ),
    (
        "duplicate pause reason",
        _set("pause_reasons", [{"id": "break", "name": "临时离岗", "name_en": "Break"}] * 2),
        "pause_reasons[1]: duplicate pause reason id 'break'",
    ),
    ("pause reason name", _set("pause_reasons", [{"id": "x", "name": ""}]), "pause_reasons[0].name: String should"),
    ("no pause reasons", _set("pause_reasons", []), "pause_reasons: List should have at least 1 item"),
    ("proxy", _set("proxy", {"proxies_count": -1}), "proxy.proxies_count: Input should be greater than or equal to 0"),
    (
        "group sentence",
        _set("announcements.group", "请{ticket}办理"),
        "announcements.group: unknown placeholder {ticket}; use {calls}",
    ),
    ("empty notice", _set("notices", [{"text": ""}]), "notices[0].text: String should have at least 1 character"),
    ("fsync", _set("storage.fsync", "sometimes"), "storage.fsync: Input should be 'always', 'everysec' or 'never'"),
    ("wrong type", _set("hours", "9-5"), "hours: Input should be a valid dictionary"),
    ("missing list", _set("windows", None), "windows: Input should be a valid list"),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_broken_file_names_the_field_and_the_problem(mutate: Mutation, expected: str) -> None:
    raw = example_raw()
    mutate(raw)
    found = issues_of(raw)
    assert any(i.startswith(expected) for i in found), found


def test_every_problem_is_reported_at_once() -> None:
    raw = example_raw()
    raw["windows"][3]["categories"] = ["X"]
    raw["clerks"][2]["skills"] = {"Y": 1.0}
    raw["categories"][0]["zone"] = "nowhere"
    assert issues_of(raw) == [
        "categories[0].zone: unknown zone 'nowhere'",
        "windows[3].categories: unknown category 'X'",
        "clerks[2].skills: unknown category 'Y'",
    ]


def test_a_category_no_window_serves() -> None:
    raw = tiny_raw()
    orphan = {"id": "D", "prefix": "D", "name": "孤儿", "zone": "z", "service_time": {"mean": 5, "sd": 1}}
    raw["categories"].append(orphan)
    assert issues_of(raw) == ["categories[3]: no window serves category 'D'"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just\n- a list\n", "the file must hold a mapping (a hall, or 'halls:')"),
        ("id: [unclosed\n", "line 2, column 1: not valid YAML"),
        ("", "the file must hold a mapping"),
    ],
)
def test_a_file_that_is_not_a_hall(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert english(info.value.issues[0]).startswith(expected)
    assert info.value.source == str(path)


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path)  # a directory
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00id")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "bin.yaml")


# ------------------------------------------------------------------ several halls in one file


def two_halls() -> dict[str, Any]:
    first, second = tiny_raw(), tiny_raw()
    second["id"], second["name"] = "east", "东区分中心"
    second["ticket_number_width"] = 4
    return {"storage": {"data_dir": "data", "fsync": "always"}, "halls": [first, second]}


def test_several_halls_in_one_file() -> None:
    dep = parse_config(two_halls())
    assert [h.id for h in dep.halls] == ["tiny", "east"]
    assert dep.hall("east").ticket_number_width == 4
    assert dep.storage.fsync == "always"


def test_errors_in_a_multi_hall_file_name_the_hall() -> None:
    raw = two_halls()
    raw["halls"][1]["windows"][3]["categories"] = ["X"]
    assert issues_of(raw) == ["halls[1].windows[3].categories: unknown category 'X'"]
    raw = two_halls()
    raw["halls"][1]["id"] = "tiny"
    assert issues_of(raw) == ["halls[1]: duplicate hall id 'tiny'"]
    raw = two_halls()
    raw["halls"][0]["hours"]["opne"] = "09:00"
    assert issues_of(raw) == ["halls[0].hours.opne: unknown field (check its spelling)"]
    assert issues_of({"halls": []}) == ["halls: List should have at least 1 item after validation, not 0"]


# ------------------------------------------------------------------ hallq check-config


def test_check_config_prints_the_summary() -> None:
    done = hallq("check-config", "config.yaml")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "大厅 Hall demo: 示例市政务服务中心" in out
    assert "窗口 Windows: 27 in 3 zones; classes 6+5 (comprehensive+specialised)" in out
    assert "事项类别 Categories: 14" in out
    assert "M  不动产登记 / Real estate registration" in out and "每日上限 cap 120" in out
    assert "叫号策略 Policy: weighted_aging (max wait 45 min)" in out
    assert out.rstrip().endswith("OK: config.yaml is valid (1 hall).")


def test_the_hallq_script_is_installed() -> None:
    script = Path(sys.executable).parent / "hallq"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [str(script), "check-config", "config.yaml"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0 and "OK: config.yaml is valid" in done.stdout


def test_check_config_lists_every_error_and_fails(tmp_path: Path) -> None:
    raw = example_raw()
    raw["windows"][3]["class"] = "nope"
    raw["clerks"][2]["skills"] = {"X": 1.0}
    path = write_yaml(tmp_path / "broken.yaml", raw)
    done = hallq("check-config", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"配置文件有误 (configuration errors) in {path}:",
        "  - windows[3].class: 未知窗口类别 'nope' (unknown window class 'nope')",
        "  - clerks[2].skills: 未知事项 'X' (unknown category 'X')",
    ]


def test_check_config_of_several_halls(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "two.yaml", two_halls())
    done = hallq("check-config", str(path))
    assert done.returncode == 0, done.stderr
    assert "大厅 Hall tiny: 小型测试大厅" in done.stdout and "大厅 Hall east: 东区分中心" in done.stdout
    assert "is valid (2 halls)." in done.stdout
    broken = two_halls()
    broken["halls"][1]["windows"][0]["categories"] = ["X"]
    done = hallq("check-config", str(write_yaml(tmp_path / "broken.yaml", broken)))
    assert done.returncode == 2 and "halls[1].windows[0].categories: 未知事项 'X' (unknown category 'X')" in done.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ("a: [1, 2\n", "not valid YAML"),
        ("42\n", "the file must hold a mapping"),
    ],
)
def test_check_config_never_shows_a_traceback(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    done = hallq("check-config", str(path))
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_every_broken_example_exits_nonzero_without_a_traceback(tmp_path: Path) -> None:
    """All the broken files above, through the real command in one go (one process per file is slow)."""
    paths = []
    for i, (_, mutate, _expected) in enumerate(BROKEN):
        raw = copy.deepcopy(example_raw())
        mutate(raw)
        paths.append(write_yaml(tmp_path / f"b{i}.yaml", raw))
    script = (
        "import sys\n"
        "from queue_server.cli import main\n"
        "codes = [main(['check-config', p]) for p in sys.argv[1:]]\n"
        "print(codes)\n"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, paths)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.stdout.strip() == str([2] * len(BROKEN))
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    for _, _mutate, expected in BROKEN:  # "  - path: 中文 (English…)"
        path, english_text = expected.split(": ", 1)
        assert any(ln.startswith(f"  - {path}: ") and f" ({english_text}" in ln for ln in lines), expected


def test_the_kiosks_public_base_url_must_be_an_address() -> None:
    raw = example_raw()
    raw["kiosk"] = {"public_base_url": "zwfw.example.gov.cn?x=1"}
    assert issues_of(raw) == [
        "kiosk.public_base_url: public_base_url must be http(s)://host[:port][/path] without a query:"
        " 'zwfw.example.gov.cn?x=1'"
    ]
    raw["kiosk"] = {"public_base_url": "https://zwfw.example.gov.cn/hall/"}
    assert parse_config(raw, "ok.yaml").halls[0].kiosk.public_base_url == "https://zwfw.example.gov.cn/hall"
