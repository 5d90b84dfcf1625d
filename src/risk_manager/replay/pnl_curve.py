"""Each account's P&L curve over a replayed day, for the HTML report (`replay FILE --html`).

The curve is read from the read model (``AccountStatus``, the same record the summary renders), never
from engine internals:

- exactly, right after every line that carries the account's own trades, position updates or
  account updates, and at every decision about it (the point a decision marker sits on);
- between those, a quote's last price moves the total of the accounts holding the quoted contract.
  Reading the status after each quote would cost ten times the replay itself (a million-line day
  has hundreds of thousands of quotes), so the new total is worked out from the last status: a
  position's unrealized P&L is linear in its mark, ``(mark - average) * slope``, and the slope is
  read off that status (its unrealized P&L over ``mark - average``: the contracts still open times
  the point value, exactly what the engine used). A position whose slope cannot be read yet (marked
  at its average price, or not marked) gets the status read again instead: at once the first time,
  then at most once per ``quote_interval`` of replay time (the last change is never lost: it is
  read one interval later at most). Clock lines (timers: a daily reset zeroes the day) are read
  the same way.

Quotes are gathered per contract in time buckets (one second wide at first, doubled as the replay
runs on, so a day has one to two thousand): of each bucket the lowest, the highest and the last
price move the totals, at their own times (a busy contract quotes many times a second; a chart of a
day has a point per ten seconds or so; a position's P&L is linear in the price, so its extremes are
kept). A point is kept only when a value changed (or a decision sits on it); a curve growing past a
few times the page's budget is thinned as it goes. :func:`thin` keeps the first and last points,
every decision point, and each time bucket's lowest and highest total, so the extremes of the day
stay visible and every marker stays on the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from risk_manager.domain.events import AccountEvent, PositionEvent, QuoteEvent, TradeEvent
from risk_manager.domain.money import ZERO, to_decimal
from risk_manager.domain.status import AccountStatus, PositionStatus
from risk_manager.replay.reader import ReplayLine

__all__ = ["CurvePoint", "DayLimits", "PnlCurves", "StatusSource", "thin"]

# Points per account on the page: more than a chart has pixels across.
MAX_POINTS = 2000
QUOTE_INTERVAL = timedelta(seconds=1)
LOSS_LIMIT_GAUGE = "daily_realized_loss"  # RULE-003
PROFIT_TARGET_GAUGE = "daily_realized_profit"  # RULE-013


class StatusSource(Protocol):
    """The part of the engine the curves read: its read model."""

    def status(self, account_id: int, now: datetime) -> AccountStatus | None: ...


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """An account's day figures at ``t`` (UTC): realized after fees and commissions, and the total
    (``AccountStatus.net``: realized - costs + the known unrealized P&L)."""

    t: datetime
    realized: Decimal
    net: Decimal
    decision: bool = False


@dataclass(frozen=True, slots=True)
class DayLimits:
    """The loss limit and profit target drawn on an account's chart (None: that rule is off)."""

    loss_limit: Decimal | None = None
    profit_target: Decimal | None = None


# A curve is thinned in place (to twice the page's budget) when it grows past this many points.
COMPACT_AT = 4 * MAX_POINTS
# Quote buckets start this wide and double whenever the replay has run through more than
# BUCKETS_PER_DAY of them: a day gets one to two thousand, whatever its length.
FIRST_BUCKET = 1.0  # seconds
BUCKETS_PER_DAY = 1000


@dataclass(slots=True)
class _Held:
    """One open position as the last status showed it: unrealized = (mark - average) * slope."""

    average: Decimal
    slope: Decimal | None  # None: not known yet (read the status again)
    unrealized: Decimal  # ZERO when unknown (the status's total leaves it out too)


@dataclass(slots=True)
class _Account:
    points: list[CurvePoint] = field(default_factory=list)
    held: dict[str, _Held] = field(default_factory=dict)
    realized: Decimal = ZERO  # after fees and commissions
    unrealized: Decimal = ZERO  # the known part, as in AccountStatus.net
    # When the status was last read for a quote or a clock line (account events are read at once).
    requoted_at: datetime | None = None
    limits: DayLimits = DayLimits()


@dataclass(slots=True)
class _PriceBucket:
    """One contract's last prices within one quote bucket: the lowest, the highest and the last,
    each with its time. A position's P&L is linear in the price, so these are its extremes too."""

    end: datetime  # the bucket holds times before this one
    low: tuple[datetime, float]
    high: tuple[datetime, float]
    last: tuple[datetime, float]

    def prices(self) -> list[tuple[datetime, float]]:
        return sorted({self.low, self.high, self.last}, key=lambda point: point[0])


class _QuoteBuckets:
    """The open quote bucket of each quoted contract, and the bucket width (growing with the day)."""

    def __init__(self) -> None:
        self.width = FIRST_BUCKET
        self.first: float | None = None
        self.open: dict[str, _PriceBucket] = {}

    def add(self, contract_id: str, t: datetime, price: float) -> _PriceBucket | None:
        """Note a last price; the contract's previous bucket when this one starts a new one."""
        current = self.open.get(contract_id)
        point = (t, price)
        if current is not None and t < current.end:  # most quotes: no clock arithmetic
            if price < current.low[1]:
                current.low = point
            if price > current.high[1]:
                current.high = point
            current.last = point
            return None
        seconds = t.timestamp()
        if self.first is None:
            self.first = seconds
        elif seconds - self.first > self.width * BUCKETS_PER_DAY:
            self.width *= 2
        end = (seconds // self.width + 1) * self.width
        self.open[contract_id] = _PriceBucket(datetime.fromtimestamp(end, UTC), point, point, point)
        return current

    def take(self, contract_id: str) -> _PriceBucket | None:
        return self.open.pop(contract_id, None)


class PnlCurves:
    """Samples the curves of the accounts in ``accounts`` (empty: every account) while a replay runs.

    Feed it the recording's lines through :meth:`lines` (it samples after the engine has applied
    each one), call :meth:`decision` for each decision shown, and :meth:`finish` at the end.
    """

    def __init__(
        self,
        engine: StatusSource,
        accounts: Iterable[int] = (),
        quote_interval: timedelta = QUOTE_INTERVAL,
    ) -> None:
        self._engine = engine
        self._wanted = frozenset(accounts)
        self._interval = quote_interval
        self._accounts: dict[int, _Account] = {}
        self._holders: dict[str, set[int]] = {}
        self._unpriced: dict[str, set[int]] = {}  # holders whose slope the last status did not give
        self._quotes = _QuoteBuckets()
        self._pending: set[int] = set()  # to read again once the interval has passed
        # The replay clock as of the last line. Not ``engine.now``: a clock line with no timer due
        # does not move the engine, but the time has come all the same.
        self._clock: datetime | None = None

    # ---- feeding ------------------------------------------------------------------------------

    def lines(self, lines: Iterable[ReplayLine]) -> Iterator[ReplayLine]:
        """Pass ``lines`` through; each line's effect is sampled when the next one is requested
        (by then the runner has applied it, and not yet run the clock towards the next)."""
        previous: ReplayLine | None = None
        for line in lines:
            if previous is not None:
                self._after(previous)
            yield line
            previous = line
        if previous is not None:
            self._after(previous)

    def decision(self, t: datetime, account_id: int) -> None:
        """A decision about ``account_id`` at ``t``: a point exactly there, marked as a decision."""
        if self._wants(account_id):
            self._sample(account_id, t, decision=True)

    def finish(self, t: datetime | None = None) -> None:
        """Close every curve at the replay's last time (``--until`` included): the final figures."""
        now = t if t is not None else self._clock
        if now is None:
            return
        for contract_id in list(self._quotes.open):
            self._flush(contract_id)
        for account_id in list(self._accounts):
            self._sample(account_id, now, closing=True)
        self._pending.clear()

    # ---- reading ------------------------------------------------------------------------------

    @property
    def account_ids(self) -> list[int]:
        return sorted(self._accounts)

    def points(self, account_id: int) -> list[CurvePoint]:
        """Every point sampled for ``account_id``, oldest first (before thinning); complete once
        :meth:`finish` has run (quotes are taken in by the bucket)."""
        found = self._accounts.get(account_id)
        return [] if found is None else list(found.points)

    def limits(self, account_id: int) -> DayLimits:
        found = self._accounts.get(account_id)
        return DayLimits() if found is None else found.limits

    # ---- sampling -----------------------------------------------------------------------------

    def _wants(self, account_id: int) -> bool:
        return not self._wanted or account_id in self._wanted

    def _after(self, line: ReplayLine) -> None:
        # As the runner does: a line stamped earlier than the one before counts at that one's time.
        clock = self._clock
        now = self._clock = line.t if clock is None or line.t > clock else clock
        if line.kind == "clock":
            # Timers may have fired (a daily reset zeroes the day): every account, at quote pace.
            self._pending.update(self._accounts)
        for event in line.events:
            kind = type(event)
            if kind is QuoteEvent:
                assert isinstance(event, QuoteEvent)
                if event.last is not None and self._holders.get(event.contract_id):
                    unpriced = self._unpriced.get(event.contract_id)
                    if unpriced:
                        self._pending |= unpriced
                    closed = self._quotes.add(event.contract_id, now, event.last)
                    if closed is not None:
                        self._requote(event.contract_id, closed)
            elif kind is TradeEvent or kind is PositionEvent or kind is AccountEvent:
                account_id = event.account_id  # type: ignore[union-attr]
                if self._wants(account_id):
                    self._sample(account_id, now)
        if self._pending:
            self._sample_due(now)

    def _flush(self, contract_id: str) -> None:
        bucket = self._quotes.take(contract_id)
        if bucket is not None:
            self._requote(contract_id, bucket)

    def _requote(self, contract_id: str, bucket: _PriceBucket) -> None:
        """The totals of the accounts holding ``contract_id`` at the bucket's prices."""
        holders = self._holders.get(contract_id, ())
        for t, price in bucket.prices():
            last = to_decimal(price)
            for account_id in holders:
                account = self._accounts[account_id]
                held = account.held[contract_id]
                if held.slope is None:
                    self._pending.add(account_id)
                    continue
                unrealized = (last - held.average) * held.slope
                if unrealized == held.unrealized:
                    continue
                account.unrealized += unrealized - held.unrealized
                held.unrealized = unrealized
                self._add(account, CurvePoint(t, account.realized, account.realized + account.unrealized))

    def _sample_due(self, now: datetime) -> None:
        due = []
        for account_id in self._pending:
            requoted_at = self._accounts[account_id].requoted_at
            if requoted_at is None or now - requoted_at >= self._interval:
                due.append(account_id)
        for account_id in due:
            self._pending.discard(account_id)
            self._accounts[account_id].requoted_at = now
            self._sample(account_id, now)

    def _sample(self, account_id: int, t: datetime, *, decision: bool = False, closing: bool = False) -> None:
        account = self._accounts.get(account_id)
        if account is not None:
            # What the quotes did to it first, in time order; the status then supersedes it.
            for contract_id in list(account.held):
                self._flush(contract_id)
        status = self._engine.status(account_id, t)
        if status is None:
            return
        if account is None:
            account = self._accounts[account_id] = _Account()
        self._track_holdings(account_id, account, status)
        account.limits = _limits(status)
        account.realized = status.realized - status.costs
        account.unrealized = status.net - account.realized
        self._add(account, CurvePoint(t, account.realized, status.net, decision), keep=closing)
        self._pending.discard(account_id)

    @staticmethod
    def _add(account: _Account, point: CurvePoint, *, keep: bool = False) -> None:
        points = account.points
        if points:
            last = points[-1]
            if last.t == point.t:
                # Several changes at one instant: the figures after all of them, marked if any was.
                points[-1] = replace(point, decision=point.decision or last.decision)
                return
            unchanged = last.realized == point.realized and last.net == point.net
            if unchanged and not point.decision and not keep:  # ``keep``: the point closing the curve
                return
        points.append(point)
        if len(points) > COMPACT_AT:
            points[:] = thin(points, 2 * MAX_POINTS)

    def _track_holdings(self, account_id: int, account: _Account, status: AccountStatus) -> None:
        before = set(account.held)
        account.held = {p.contract_id: _held(p) for p in status.positions}
        for contract_id in before - account.held.keys():
            self._holders.get(contract_id, set()).discard(account_id)
        for contract_id in account.held.keys() - before:
            self._holders.setdefault(contract_id, set()).add(account_id)
        for contract_id in before | account.held.keys():
            held = account.held.get(contract_id)
            if held is None or held.slope is not None:
                self._unpriced.get(contract_id, set()).discard(account_id)
            else:
                self._unpriced.setdefault(contract_id, set()).add(account_id)


def _held(position: PositionStatus) -> _Held:
    mark, unrealized, average = position.mark, position.unrealized, position.average_price
    if unrealized is None:
        return _Held(average, None, ZERO)
    slope = None if mark is None or mark == average else unrealized / (mark - average)
    return _Held(average, slope, unrealized)


def _limits(status: AccountStatus) -> DayLimits:
    loss = profit = None
    for gauge in status.gauges:
        if gauge.name == LOSS_LIMIT_GAUGE:
            loss = gauge.limit
        elif gauge.name == PROFIT_TARGET_GAUGE:
            profit = gauge.limit
    return DayLimits(loss, profit)


def thin(points: Sequence[CurvePoint], limit: int = MAX_POINTS) -> list[CurvePoint]:
    """At most about ``limit`` points of ``points`` (oldest first): the first and the last, every
    decision point, and in each of equal time buckets the points with the lowest and the highest
    total. A curve already short enough is returned whole."""
    if len(points) <= limit:
        return list(points)
    keep = {0, len(points) - 1}
    keep.update(i for i, p in enumerate(points) if p.decision)
    buckets = max(1, (limit - len(keep)) // 2)
    start = points[0].t.timestamp()
    span = points[-1].t.timestamp() - start or 1.0
    lowest: dict[int, int] = {}
    highest: dict[int, int] = {}
    for i, point in enumerate(points):
        bucket = min(int((point.t.timestamp() - start) / span * buckets), buckets - 1)
        low = lowest.get(bucket)
        if low is None or point.net < points[low].net:
            lowest[bucket] = i
        high = highest.get(bucket)
        if high is None or point.net > points[high].net:
            highest[bucket] = i
    keep.update(lowest.values())
    keep.update(highest.values())
    return [points[i] for i in sorted(keep)]
