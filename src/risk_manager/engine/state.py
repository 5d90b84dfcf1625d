"""Mutable per-account state owned by the engine. Rules never see these: they get frozen records
(``PositionView``, ``DayView``) through the engine's AccountView (view.py)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from risk_manager.domain.contracts import ContractSpec
from risk_manager.domain.events import OrderEvent
from risk_manager.domain.money import ZERO, to_decimal
from risk_manager.domain.position_figures import PositionFigures
from risk_manager.domain.records import fast_builder, fast_init
from risk_manager.domain.status import EnforcementStatus
from risk_manager.engine.lockouts import LockoutBook
from risk_manager.rules.api import DayView, PositionView

# A view is made afresh each time a position's best price moves (every copy of a copied trade at a
# breakout): built as a stand-in and turned into the record, at under half the cost (records.py).
_new_view = fast_builder(PositionView)

_INF = float("inf")


class _Exact:
    """The exact Decimal of the last float converted (rules ask for the same mark many times)."""

    __slots__ = ("dec", "key")

    def __init__(self) -> None:
        self.key: float | None = None  # never a price: the first one asked is converted
        self.dec = Decimal(0)

    def of(self, value: float) -> Decimal:
        if value is not self.key:
            self.dec = to_decimal(value)
            self.key = value
        return self.dec


@dataclass(slots=True)
class MarketQuote:
    """Last known quote fields of one contract (gateway quotes can be partial)."""

    last: float | None = None
    bid: float | None = None
    ask: float | None = None
    timestamp: datetime | None = None
    _exact: tuple[_Exact, _Exact, _Exact] = field(
        default_factory=lambda: (_Exact(), _Exact(), _Exact()), repr=False, compare=False
    )

    def mark(self, source: str, long: bool) -> Decimal | None:
        """Exact mark price for ``price_source`` last | mid | exit_side (bid for longs, ask for shorts)."""
        if source == "last":  # the commonest, asked for every position on every evaluation
            last = self.last
            if last is None:
                return None
            exact = self._exact[0]  # _Exact.of inlined
            if last is not exact.key:
                exact.dec = to_decimal(last)
                exact.key = last
            return exact.dec
        _, exact_bid, exact_ask = self._exact
        if source == "mid":
            if self.bid is None or self.ask is None:
                return None
            return (exact_bid.of(self.bid) + exact_ask.of(self.ask)) / 2
        if source == "exit_side":
            if long:
                return None if self.bid is None else exact_bid.of(self.bid)
            return None if self.ask is None else exact_ask.of(self.ask)
        raise ValueError(f"unknown price_source {source!r}: use last, mid or exit_side")


@dataclass(slots=True)
class Position(PositionFigures):
    """One open position. ``size`` is signed: positive long, negative short."""

    contract_id: str
    root: str
    spec: ContractSpec | None
    size: int
    average_price: Decimal
    opened_at: datetime
    position_id: int = 0
    # Most favourable last price since entry (RULE-012 trailing), kept by the engine.
    best_price: Decimal | None = None
    # Contracts closed by executions the gateway has sent but no position snapshot reflects yet.
    # The gateway sends a closing trade before the position update: until that update arrives the
    # closed contracts' P&L is already realized and must not also count as unrealized.
    closing: int = 0
    # Quiet bands (see Engine._compute_bands): while the last price stays strictly inside
    # (band_lo, band_hi) and bid and ask inside (book_lo, book_hi), no quote-sensitive rule can
    # change its decision for this account. The first band gathers the rules that mark at the last
    # price, the second those that mark at mid or at the exit side.
    band_lo: float = _INF
    band_hi: float = -_INF
    book_lo: float = _INF
    book_hi: float = -_INF
    # The band of each quote-sensitive rule of the account (same order as the rules), so that a
    # quote leaving one rule's band re-runs that rule only.
    rule_bands: list[tuple[float, float]] = field(default_factory=list)


    def frozen(self) -> PositionView:
        """The position as rules see it (without the fast path's band fields)."""
        return _new_view(
            self.contract_id,
            self.root,
            self.spec,
            self.size,
            self.average_price,
            self.opened_at,
            self.position_id,
            self.best_price,
            self.closing,
        )


@fast_init
@dataclass(frozen=True, slots=True)
class CountedTrade:
    """What one execution added to its trading day, so that a void can take exactly that back out."""

    pnl: Decimal
    fees: Decimal
    order_id: int | None
    executed: datetime
    commissions: Decimal = ZERO


@fast_init
@dataclass(frozen=True, slots=True)
class KeptFill:
    """The position change of the execution that triggered a lockout which keeps positions: the
    signed size it brings the contract to, and when it executed (see Engine._keep_triggering_fill)."""

    size: int
    executed: datetime


@dataclass(frozen=True, slots=True)
class CloseRetry:
    """A close or flatten the enforcer gave up on (an ``EnforcementOutcome`` "failed"), to be tried
    again at ``due`` if still needed (Engine._retry_close). ``attempt``: 1 for the first retry."""

    due: datetime
    rule: str
    action: str  # "flatten" | "close_position"
    contract_id: str | None  # the position a close was for (None: a flatten)
    failed_action_id: str  # the decision that failed ("<journal seq>.<index>")
    detail: str  # why it failed, as the audit trail says
    attempt: int


@dataclass(slots=True)
class TradingDayStats:
    """Counters of one trading day: [start, end) between two daily resets."""

    label: date  # the trading date (date of the reset that ends it, in the reset zone)
    start: datetime
    end: datetime
    realized: Decimal = ZERO  # sum of profitAndLoss, fees and commissions not deducted
    fees: Decimal = ZERO
    trade_count: int = 0
    # Distinct order ids executed today, with the time of their first execution (RULE-006).
    order_first_fill: dict[int, datetime] = field(default_factory=dict)
    commissions: Decimal = ZERO
    # The account balance when the day began (its first balance seen this day, less what had been
    # counted by then, or the last balance at the reset): the day's net P&L must equal the change.
    opening_balance: Decimal | None = None
    balance_off: bool = False  # a reconciliation alert was raised and the figures still disagree

    @property
    def costs(self) -> Decimal:
        """What the executions cost: fees and commissions (the balance moves by P&L minus both)."""
        return self.fees + self.commissions
    # Executions counted in this day by trade id, with what each contributed (voids remove it).
    counted: dict[int, CountedTrade] = field(default_factory=dict)

    def net_realized(self, include_fees: bool) -> Decimal:
        """Realized P&L, minus fees and commissions when ``include_fees`` (RULES.md)."""
        return self.realized - self.costs if include_fees else self.realized

    def frozen(self) -> DayView:
        return DayView(
            self.label, self.start, self.end, self.realized, self.fees, self.commissions, self.trade_count
        )

    def balance_change(self, balance: Decimal | None) -> Decimal | None:
        """How far ``balance`` moved since the day began; None while either is unknown."""
        if balance is None or self.opening_balance is None:
            return None
        return balance - self.opening_balance


@dataclass(slots=True)
class AccountState:
    account_id: int
    day: TradingDayStats
    name: str | None = None
    balance: Decimal | None = None
    can_trade: bool | None = None
    positions: dict[str, Position] = field(default_factory=dict)
    # What rules see of ``positions``: a frozen record per position, replaced when the position
    # changes (a position event, a closing execution, a new best price), never on a quiet quote.
    position_views: dict[str, PositionView] = field(default_factory=dict)
    working_orders: dict[int, OrderEvent] = field(default_factory=dict)
    # (contract id, closing side) -> the first working protective stop of ``working_orders``, read
    # on demand (AccountView.protective_stop), kept up to date by Engine._apply_order for a new stop
    # and dropped (None) when a stop changes or goes.
    protective_stops: dict[tuple[str, int], OrderEvent] | None = None
    lockouts: LockoutBook = field(default_factory=LockoutBook)
    # Breaches already enforced, as (rule id, subject); see Engine._clear_markers for re-arming.
    breaches: set[tuple[str, str]] = field(default_factory=set)
    # Trade ids already counted, with the trading day they were counted in (dedupe across days).
    seen_trades: dict[int, date] = field(default_factory=dict)
    # Executions (first fill time, order id) in the last hour, in time order, oldest first (RULE-006
    # windows: AccountView.executions_in_last counts back from the newest).
    recent_orders: deque[tuple[datetime, int]] = field(default_factory=deque)
    # RULE-012: last stop price requested per contract.
    stops_requested: dict[str, Decimal] = field(default_factory=dict)
    # close_positions: false keeps the triggering fill, until that contract's next position update.
    kept_fills: dict[str, KeptFill] = field(default_factory=dict)
    failed: str | None = None  # set when evaluation raised: the account is locked (fail closed)
    # The enforcer's last report (an EnforcementOutcome event), for the read model; decides nothing.
    last_enforcement: EnforcementStatus | None = None
    # Failed closes and flattens waiting to be tried again, by contract ("" for a flatten).
    close_retries: dict[str, CloseRetry] = field(default_factory=dict)
