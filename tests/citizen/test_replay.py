"""The new events replay to the same state in both stores (embedded journal and a real redis-server)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.clock import ManualClock
from queue_server.commands import AdvanceFollowUp, BookAppointment, CancelBooking, CheckIn
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore
from queue_server.stores.redis import RedisStore

from .conftest import Hallq, at
from .test_reports import two_days

FAR = "f" * 32


def _drive(hq: Hallq) -> None:
    two_days(hq)
    hq.set("2026-11-24", "10:00")
    kept = hq.do(BookAppointment("household", at("2026-11-25", "10:00"), FAR, "张*", "138****0000"))
    hq.do(CancelBooking(kept["booking"]))
    other = hq.do(BookAppointment("household", at("2026-11-24", "10:30"), "g" * 32, "李*", "139****0000"))
    hq.do(CheckIn(booking=other["booking"]))
    fid = next(iter(hq.state.followups))
    hq.do(AdvanceFollowUp(fid, "已核实"))


def _fingerprint(service: HallService) -> tuple:
    s = service.state
    return (
        s.seq,
        sorted((b.code, b.state, b.ticket) for b in s.bookings.values()),
        sorted((f.id, f.stage, len(f.notes)) for f in s.followups.values()),
        sorted((t.id, t.state, t.arrived, t.booking) for t in s.tickets.values()),
        dict(s.slot_booked),
    )


def _replayed(example_hall, make_store) -> None:
    loop = asyncio.new_event_loop()
    store = make_store()
    service = HallService(example_hall, store, ManualClock(at("2026-11-23", "09:00")))
    loop.run_until_complete(service.start())
    _drive(Hallq(service, service.clock, loop))  # type: ignore[arg-type]
    again = HallService(example_hall, store, service.clock)
    loop.run_until_complete(again.start())
    assert _fingerprint(again) == _fingerprint(service)
    assert again.state.bookings and again.state.followups
    loop.run_until_complete(store.close())
    loop.close()


def test_journal_replays_bookings_and_follow_ups(example_hall, tmp_path):
    _replayed(example_hall, lambda: MemoryStore(tmp_path, "never"))


def test_redis_replays_bookings_and_follow_ups(example_hall, redis_url):
    _replayed(example_hall, lambda: RedisStore(redis_url))


@settings(max_examples=200, deadline=None)
@given(st.dates(date(2026, 1, 1), date(2028, 12, 31)), st.integers(0, 40))
def test_add_working_days_lands_on_the_nth_working_day(example_hall, start, n):
    hours = example_hall.hours
    due = hours.add_working_days(start, n)
    between = [start + timedelta(days=i) for i in range(1, (due - start).days + 1)]
    assert sum(hours.is_working_day(d) for d in between) == n
    assert n == 0 or hours.is_working_day(due)


def test_a_lagging_worker_rechecks_a_refusal_against_the_store(example_hall):
    """Two services on one store: the one that has not seen "start" still finishes the service."""
    from queue_server.commands import CallNext, FinishService, IssueTicket, OpenWindow, StartService

    loop = asyncio.new_event_loop()
    store = MemoryStore(None)
    clock = ManualClock(at("2026-11-23", "09:00"))
    first, second = HallService(example_hall, store, clock), HallService(example_hall, store, clock)
    try:
        for cmd in (OpenWindow(16, "c16"), IssueTicket("tax"), CallNext(16), StartService(16)):
            loop.run_until_complete(first.execute(cmd, "clerk:c16"))
        done = loop.run_until_complete(second.execute(FinishService(16), "clerk:c16"))
        assert done["event"] == "ticket.finished" and second.state.seq == 5
    finally:
        loop.close()
