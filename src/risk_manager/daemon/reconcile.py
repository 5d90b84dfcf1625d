"""Reconciling an account over REST: what the gateway holds now, as engine events.

The gateway does not replay what the hubs missed (a dropped connection, the daemon being down), so
after every (re)connection the daemon reads the account's open positions, working orders and the
trading day's trades, and feeds them to the engine as the events they would have been:

- every trade of the day (the engine counts each trade id once, so the ones it saw are no-ops);
- every working order, and for each order the engine holds as working that the gateway no longer
  lists, an update saying it is no longer working (cancelled: whether it filled is in the trades);
- every open position, and a flat snapshot (size 0) for each position the engine holds that the
  gateway no longer lists.

Trades go first (the P&L a position update relies on), then orders, then positions: the order in
which the gateway itself sends a fill. A position that opened while the daemon was down under an
active lockout reaches the engine's lockout gate here and is closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from risk_manager.broker.models import Order, Position, Trade
from risk_manager.broker.normalize import normalize_order, normalize_position, normalize_trade
from risk_manager.domain.events import Event, OrderEvent, OrderStatus, PositionEvent, PositionType

__all__ = ["reconcile_events", "trading_day_start", "vanished_order_events"]


def reconcile_events(
    account_id: int,
    account: Any,  # the engine's AccountState, or None when the engine has not seen the account
    positions: list[Position],
    orders: list[Order],
    trades: list[Trade],
) -> list[Event]:
    """The events that bring the engine's view of ``account_id`` to what REST reported."""
    events: list[Event] = []
    for trade in sorted(trades, key=lambda t: (t.creation_timestamp, t.id)):
        events.append(normalize_trade(dict(trade.raw), "Trade/search"))
    listed_orders = set()
    for order in orders:
        listed_orders.add(order.id)
        events.append(normalize_order(dict(order.raw), "Order/searchOpen"))
    held_orders: Mapping[int, OrderEvent] = getattr(account, "working_orders", {}) or {}
    for order_id, held in list(held_orders.items()):
        if order_id not in listed_orders:
            events.append(replace(held, status=OrderStatus.CANCELLED))
    listed_positions = set()
    held_positions: Mapping[str, Any] = getattr(account, "positions", {}) or {}
    for position in positions:
        listed_positions.add(position.contract_id)
        event = normalize_position(dict(position.raw), "Position/searchOpen")
        before = held_positions.get(position.contract_id)
        if before is not None and _reopened(before, event):
            # The position the engine holds was closed and this one opened while nobody listened.
            # Say so, so the engine sees an open (and its lockout gate acts on it).
            events.append(_flat(account_id, position.contract_id, before))
        events.append(event)
    for contract_id, held in list(held_positions.items()):
        if contract_id not in listed_positions:
            events.append(_flat(account_id, contract_id, held))
    return events


def vanished_order_events(account: Any, order_id: int) -> list[Event]:
    """A read showed ``order_id`` no longer working while no event said so: the cancel the engine
    missed, built from the order it holds (nothing when it does not hold the order as working)."""
    held_orders: Mapping[int, OrderEvent] = getattr(account, "working_orders", {}) or {}
    held = held_orders.get(order_id)
    return [] if held is None else [replace(held, status=OrderStatus.CANCELLED)]


# Gateway and local clocks may disagree by this much: a later creation time alone proves a reopen
# only beyond it. A different position id proves it at once.
CLOCK_SKEW = timedelta(seconds=5)


def _reopened(before: Any, event: PositionEvent) -> bool:
    if event.position_id and before.position_id and event.position_id != before.position_id:
        return True
    return event.created is not None and event.created > before.opened_at + CLOCK_SKEW


def _flat(account_id: int, contract_id: str, held: Any) -> PositionEvent:
    side = PositionType.LONG if held.size > 0 else PositionType.SHORT
    return PositionEvent(position_id=held.position_id, account_id=account_id, contract_id=contract_id,
                         type=side, size=0, average_price=held.average_price)


def trading_day_start(account: Any, now: datetime) -> datetime:
    """Where the day's trades begin: the engine's current trading day, else the last 24 hours."""
    day = getattr(account, "day", None)
    start = getattr(day, "start", None)
    if isinstance(start, datetime) and start <= now:
        return start
    return now - timedelta(days=1)
