"""Pages for citizens and accountability: booking (预约),
remote tickets (线上取号), bad-rating follow-ups (差评整改) and reports (统计报表).

The pages are shells; their data comes from the JSON API (``/api/v1``) through the
scripts in ``static/js``. Nothing personal is rendered server-side. Check-in (签到) is
on the kiosk page itself (``/checkin`` leads there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Request, Sanic
from sanic.response import HTTPResponse, html

ROOT = Path(__file__).resolve().parent
env = Environment(loader=FileSystemLoader(ROOT / "templates"), autoescape=select_autoescape(["html"]))

PAGES: tuple[tuple[str, str, str], ...] = (
    ("/booking", "booking.html", "预约办理 Book an appointment"),
    ("/remote", "booking_remote.html", "线上取号 Take a ticket on your phone"),
    ("/followups", "followups.html", "差评整改 Rating follow-ups"),
    ("/reports", "report.html", "统计报表 Reports"),
    ("/evaluation", "report_evaluation.html", "季度考评 Quarterly evaluation"),
)


def _page(template: str, title: str) -> Any:
    async def handler(request: Request) -> HTTPResponse:
        halls = request.app.ctx.deployment.halls
        hall_id = request.args.get("hall") or halls[0].id
        hall = next((h for h in halls if h.id == hall_id), halls[0])
        return html(env.get_template(template).render(hall=hall, title=title))

    return handler


def register(app: Sanic) -> None:
    for path, template, title in PAGES:
        app.add_route(_page(template, title), path, name="citizen_" + path.strip("/"))
