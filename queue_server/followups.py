"""差评整改 follow-up items as the manager sees them: overdue first, then by due date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .config import Hall
from .model import RATING_LEVELS, FollowUp, HallState


def is_overdue(f: FollowUp, today: date) -> bool:
    """Still open after its due day."""
    return f.stage != "closed" and today > date.fromisoformat(f.due)


def followup_rows(hall: Hall, state: HallState, now: float, include_closed: bool = True) -> list[dict[str, Any]]:
    """Every follow-up, overdue ones first, then open ones by due date, then closed ones."""
    today = datetime.fromtimestamp(now, hall.tz).date()
    rows = []
    for f in state.followups.values():
        if f.stage == "closed" and not include_closed:
            continue
        overdue = is_overdue(f, today)
        row = f.view() | {
            "overdue": overdue,
            "days_left": (date.fromisoformat(f.due) - today).days,
            "level_name": RATING_LEVELS[f.level][0],
            "category_name": hall.category(f.category).name,
            "clerk_name": _clerk_name(hall, f.clerk),
        }
        rows.append(row)
    rows.sort(key=lambda r: (not r["overdue"], r["stage"] == "closed", r["due"], r["opened_at"]))
    return rows


def _clerk_name(hall: Hall, clerk: str | None) -> str | None:
    if clerk is None:
        return None
    try:
        return hall.clerk(clerk).name
    except KeyError:
        return clerk
