"""Trading-day and session calendar, on zoneinfo (DST-correct). Pure: time is always an argument.

- The *trading day* runs from one daily reset (default 17:00 America/Chicago) to the next and is
  labelled with the local date of the reset that ends it (Monday 17:00 → Tuesday 17:00 is Tuesday).
- *Sessions* (RULE-009) are windows ``start``-``end`` in a zone, on the weekdays a window STARTS,
  possibly wrapping midnight, with per-symbol overrides; holidays (closed all day) and early closes
  cut them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class DayBounds:
    label: date
    start: datetime  # UTC
    end: datetime  # UTC, exclusive


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """A daily window: opens ``start`` on each of ``days`` (local), closes ``end`` (next day if <= start)."""

    start: time
    end: time
    zone: ZoneInfo
    days: frozenset[int] = frozenset(range(5))  # 0 = Monday


@dataclass(frozen=True, slots=True)
class Holidays:
    closed: frozenset[date] = frozenset()
    early_close: dict[date, time] = field(default_factory=dict)


def local_at(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``at`` on ``day`` in ``zone`` (fold=0 for repeated hours)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


class TradingCalendar:
    """Daily resets and trading sessions. Construct from timers config (see config/), or directly in tests."""

    def __init__(
        self,
        reset_time: time = time(17, 0),
        reset_zone: ZoneInfo | str = "America/Chicago",
        session: SessionWindow | None = None,
        per_symbol: dict[str, SessionWindow] | None = None,
        holidays: Holidays | None = None,
        display_zone: ZoneInfo | str | None = None,
    ) -> None:
        self.reset_time = reset_time
        self.reset_zone = reset_zone if isinstance(reset_zone, ZoneInfo) else ZoneInfo(reset_zone)
        self.session = session
        self.per_symbol = dict(per_symbol or {})
        self.holidays = holidays or Holidays()
        dz = display_zone if display_zone is not None else self.reset_zone
        self.display_zone = dz if isinstance(dz, ZoneInfo) else ZoneInfo(dz)

    # ---- daily reset -------------------------------------------------------------------------

    def trading_day(self, now: datetime) -> DayBounds:
        """The trading day that contains ``now``: start <= now < end."""
        local = now.astimezone(self.reset_zone)
        today_reset = local_at(local.date(), self.reset_time, self.reset_zone)
        if now >= today_reset:
            end_date = local.date() + timedelta(days=1)
            return DayBounds(end_date, today_reset, local_at(end_date, self.reset_time, self.reset_zone))
        start = local_at(local.date() - timedelta(days=1), self.reset_time, self.reset_zone)
        return DayBounds(local.date(), start, today_reset)

    def next_reset(self, now: datetime) -> datetime:
        """The first daily reset strictly after ``now``."""
        return self.trading_day(now).end

    def show(self, t: datetime) -> str:
        """A time as shown to users: in the display zone, with its abbreviation."""
        return t.astimezone(self.display_zone).strftime("%Y-%m-%d %H:%M:%S %Z")
