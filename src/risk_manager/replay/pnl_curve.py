"""Each account's P&L curve over a replayed day, for the HTML report (`replay FILE --html`).

The curve is read from the read model (``AccountStatus``, the same record the summary renders), never
from engine internals:

- exactly, right after every line that carries the account's own trades or position updates, and at
  every decision about it (the point a decision marker sits on);
- for quotes, which move the unrealized P&L of the accounts holding the quoted contract, at most once
  per ``quote_interval`` of replay time per account (with the last change always sampled, one
  interval later at most): a million-line day has hundreds of thousands of quotes, and reading the
  status after each would cost more than the replay itself.

A point is kept only when a value changed (or a decision sits on it). :func:`thin` then brings a long
curve down to a few thousand points for the page, keeping each time bucket's lowest and highest
total and every decision point, so the extremes of the day stay visible and every marker stays on
the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from risk_manager.domain.events import AccountEvent, PositionEvent, QuoteEvent, TradeEvent
from risk_manager.domain.status import AccountStatus
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


@dataclass(slots=True)
class _Account:
    points: list[CurvePoint] = field(default_factory=list)
    holding: frozenset[str] = frozenset()
    sampled_at: datetime | None = None
    limits: DayLimits = DayLimits()


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
        self._pending: set[int] = set()  # quoted since their last sample, waiting for the interval
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
        for account_id in list(self._accounts):
            self._sample(account_id, now, closing=True)
        self._pending.clear()

    # ---- reading ------------------------------------------------------------------------------

    @property
    def account_ids(self) -> list[int]:
        return sorted(self._accounts)

    def points(self, account_id: int) -> list[CurvePoint]:
        """Every point sampled for ``account_id``, oldest first (before thinning)."""
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
                holders = self._holders.get(event.contract_id)
                if holders:
                    self._pending.update(holders)
            elif kind is TradeEvent or kind is PositionEvent or kind is AccountEvent:
                account_id = event.account_id  # type: ignore[union-attr]
                if self._wants(account_id):
                    self._sample(account_id, now)
                    self._pending.discard(account_id)
        if self._pending:
            self._sample_due(now)

    def _sample_due(self, now: datetime) -> None:
        due = []
        for account_id in self._pending:
            sampled_at = self._accounts[account_id].sampled_at
            if sampled_at is None or now - sampled_at >= self._interval:
                due.append(account_id)
        for account_id in due:
            self._pending.discard(account_id)
            self._sample(account_id, now)

    def _sample(self, account_id: int, t: datetime, *, decision: bool = False, closing: bool = False) -> None:
        status = self._engine.status(account_id, t)
        if status is None:
            return
        account = self._accounts.get(account_id)
        if account is None:
            account = self._accounts[account_id] = _Account()
        account.sampled_at = t
        self._track_holdings(account_id, account, status)
        account.limits = _limits(status)
        point = CurvePoint(t, status.realized - status.costs, status.net, decision)
        points = account.points
        if points:
            last = points[-1]
            if last.t == t:
                # Several changes at one instant: the figures after all of them, marked if any was.
                points[-1] = replace(point, decision=decision or last.decision)
                return
            unchanged = last.realized == point.realized and last.net == point.net
            if unchanged and not decision and not closing:  # the last point closes the curve
                return
        points.append(point)

    def _track_holdings(self, account_id: int, account: _Account, status: AccountStatus) -> None:
        holding = frozenset(p.contract_id for p in status.positions)
        if holding == account.holding:
            return
        for contract_id in account.holding - holding:
            self._holders.get(contract_id, set()).discard(account_id)
        for contract_id in holding - account.holding:
            self._holders.setdefault(contract_id, set()).add(account_id)
        account.holding = holding


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
