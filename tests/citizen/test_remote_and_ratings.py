"""线上取号 (check-in, expiry, per-phone caps) and 好差评 with follow-up items (due dates, stages, appeals)."""

from __future__ import annotations

from datetime import date

from queue_server.commands import (
    AdvanceFollowUp,
    AppealRating,
    AssignFollowUp,
    CallNext,
    CheckInTicket,
    DecideAppeal,
    FinishService,
    IssueTicket,
    NoteFollowUp,
    OpenWindow,
    RateService,
    StartService,
)
from queue_server.config import Hours
from queue_server.followups import followup_rows
from queue_server.views import ticket_status

from .conftest import Hallq

PHONE = "k" * 24  # a phone's keyed hash as the API passes it


def served(hq: Hallq, window: int = 16, clerk: str = "c16", case: str | None = "SW-1") -> str:
    """A tax ticket taken, called and finished at ``window``; returns its id."""
    t = hq.do(IssueTicket("tax"))["ticket"]
    if hq.state.windows.get(window) is None or hq.state.windows[window].status == "closed":
        hq.do(OpenWindow(window, clerk))
    hq.do(CallNext(window))
    hq.do(StartService(window))
    hq.do(FinishService(window, "completed", case))
    return str(t)


def test_remote_ticket_expires_when_its_number_comes_up_unchecked(hq):
    remote = hq.do(IssueTicket("tax", "phone", phone_key=PHONE))
    assert remote["arrived"] is False
    status = ticket_status(hq.hall, hq.state, hq.state.tickets[remote["ticket"]], hq.clock.now())
    assert "签到" in status["where"]["zh"]
    walk_in = hq.do(IssueTicket("tax"))
    hq.do(OpenWindow(16, "c16"))
    called = hq.do(CallNext(16))
    assert called["ticket"] == walk_in["ticket"] and called["expired"] == [remote["ticket"]]
    assert hq.state.tickets[remote["ticket"]].state == "expired"
    assert hq.refused(CheckInTicket(ticket=remote["ticket"])).code == "illegal_transition"


def test_checked_in_remote_ticket_keeps_its_place(hq):
    remote = hq.do(IssueTicket("tax", "phone", phone_key=PHONE))
    hq.do(IssueTicket("tax"))
    hq.clock.advance(600)
    checked = hq.do(CheckInTicket(phone_key=PHONE))  # found by the phone at the kiosk
    assert checked["ticket"] == remote["ticket"] and checked["ahead"] == 0
    hq.do(OpenWindow(16, "c16"))
    assert hq.do(CallNext(16))["ticket"] == remote["ticket"]


def test_only_unchecked_remote_tickets_waiting_expire_with_their_own_event(hq):
    remote = hq.do(IssueTicket("tax", "phone", phone_key=PHONE))
    hq.do(OpenWindow(16, "c16"))
    result = hq.do(CallNext(16))
    assert result["event"] == "ticket.expired" and result["expired"] == [remote["ticket"]] and result["ticket"] is None
    assert hq.refused(CallNext(16)).code == "queue_empty"


def test_per_phone_daily_cap_resets_next_day(hq):
    for _ in range(3):
        hq.do(IssueTicket("tax", "phone", phone_key=PHONE))
    refused = hq.refused(IssueTicket("tax", "phone", phone_key=PHONE))
    assert refused.code == "phone_cap_reached" and refused.status == 429
    hq.do(IssueTicket("tax", "phone", phone_key="x" * 24))  # another phone
    hq.set("2026-11-24", "09:00")
    hq.do(IssueTicket("tax", "phone", phone_key=PHONE))


def test_rating_keeps_the_four_indicators_bound_to_ticket_and_case(hq):
    t = served(hq)
    result = hq.do(RateService(t, 5, None, efficiency=4, skill=5, attitude=3), actor="pad:pad-16")
    rated = hq.events()[-1]
    assert rated.type == "ticket.rated" and rated.data["case_number"] == "SW-1"
    assert (rated.data["efficiency"], rated.data["skill"], rated.data["attitude"]) == (4, 5, 3)
    assert "followup" not in result and not hq.state.followups
    assert hq.refused(RateService(t, 4)).code == "already_rated"
    t2 = served(hq)
    assert hq.refused(RateService(t2, 5, None, efficiency=6)).field == "efficiency"


def test_every_bad_rating_opens_a_follow_up_due_in_15_working_days(hq):
    good = served(hq)
    hq.do(RateService(good, 3))
    for level in (2, 1):
        t = served(hq)
        result = hq.do(RateService(t, level, "等太久"))
        assert result["followup"]["due"] == "2026-12-14"  # Mon 23 Nov + 15 working days
    assert len(hq.state.followups) == 2
    f = next(iter(hq.state.followups.values()))
    assert (f.stage, f.owner, f.clerk, f.window, f.case_number) == ("verify", "admin", "c16", 16, "SW-1")


def test_due_date_skips_weekends_and_configured_holidays(hq):
    hours = hq.hall.hours
    # Thu 24 Dec 2026: 31 Dec and 1 Jan are holidays, two weekends in between
    assert hours.add_working_days(date(2026, 12, 24), 15) == date(2027, 1, 18)
    swapped = Hours.model_validate(hours.model_dump() | {"workdays": [date(2027, 1, 9)]})  # 调休: a Saturday worked
    assert swapped.add_working_days(date(2026, 12, 24), 15) == date(2027, 1, 15)
    hq.set("2026-12-24", "10:00")
    t = served(hq)
    assert hq.do(RateService(t, 1))["followup"]["due"] == "2027-01-18"


def test_follow_up_goes_verify_rectify_revisit_closed(hq):
    t = served(hq)
    fid = hq.do(RateService(t, 2))["followup"]["id"]
    hq.do(AssignFollowUp(fid, "chief"))
    hq.do(NoteFollowUp(fid, "已电话联系群众"))
    stages = [hq.do(AdvanceFollowUp(fid, f"第{i}步完成"))["to"] for i in range(3)]
    assert stages == ["rectify", "revisit", "closed"]
    f = hq.state.followups[fid]
    assert f.owner == "chief" and f.closed_at is not None and len(f.notes) == 4
    assert hq.refused(AdvanceFollowUp(fid, "再来")).code == "followup_closed"
    assert hq.refused(AdvanceFollowUp(fid, " ")).code in ("followup_closed", "bad_note")


def test_appeal_path_for_unfair_ratings(hq):
    fids = [hq.do(RateService(served(hq), 1))["followup"]["id"] for _ in range(2)]
    hq.do(AppealRating(fids[0], "群众因政策规定不满，非窗口原因"), actor="clerk:c16")
    assert hq.refused(AdvanceFollowUp(fids[0], "整改")).code == "appeal_pending"
    assert hq.refused(AppealRating(fids[0], "再次申诉")).code == "already_appealed"
    hq.do(DecideAppeal(fids[0], True, "经核实属实"))
    assert hq.state.followups[fids[0]].stage == "closed" and hq.state.followups[fids[0]].appeal == "upheld"
    hq.do(AppealRating(fids[1], "不认可"))
    hq.do(DecideAppeal(fids[1], False, "录像显示态度生硬"))
    assert hq.state.followups[fids[1]].stage == "verify"
    hq.do(AdvanceFollowUp(fids[1], "已核实"))


def test_manager_list_puts_overdue_items_first(hq):
    early = hq.do(RateService(served(hq), 1))["followup"]["id"]
    hq.set("2026-12-10", "10:00")
    later = hq.do(RateService(served(hq), 2))["followup"]["id"]
    closed = hq.do(RateService(served(hq), 2))["followup"]["id"]
    for _ in range(3):
        hq.do(AdvanceFollowUp(closed, "处理"))
    hq.set("2026-12-15", "10:00")  # the first item was due on 14 Dec
    rows = followup_rows(hq.hall, hq.state, hq.clock.now())
    assert [r["id"] for r in rows] == [early, later, closed]
    assert rows[0]["overdue"] and not rows[1]["overdue"] and rows[0]["level_name"] == "非常不满意"


def test_tracker_feed_tells_a_remote_ticket_it_expired(hq):
    from queue_server.feeds import TicketFeed

    remote = hq.do(IssueTicket("tax", "phone", phone_key=PHONE))
    hq.do(IssueTicket("tax"))
    hq.do(OpenWindow(16, "c16"))
    feed = TicketFeed(hq.service, remote["ticket"])
    hq.do(CallNext(16))
    message = feed.render(hq.events()[-1])
    assert message is not None and message["status"]["state"] == "expired"
    assert "重新取号" in message["status"]["where"]["zh"]
