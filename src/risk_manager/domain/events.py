"""Normalized events: what the engine consumes, whatever the source (live hubs, REST, a recording).

Field meanings follow the gateway payloads of PROJECTX.md; names are pythonic. Money and average
prices are Decimal. Quote prices stay as the numbers received (float/int) because the engine sees
hundreds of quotes per second and turns a quote into Decimal only when it has to compute P&L with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum

from risk_manager.domain.records import fast_builder


class OrderSide(IntEnum):
    BUY = 0  # "Bid"
    SELL = 1  # "Ask"


class OrderType(IntEnum):
    UNKNOWN = 0
    LIMIT = 1
    MARKET = 2
    STOP_LIMIT = 3
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7


class OrderStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6
    PENDING_CANCELLATION = 7
    SUSPENDED = 8


# Statuses under which an order can still fill: it is "working".
WORKING_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.PENDING, OrderStatus.SUSPENDED})
PROTECTIVE_TYPES = frozenset({OrderType.STOP, OrderType.TRAILING_STOP})


class PositionType(IntEnum):
    UNDEFINED = 0
    LONG = 1
    SHORT = 2


@dataclass(frozen=True, slots=True)
class AccountEvent:
    account_id: int
    name: str | None = None
    balance: Decimal | None = None
    can_trade: bool | None = None
    is_visible: bool | None = None
    simulated: bool | None = None


@dataclass(frozen=True, slots=True)
class OrderEvent:
    order_id: int
    account_id: int
    contract_id: str
    status: int  # OrderStatus value; unknown values kept as received
    type: int  # OrderType value
    side: int  # OrderSide value
    size: int
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    fill_volume: int | None = None
    filled_price: Decimal | None = None
    custom_tag: str | None = None
    created: datetime | None = None
    updated: datetime | None = None

    @property
    def is_working(self) -> bool:
        return self.status in WORKING_STATUSES


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """A position snapshot. ``size`` is unsigned as on the gateway; 0 means flat."""

    position_id: int
    account_id: int
    contract_id: str
    type: int  # PositionType value: 1 long, 2 short
    size: int
    average_price: Decimal
    created: datetime | None = None

    @property
    def signed_size(self) -> int:
        if self.type == PositionType.SHORT:
            return -self.size
        return self.size


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One execution. ``pnl`` is None on an opening half-turn (counts as 0). ``commissions`` are
    charged beside ``fees`` (PROJECTX.md §2b); absent on the wire means none."""

    trade_id: int
    account_id: int
    contract_id: str
    price: Decimal
    pnl: Decimal | None
    fees: Decimal
    side: int
    size: int
    voided: bool
    order_id: int | None
    created: datetime | None = None
    commissions: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class QuoteEvent:
    """A (possibly partial) quote: None means "unchanged since the last quote"."""

    contract_id: str
    last: float | None = None
    bid: float | None = None
    ask: float | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """A hub connection was lost or restored (``hub`` is "user", "market" or None for both)."""

    state: str  # "lost" | "restored"
    hub: str | None = None


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """Only advances time: timers due up to ``now`` fire."""


# EnforcementOutcome.outcome: what became of a decided broker action.
OUTCOME_OK = "ok"  # carried out, or nothing was left to do
OUTCOME_FAILED = "failed"  # not carried out after every attempt (the account may still be at risk)
OUTCOME_REFUSED = "refused"  # the gateway refused it (a fallback may have closed the position instead)
OUTCOME_KINDS = frozenset({OUTCOME_OK, OUTCOME_FAILED, OUTCOME_REFUSED})


@dataclass(frozen=True, slots=True)
class EnforcementOutcome:
    """The enforcer's report on one decided action, fed back to the engine by the daemon (and
    journaled like every input, so a recovery sees it too). The engine keeps it as the account's
    last enforcement for the read model, and a failed close or flatten is tried again later
    (docs/daemon.md, "Failure"); it decides nothing at once. Not a gateway input: recordings never
    hold it, and a replay of a recording has none.

    ``action_id`` is the decision's ``"<journal seq>.<index>"``; ``action`` its kind (``flatten``,
    ``close_position``...); ``outcome`` one of :data:`OUTCOME_KINDS`; ``detail`` the audit row's
    outcome text; ``latency_ms`` from the triggering event's receipt to the broker's acknowledgement
    (None when nothing was acknowledged). ``contract_id`` and ``size``: the action's own, for a close
    (None: not a close, or the whole position); the engine retries a failed close or flatten with
    them (Engine._on_enforcement). Journal rows written before they existed read as None."""

    action_id: str
    account_id: int
    rule: str
    action: str
    outcome: str
    detail: str = ""
    latency_ms: float | None = None
    contract_id: str | None = None
    size: int | None = None


# cls(...) at a fraction of the cost, for the readers of gateway payloads and recordings.
new_quote = fast_builder(QuoteEvent)
new_order = fast_builder(OrderEvent)
new_trade = fast_builder(TradeEvent)
new_position = fast_builder(PositionEvent)
new_account = fast_builder(AccountEvent)


Event = (
    AccountEvent
    | OrderEvent
    | PositionEvent
    | TradeEvent
    | QuoteEvent
    | ConnectionEvent
    | ClockEvent
    | EnforcementOutcome
)

# Events that belong to one account, and so pass through that account's rules and gate.
AccountScopedEvent = AccountEvent | OrderEvent | PositionEvent | TradeEvent


def account_of(event: Event) -> int | None:
    """The account an event belongs to, or None for market-wide events (quotes, connection, clock)."""
    if isinstance(event, AccountEvent | OrderEvent | PositionEvent | TradeEvent):
        return event.account_id
    return None
