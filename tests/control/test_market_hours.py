"""Market hours as the trader sees them, with an explicit clock: open/closed, next close or open,
next reset, holidays and early closes of the next 7 days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from risk_manager.daemon.control.market import market_hours
from risk_manager.domain.calendar import Holidays, SessionWindow, TradingCalendar

CHICAGO = ZoneInfo("America/Chicago")


def calendar(**holidays: object) -> TradingCalendar:
    return TradingCalendar(
        session=SessionWindow(time(8, 30), time(15, 0), CHICAGO),
        holidays=Holidays(**holidays),  # type: ignore[arg-type]
    )


def chicago(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=CHICAGO).astimezone(UTC)


def test_inside_the_session_it_is_open_and_says_when_it_closes() -> None:
    monday = date(2026, 3, 2)
    answer = market_hours(calendar(), chicago(monday, time(10, 0)))
    assert answer["session"]["open"] is True
    assert answer["session"]["closes_at"] == "2026-03-02T21:00:00.000Z"  # 15:00 CST
    assert answer["session"]["opens_at"] is None
    assert answer["session"]["hours"] == {"start": "08:30", "end": "15:00", "timezone": "America/Chicago"}
    assert answer["next_reset"] == "2026-03-02T23:00:00.000Z"
    assert answer["timezone"] == "America/Chicago"


def test_after_fridays_close_it_opens_again_on_monday() -> None:
    friday = date(2026, 3, 6)
    answer = market_hours(calendar(), chicago(friday, time(16, 0)))
    assert answer["session"]["open"] is False and answer["session"]["closes_at"] is None
    assert answer["session"]["opens_at"] == "2026-03-09T13:30:00.000Z"  # Monday 08:30 CDT (DST began)


def test_holidays_and_early_closes_within_the_next_7_days_are_listed_and_later_ones_are_not() -> None:
    monday = date(2026, 3, 2)
    answer = market_hours(
        calendar(closed=frozenset({date(2026, 3, 4), date(2026, 3, 20)}),
                 early_close={date(2026, 3, 5): time(12, 0)}),
        chicago(monday, time(10, 0)),
    )
    assert answer["holidays"] == [
        {"date": "2026-03-04", "closed": True, "early_close": None},
        {"date": "2026-03-05", "closed": False, "early_close": "2026-03-05T18:00:00.000Z"},
    ]


def test_without_session_hours_the_market_is_always_open() -> None:
    answer = market_hours(TradingCalendar(), datetime(2026, 3, 7, 12, tzinfo=UTC))
    assert answer["session"] == {"configured": False, "open": True, "closes_at": None, "opens_at": None,
                                 "hours": None}
    assert answer["holidays"] == []
