"""The Curtois & Qu benchmark format: read, written back, solved on the roster's rule layer.

The instances here are small ones of our own, with optima worked out by hand."""

from __future__ import annotations

import pytest

from queue_server.cli import main
from queue_server.errors import HallqError
from scheduler.nsp import format_nsp, parse_nsp, penalties, solve_nsp, to_rules
from scheduler.roster_rules import violations

# One nurse, a week, one 8-hour shift wanted every day; at most 3 days in a row.
# The best week works 6 days (WWWOWWW): 100 for the day short. Asking to work day 3
# costs 5 when refused; granting it needs two days off (200), so the optimum is 105.
ONE_NURSE = """\
# a comment
SECTION_HORIZON
# The horizon length in days:
7

SECTION_SHIFTS
# ShiftID, Length in mins, Shifts which cannot follow this shift | separated
D,480,

SECTION_STAFF
# ID, MaxShifts, MaxTotalMinutes, MinTotalMinutes, MaxConsecutiveShifts, MinConsecutiveShifts, MinConsecutiveDaysOff, …
A,D=7,4320,0,3,1,1,1

SECTION_DAYS_OFF
# EmployeeID, DayIndexes (start at zero)

SECTION_SHIFT_ON_REQUESTS
# EmployeeID, Day, ShiftID, Weight
A,3,D,5

SECTION_SHIFT_OFF_REQUESTS
# EmployeeID, Day, ShiftID, Weight

SECTION_COVER
# Day, ShiftID, Requirement, Weight for under, Weight for over
""" + "".join(f"{d},D,1,100,1\n" for d in range(7))

# Two nurses, early (E) and late (L) shifts; a late shift may not be followed by an early one.
# Cover wants L on day 0 and E on day 1 from the one nurse B who may work (A is off both days):
# one of them must go under (100); B would rather work E on day 1 (an on-request of 7), so
# the optimum leaves day 0's late shift short: 100 + 0, B works E on day 1 only.
SUCCESSION = """\
SECTION_HORIZON
2

SECTION_SHIFTS
E,480,
L,480,E

SECTION_STAFF
A,E=2|L=2,960,0,2,1,1,1
B,E=2|L=2,960,0,2,1,1,1

SECTION_DAYS_OFF
A,0,1

SECTION_SHIFT_ON_REQUESTS
B,1,E,7

SECTION_SHIFT_OFF_REQUESTS

SECTION_COVER
0,L,1,100,1
0,E,0,100,1
1,E,1,100,1
1,L,0,100,1
"""


def test_an_instance_reads_and_writes_back_the_same():
    inst = parse_nsp(ONE_NURSE)
    assert inst.horizon == 7 and [s.id for s in inst.shifts] == ["D"]
    staff = inst.staff[0]
    assert (staff.max_shifts, staff.max_minutes, staff.max_consecutive, staff.max_weekends) == ({"D": 7}, 4320, 3, 1)
    assert len(inst.cover) == 7 and inst.on_requests[0].weight == 5
    again = parse_nsp(format_nsp(inst))
    assert again == inst
    two = parse_nsp(SUCCESSION)
    assert two.shifts[1].cannot_follow == ("E",) and two.days_off == {"A": [0, 1]}
    assert parse_nsp(format_nsp(two)) == two


def test_the_one_nurse_week_is_proven_optimal_with_its_penalties():
    result = solve_nsp(parse_nsp(ONE_NURSE), time_limit=10, workers=1)
    assert (result.status, result.objective, result.bound) == ("OPTIMAL", 105, 105)
    assert result.penalties == {"shift_on_requests": 5, "shift_off_requests": 0, "cover_under": 100, "cover_over": 0}
    assert [result.roster.get(("A", d)) for d in range(7)] == ["D", "D", "D", None, "D", "D", "D"]
    assert result.violations == []


def test_a_forbidden_succession_is_kept():
    result = solve_nsp(parse_nsp(SUCCESSION), time_limit=10, workers=1)
    assert (result.objective, result.bound) == (100, 100)
    assert result.roster == {("B", 1): "E"}
    assert result.penalties["cover_under"] == 100 and result.penalties["shift_on_requests"] == 0


def test_the_rule_layer_names_what_a_hand_made_roster_breaks():
    inst = parse_nsp(SUCCESSION)
    roster = {("A", 0): "E", ("B", 0): "L", ("B", 1): "E"}
    found = violations(to_rules(inst), roster)
    assert sorted(v.kind for v in found) == ["days_off", "succession"]
    assert penalties(inst, roster)["cover_over"] == 1  # A's early shift on day 0 was not wanted


def test_cli_solves_an_instance_and_writes_it_back(tmp_path, capsys):
    path = tmp_path / "one.txt"
    path.write_text(ONE_NURSE, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["roster", "--nsp", str(path), "--workers", "1", "--time-limit", "10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "目标值 objective 105, 下界 bound 105" in printed
    assert "上班申请未满足 Shift on requests: 5" in printed and "缺员 Cover (under): 100" in printed
    assert "0 处违规" in printed
    assert parse_nsp((out / "instance.txt").read_text(encoding="utf-8")) == parse_nsp(ONE_NURSE)
    assert (out / "nsp-roster.csv").read_text(encoding="utf-8").splitlines()[1] == "A,D,D,D,,D,D,D"


def test_bad_files_and_impossible_instances_are_clear_errors(tmp_path, capsys):
    with pytest.raises(HallqError, match="第 6 行：未知班次 'X'"):
        parse_nsp("SECTION_HORIZON\n2\nSECTION_SHIFTS\nD,480,\nSECTION_STAFF\nA,X=2,960,0,2,1,1,1\n")
    with pytest.raises(HallqError, match="缺少 SECTION_STAFF"):
        parse_nsp("SECTION_HORIZON\n2\nSECTION_SHIFTS\nD,480,\n")
    # at least 2000 minutes in a 2-day horizon of 8-hour shifts: no roster exists
    impossible = SUCCESSION.replace("A,E=2|L=2,960,0", "A,E=2|L=2,960,2000")
    with pytest.raises(HallqError, match="硬约束无法同时满足"):
        solve_nsp(parse_nsp(impossible), time_limit=10, workers=1)
    path = tmp_path / "bad.txt"
    path.write_text(ONE_NURSE.replace("\n7\n", "\nseven\n"), encoding="utf-8")
    assert main(["roster", "--nsp", str(path)]) == 1
    assert "horizon 应为整数" in capsys.readouterr().err
