"""Random command sequences: MemoryStore, RedisStore and a plain reference model agree.

Hypothesis drives the small hall (strict_priority) with random commands. Each is
executed by a HallService on a journaled MemoryStore and by one on a real
RedisStore, and by :class:`ReferenceHall` below — an independent, deliberately
simple statement of what a user sees: ticket states, which ticket a window gets
(transfers to the window first, then priority groups by level, then issue order,
within the window's categories and the clerk's skills), numbering and daily caps,
and which commands are refused with which code. It does not use the core's
``decide``/``apply_event``.

After every step the two services must hold the same state and have written the
same events, and their observable state must equal the reference's; at the end,
a fresh service replaying each store must rebuild the same state.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from queue_server.clock import ManualClock
from queue_server.commands import (
    CallNext,
    CancelTicket,
    CloseWindow,
    Command,
    FinishService,
    IssueTicket,
    NoShow,
    OpenWindow,
    PauseWindow,
    Recall,
    ResumeWindow,
    StartService,
    Transfer,
)
from queue_server.errors import CommandRejected
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore
from queue_server.stores.redis import RedisStore
from tests.conftest import MONDAY_9AM

from .conftest import make_tiny

HALL = make_tiny()  # strict_priority, B capped at 3 a day, 10-minute no-show recall

# ------------------------------------------------------------------ the reference model

PREFIX = {"A": "A", "B": "B", "C": "C"}
CAPS = {"B": 3}
WINDOW_CATEGORIES = {1: {"A", "B"}, 2: {"A", "B"}, 3: {"C"}, 4: {"A", "B", "C"}}
SKILLS = {"k1": {"A", "B"}, "k2": {"A"}, "k3": {"C"}, "k4": {"A", "B", "C"}}
LEVEL = {"elderly": 2, "disabled": 1}
RECALL_SECONDS = 10 * 60
TICK = 20.0  # seconds between two commands


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class RefTicket:
    number: str
    category: str
    group: str | None
    order: float  # when it joined the queue
    state: str = "waiting"
    window: int | None = None
    target: int | None = None
    recalls: int = 0
    no_show_at: float | None = None


@dataclass
class RefWindow:
    status: str = "closed"
    clerk: str | None = None
    current: str | None = None  # ticket number


@dataclass
class ReferenceHall:
    """What a person watching the hall expects, in the plainest terms."""

    now: float = MONDAY_9AM
    tickets: dict[str, RefTicket] = field(default_factory=dict)
    windows: dict[int, RefWindow] = field(default_factory=dict)
    issued: dict[str, int] = field(default_factory=dict)

    def window(self, w: int) -> RefWindow:
        return self.windows.get(w) or RefWindow()

    def serving(self, w: int, want: tuple[str, ...] = ("called", "serving")) -> RefTicket:
        win = self.window(w)
        if win.status == "closed":
            raise Refused("window_closed")
        if win.current is None:
            raise Refused("no_current_ticket")
        t = self.tickets[win.current]
        if t.state not in want:
            raise Refused("illegal_transition")
        return t

    def issue(self, category: str, group: str | None) -> str:
        n = self.issued.get(category, 0)
        if category in CAPS and n >= CAPS[category]:
            raise Refused("daily_cap_reached")
        self.issued[category] = n + 1
        number = f"{PREFIX[category]}{n + 1:03d}"
        self.tickets[number] = RefTicket(number, category, group, self.now)
        return number

    def open(self, w: int, clerk: str) -> None:
        win = self.window(w)
        if not SKILLS[clerk] & WINDOW_CATEGORIES[w]:
            raise Refused("clerk_not_skilled")
        if win.status != "closed":
            raise Refused("already_open" if win.clerk == clerk else "window_taken")
        if any(o.clerk == clerk and o.status != "closed" for o in self.windows.values()):
            raise Refused("clerk_elsewhere")
        self.windows[w] = RefWindow("open", clerk, win.current)

    def next_for(self, w: int) -> RefTicket | None:
        win = self.windows[w]
        assert win.clerk is not None
        mine = WINDOW_CATEGORIES[w] & SKILLS[win.clerk]
        eligible = [
            t
            for t in self.tickets.values()
            if t.state == "waiting" and (t.target == w if t.target is not None else t.category in mine)
        ]

        def rank(t: RefTicket) -> tuple[int, float, str]:
            level = 100 if t.target is not None else LEVEL.get(t.group or "", 0)
            return (-level, t.order, t.number)

        return min(eligible, key=rank, default=None)

    def call(self, w: int) -> str:
        win = self.window(w)
        if win.status == "closed":
            raise Refused("window_closed")
        if win.status == "paused":
            raise Refused("window_paused")
        if win.current is not None:
            raise Refused("window_busy")
        t = self.next_for(w)
        if t is None:
            raise Refused("queue_empty")
        t.state, t.window, t.target = "called", w, None
        win.current = t.number
        return t.number

    def start(self, w: int) -> None:
        self.serving(w, ("called",)).state = "serving"

    def finish(self, w: int) -> None:
        t = self.serving(w)
        if t.state != "serving":
            raise Refused("illegal_transition")
        t.state = "finished"
        self.windows[w].current = None

    def no_show(self, w: int) -> None:
        t = self.serving(w, ("called",))
        t.state, t.no_show_at = "no_show", self.now
        self.windows[w].current = None

    def recall(self, w: int, number: str | None) -> None:
        win = self.window(w)
        if number is None or number == win.current:
            self.serving(w, ("called",)).recalls += 1
            return
        if win.status == "closed":
            raise Refused("window_closed")
        if win.current is not None:
            raise Refused("window_busy")
        if win.status == "paused":
            raise Refused("window_paused")
        t = self.tickets[number]
        if t.state != "no_show" or t.window != w:
            raise Refused("illegal_transition")
        assert t.no_show_at is not None
        if self.now - t.no_show_at > RECALL_SECONDS:
            raise Refused("recall_expired")
        t.state, t.recalls = "called", t.recalls + 1
        win.current = number

    def cancel(self, number: str) -> None:
        t = self.tickets[number]
        if t.state not in ("waiting", "no_show"):
            raise Refused("illegal_transition")
        t.state = "cancelled"

    def transfer(self, w: int, to_category: str | None, to_window: int | None) -> None:
        t = self.serving(w)
        category = to_category or t.category
        if to_window is not None and (category not in WINDOW_CATEGORIES[to_window] or to_window == w):
            raise Refused("bad_transfer")
        t.state, t.category, t.window, t.target, t.recalls = "waiting", category, None, to_window, 0
        self.windows[w].current = None

    def pause(self, w: int) -> None:
        win = self.window(w)
        if win.status == "closed":
            raise Refused("window_closed")
        if win.status == "paused":
            raise Refused("already_paused")
        if win.current is not None:
            raise Refused("window_busy")
        win.status = "paused"

    def resume(self, w: int) -> None:
        win = self.window(w)
        if win.status == "closed":
            raise Refused("window_closed")
        if win.status != "paused":
            raise Refused("not_paused")
        win.status = "open"

    def close(self, w: int) -> None:
        win = self.window(w)
        if win.status == "closed":
            raise Refused("window_closed")
        if win.current is not None:
            raise Refused("window_busy")
        win.status, win.clerk = "closed", None

    def observed(self) -> dict[str, Any]:
        return {
            "tickets": {
                n: (t.state, t.category, t.window if t.state in ("called", "serving", "no_show") else None, t.recalls)
                for n, t in self.tickets.items()
            },
            "windows": {w: (win.status, win.clerk, win.current) for w, win in self.windows.items()},
        }


def observed(svc: HallService) -> dict[str, Any]:
    """The same view of a real hall."""
    state = svc.state
    active = ("called", "serving", "no_show")
    number = {t.id: t.number for t in state.tickets.values()}
    return {
        "tickets": {
            t.number: (t.state, t.category, t.window if t.state in active else None, len(t.recalls))
            for t in state.tickets.values()
        },
        "windows": {
            w: (win.status, win.clerk, number[win.current] if win.current else None)
            for w, win in state.windows.items()
        },
    }


# ------------------------------------------------------------------ the machine

windows = st.sampled_from([1, 2, 3, 4])
categories = st.sampled_from(["A", "B", "C"])
groups = st.sampled_from([None, None, None, "elderly", "disabled"])
arrivals = st.lists(st.tuples(categories, groups), min_size=1, max_size=4)


class HallMachine(RuleBasedStateMachine):
    redis_url = ""
    data_root = Path()
    examples = 0

    def __init__(self) -> None:
        super().__init__()
        HallMachine.examples += 1
        self.loop = asyncio.new_event_loop()
        client = redis.Redis.from_url(self.redis_url)
        client.flushall()
        client.close()
        self.data_dir = self.data_root / f"ex{HallMachine.examples}"
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.clock = ManualClock(MONDAY_9AM)
        self.memory = HallService(HALL, MemoryStore(self.data_dir, fsync="never"), self.clock)
        self.redis = HallService(HALL, RedisStore(self.redis_url), self.clock)
        self.ref = ReferenceHall()
        self.loop.run_until_complete(self.memory.start())
        self.loop.run_until_complete(self.redis.start())

    def both(self, cmd: Command, expected: Any) -> None:
        """Run ``cmd`` on both services; ``expected`` is the reference's answer (or a Refused)."""
        answers: list[tuple[str, Any]] = []
        for svc in (self.memory, self.redis):
            try:
                answers.append(("ok", self.loop.run_until_complete(svc.execute(cmd, "test"))))
            except CommandRejected as err:
                answers.append(("refused", err.code))
        assert answers[0] == answers[1], (cmd, answers)
        status, result = answers[0]
        if isinstance(expected, Refused):
            assert (status, result) == ("refused", expected.code), cmd
        else:
            assert status == "ok", (cmd, result)
            if expected is not None:
                assert result["number"] == expected, cmd

    def step(self, cmd: Command, action: Any, *args: Any) -> None:
        """Twenty seconds pass; then the reference's ``action(*args)`` and ``cmd`` on both services must agree."""
        self.clock.advance(TICK)
        self.ref.now += TICK
        try:
            expected = action(*args)
        except Refused as refused:
            expected = refused
        self.both(cmd, expected)

    # -- rules (grouped and weighted so that most steps move tickets, not close windows)

    @initialize(clerks=st.one_of(st.just(("k1", "k2", "k3", "k4")), st.permutations(["k1", "k2", "k3", "k4"])))
    def open_windows(self, clerks: tuple[str, ...]) -> None:
        for w, clerk in zip((1, 2, 3, 4), clerks, strict=True):
            self.step(OpenWindow(w, clerk), self.ref.open, w, clerk)

    @initialize(arrivals=arrivals)
    def morning_queue(self, arrivals: list[tuple[str, str | None]]) -> None:
        self.citizens_arrive(arrivals)

    @rule(arrivals=arrivals)
    def citizens_arrive(self, arrivals: list[tuple[str, str | None]]) -> None:
        for category, group in arrivals:
            self.step(IssueTicket(category, priority_group=group), self.ref.issue, category, group)

    @rule(w=windows, action=st.sampled_from(["call", "call", "call", "start", "start", "finish", "no_show", "recall"]))
    def clerk_works(self, w: int, action: str) -> None:
        cmd: Command
        ref_action: Callable[..., Any]
        args: tuple[Any, ...]
        if action == "call":
            cmd, ref_action, args = CallNext(w), self.ref.call, (w,)
        elif action == "start":
            cmd, ref_action, args = StartService(w), self.ref.start, (w,)
        elif action == "finish":
            cmd, ref_action, args = FinishService(w, "accepted_pending"), self.ref.finish, (w,)
        elif action == "no_show":
            cmd, ref_action, args = NoShow(w), self.ref.no_show, (w,)
        else:
            cmd, ref_action, args = Recall(w), self.ref.recall, (w, None)
        self.step(cmd, ref_action, *args)

    @rule(w=windows)
    def clerk_serves_the_next(self, w: int) -> None:
        self.step(CallNext(w), self.ref.call, w)
        self.step(StartService(w), self.ref.start, w)
        self.step(FinishService(w), self.ref.finish, w)

    @rule(
        w=windows,
        then=st.sampled_from(["no_show", "late_citizen", "recall", "transfer", "start_transfer"]),
        late=st.sampled_from([5, 11]),
        to_category=st.sampled_from([None, "A", "B", "C"]),
        to_window=st.sampled_from([None, 1, 2, 3, 4]),
        next_w=windows,
    )
    def clerk_calls_then(
        self, w: int, then: str, late: int, to_category: str | None, to_window: int | None, next_w: int
    ) -> None:
        self.step(CallNext(w), self.ref.call, w)
        current = self.ref.window(w).current
        if then in ("no_show", "late_citizen"):
            self.step(NoShow(w), self.ref.no_show, w)
            if then == "late_citizen" and current is not None:
                self.wait(late)  # within the 10-minute recall time, or not
                self.step(Recall(w, self.ticket_id(current)), self.ref.recall, w, current)
        elif then == "recall":
            self.step(Recall(w), self.ref.recall, w, None)
        else:
            if then == "start_transfer":
                self.step(StartService(w), self.ref.start, w)
            self.transfer(w, to_category, to_window)
            self.step(CallNext(next_w), self.ref.call, next_w)  # where does the transferred ticket stand?

    @rule(
        w=windows,
        action=st.sampled_from(["pause", "pause", "resume", "resume", "close", "open"]),
        clerk=st.sampled_from(["k1", "k2", "k3", "k4"]),
    )
    def window_changes(self, w: int, action: str, clerk: str) -> None:
        cmd: Command
        ref_action: Callable[..., Any]
        args: tuple[Any, ...]
        if action == "pause":
            cmd, ref_action, args = PauseWindow(w, "break"), self.ref.pause, (w,)
        elif action == "resume":
            cmd, ref_action, args = ResumeWindow(w), self.ref.resume, (w,)
        elif action == "close":
            cmd, ref_action, args = CloseWindow(w), self.ref.close, (w,)
        else:
            cmd, ref_action, args = OpenWindow(w, clerk), self.ref.open, (w, clerk)
        self.step(cmd, ref_action, *args)

    def ticket_id(self, number: str) -> str:
        return next(t.id for t in self.memory.state.tickets.values() if t.number == number)

    @precondition(lambda self: self.ref.tickets)
    @rule(w=windows, pick=st.integers(0, 50))
    def recall_no_show(self, w: int, pick: int) -> None:
        number = sorted(self.ref.tickets)[pick % len(self.ref.tickets)]
        self.step(Recall(w, self.ticket_id(number)), self.ref.recall, w, number)

    @precondition(lambda self: self.ref.tickets)
    @rule(pick=st.integers(0, 50))
    def cancel(self, pick: int) -> None:
        number = sorted(self.ref.tickets)[pick % len(self.ref.tickets)]
        self.step(CancelTicket(self.ticket_id(number)), self.ref.cancel, number)

    @rule(w=windows, to_category=st.sampled_from([None, "A", "B", "C"]), to_window=st.sampled_from([None, 1, 2, 3, 4]))
    def transfer(self, w: int, to_category: str | None, to_window: int | None) -> None:
        if to_category is None and to_window is None:
            to_category = "C"
        cmd = Transfer(w, to_category=to_category, to_window=to_window)
        self.step(cmd, self.ref.transfer, w, to_category, to_window)

    @rule(minutes=st.sampled_from([0.5, 1, 3, 9, 11]))
    def wait(self, minutes: float) -> None:
        self.clock.advance(minutes * 60)
        self.ref.now += minutes * 60

    # -- what must always hold

    @invariant()
    def same_state_everywhere(self) -> None:
        mem, red = self.memory.state, self.redis.state
        assert mem.seq == red.seq
        assert mem.tickets == red.tickets and mem.windows == red.windows and mem.counters == red.counters
        assert observed(self.memory) == self.ref.observed()

    @invariant()
    def same_events(self) -> None:
        seq = self.memory.state.seq
        mem = self.loop.run_until_complete(self.memory.store.read(HALL.id, max(0, seq - 1)))
        red = self.loop.run_until_complete(self.redis.store.read(HALL.id, max(0, seq - 1)))
        assert mem == red

    def teardown(self) -> None:
        opened: list[Any] = [self.memory.store, self.redis.store]
        try:
            mem = self.loop.run_until_complete(self.memory.store.read(HALL.id, 0))
            red = self.loop.run_until_complete(self.redis.store.read(HALL.id, 0))
            assert mem == red
            assert [e.seq for e in mem] == list(range(1, len(mem) + 1))
            self.loop.run_until_complete(self.memory.store.close())  # frees the journal for a new process
            for live in (self.memory, self.redis):  # a fresh process rebuilds the same hall from the store
                store = MemoryStore(self.data_dir) if live is self.memory else RedisStore(self.redis_url)
                opened.append(store)
                again = HallService(HALL, store, self.clock)
                self.loop.run_until_complete(again.start())
                assert again.state.tickets == live.state.tickets and again.state.windows == live.state.windows
        finally:
            for store in opened:
                self.loop.run_until_complete(store.close())
            self.loop.close()


def test_random_command_sequences_agree(redis_url: str, tmp_path: Path) -> None:
    HallMachine.redis_url = redis_url
    HallMachine.data_root = tmp_path
    run_state_machine_as_test(
        HallMachine,
        settings=settings(
            max_examples=100,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            # each step runs on a real Redis: shrinking a failure to the shortest sequence can take
            # minutes, so a failure is reported as found (at most 50 steps, printed in full)
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )


def test_reference_model_sanity() -> None:
    """The reference itself behaves as the hall's rules say (so a disagreement points at the core)."""
    ref = ReferenceHall()
    assert [ref.issue("A", None), ref.issue("A", "disabled"), ref.issue("A", "elderly")] == ["A001", "A002", "A003"]
    ref.open(1, "k1")
    assert [ref.call(1)] == ["A003"]
    ref.start(1)
    ref.finish(1)
    assert ref.call(1) == "A002"
    with pytest.raises(Refused, match="window_busy"):
        ref.call(1)
    for _ in range(3):
        ref.issue("B", None)
    with pytest.raises(Refused, match="daily_cap_reached"):
        ref.issue("B", None)
