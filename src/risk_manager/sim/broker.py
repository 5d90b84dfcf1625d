"""Paper broker: accounts, orders, fills at the simulated quotes, positions, trades, fees, brackets.

Money is Decimal; prices are integer ticks of their contract (so on the grid by construction), turned
into Decimal for P&L and into JSON numbers only in payloads. Position cost is kept as an exact
Fraction of ticks so averaging in and partially closing never drifts; each trade's ``profitAndLoss``
is rounded to the cent once, when it is realized.

Every operation collects the user-hub events it causes into one batch, in the order the gateway sends
them, and hands the batch to ``emit`` at the end. Two behaviours (PROJECTX.md §2b):

- live-like (the default): market orders go 6 Pending -> 2 Filled; bracket legs exist from placement
  as 8 Suspended and open when the entry fills; a rejected order is still created (6 -> 5); trades
  carry ``commissions``; a close is followed by a repeated trade at the opening price without P&L;
  ``GatewayUserAccount`` comes 2-4 times per fill; the event order of entries and exits is the one
  recorded live; ``trailPrice`` is a price level; orders and positions carry the extra fields.
- bare (``live=False``, the simulator's original behaviour, for debugging): one event per change in
  the order order, trade, position, account; no commissions, no repeats, no Pending/Suspended.

Error codes are the gateway's per-endpoint enums (swagger: PlaceOrderErrorCode, CancelOrderErrorCode,
ModifyOrderErrorCode, ClosePositionErrorCode, PartialClosePositionErrorCode).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import IntEnum
from fractions import Fraction

from ..domain.contracts import canonical_root
from .clock import Clock
from .market import Book, MarketSimulator, MarketUpdate, SimContract, parse_listed
from .wire import OrderSide, OrderStatus, OrderType, PositionType, Stamp, iso, iso7, num

CENT = Decimal("0.01")

# Commission + exchange fees per contract per side (Topstep-style schedule; micros 0.37).
FEES_PER_SIDE: Mapping[str, Decimal] = {
    "MNQ": Decimal("0.37"),
    "MES": Decimal("0.37"),
    "MYM": Decimal("0.37"),
    "M2K": Decimal("0.37"),
    "NQ": Decimal("1.40"),
    "ES": Decimal("1.40"),
    "YM": Decimal("1.40"),
    "RTY": Decimal("1.40"),
    "CL": Decimal("1.52"),
    "MCL": Decimal("0.52"),
    "GC": Decimal("1.62"),
    "MGC": Decimal("0.52"),
}
DEFAULT_FEE = Decimal("1.40")

# Commissions per contract per side, charged beside the fees on the live gateway (PROJECTX.md §2b).
# The amounts are a plausible schedule, not a firm's price list: what is modelled is that they exist,
# are per contract per side, and move the balance.
COMMISSIONS_PER_SIDE: Mapping[str, Decimal] = {
    "MNQ": Decimal("0.25"),
    "MES": Decimal("0.25"),
    "MYM": Decimal("0.25"),
    "M2K": Decimal("0.25"),
    "MCL": Decimal("0.25"),
    "MGC": Decimal("0.25"),
    "NQ": Decimal("0.50"),
    "ES": Decimal("0.50"),
    "YM": Decimal("0.50"),
    "RTY": Decimal("0.50"),
    "CL": Decimal("0.50"),
    "GC": Decimal("0.50"),
}
DEFAULT_COMMISSION = Decimal("0.50")
# A stop-loss bracket closer than this many ticks to the entry is refused live (PROJECTX.md §2b).
MIN_STOP_LOSS_TICKS = 4
# The live gateway caps a trailing distance at this many ticks (PROJECTX.md §2b).
MAX_TRAIL_TICKS = 1000


class AccountKind:
    """What the firm calls the account; live-funded and follower accounts refuse some commands."""

    PRACTICE = "practice"  # combine / practice: simulated: true
    LIVE = "live"
    FOLLOWER = "follower"
    ALL = (PRACTICE, LIVE, FOLLOWER)


class PlaceCode(IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_REJECTED = 2
    INSUFFICIENT_FUNDS = 3
    ACCOUNT_VIOLATION = 4
    OUTSIDE_TRADING_HOURS = 5
    ORDER_PENDING = 6
    UNKNOWN_ERROR = 7
    CONTRACT_NOT_FOUND = 8
    CONTRACT_NOT_ACTIVE = 9
    ACCOUNT_REJECTED = 10


class CancelCode(IntEnum):  # CancelOrderErrorCode; ModifyOrderErrorCode adds 7 ContractNotFound
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_NOT_FOUND = 2
    REJECTED = 3
    PENDING = 4
    UNKNOWN_ERROR = 5
    ACCOUNT_REJECTED = 6


class CloseCode(IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    POSITION_NOT_FOUND = 2
    CONTRACT_NOT_FOUND = 3
    CONTRACT_NOT_ACTIVE = 4
    ORDER_REJECTED = 5
    ORDER_PENDING = 6
    UNKNOWN_ERROR = 7
    ACCOUNT_REJECTED = 8


class PartialCloseCode(IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    POSITION_NOT_FOUND = 2
    CONTRACT_NOT_FOUND = 3
    CONTRACT_NOT_ACTIVE = 4
    INVALID_CLOSE_SIZE = 5
    ORDER_REJECTED = 6
    ORDER_PENDING = 7
    UNKNOWN_ERROR = 8
    ACCOUNT_REJECTED = 9


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    message: str | None = None
    order_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0


OK = Outcome(0)

UserEvent = tuple[str, int, dict[str, object]]  # (hub target, account id, payload)


@dataclass(frozen=True, slots=True)
class Bracket:
    ticks: int  # signed, relative to the entry fill price
    type: int


@dataclass(slots=True)
class SimAccount:
    id: int
    name: str
    balance: Decimal
    can_trade: bool = True
    is_visible: bool = True
    kind: str = AccountKind.PRACTICE
    position_brackets: bool = False  # "Position Brackets" mode: order brackets are refused

    def payload(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "balance": num(self.balance),
            "canTrade": self.can_trade,
            "isVisible": self.is_visible,
            "simulated": self.kind == AccountKind.PRACTICE,
        }


@dataclass(slots=True, eq=False)
class SimOrder:
    id: int
    account_id: int
    contract: SimContract
    type: int
    side: int
    size: int
    created: datetime
    updated: datetime
    limit: int | None = None  # ticks
    stop: int | None = None  # ticks (trailing stops: the current trigger)
    trail: int | None = None  # ticks of trailing distance
    custom_tag: str | None = None
    status: int = OrderStatus.OPEN
    fill_volume: int = 0
    filled_price: Decimal | None = None
    triggered: bool = False  # a stop-limit whose stop was hit (now working as a limit)
    stop_loss: Bracket | None = None
    take_profit: Bracket | None = None
    oco: int | None = None  # the other leg of a bracket pair
    parent: int | None = None
    legs: list[SimOrder] = field(default_factory=list)  # bracket legs waiting (Suspended) for this fill

    @property
    def working(self) -> bool:
        return self.status == OrderStatus.OPEN

    def payload(self, stamp: Stamp = iso, live: bool = False) -> dict[str, object]:
        c = self.contract
        out = self._documented(stamp)
        if live:
            out["trailPrice"] = num(c.price(self.trail)) if self.trail is not None else None  # a distance
            out["trailDistance"] = self.trail
            out["parentOrderId"] = self.parent
            out["linkedOrderId"] = self.oco
        return out

    def _documented(self, stamp: Stamp) -> dict[str, object]:
        c = self.contract
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": c.id,
            "symbolId": c.symbol_id,
            "creationTimestamp": stamp(self.created),
            "updateTimestamp": stamp(self.updated),
            "status": int(self.status),
            "type": int(self.type),
            "side": int(self.side),
            "size": self.size,
            "limitPrice": num(c.price(self.limit)) if self.limit is not None else None,
            "stopPrice": num(c.price(self.stop)) if self.stop is not None else None,
            "fillVolume": self.fill_volume,
            "filledPrice": num(self.filled_price),
            "customTag": self.custom_tag,
        }


@dataclass(slots=True, eq=False)
class SimPosition:
    id: int
    account_id: int
    contract: SimContract
    type: int  # PositionType
    size: int
    cost: Fraction  # sum of entry prices in ticks over the open contracts
    created: datetime

    def average_ticks(self) -> Fraction:
        return self.cost / self.size if self.size else Fraction(0)

    def average_price(self) -> Decimal:
        avg = self.average_ticks()
        return Decimal(avg.numerator) * self.contract.tick_size / Decimal(avg.denominator)

    def payload(
        self, average: Decimal | None = None, stamp: Stamp = iso, live: bool = False
    ) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract.id,
            "creationTimestamp": stamp(self.created),
            "type": int(self.type),
            "size": self.size,
            "averagePrice": num(average if average is not None else self.average_price()),
        }
        if live:
            out["contractDisplayName"] = self.contract.name
        return out


@dataclass(slots=True)
class SimTrade:
    id: int
    account_id: int
    contract_id: str
    created: datetime
    price: Decimal
    pnl: Decimal | None
    fees: Decimal
    side: int
    size: int
    order_id: int
    voided: bool = False
    commissions: Decimal | None = None  # None: the bare simulator, which has no such field

    def payload(self, stamp: Stamp = iso, live: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract_id,
            "creationTimestamp": stamp(self.created),
            "price": num(self.price),
            "profitAndLoss": num(self.pnl),
            "fees": num(self.fees),
            "side": self.side,
            "size": self.size,
            "voided": self.voided,
            "orderId": self.order_id,
        }
        if live:
            out["commissions"] = num(self.commissions)
        return out


@dataclass(slots=True)
class _Batch:
    """The user-hub events of one operation, rendered in the broker's wire style."""

    stamp: Stamp
    live: bool
    events: list[UserEvent] = field(default_factory=list)

    def order(self, o: SimOrder) -> None:
        self.events.append(("GatewayUserOrder", o.account_id, o.payload(self.stamp, self.live)))

    def trade(self, t: SimTrade) -> None:
        self.events.append(("GatewayUserTrade", t.account_id, t.payload(self.stamp, self.live)))

    def position(self, p: SimPosition, average: Decimal | None) -> None:
        self.events.append(("GatewayUserPosition", p.account_id, p.payload(average, self.stamp, self.live)))

    def account(self, a: SimAccount) -> None:
        self.events.append(("GatewayUserAccount", a.id, a.payload()))


_TYPE_NAMES = {t.value: t.name.title().replace("_", "") for t in OrderType}
_STATUS_NAMES = {s.value: s.name.title().replace("_", "") for s in OrderStatus}


class PaperBroker:
    def __init__(
        self,
        market: MarketSimulator,
        clock: Clock,
        *,
        fees: Mapping[str, Decimal] | None = None,
        commissions: Mapping[str, Decimal] | None = None,
        live: bool = True,
        repeat_new_id: bool = False,
    ) -> None:
        self.market = market
        self.clock = clock
        self.live = live
        # Whether the live repeat of a closing trade keeps its id is unknown (PROJECTX.md §2b); the
        # default keeps it, this switch gives it a fresh one so clients can be tested against both.
        self.repeat_new_id = repeat_new_id
        self.stamp: Stamp = iso7 if live else iso
        self.fees = dict(FEES_PER_SIDE if fees is None else fees)
        self.commissions = dict(COMMISSIONS_PER_SIDE if commissions is None else commissions)
        self.accounts: dict[int, SimAccount] = {}
        self.orders: dict[int, SimOrder] = {}
        self.working: dict[str, dict[int, SimOrder]] = {}
        self.positions: dict[tuple[int, str], SimPosition] = {}
        self.trades: dict[int, list[SimTrade]] = {}
        self.emit: Callable[[list[UserEvent]], None] = lambda batch: None
        self._order_ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)
        self._position_ids = itertools.count(301)

    # ---- accounts -------------------------------------------------------------------------------

    def add_account(self, account_id: int, name: str, balance: Decimal) -> SimAccount:
        if account_id in self.accounts:
            raise ValueError(f"account {account_id} already exists")
        acct = SimAccount(account_id, name, balance)
        self.accounts[account_id] = acct
        self.trades[account_id] = []
        return acct

    def set_account(
        self,
        account_id: int,
        *,
        can_trade: bool | None = None,
        balance: Decimal | None = None,
        is_visible: bool | None = None,
        kind: str | None = None,
        position_brackets: bool | None = None,
    ) -> SimAccount:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise KeyError(f"no account {account_id}; accounts are {sorted(self.accounts)}")
        if kind is not None:
            if kind not in AccountKind.ALL:
                raise ValueError(f"kind must be one of {', '.join(AccountKind.ALL)}, got {kind!r}")
            acct.kind = kind
        if position_brackets is not None:
            acct.position_brackets = position_brackets
        if can_trade is not None:
            acct.can_trade = can_trade
        if balance is not None:
            acct.balance = balance
        if is_visible is not None:
            acct.is_visible = is_visible
        self.emit([("GatewayUserAccount", acct.id, acct.payload())])
        return acct

    # ---- queries --------------------------------------------------------------------------------

    def search_accounts(self, only_active: bool) -> list[dict[str, object]]:
        # Every simulated account is active; "active" on the real gateway means not closed.
        return [a.payload() for a in sorted(self.accounts.values(), key=lambda a: a.id)]

    def open_positions(self, account_id: int) -> list[dict[str, object]]:
        return [
            p.payload(None, self.stamp, self.live)
            for (acct, _), p in sorted(self.positions.items(), key=lambda kv: kv[1].id)
            if acct == account_id and p.size > 0
        ]

    def search_orders(
        self, account_id: int, start: datetime, end: datetime | None
    ) -> list[dict[str, object]]:
        return [
            o.payload(self.stamp, self.live)
            for o in self.orders.values()
            if o.account_id == account_id and o.created >= start and (end is None or o.created <= end)
        ]

    def open_orders(self, account_id: int) -> list[dict[str, object]]:
        return [
            o.payload(self.stamp, self.live)
            for o in self.orders.values()
            if o.account_id == account_id and o.working  # Suspended bracket legs are not listed live
        ]

    def search_trades(
        self, account_id: int, start: datetime | None, end: datetime | None
    ) -> list[dict[str, object]]:
        return [
            t.payload(self.stamp, self.live)
            for t in self.trades.get(account_id, [])
            if (start is None or t.created >= start) and (end is None or t.created <= end)
        ]

    def fee_per_side(self, contract: SimContract) -> Decimal:
        return self.fees.get(canonical_root(contract.root), DEFAULT_FEE)

    def commission_per_side(self, contract: SimContract) -> Decimal:
        return self.commissions.get(canonical_root(contract.root), DEFAULT_COMMISSION)

    def _batch(self) -> _Batch:
        return _Batch(self.stamp, self.live)

    # ---- commands -------------------------------------------------------------------------------

    def _contract(self, contract_id: str) -> tuple[SimContract | None, str]:
        """(contract, why-not) for an id: listed, a known root's other month, or unknown."""
        contract, well_formed = parse_listed(contract_id, self.market.contracts)
        if contract is not None:
            return contract, ""
        if well_formed and any(
            c.id.rsplit(".", 1)[0] == contract_id.rsplit(".", 1)[0] for c in self.market.contracts.values()
        ):
            return None, "inactive"
        return None, "unknown"

    def place_order(
        self,
        account_id: int,
        contract_id: str,
        type_: int,
        side: int,
        size: int,
        *,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail_price: Decimal | None = None,
        custom_tag: str | None = None,
        stop_loss: Bracket | None = None,
        take_profit: Bracket | None = None,
    ) -> Outcome:
        acct = self.accounts.get(account_id)
        if acct is None:
            return Outcome(PlaceCode.ACCOUNT_NOT_FOUND, f"Account {account_id} not found.")
        contract, why = self._contract(contract_id)
        if contract is None:
            if why == "inactive":
                return Outcome(
                    PlaceCode.CONTRACT_NOT_ACTIVE, f"Contract {contract_id} is not an active contract."
                )
            return Outcome(PlaceCode.CONTRACT_NOT_FOUND, f"Contract {contract_id} not found.")
        if side not in (OrderSide.BUY, OrderSide.SELL):
            return Outcome(PlaceCode.ORDER_REJECTED, f"Invalid side {side}: use 0 (Bid/buy) or 1 (Ask/sell).")
        if type_ not in _TYPE_NAMES or type_ == OrderType.UNKNOWN:
            return Outcome(
                PlaceCode.ORDER_REJECTED,
                f"Invalid order type {type_}: use 1..7 (1 Limit, 2 Market, 3 StopLimit, 4 Stop, "
                "5 TrailingStop, 6 JoinBid, 7 JoinAsk).",
            )
        if size < 1:
            return Outcome(PlaceCode.ORDER_REJECTED, f"Invalid size {size}: must be at least 1.")
        book = self.market.book(contract.id)
        now = self.clock.now()
        order = SimOrder(0, account_id, contract, type_, side, size, now, now, custom_tag=custom_tag)
        refused = self._refusal(
            acct, order, book, limit_price, stop_price, trail_price, stop_loss, take_profit
        )
        if refused is not None:
            if not self.live:
                return refused
            # Live, a refused order still exists: it gets an id and goes Pending -> Rejected (§2b).
            return self._reject(order, refused)
        order.stop_loss, order.take_profit = stop_loss, take_profit
        order.id = next(self._order_ids)
        self.orders[order.id] = order
        batch = self._batch()
        if self.live and order.type == OrderType.MARKET:
            order.status = OrderStatus.PENDING
            batch.order(order)
        if self.live and (stop_loss is not None or take_profit is not None):
            reference = order.limit if order.limit is not None else order.stop
            if reference is None:
                reference = book.ask if side == OrderSide.BUY else book.bid
            self._suspend_brackets(order, reference, batch)
        order.status = OrderStatus.OPEN
        self.working.setdefault(contract.id, {})[order.id] = order
        if not self._execute(order, book, batch, resting=False):
            batch.order(order)  # rests: one "Open" order event
        self.emit(batch.events)
        return Outcome(PlaceCode.SUCCESS, None, order.id)

    def _refusal(
        self,
        acct: SimAccount,
        order: SimOrder,
        book: Book,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        trail_price: Decimal | None,
        stop_loss: Bracket | None,
        take_profit: Bracket | None,
    ) -> Outcome | None:
        """Why the gateway refuses an order it could read, or None (it sets the order's prices)."""
        if not acct.can_trade:
            return Outcome(
                PlaceCode.ACCOUNT_VIOLATION, f"Account {acct.id} is not allowed to trade (canTrade is false)."
            )
        if acct.balance <= 0:
            return Outcome(PlaceCode.INSUFFICIENT_FUNDS, f"Account {acct.id} has no available balance.")
        tag = order.custom_tag
        if tag is not None and any(
            o.custom_tag == tag for o in self.orders.values() if o.account_id == acct.id
        ):
            return Outcome(
                PlaceCode.ORDER_REJECTED,
                f"customTag {tag!r} is already used on account {acct.id}; tags must be unique per account.",
            )
        if order.type in (
            OrderType.MARKET,
            OrderType.JOIN_BID,
            OrderType.JOIN_ASK,
        ) and not self.market.is_open(order.created):
            return Outcome(
                PlaceCode.OUTSIDE_TRADING_HOURS,
                f"{order.contract.name} is outside trading hours ({self.market.hours.describe()}).",
            )
        problem = self._set_prices(order, book, limit_price, stop_price, trail_price, initial=True)
        if problem:
            return Outcome(PlaceCode.ORDER_REJECTED, problem)
        if self.live and acct.position_brackets and (stop_loss is not None or take_profit is not None):
            return Outcome(
                PlaceCode.ORDER_REJECTED,
                f"Account {acct.id} uses Position Brackets: brackets on an order are not allowed.",
            )
        for leg, bracket in (("stopLossBracket", stop_loss), ("takeProfitBracket", take_profit)):
            if bracket is not None:
                problem = _check_bracket(leg, bracket, order.side, self.live)
                if problem:
                    return Outcome(PlaceCode.ORDER_REJECTED, problem)
        return None

    def _reject(self, order: SimOrder, refused: Outcome) -> Outcome:
        order.id = next(self._order_ids)
        self.orders[order.id] = order
        batch = self._batch()
        order.status = OrderStatus.PENDING
        batch.order(order)
        order.status = OrderStatus.REJECTED
        batch.order(order)
        self.emit(batch.events)
        return Outcome(refused.code, refused.message, order.id)

    def _set_prices(
        self,
        order: SimOrder,
        book: Book,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        trail_price: Decimal | None,
        *,
        initial: bool,
    ) -> str | None:
        """Validate and apply the price fields an order type needs; returns a rejection reason or None."""
        c = order.contract
        t = order.type
        buy = order.side == OrderSide.BUY

        def grid(value: Decimal, name: str) -> int | str:
            ticks = c.ticks_of(value)
            if ticks is None:
                return f"Invalid {name} {value}: not a multiple of the tick size {c.tick_size} of {c.name}."
            if ticks <= 0:
                return f"Invalid {name} {value}: must be positive."
            return ticks

        limit = order.limit
        stop = order.stop
        trail = order.trail
        if t in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            if limit_price is not None:
                g = grid(limit_price, "limitPrice")
                if isinstance(g, str):
                    return g
                limit = g
            elif initial:
                return f"limitPrice is required for a {_TYPE_NAMES[t]} order."
        if t in (OrderType.STOP, OrderType.STOP_LIMIT):
            if stop_price is not None:
                g = grid(stop_price, "stopPrice")
                if isinstance(g, str):
                    return g
                stop = g
            elif initial:
                return f"stopPrice is required for a {_TYPE_NAMES[t]} order."
        if t == OrderType.TRAILING_STOP:
            if trail_price is not None:
                g = grid(trail_price, "trailPrice")
                if isinstance(g, str):
                    return g
                trail = g
                if self.live:
                    # Live, trailPrice is a price level; the distance is how far it is from the last
                    # price, capped (PROJECTX.md §2b). It reads back as that distance.
                    trail = min(abs(book.last - g), MAX_TRAIL_TICKS)
                    if trail == 0:
                        return (
                            f"Invalid trailPrice {trail_price}: it is the last price; no distance to trail."
                        )
                stop = (book.ask + trail) if buy else (book.bid - trail)
                if stop <= 0:
                    return f"Invalid trailPrice {trail_price}: the stop would be at or below zero."
            elif initial:
                what = "a price level" if self.live else "the trailing distance in price units"
                return f"trailPrice ({what}) is required for a TrailingStop order."
        if t == OrderType.JOIN_BID and initial:
            limit = book.bid
        if t == OrderType.JOIN_ASK and initial:
            limit = book.ask
        if stop is not None and t in (OrderType.STOP, OrderType.STOP_LIMIT) and not order.triggered:
            where = f"Invalid stopPrice {c.price(stop)}: a {'buy' if buy else 'sell'} stop must be"
            if buy and stop <= book.ask:
                return f"{where} above the best ask {c.price(book.ask)}."
            if not buy and stop >= book.bid:
                return f"{where} below the best bid {c.price(book.bid)}."
        order.limit, order.stop, order.trail = limit, stop, trail
        return None

    def cancel_order(self, account_id: int, order_id: int) -> Outcome:
        if account_id not in self.accounts:
            return Outcome(CancelCode.ACCOUNT_NOT_FOUND, f"Account {account_id} not found.")
        refusal = self._account_refuses(account_id, "cancel orders", CancelCode.ACCOUNT_REJECTED)
        if refusal is not None:
            return refusal
        order = self.orders.get(order_id)
        if order is None or order.account_id != account_id:
            return Outcome(CancelCode.ORDER_NOT_FOUND, f"Order {order_id} not found on account {account_id}.")
        if order.status not in (OrderStatus.OPEN, OrderStatus.SUSPENDED):
            return Outcome(
                CancelCode.REJECTED,
                f"Order {order_id} cannot be cancelled: it is {_STATUS_NAMES[order.status]}.",
            )
        batch = self._batch()
        self._cancel(order, batch)
        self.emit(batch.events)
        return OK

    def _account_refuses(self, account_id: int, what: str, code: int) -> Outcome | None:
        """Live-funded and follower accounts refuse some commands (PROJECTX.md §2b)."""
        kind = self.accounts[account_id].kind
        if kind == AccountKind.LIVE:
            return Outcome(code, "Live accounts not supported.")
        if kind == AccountKind.FOLLOWER:
            return Outcome(code, f"Follower accounts cannot {what}.")
        return None

    def _cancel(self, order: SimOrder, batch: _Batch) -> None:
        order.status = OrderStatus.CANCELLED
        order.updated = self.clock.now()
        self.working.get(order.contract.id, {}).pop(order.id, None)
        batch.order(order)
        for leg in order.legs:  # an entry cancelled before it filled takes its waiting legs with it
            if leg.status == OrderStatus.SUSPENDED:
                self._cancel(leg, batch)
        order.legs = []

    def modify_order(
        self,
        account_id: int,
        order_id: int,
        *,
        size: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail_price: Decimal | None = None,
    ) -> Outcome:
        if account_id not in self.accounts:
            return Outcome(CancelCode.ACCOUNT_NOT_FOUND, f"Account {account_id} not found.")
        order = self.orders.get(order_id)
        if order is None or order.account_id != account_id:
            return Outcome(CancelCode.ORDER_NOT_FOUND, f"Order {order_id} not found on account {account_id}.")
        if not order.working:
            return Outcome(
                CancelCode.REJECTED,
                f"Order {order_id} cannot be modified: it is {_STATUS_NAMES[order.status]}.",
            )
        if size is not None and size < 1:
            return Outcome(CancelCode.REJECTED, f"Invalid size {size}: must be at least 1.")
        book = self.market.book(order.contract.id)
        saved = (order.limit, order.stop, order.trail)
        problem = self._set_prices(order, book, limit_price, stop_price, trail_price, initial=False)
        if problem:
            order.limit, order.stop, order.trail = saved
            return Outcome(CancelCode.REJECTED, problem)
        if size is not None:
            order.size = size
        order.updated = self.clock.now()
        batch = self._batch()
        batch.order(order)
        self._execute(order, book, batch, resting=False)
        self.emit(batch.events)
        return OK

    def close_contract(self, account_id: int, contract_id: str) -> Outcome:
        return self._close(account_id, contract_id, None)

    def partial_close(self, account_id: int, contract_id: str, size: int) -> Outcome:
        return self._close(account_id, contract_id, size)

    def _close(self, account_id: int, contract_id: str, size: int | None) -> Outcome:
        codes: type[CloseCode] | type[PartialCloseCode] = CloseCode if size is None else PartialCloseCode
        if account_id not in self.accounts:
            return Outcome(codes.ACCOUNT_NOT_FOUND, f"Account {account_id} not found.")
        contract, why = self._contract(contract_id)
        if contract is None:
            if why == "inactive":
                return Outcome(
                    codes.CONTRACT_NOT_ACTIVE, f"Contract {contract_id} is not an active contract."
                )
            return Outcome(codes.CONTRACT_NOT_FOUND, f"Contract {contract_id} not found.")
        pos = self.positions.get((account_id, contract.id))
        if pos is None or pos.size == 0:
            return Outcome(
                codes.POSITION_NOT_FOUND, f"No open position in {contract.id} on account {account_id}."
            )
        if size is not None:
            refusal = self._account_refuses(
                account_id, "close part of a position", PartialCloseCode.ACCOUNT_REJECTED
            )
            if refusal is not None:
                return refusal
        if size is not None and not 1 <= size <= pos.size:
            return Outcome(
                PartialCloseCode.INVALID_CLOSE_SIZE,
                f"Invalid close size {size}: the position is {pos.size} contract(s).",
            )
        now = self.clock.now()
        if not self.market.is_open(now):
            return Outcome(
                codes.ORDER_REJECTED,
                f"{contract.name} is outside trading hours ({self.market.hours.describe()}).",
            )
        side = OrderSide.SELL if pos.type == PositionType.LONG else OrderSide.BUY
        order = SimOrder(
            next(self._order_ids), account_id, contract, OrderType.MARKET, side, size or pos.size, now, now
        )
        self.orders[order.id] = order
        batch = self._batch()
        if self.live:
            order.status = OrderStatus.PENDING
            batch.order(order)
            order.status = OrderStatus.OPEN
        self._execute(order, self.market.book(contract.id), batch, resting=False)
        self.emit(batch.events)
        return OK

    # ---- matching -------------------------------------------------------------------------------

    def on_market(self, update: MarketUpdate) -> None:
        """Check the working orders of the updated contract against the new quote."""
        orders = self.working.get(update.contract_id)
        if not orders:
            return
        batch = self._batch()
        for order in sorted(orders.values(), key=lambda o: o.id):
            if order.working:
                self._execute(order, update.book, batch, resting=True)
        if batch.events:
            self.emit(batch.events)

    def _execute(self, order: SimOrder, book: Book, batch: _Batch, *, resting: bool) -> bool:
        """Fill the order if the book allows; returns whether it filled. ``resting`` orders fill at their
        own limit; incoming (new/modified) ones take the opposite best price, like an aggressor."""
        buy = order.side == OrderSide.BUY
        t = order.type
        if t == OrderType.MARKET:
            self._fill(order, book.ask if buy else book.bid, batch)
            return True
        if t == OrderType.TRAILING_STOP and order.trail is not None and order.stop is not None:
            better = (book.ask + order.trail) if buy else (book.bid - order.trail)
            if (buy and better < order.stop) or (not buy and better > order.stop):
                order.stop = better
                order.updated = self.clock.now()
                batch.order(order)
        if t in (OrderType.STOP, OrderType.TRAILING_STOP) or (
            t == OrderType.STOP_LIMIT and not order.triggered
        ):
            assert order.stop is not None
            if (buy and book.ask >= order.stop) or (not buy and book.bid <= order.stop):
                if t == OrderType.STOP_LIMIT:
                    order.triggered = True
                    resting = False  # the limit enters the book now, as an incoming order
                else:
                    self._fill(order, book.ask if buy else book.bid, batch)
                    return True
            else:
                return False
        if order.limit is None:
            return False
        if buy and book.ask <= order.limit:
            self._fill(order, order.limit if resting else book.ask, batch)
            return True
        if not buy and book.bid >= order.limit:
            self._fill(order, order.limit if resting else book.bid, batch)
            return True
        return False

    def _fill(self, order: SimOrder, price: int, batch: _Batch) -> None:
        now = self.clock.now()
        c = order.contract
        acct = self.accounts[order.account_id]
        order.status = OrderStatus.FILLED
        order.fill_volume = order.size
        order.filled_price = c.price(price)
        order.updated = now
        self.working.get(c.id, {}).pop(order.id, None)
        pnl, pos, avg_before = self._apply_fill(order, price, now)
        fees = (self.fee_per_side(c) * order.size).quantize(CENT)
        commissions = (self.commission_per_side(c) * order.size).quantize(CENT) if self.live else None
        trade = SimTrade(
            next(self._trade_ids),
            acct.id,
            c.id,
            now,
            c.price(price),
            pnl,
            fees,
            order.side,
            order.size,
            order.id,
            commissions=commissions,
        )
        self.trades[acct.id].append(trade)
        acct.balance += (pnl or Decimal(0)) - fees - (commissions or Decimal(0))
        if not self.live:
            batch.order(order)
            batch.trade(trade)
        else:
            # Recorded live: a take-profit (limit) reports its order first, a market order or a stop its
            # trades first; a close is followed by the same trade again at the opening price, no P&L.
            if order.type in (OrderType.LIMIT, OrderType.JOIN_BID, OrderType.JOIN_ASK):
                batch.order(order)
            batch.trade(trade)
            if pnl is not None:
                repeat_id = next(self._trade_ids) if self.repeat_new_id else trade.id
                batch.trade(replace(trade, id=repeat_id, price=avg_before, pnl=None))
            if order.type not in (OrderType.LIMIT, OrderType.JOIN_BID, OrderType.JOIN_ASK):
                batch.order(order)
        batch.position(pos, avg_before if pos.size == 0 else None)
        for _ in range(2 + trade.id % 3 if self.live else 1):  # live: 2-4 account updates per fill
            batch.account(acct)
        if order.oco is not None:
            sibling = self.orders.get(order.oco)
            if sibling is not None and sibling.working:
                self._cancel(sibling, batch)
        if order.legs:
            self._activate_brackets(order, price, batch)
        elif order.stop_loss is not None or order.take_profit is not None:
            self._attach_brackets(order, price, batch)

    def _apply_fill(
        self, order: SimOrder, price: int, now: datetime
    ) -> tuple[Decimal | None, SimPosition, Decimal]:
        """Net a fill into the account's position; returns (realized P&L or None, position, avg before)."""
        c = order.contract
        key = (order.account_id, c.id)
        pos = self.positions.get(key)
        fill_type = PositionType.LONG if order.side == OrderSide.BUY else PositionType.SHORT
        if pos is None or pos.size == 0:
            pos = SimPosition(
                next(self._position_ids),
                order.account_id,
                c,
                fill_type,
                order.size,
                Fraction(price * order.size),
                now,
            )
            self.positions[key] = pos
            return None, pos, pos.average_price()
        avg_before = pos.average_price()
        if pos.type == fill_type:
            pos.size += order.size
            pos.cost += price * order.size
            return None, pos, avg_before
        closed = min(order.size, pos.size)
        avg = pos.average_ticks()
        ticks = (price - avg) * closed if pos.type == PositionType.LONG else (avg - price) * closed
        dollars = Decimal(ticks.numerator) * c.tick_value / Decimal(ticks.denominator)
        pnl = dollars.quantize(CENT, rounding=ROUND_HALF_EVEN)
        pos.cost -= avg * closed
        pos.size -= closed
        remainder = order.size - closed
        if remainder:
            # Reversal: the rest opens a position the other way at the fill price.
            pos.type = fill_type
            pos.size = remainder
            pos.cost = Fraction(price * remainder)
            pos.created = now
        elif pos.size == 0:
            del self.positions[key]
        return pnl, pos, avg_before

    def _suspend_brackets(self, parent: SimOrder, reference: int, batch: _Batch) -> None:
        """Live: the legs exist from placement, Suspended, priced from the expected entry."""
        parent.legs = self._bracket_legs(parent, reference)
        for leg in parent.legs:
            leg.status = OrderStatus.SUSPENDED
            self.orders[leg.id] = leg
            batch.order(leg)

    def _activate_brackets(self, parent: SimOrder, fill: int, batch: _Batch) -> None:
        """Live: the entry filled; its legs re-price from the fill and open (8 Suspended -> 1 Open)."""
        legs, parent.legs = parent.legs, []
        now = self.clock.now()
        for leg in legs:
            if leg.status != OrderStatus.SUSPENDED:
                continue
            _price_leg(leg, parent, fill)
            leg.status = OrderStatus.OPEN
            leg.updated = now
            self.working.setdefault(leg.contract.id, {})[leg.id] = leg
            batch.order(leg)
        book = self.market.book(parent.contract.id)
        for leg in legs:
            if leg.working:
                self._execute(leg, book, batch, resting=False)

    def _bracket_legs(self, parent: SimOrder, fill: int) -> list[SimOrder]:
        now = self.clock.now()
        side = OrderSide.SELL if parent.side == OrderSide.BUY else OrderSide.BUY
        legs: list[SimOrder] = []
        for bracket, type_ in ((parent.stop_loss, None), (parent.take_profit, OrderType.LIMIT)):
            if bracket is None:
                continue
            leg = SimOrder(
                next(self._order_ids),
                parent.account_id,
                parent.contract,
                type_ if type_ is not None else bracket.type,
                side,
                parent.size,
                now,
                now,
            )
            leg.parent = parent.id
            _price_leg(leg, parent, fill)
            legs.append(leg)
        if len(legs) == 2:
            legs[0].oco, legs[1].oco = legs[1].id, legs[0].id
        return legs

    def _attach_brackets(self, parent: SimOrder, fill: int, batch: _Batch) -> None:
        """Bare: the legs are created when the entry fills, working at once."""
        legs = self._bracket_legs(parent, fill)
        book = self.market.book(parent.contract.id)
        for leg in legs:
            self.orders[leg.id] = leg
            self.working.setdefault(leg.contract.id, {})[leg.id] = leg
            batch.order(leg)
        for leg in legs:
            if leg.working:
                self._execute(leg, book, batch, resting=False)

    # ---- state dump -----------------------------------------------------------------------------

    def state(self) -> dict[str, object]:
        return {
            "accounts": self.search_accounts(False),
            "positions": [
                p.payload(None, self.stamp, self.live)
                for p in sorted(self.positions.values(), key=lambda p: p.id)
                if p.size > 0
            ],
            "workingOrders": [o.payload(self.stamp, self.live) for o in self.orders.values() if o.working],
            "orders": [o.payload(self.stamp, self.live) for o in self.orders.values()],
            "trades": [
                t.payload(self.stamp, self.live) for acct in sorted(self.trades) for t in self.trades[acct]
            ],
        }


def _price_leg(leg: SimOrder, parent: SimOrder, fill: int) -> None:
    """Set a bracket leg's prices from the entry price (in ticks) and the parent's bracket."""
    if leg.type == OrderType.LIMIT and parent.take_profit is not None:
        leg.limit = fill + parent.take_profit.ticks
        return
    b = parent.stop_loss
    assert b is not None
    leg.stop = fill + b.ticks
    if b.type == OrderType.TRAILING_STOP:
        leg.trail = abs(b.ticks)
    elif b.type == OrderType.STOP_LIMIT:
        leg.limit = leg.stop


def _check_bracket(leg: str, bracket: Bracket, entry_side: int, live: bool = False) -> str | None:
    """Brackets carry signed ticks relative to the entry fill (TopstepX convention, third-party sources):
    for a buy, the stop loss is below (negative ticks) and the take profit above (positive)."""
    if bracket.ticks == 0:
        return f"{leg}.ticks must not be 0."
    if live and leg == "stopLossBracket" and abs(bracket.ticks) < MIN_STOP_LOSS_TICKS:
        return f"{leg}.ticks {bracket.ticks}: a stop loss must be at least {MIN_STOP_LOSS_TICKS} ticks away."
    allowed = (
        (OrderType.STOP, OrderType.TRAILING_STOP, OrderType.STOP_LIMIT)
        if leg == "stopLossBracket"
        else (OrderType.LIMIT,)
    )
    if bracket.type not in allowed:
        names = ", ".join(f"{int(t)} ({_TYPE_NAMES[t]})" for t in allowed)
        return f"{leg}.type {bracket.type} is not supported; use {names}."
    buy = entry_side == OrderSide.BUY
    below = bracket.ticks < 0
    if leg == "stopLossBracket" and below != buy:
        want = "negative (below the entry)" if buy else "positive (above the entry)"
        side = "buy" if buy else "sell"
        return f"{leg}.ticks {bracket.ticks}: for a {side} entry the stop loss ticks must be {want}."
    if leg == "takeProfitBracket" and below == buy:
        want = "positive (above the entry)" if buy else "negative (below the entry)"
        side = "buy" if buy else "sell"
        return f"{leg}.ticks {bracket.ticks}: for a {side} entry the take profit ticks must be {want}."
    return None
