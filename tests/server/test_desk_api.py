"""The desk over the real server: 叫指定号, 挂起 and 恢复办理 through the API, the console feed's desk."""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect

from tests.server.conftest import HALL
from tests.server.test_ws import is_event, open_window, recv_json, recv_until


def issue(server, tokens, category: str, **body) -> dict:
    resp = server.post(f"{HALL}/tickets", {"category": category, **body}, token=tokens.kiosk)
    assert resp.status == 201, resp.body
    return dict(resp.body)


def test_a_chosen_call_suspend_and_resume_through_the_api_and_the_console_feed(server, tokens):
    clerk = open_window(server, tokens, 16, "c16")
    win = f"{HALL}/windows/16"
    reasons = server.get(HALL).body["call_reasons"]
    assert reasons["returned"] == {"zh": "补齐材料回到窗口", "en": "Came back with the missing documents"}
    first = issue(server, tokens, "tax")
    second = issue(server, tokens, "tax")

    async def scenario():
        async with connect(f"{server.ws}/ws/console/16?hall=demo&token={clerk}") as console:
            snap = await recv_json(console)
            assert [r["number"] for r in snap["desk"]["queue"]] == [first["number"], second["number"]]
            assert snap["desk"]["served_today"] == 0
            refused = server.post(f"{win}/call-ticket", {"ticket": second["ticket"], "reason": "nope"}, token=clerk)
            assert refused.status == 422 and refused.error["field"] == "reason"
            called = server.post(f"{win}/call-ticket", {"ticket": second["ticket"], "reason": "special"}, token=clerk)
            assert called.status == 200 and called.body["rule"] == "chosen"
            msgs = await recv_until(console, is_event("ticket.called", number=second["number"]))
            assert [r["number"] for r in msgs[-1]["desk"]["queue"]] == [first["number"]]
            assert server.post(f"{win}/start", token=clerk).status == 200
            assert server.post(f"{win}/suspend", {"reason": "复印材料"}, token=clerk).status == 200
            msgs = await recv_until(console, is_event("ticket.suspended", number=second["number"]))
            assert [s["number"] for s in msgs[-1]["desk"]["suspended"]] == [second["number"]]
            status = server.get(f"{HALL}/tickets/{second['ticket']}").body
            assert status["state"] == "suspended" and status["where"]["zh"] == "已挂起，请补齐材料后回到窗口"
            resumed = server.post(f"{win}/resume-ticket", {"ticket": second["ticket"]}, token=clerk)
            assert resumed.status == 200
            await recv_until(console, is_event("ticket.resumed", number=second["number"]))
            assert server.post(f"{win}/finish", token=clerk).status == 200
            msgs = await recv_until(console, is_event("ticket.finished", number=second["number"]))
            assert msgs[-1]["desk"]["served_today"] == 1

    asyncio.run(scenario())
    other = tokens.login("c17")
    refused = server.post(f"{win}/call-ticket", {"ticket": first["ticket"], "reason": "special"}, token=other)
    assert refused.status == 403  # a clerk calls only at their own window
