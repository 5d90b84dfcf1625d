"""CME Globex trading hours in America/Chicago: Sunday 17:00 to Friday 16:00, halted 16:00-17:00 daily.

Exchange holidays and early closes are not modelled (the simulator trades through them); the daemon's
own calendar handles those for its rules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHICAGO = ZoneInfo("America/Chicago")
SESSION_OPEN = time(17, 0)
SESSION_CLOSE = time(16, 0)


class MarketHours:
    def __init__(self, always_open: bool = False) -> None:
        self.always_open = always_open

    def is_open(self, now: datetime) -> bool:
        if self.always_open:
            return True
        local = now.astimezone(CHICAGO)
        weekday, t = local.weekday(), local.time()
        if weekday == 5:  # Saturday
            return False
        if weekday == 6:  # Sunday: opens at 17:00
            return t >= SESSION_OPEN
        if weekday == 4:  # Friday: closes at 16:00 for the weekend
            return t < SESSION_CLOSE
        return not (SESSION_CLOSE <= t < SESSION_OPEN)

    def session_date(self, now: datetime) -> date:
        """Trading date of ``now``: the session that opens at 17:00 CT belongs to the next calendar day."""
        local = now.astimezone(CHICAGO)
        return local.date() + timedelta(days=1) if local.time() >= SESSION_OPEN else local.date()

    def next_change(self, now: datetime) -> datetime | None:
        """The next instant the open/closed state flips (None when always open); minute resolution."""
        if self.always_open:
            return None
        state = self.is_open(now)
        local = now.astimezone(CHICAGO)
        # Candidate boundaries: today's/next days' 16:00 and 17:00 local.
        for days in range(0, 4):
            day = local.date() + timedelta(days=days)
            for at in (SESSION_CLOSE, SESSION_OPEN):
                candidate = datetime.combine(day, at, tzinfo=CHICAGO).astimezone(UTC)
                if candidate > now and self.is_open(candidate) != state:
                    return candidate
        return None

    def describe(self) -> str:
        if self.always_open:
            return "always open (--always-open)"
        return "CME Globex: Sun 17:00 - Fri 16:00 America/Chicago, daily halt 16:00-17:00"
