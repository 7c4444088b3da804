"""People per shift by set covering: proven optima on cases small enough to check by hand."""

from __future__ import annotations

import pytest

from queue_server.errors import HallqError
from scheduler.shift_cover import cover_shifts

# four periods; A covers the first two, B the middle two, C the last two
SHIFTS = {"A": [1, 1, 0, 0], "B": [0, 1, 1, 0], "C": [0, 0, 1, 1]}


def test_fewest_heads_and_fewest_paid_periods_are_proven():
    # period 0 needs A, period 3 needs C, periods 1 and 2 need a second person: B
    heads = cover_shifts([1, 2, 2, 1], SHIFTS, "heads")
    assert (heads.status, heads.objective, heads.bound) == ("OPTIMAL", 3, 3)
    assert heads.counts == {"A": 1, "B": 1, "C": 1} and heads.cover == [1, 2, 2, 1]
    paid = cover_shifts([1, 2, 2, 1], SHIFTS, "paid", cost={"B": 5})  # B costs 5: two As and two Cs are cheaper
    assert (paid.objective, paid.bound) == (8, 8) and paid.counts == {"A": 2, "B": 0, "C": 2}


def test_smallest_deviation_may_leave_a_period_short():
    # need only at the ends: A and C each overshoot a middle period, so 2 either way
    result = cover_shifts([1, 0, 0, 1], SHIFTS, "deviation")
    assert (result.objective, result.bound) == (2, 2)


def test_a_period_no_shift_covers_is_a_clear_error():
    with pytest.raises(HallqError, match=r"时段 \[4\] 有需求但没有任何班次覆盖"):
        cover_shifts([1, 1, 1, 1, 1], {s: [*row, 0] for s, row in SHIFTS.items()}, "heads")
    with pytest.raises(HallqError, match="班次 A 覆盖 4 个时段，需求有 5 个"):
        cover_shifts([1, 1, 1, 1, 1], SHIFTS, "heads")
