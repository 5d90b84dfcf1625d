"""Market hours as the trader sees them: is the session open, when does it close (or open), when is
the next daily reset, which of the next 7 days are holidays or close early. Pure: time is an input."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from risk_manager.domain.actions import format_time
from risk_manager.domain.calendar import TradingCalendar

HOLIDAY_DAYS = 7


def market_hours(calendar: TradingCalendar, now: datetime) -> dict[str, Any]:
    """The ``/v1/market-hours`` answer (times UTC ISO; ``timezone`` is the zone to show them in)."""
    window = calendar.window_for(None)
    is_open = calendar.in_session(None, now)
    closes_at = calendar.session_end_after(None, now) if is_open else None
    opens_at = None if is_open or window is None else calendar.next_session_start(None, now)
    zone = window.zone if window is not None else calendar.reset_zone
    today = now.astimezone(zone).date()
    holidays = []
    for offset in range(HOLIDAY_DAYS + 1):
        day = today + timedelta(days=offset)
        closed = calendar.closed_on(day)
        early = None if closed else calendar.early_close_on(day, zone)
        if closed or early is not None:
            holidays.append(
                {"date": day.isoformat(), "closed": closed, "early_close": _time(early)}
            )
    return {
        "now": format_time(now),
        "timezone": calendar.display_zone.key,
        "session": {
            "configured": window is not None,
            "open": is_open,
            "closes_at": _time(closes_at),
            "opens_at": _time(opens_at),
            "hours": None if window is None else {
                "start": window.start.strftime("%H:%M"),
                "end": window.end.strftime("%H:%M"),
                "timezone": window.zone.key,
            },
        },
        "next_reset": format_time(calendar.next_reset(now)),
        "holidays": holidays,
    }


def _time(t: datetime | None) -> str | None:
    return None if t is None else format_time(t)
