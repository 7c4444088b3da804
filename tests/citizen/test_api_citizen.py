"""The citizen and accountability API against a real ``hallq serve`` process."""

from __future__ import annotations

import json

from tests.server.conftest import HALL

from .conftest import id_number

RAW_ID, NAME, PHONE = id_number(42), "赵子龙", "13712345678"


def _first_slot(server, category="household"):
    slots = server.get(f"{HALL}/appointments/slots?category={category}").body["slots"]
    return next(s for s in slots if s["left"] > 0)


def test_booking_masks_personal_data_and_kiosk_check_in_issues_a_priority_ticket(server, tokens):
    options = server.get(f"{HALL}/appointments/options").body
    assert "household" in {c["id"] for c in options["categories"]} and options["rules"]["days_ahead"] == 5
    slot = _first_slot(server)
    body = {"category": "household", "slot_start": slot["start"], "name": NAME, "id_number": RAW_ID, "phone": PHONE}
    wrong_check = RAW_ID[:17] + ("1" if RAW_ID[17] != "1" else "2")
    bad = server.post(f"{HALL}/appointments", body | {"id_number": wrong_check})
    assert bad.status == 422 and bad.error["field"] == "id_number" and "身份证" in bad.error["message"]
    made = server.post(f"{HALL}/appointments", body)
    assert made.status == 201, made.body
    assert made.body["name"] == "赵*龙" and made.body["phone"] == "137****5678"
    code, token = made.body["booking"], made.body["token"]
    other = {"category": "real-estate", "slot_start": _first_slot(server, "real-estate")["start"]}
    again = server.post(f"{HALL}/appointments", body | other)
    assert again.status == 409 and again.error["code"] == "already_booked"
    assert server.get(f"{HALL}/appointments/{code}").status == 403
    assert server.get(f"{HALL}/appointments/{code}?token=wrong").status == 403
    mine = server.get(f"{HALL}/appointments/{code}?token={token}")
    assert mine.status == 200 and mine.body["name"] == "赵*龙" and "person" not in mine.body
    admin = tokens.login("admin")
    log = json.dumps(server.get(f"{HALL}/events", token=admin).body, ensure_ascii=False)
    for secret in (RAW_ID, NAME, PHONE):
        assert secret not in log
    listed = server.get(f"{HALL}/appointments", token=admin).body["bookings"]
    assert [b["name"] for b in listed] == ["赵*龙"]
    # check in at the kiosk by ID number: the slot starts within 30 minutes
    assert server.post(f"{HALL}/checkin", {"id_number": RAW_ID}).status == 401
    ticket = server.post(f"{HALL}/checkin", {"id_number": RAW_ID.lower()}, token=tokens.kiosk)
    assert ticket.status == 201, ticket.body
    assert ticket.body["number"].startswith("J") and ticket.body["appointment_start"] == slot["start"]
    assert server.get(f"{HALL}/appointments/{code}?token={token}").body["state"] == "checked_in"
    cancel = server.post(f"{HALL}/appointments/{code}/cancel", {"token": token})
    assert cancel.status == 409


def test_remote_ticket_expires_unless_checked_in(server, tokens):
    a = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "phone", "phone": "13800000001"})
    b = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "phone", "phone": "13800000002"})
    assert a.status == b.status == 201 and a.body["status"]["arrived"] is False
    assert "签到" in a.body["status"]["where"]["zh"]
    checked = server.post(f"{HALL}/checkin", {"phone": "138 0000 0002"}, token=tokens.kiosk)
    assert checked.status == 200 and checked.body["ticket"] == b.body["ticket"]
    clerk = tokens.login("c16")
    assert server.post(f"{HALL}/windows/16/open", {}, token=clerk).status == 200
    called = server.post(f"{HALL}/windows/16/call-next", {}, token=clerk)
    assert called.body["ticket"] == b.body["ticket"] and called.body["expired"] == [a.body["ticket"]]
    assert server.get(f"{HALL}/tickets/{a.body['ticket']}").body["state"] == "expired"
    none = server.post(f"{HALL}/checkin", {"phone": "13800000001"}, token=tokens.kiosk)
    assert none.status == 404 and none.error["field"] == "phone"


def test_bad_rating_follow_up_appeal_and_reports(server, tokens):
    admin, clerk = tokens.login("admin"), tokens.login("c16")
    issued = server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).body
    server.post(f"{HALL}/windows/16/open", {}, token=clerk)
    for step in ("call-next", "start"):
        assert server.post(f"{HALL}/windows/16/{step}", {}, token=clerk).status == 200
    server.post(f"{HALL}/windows/16/finish", {"outcome": "completed", "case_number": "SW-9"}, token=clerk)
    rating = {"level": 2, "reason": "态度不好", "efficiency": 3, "skill": 3, "attitude": 1, "token": issued["token"]}
    rated = server.post(f"{HALL}/tickets/{issued['ticket']}/rating", rating)
    assert rated.status == 200 and rated.body["followup"]["owner"] == "admin"
    fid = rated.body["followup"]["id"]
    assert server.get(f"{HALL}/followups").status == 401
    listed = server.get(f"{HALL}/followups", token=admin).body["followups"]
    assert [(f["id"], f["stage_name"], f["case_number"], f["overdue"]) for f in listed] == [
        (fid, "核实", "SW-9", False)
    ]
    assert len(server.get(f"{HALL}/followups", token=clerk).body["followups"]) == 1  # their own
    assert server.post(f"{HALL}/followups/{fid}/advance", {"note": "x"}, token=clerk).status == 403
    assert server.post(f"{HALL}/followups/{fid}/appeal", {"reason": "群众误解政策"}, token=clerk).status == 200
    decided = server.post(f"{HALL}/followups/{fid}/decide-appeal", {"upheld": False, "note": "不成立"}, token=admin)
    assert decided.status == 200
    advanced = server.post(f"{HALL}/followups/{fid}/advance", {"note": "已核实"}, token=admin)
    assert advanced.body["stage_name"] == "整改"
    assert server.post(f"{HALL}/followups/{fid}/advance", {}, token=admin).status == 422

    assert server.get(f"{HALL}/reports").status == 401 and server.get(f"{HALL}/reports", token=clerk).status == 403
    report = server.get(f"{HALL}/reports?by=clerk&plots=1", token=admin).body
    row = next(r for r in report["rows"] if r["key"] == "c16")
    assert (row["served"], row["rated"], row["bad"], row["good_rate"]) == (1, 1, 1, 0.0)
    assert report["plots"]["tickets"].lstrip().startswith("<?xml") and report["bookings"] == []
    bad_period = server.get(f"{HALL}/reports?period=yearly", token=admin)
    assert bad_period.status == 422 and bad_period.error["field"] == "period"
    csv_resp = server.get(f"{HALL}/reports.csv?by=window", token=admin)
    assert csv_resp.status == 200 and "平均等候" in csv_resp.body
    export = server.get(f"{HALL}/ratings/export", token=admin).body
    assert export["count"] == 1 and export["records"][0]["scores"]["attitude"] == 1
    sheet = server.get(f"{HALL}/evaluation", token=admin).body
    assert [r["clerk"] for r in sheet["rows"]] == ["c16"]
    assert server.get(f"{HALL}/evaluation?quarter=Q9", token=admin).status == 422
    doc = server.get("/api/v1/openapi.json").body
    assert "/api/v1/halls/{hall}/followups/{followup}/advance" in doc["paths"]
