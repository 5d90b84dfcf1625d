"""Paper broker: accounts, orders, fills at the simulated quotes, positions, trades, fees, brackets.

Money is Decimal; prices are integer ticks of their contract (so on the grid by construction), turned
into Decimal for P&L and into JSON numbers only in payloads. Position cost is kept as an exact
Fraction of ticks so averaging in and partially closing never drifts; each trade's ``profitAndLoss``
is rounded to the cent once, when it is realized.

Every operation collects the user-hub events it causes into one batch, in the order the gateway sends
them for a fill — order, trade, position, account — and hands the batch to ``emit`` at the end.
Error codes are the gateway's per-endpoint enums (swagger: PlaceOrderErrorCode, CancelOrderErrorCode,
ModifyOrderErrorCode, ClosePositionErrorCode, PartialClosePositionErrorCode).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import IntEnum
from fractions import Fraction

from ..domain.contracts import canonical_root
from ..domain.events import OrderSide, OrderStatus, OrderType, PositionType
from .clock import Clock
from .market import Book, MarketSimulator, MarketUpdate, SimContract, parse_listed
from .wire import iso, num

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

    def payload(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "balance": num(self.balance),
            "canTrade": self.can_trade,
            "isVisible": self.is_visible,
            "simulated": True,
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

    @property
    def working(self) -> bool:
        return self.status == OrderStatus.OPEN

    def payload(self) -> dict[str, object]:
        c = self.contract
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": c.id,
            "symbolId": c.symbol_id,
            "creationTimestamp": iso(self.created),
            "updateTimestamp": iso(self.updated),
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

    def payload(self, average: Decimal | None = None) -> dict[str, object]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract.id,
            "creationTimestamp": iso(self.created),
            "type": int(self.type),
            "size": self.size,
            "averagePrice": num(average if average is not None else self.average_price()),
        }


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

    def payload(self) -> dict[str, object]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract_id,
            "creationTimestamp": iso(self.created),
            "price": num(self.price),
            "profitAndLoss": num(self.pnl),
            "fees": num(self.fees),
            "side": self.side,
            "size": self.size,
            "voided": self.voided,
            "orderId": self.order_id,
        }


@dataclass(slots=True)
class _Batch:
    events: list[UserEvent] = field(default_factory=list)

    def order(self, o: SimOrder) -> None:
        self.events.append(("GatewayUserOrder", o.account_id, o.payload()))


_TYPE_NAMES = {t.value: t.name.title().replace("_", "") for t in OrderType}
_STATUS_NAMES = {s.value: s.name.title().replace("_", "") for s in OrderStatus}


class PaperBroker:
    def __init__(
        self,
        market: MarketSimulator,
        clock: Clock,
        *,
        fees: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.market = market
        self.clock = clock
        self.fees = dict(FEES_PER_SIDE if fees is None else fees)
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
    ) -> SimAccount:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise KeyError(f"no account {account_id}; accounts are {sorted(self.accounts)}")
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
            p.payload()
            for (acct, _), p in sorted(self.positions.items(), key=lambda kv: kv[1].id)
            if acct == account_id and p.size > 0
        ]

    def search_orders(
        self, account_id: int, start: datetime, end: datetime | None
    ) -> list[dict[str, object]]:
        return [
            o.payload()
            for o in self.orders.values()
            if o.account_id == account_id and o.created >= start and (end is None or o.created <= end)
        ]

    def open_orders(self, account_id: int) -> list[dict[str, object]]:
        return [o.payload() for o in self.orders.values() if o.account_id == account_id and o.working]

    def search_trades(
        self, account_id: int, start: datetime | None, end: datetime | None
    ) -> list[dict[str, object]]:
        return [
            t.payload()
            for t in self.trades.get(account_id, [])
            if (start is None or t.created >= start) and (end is None or t.created <= end)
        ]

    def fee_per_side(self, contract: SimContract) -> Decimal:
        return self.fees.get(canonical_root(contract.root), DEFAULT_FEE)

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
        if not acct.can_trade:
            return Outcome(
                PlaceCode.ACCOUNT_VIOLATION,
                f"Account {account_id} is not allowed to trade (canTrade is false).",
            )
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
        if acct.balance <= 0:
            return Outcome(PlaceCode.INSUFFICIENT_FUNDS, f"Account {account_id} has no available balance.")
        if custom_tag is not None and any(
            o.custom_tag == custom_tag for o in self.orders.values() if o.account_id == account_id
        ):
            return Outcome(
                PlaceCode.ORDER_REJECTED,
                f"customTag {custom_tag!r} is already used on account {account_id}; "
                "tags must be unique per account.",
            )
        book = self.market.book(contract.id)
        now = self.clock.now()
        is_open = self.market.is_open(now)
        if type_ in (OrderType.MARKET, OrderType.JOIN_BID, OrderType.JOIN_ASK) and not is_open:
            return Outcome(
                PlaceCode.OUTSIDE_TRADING_HOURS,
                f"{contract.name} is outside trading hours ({self.market.hours.describe()}).",
            )
        order = SimOrder(0, account_id, contract, type_, side, size, now, now, custom_tag=custom_tag)
        problem = self._set_prices(order, book, limit_price, stop_price, trail_price, initial=True)
        if problem:
            return Outcome(PlaceCode.ORDER_REJECTED, problem)
        for leg, bracket in (("stopLossBracket", stop_loss), ("takeProfitBracket", take_profit)):
            if bracket is not None:
                problem = _check_bracket(leg, bracket, side)
                if problem:
                    return Outcome(PlaceCode.ORDER_REJECTED, problem)
        order.stop_loss, order.take_profit = stop_loss, take_profit
        order.id = next(self._order_ids)
        self.orders[order.id] = order
        batch = _Batch()
        self.working.setdefault(contract.id, {})[order.id] = order
        if not self._execute(order, book, batch, resting=False):
            batch.order(order)  # rests: one "Open" order event
        self.emit(batch.events)
        return Outcome(PlaceCode.SUCCESS, None, order.id)

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
                stop = (book.ask + trail) if buy else (book.bid - trail)
                if stop <= 0:
                    return f"Invalid trailPrice {trail_price}: the stop would be at or below zero."
            elif initial:
                return (
                    "trailPrice (the trailing distance in price units) is required for a TrailingStop order."
                )
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
        order = self.orders.get(order_id)
        if order is None or order.account_id != account_id:
            return Outcome(CancelCode.ORDER_NOT_FOUND, f"Order {order_id} not found on account {account_id}.")
        if not order.working:
            return Outcome(
                CancelCode.REJECTED,
                f"Order {order_id} cannot be cancelled: it is {_STATUS_NAMES[order.status]}.",
            )
        batch = _Batch()
        self._cancel(order, batch)
        self.emit(batch.events)
        return OK

    def _cancel(self, order: SimOrder, batch: _Batch) -> None:
        order.status = OrderStatus.CANCELLED
        order.updated = self.clock.now()
        self.working.get(order.contract.id, {}).pop(order.id, None)
        batch.order(order)

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
        batch = _Batch()
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
        batch = _Batch()
        self._execute(order, self.market.book(contract.id), batch, resting=False)
        self.emit(batch.events)
        return OK

    # ---- matching -------------------------------------------------------------------------------

    def on_market(self, update: MarketUpdate) -> None:
        """Check the working orders of the updated contract against the new quote."""
        orders = self.working.get(update.contract_id)
        if not orders:
            return
        batch = _Batch()
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
        )
        self.trades[acct.id].append(trade)
        acct.balance += (pnl or Decimal(0)) - fees
        batch.order(order)
        batch.events.append(("GatewayUserTrade", acct.id, trade.payload()))
        batch.events.append(
            ("GatewayUserPosition", acct.id, pos.payload(avg_before if pos.size == 0 else None))
        )
        batch.events.append(("GatewayUserAccount", acct.id, acct.payload()))
        if order.oco is not None:
            sibling = self.orders.get(order.oco)
            if sibling is not None and sibling.working:
                self._cancel(sibling, batch)
        if order.stop_loss is not None or order.take_profit is not None:
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

    def _attach_brackets(self, parent: SimOrder, fill: int, batch: _Batch) -> None:
        now = self.clock.now()
        side = OrderSide.SELL if parent.side == OrderSide.BUY else OrderSide.BUY
        legs: list[SimOrder] = []
        if parent.stop_loss is not None:
            b = parent.stop_loss
            leg = SimOrder(
                next(self._order_ids), parent.account_id, parent.contract, b.type, side, parent.size, now, now
            )
            if b.type == OrderType.TRAILING_STOP:
                leg.trail = abs(b.ticks)
                leg.stop = fill + b.ticks
            else:
                leg.stop = fill + b.ticks
                if b.type == OrderType.STOP_LIMIT:
                    leg.limit = leg.stop
            legs.append(leg)
        if parent.take_profit is not None:
            b = parent.take_profit
            leg = SimOrder(
                next(self._order_ids),
                parent.account_id,
                parent.contract,
                OrderType.LIMIT,
                side,
                parent.size,
                now,
                now,
            )
            leg.limit = fill + b.ticks
            legs.append(leg)
        if len(legs) == 2:
            legs[0].oco, legs[1].oco = legs[1].id, legs[0].id
        book = self.market.book(parent.contract.id)
        for leg in legs:
            leg.parent = parent.id
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
                p.payload() for p in sorted(self.positions.values(), key=lambda p: p.id) if p.size > 0
            ],
            "workingOrders": [o.payload() for o in self.orders.values() if o.working],
            "orders": [o.payload() for o in self.orders.values()],
            "trades": [t.payload() for acct in sorted(self.trades) for t in self.trades[acct]],
        }


def _check_bracket(leg: str, bracket: Bracket, entry_side: int) -> str | None:
    """Brackets carry signed ticks relative to the entry fill (TopstepX convention, third-party sources):
    for a buy, the stop loss is below (negative ticks) and the take profit above (positive)."""
    if bracket.ticks == 0:
        return f"{leg}.ticks must not be 0."
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
