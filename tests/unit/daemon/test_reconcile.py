"""What a REST reconcile feeds the engine: the gateway's rows as events, and what disappeared."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from risk_manager.broker.models import Order, Position, Trade
from risk_manager.daemon.feed_health import FeedHealth
from risk_manager.daemon.reconcile import reconcile_events, trading_day_start, vanished_order_events
from risk_manager.domain.events import OrderEvent, OrderStatus, PositionEvent, TradeEvent

MNQ = "CON.F.US.MNQ.H26"
ES = "CON.F.US.EP.H26"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@dataclass
class Held:
    size: int
    average_price: Decimal
    opened_at: datetime
    position_id: int = 3


@dataclass
class Account:
    positions: dict[str, Held] = field(default_factory=dict)
    working_orders: dict[int, OrderEvent] = field(default_factory=dict)


def position(contract: str, size: int, created: datetime, position_id: int = 3) -> Position:
    raw: dict[str, Any] = {
        "id": position_id,
        "accountId": 7,
        "contractId": contract,
        "type": 1,
        "size": size,
        "averagePrice": 100.25,
        "creationTimestamp": created.isoformat(),
    }
    return Position.parse("Position/searchOpen", raw)


def order(order_id: int, contract: str) -> Order:
    raw = {
        "id": order_id,
        "accountId": 7,
        "contractId": contract,
        "status": 1,
        "type": 4,
        "side": 1,
        "size": 1,
        "stopPrice": 99.0,
        "creationTimestamp": T0.isoformat(),
    }
    return Order.parse("Order/searchOpen", raw)


def trade(trade_id: int, minute: int) -> Trade:
    raw = {
        "id": trade_id,
        "accountId": 7,
        "contractId": MNQ,
        "price": 100.0,
        "profitAndLoss": -10.0,
        "fees": 0.37,
        "side": 1,
        "size": 1,
        "voided": False,
        "orderId": 9,
        "creationTimestamp": (T0 + timedelta(minutes=minute)).isoformat(),
    }
    return Trade.parse("Trade/search", raw)


def test_trades_in_time_order_then_orders_then_positions() -> None:
    events = reconcile_events(7, None, [position(MNQ, 2, T0)], [order(5, MNQ)], [trade(2, 5), trade(1, 1)])
    assert [type(e) for e in events] == [TradeEvent, TradeEvent, OrderEvent, PositionEvent]
    assert [e.trade_id for e in events[:2]] == [1, 2]  # type: ignore[union-attr]
    assert events[3].size == 2 and events[3].average_price == Decimal("100.25")  # type: ignore[union-attr]


def test_a_position_and_an_order_the_gateway_no_longer_lists_are_reported_gone() -> None:
    held_order = OrderEvent(6, 7, ES, OrderStatus.OPEN, 1, 0, 1)
    account = Account({ES: Held(-2, Decimal(6000), T0)}, {6: held_order})
    events = reconcile_events(7, account, [], [], [])
    assert events == [
        OrderEvent(6, 7, ES, OrderStatus.CANCELLED, 1, 0, 1),
        PositionEvent(3, 7, ES, 2, 0, Decimal(6000)),
    ]


def test_an_order_a_read_found_gone_becomes_its_cancel_and_an_order_not_held_becomes_nothing() -> None:
    held_stop = OrderEvent(6, 7, ES, OrderStatus.OPEN, 4, 1, 1, stop_price=Decimal(5990))
    account = Account(working_orders={6: held_stop})
    assert vanished_order_events(account, 6) == [
        OrderEvent(6, 7, ES, OrderStatus.CANCELLED, 4, 1, 1, stop_price=Decimal(5990))
    ]
    assert vanished_order_events(account, 8) == []
    assert vanished_order_events(None, 6) == []  # an account the engine has not seen


def test_a_position_with_a_new_id_or_created_well_after_the_held_one_is_reported_closed_then_opened() -> None:
    account = Account({MNQ: Held(1, Decimal(100), T0, position_id=3)})
    new_id = position(MNQ, 1, T0, position_id=4)
    assert [e.size for e in reconcile_events(7, account, [new_id], [], [])] == [0, 1]  # type: ignore[union-attr]
    later = position(MNQ, 1, T0 + timedelta(minutes=3))
    assert [e.size for e in reconcile_events(7, account, [later], [], [])] == [0, 1]  # type: ignore[union-attr]
    # Same id, a creation time within the clock skew allowed: the same position.
    skewed = position(MNQ, 1, T0 + timedelta(seconds=2))
    assert [e.size for e in reconcile_events(7, account, [skewed], [], [])] == [1]  # type: ignore[union-attr]


def test_the_trades_are_read_from_the_start_of_the_engines_trading_day_or_the_last_24_hours() -> None:
    @dataclass
    class Day:
        start: datetime

    @dataclass
    class WithDay:
        day: Day

    assert trading_day_start(WithDay(Day(T0 - timedelta(hours=6))), T0) == T0 - timedelta(hours=6)
    assert trading_day_start(None, T0) == T0 - timedelta(days=1)


def test_feed_health_flags_a_silent_contract_once_and_revalues_it_every_period_until_quotes_return() -> None:
    feed = FeedHealth(10.0)
    assert feed.check([MNQ], 0.0) == ([], [])  # watching starts
    assert feed.check([MNQ], 9.9) == ([], [])
    assert feed.check([MNQ], 10.0) == ([MNQ], [MNQ])
    assert feed.check([MNQ], 15.0) == ([], [])
    assert feed.check([MNQ], 20.0) == ([], [MNQ])
    assert feed.quote(MNQ, 21.0) is True  # back
    assert feed.check([MNQ], 25.0) == ([], [])
    assert feed.quote(MNQ, 26.0) is False


def test_feed_health_forgets_a_contract_without_positions() -> None:
    feed = FeedHealth(1.0)
    feed.check([ES], 0.0)
    assert feed.check([ES], 2.0) == ([ES], [ES])
    assert feed.check([], 3.0) == ([], []) and feed.stale == set()
