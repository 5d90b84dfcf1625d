"""The lockout gate and the live order lifecycle: Pending and Suspended orders are not yet in the market.

Live, a market order is Pending on its way to Filled, a refused one Pending on its way to Rejected,
and a bracket leg Suspended until its entry fills (PROJECTX.md §2b). The gate acts on what they
become (an Open order, the fill's position), so the decisions match a feed without those states.
"""

from __future__ import annotations

from risk_manager.domain.events import OrderStatus, OrderType
from risk_manager.rules.auth_loss_guard import AuthLossGuard, AuthLossGuardConfig

from engine_helpers import ES, EngineHarness, OrderSide, account_event, kinds, order, pos


def locked() -> EngineHarness:
    h = EngineHarness(AuthLossGuard(AuthLossGuardConfig(enabled=True)))
    h.apply(account_event(can_trade=True), account_event(can_trade=False))  # RULE-010 locks the account
    return h


def test_a_pending_market_order_while_locked_is_left_to_fill_and_its_position_is_closed() -> None:
    h = locked()
    pending = order(1, ES, type=OrderType.MARKET, side=OrderSide.BUY, status=OrderStatus.PENDING)
    assert h.apply(pending) == []
    filled = order(1, ES, type=OrderType.MARKET, side=OrderSide.BUY, status=OrderStatus.FILLED)
    assert kinds(h.apply(filled, pos(ES, 1, "5000"))) == [("LOCKOUT", "close_position")]


def test_a_suspended_bracket_leg_is_cancelled_only_once_it_opens() -> None:
    h = locked()
    assert h.apply(order(2, ES, status=OrderStatus.SUSPENDED, stop_price="4990")) == []
    assert kinds(h.apply(order(2, ES, status=OrderStatus.OPEN, stop_price="4990"))) == [
        ("LOCKOUT", "cancel_orders")
    ]


def test_an_open_order_while_locked_is_still_cancelled_at_once() -> None:
    h = locked()
    resting = order(3, ES, type=OrderType.LIMIT, side=OrderSide.BUY, limit_price="4990")
    assert kinds(h.apply(resting)) == [("LOCKOUT", "cancel_orders")]
