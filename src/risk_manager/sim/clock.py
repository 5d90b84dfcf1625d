"""Clocks for the simulated gateway.

The gateway reads time only through a ``Clock`` so tests can pin it: token expiry, rate-limit
windows, trading hours, timestamps of orders/trades/quotes and the market random walk all follow
the injected clock. Network-level timers (SignalR pings, handshake timeout, fault delays) are wall
time on purpose: they exist to exercise a client's real timeouts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, tz-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, deterministic demos)."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start, "ManualClock start")

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> datetime:
        self._now = _aware(when, "ManualClock.set")
        return self._now

    def advance(self, by: float | timedelta) -> datetime:
        """Move forward by seconds or a timedelta; moving backwards is refused (time never runs back)."""
        delta = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if delta < timedelta(0):
            raise ValueError(f"ManualClock.advance: cannot move backwards ({delta})")
        self._now += delta
        return self._now


def _aware(when: datetime, where: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{where}: datetime must be timezone-aware (got naive {when.isoformat()})")
    return when.astimezone(UTC)
