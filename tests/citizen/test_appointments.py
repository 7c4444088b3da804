"""预约: slots from capacity, limits, cancellation, kiosk check-in, no-show restriction, masking."""

from __future__ import annotations

from datetime import date, time

import pytest

from queue_server import appointments
from queue_server.auth import Authority
from queue_server.commands import BookAppointment, CallNext, CancelBooking, CheckIn, IssueTicket, OpenWindow
from queue_server.config import load_config
from queue_server.privacy import PersonalDataError, check_id_number, mask_name, mask_phone
from tests.conftest import ROOT

from .conftest import Hallq, at, id_number

AUTH = Authority(load_config(ROOT / "config.yaml"), b"unit-test-secret")
MON = "2026-11-23"


def person(serial: int) -> str:
    return AUTH.person_key(id_number(serial))


def book(hq: Hallq, serial: int, day: str = MON, hhmm: str = "14:00", category: str = "household") -> dict:
    return hq.do(
        BookAppointment(category, at(day, hhmm), person(serial), mask_name("张三丰"), mask_phone("13812345678"))
    )


def test_slot_capacity_is_derived_from_windows_and_keeps_the_walk_in_share(hq):
    hall = hq.hall
    # household is served by windows 13 and 14, which share their time with exit-entry by volume (60:50)
    expected = 2 * 60 / 110 * 30 / 8 * (1 - 0.5)
    slots = appointments.day_slots(hall, hq.state, "household", date(2026, 11, 23), hq.clock.now())
    assert {s.capacity for s in slots} == {int(expected)}
    all_booking = hall.model_copy(update={"appointments": hall.appointments.model_copy(update={"walk_in_share": 0})})
    assert appointments.slot_capacity(all_booking, "household", date(2026, 11, 23), time(9, 30)) == int(expected * 2)


def test_slots_skip_lunch_closed_days_and_the_past(hq):
    hall = hq.hall
    labels = [
        s.as_dict(hall)["label"]
        for s in appointments.day_slots(hall, hq.state, "household", date(2026, 11, 23), hq.clock.now())
    ]
    assert labels[0] == "09:30–10:00"  # 09:00 has started already
    assert "12:00–12:30" not in labels and "13:30–14:00" in labels and labels[-1] == "16:30–17:00"
    assert appointments.day_slots(hall, hq.state, "household", date(2026, 11, 28), hq.clock.now()) == []  # Saturday
    assert appointments.day_slots(hall, hq.state, "household", date(2026, 12, 31), hq.clock.now()) == []  # holiday
    assert appointments.day_slots(hall, hq.state, "tax", date(2026, 11, 24), hq.clock.now()) == []  # not bookable


def test_booking_stores_only_a_hash_and_masked_name_and_phone(hq):
    raw_id = id_number(7)
    result = hq.do(
        BookAppointment(
            "household", at(MON, "14:00"), AUTH.person_key(raw_id), mask_name("李小龙"), mask_phone("13912345678")
        )
    )
    assert result["name"] == "李*龙" and result["phone"] == "139****5678" and "person" not in result
    log = "".join(e.to_json() for e in hq.events())
    for secret in (raw_id, "李小龙", "13912345678"):
        assert secret not in log
    assert (
        hq.refused(BookAppointment("household", at(MON, "15:00"), raw_id, "李*龙", "139****5678")).code == "bad_person"
    )
    assert (
        hq.refused(BookAppointment("household", at(MON, "15:00"), person(8), "李小龙", "139****5678")).code
        == "unmasked"
    )


def test_masking_and_id_number_checks():
    assert (
        mask_name("王五") == "王*" and mask_name("欧阳娜娜") == "欧**娜" and mask_phone("13800001111") == "138****1111"
    )
    assert check_id_number(id_number(3).lower()) == id_number(3)
    bad = id_number(3)[:-1] + ("0" if id_number(3)[-1] != "0" else "1")
    for wrong in (bad, "12345", "110101198013450011"):
        with pytest.raises(PersonalDataError):
            check_id_number(wrong)


def test_one_booking_per_person_per_day(hq):
    book(hq, 1, hhmm="14:00")
    again = hq.refused(BookAppointment("real-estate", at(MON, "15:00"), person(1), "张*丰", "138****5678"))
    assert again.code == "already_booked"
    book(hq, 1, day="2026-11-24", hhmm="10:00")  # another day is fine


def test_days_ahead_counts_working_days(hq):
    book(hq, 1, day="2026-11-30", hhmm="09:00")  # Monday + 5 working days
    assert (
        hq.refused(BookAppointment("household", at("2026-12-01", "09:00"), person(2), "张*", "138****5678")).code
        == "too_far_ahead"
    )
    # across the New Year holidays and a weekend: Tue 29 Dec + 5 working days = Thu 7 Jan
    hq.set("2026-12-29", "09:00")
    assert appointments.last_bookable_day(hq.hall, hq.clock.now()) == date(2027, 1, 7)


def test_a_full_slot_refuses_and_a_cancellation_frees_it(hq):
    first = book(hq, 1)
    book(hq, 2)
    full = hq.refused(BookAppointment("household", at(MON, "14:00"), person(3), "张*", "138****5678"))
    assert full.code == "slot_full"
    hq.do(CancelBooking(first["booking"]))
    book(hq, 3)


def test_cancellation_up_to_two_hours_before(hq):
    b1 = book(hq, 1, hhmm="14:00")
    b2 = book(hq, 2, hhmm="14:00")
    hq.set(MON, "11:59")
    hq.do(CancelBooking(b1["booking"]))
    hq.set(MON, "12:01")
    assert hq.refused(CancelBooking(b2["booking"])).code == "too_late_to_cancel"
    assert hq.state.bookings[b2["booking"]].state == "booked"


def test_check_in_window_priority_ticket_and_late_fallback(hq):
    on_time = book(hq, 1, hhmm="14:00")
    late = book(hq, 2, hhmm="14:00")
    hq.set(MON, "13:25")
    assert hq.refused(CheckIn(booking=on_time["booking"])).code == "too_early"
    hq.set(MON, "13:35")
    walk_in = hq.do(IssueTicket("household"))
    hq.set(MON, "13:40")
    ticket = hq.do(CheckIn(person=person(1)))  # by ID number (its hash) at the kiosk
    assert ticket["appointment_start"] == at(MON, "14:00")
    assert hq.state.bookings[on_time["booking"]].state == "checked_in"
    hq.do(OpenWindow(13, "c13"))
    hq.set(MON, "13:55")
    called = hq.do(CallNext(13))
    assert called["ticket"] == ticket["ticket"] and called["rule"] == "appointment"
    hq.set(MON, "14:16")  # past the 15-minute late window
    fallback = hq.do(CheckIn(booking=late["booking"].lower()))
    assert fallback["late"] is True and "appointment_start" not in fallback
    assert hq.state.tickets[fallback["ticket"]].channel == "kiosk"
    assert hq.state.bookings[late["booking"]].state == "late"
    assert hq.refused(CheckIn(booking=late["booking"])).code == "illegal_transition"
    assert walk_in["ticket"] != fallback["ticket"]


def test_check_in_only_on_the_booked_day(hq):
    b = book(hq, 1, day="2026-11-24", hhmm="10:00")
    assert hq.refused(CheckIn(booking=b["booking"])).code == "wrong_day"


def test_repeated_no_shows_restrict_booking(hq):
    for day in ("2026-11-23", "2026-11-24", "2026-11-25"):
        hq.set(day, "09:00")
        book(hq, 9, day=day, hhmm="10:00")
    hq.set("2026-11-26", "09:00")
    refused = hq.refused(BookAppointment("household", at("2026-11-26", "10:00"), person(9), "张*", "138****5678"))
    assert refused.code == "booking_restricted" and refused.status == 403
    book(hq, 10, day="2026-11-26", hhmm="10:00")  # someone else is not affected
    hq.set("2026-12-28", "09:00")  # 30 days after the last no-show
    book(hq, 9, day="2026-12-28", hhmm="10:00")


def test_appointment_and_follow_up_settings_are_validated_with_field_names():
    import yaml

    from queue_server.config import parse_config
    from queue_server.errors import ConfigError

    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["appointments"] = {"categories": ["nope"], "walk_in_share": 1.5, "slot_minutes": 30}
    raw["followups"] = {"owner": "c01"}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert [i.path for i in info.value.issues] == ["appointments.walk_in_share"]
    raw["appointments"]["walk_in_share"] = 0.3
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert {f"{i.path}: {i.message}" for i in info.value.issues} == {
        "followups.owner: no manager 'c01' in auth.users",
        "appointments.categories: unknown category 'nope'",
    }
