"""The day's P&L curve of each account, as the dashboard draws it: (time, realized, net) samples.

The dashboard's pump records the read model into it as decisions and quotes arrive (at most a few
times a second); a sample is kept only when realized or net moved, so a quiet account costs nothing.
Memory is bounded: when an account's series reaches ``capacity`` points, every other point is
dropped (the curve keeps its whole day at half the resolution), so a long busy day never grows
without limit. A new trading day starts a new series. Points are stored compactly (epoch seconds and
whole cents in arrays, 24 bytes a point): a full day of 500 accounts is about 50 MB.

After a restart the realized curve can be rebuilt from the store's trade rows of the day
(``seed``): realized steps at each closing trade; the net curve then starts at the restart (the
store keeps no marks, so the unrealized P&L of earlier moments is not known).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from risk_manager.domain.actions import format_time
from risk_manager.domain.money import money
from risk_manager.domain.status import AccountStatus

__all__ = ["DEFAULT_CAPACITY", "PnlHistory", "PnlPoint"]

DEFAULT_CAPACITY = 4096
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class PnlPoint:
    t: datetime
    realized: Decimal
    net: Decimal


@dataclass(slots=True)
class _Series:
    day: date
    t: array[float] = field(default_factory=lambda: array("d"))
    realized: array[int] = field(default_factory=lambda: array("q"))  # cents
    net: array[int] = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.t)

    def halve(self) -> None:
        """Every other point, from the first (the day's start)."""
        self.t, self.realized, self.net = self.t[::2], self.realized[::2], self.net[::2]

    def point(self, i: int) -> PnlPoint:
        return PnlPoint(datetime.fromtimestamp(self.t[i], UTC), _money(self.realized[i]), _money(self.net[i]))


def _cents(value: Decimal) -> int:
    return int(value.quantize(CENT) * 100)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


class PnlHistory:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 4:
            raise ValueError(f"a P&L history needs room for at least 4 points per account, not {capacity}")
        self.capacity = capacity
        self._series: dict[int, _Series] = {}

    def record(self, t: datetime, statuses: Iterable[AccountStatus]) -> int:
        """Sample each account at ``t``; returns how many points were added."""
        added = 0
        for status in statuses:
            added += self.add(status.account_id, status.trading_day, t, status.realized, status.net)
        return added

    def add(self, account_id: int, day: date, t: datetime, realized: Decimal, net: Decimal) -> bool:
        """One sample; kept only when it moves the curve. A new trading day starts a new series."""
        series = self._series.get(account_id)
        if series is None or series.day != day:
            series = self._series[account_id] = _Series(day)
        r, n, ts = _cents(realized), _cents(net), t.timestamp()
        if len(series):
            if series.realized[-1] == r and series.net[-1] == n:
                return False
            # the read model never goes back in time; a late sample joins the last one
            ts = max(ts, series.t[-1])
        if len(series) >= self.capacity:
            series.halve()  # the whole day at half the resolution: room again
        series.t.append(ts)
        series.realized.append(r)
        series.net.append(n)
        return True

    def seed(self, account_id: int, day: date, steps: Iterable[tuple[datetime, Decimal, Decimal]]) -> None:
        """The realized curve rebuilt after a restart: (time, realized P&L, fees) per closing trade, in
        order; net is realized less the fees so far (the unrealized part of earlier moments is unknown).
        Ignored when the account already has samples of that day."""
        series = self._series.get(account_id)
        if series is not None and series.day == day and len(series):
            return
        realized = Decimal(0)
        fees = Decimal(0)
        self._series[account_id] = _Series(day)
        for t, pnl, fee in steps:
            realized += pnl
            fees += fee
            self.add(account_id, day, t, realized, realized - fees)

    def points(self, account_id: int) -> list[PnlPoint]:
        series = self._series.get(account_id)
        return [series.point(i) for i in range(len(series))] if series is not None else []

    def day(self, account_id: int) -> date | None:
        series = self._series.get(account_id)
        return series.day if series is not None else None

    def accounts(self) -> list[int]:
        return sorted(self._series)

    def to_json(self, account_id: int) -> dict[str, Any]:
        """The series as the chart takes it: parallel arrays, times in epoch seconds (uPlot's x axis)
        and as ISO text, money as decimal strings."""
        series = self._series.get(account_id)
        if series is None:
            return {"account_id": account_id, "trading_day": None, "t": [], "time": [], "realized": [],
                    "net": []}
        return {
            "account_id": account_id,
            "trading_day": series.day.isoformat(),
            "t": list(series.t),
            "time": [format_time(datetime.fromtimestamp(t, UTC)) for t in series.t],
            "realized": [money(_money(c)) for c in series.realized],
            "net": [money(_money(c)) for c in series.net],
        }
