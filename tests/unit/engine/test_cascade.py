"""Cascades: a close turns unrealized P&L into realized, and the resulting trade is evaluated like any
other event (RULES.md "Cascade")."""

from __future__ import annotations

from typing import Any

from risk_manager.domain.events import OrderSide
from risk_manager.rules.registry import rule_class

from engine_helpers import MNQ, EngineHarness, flat, kinds, pos, quote, trade


def rule(key: str, **cfg: Any) -> Any:
    cls = rule_class(key)
    return cls(cls.config_model.model_validate({"enabled": True, **cfg}))


def test_a_rule_004_close_whose_realized_loss_trips_rule_003() -> None:
    h = EngineHarness(
        rule("daily_realized_loss", limit=-500, include_unrealized=False),
        rule("daily_unrealized_loss", limit=-250),
    )
    h.apply(trade(1, MNQ, "21000", pnl="-300", order_id=1))  # an earlier loss today
    h.apply(pos(MNQ, 2, "21000"), trade(2, MNQ, "21000", order_id=2))
    # 2 MNQ long from 21000 marked at 20937.50: -62.5 points x 2 contracts x $2 = -250.00 -> close
    assert kinds(h.apply(quote(MNQ, 20937.5))) == [("RULE-004", "close_position")]
    # the gateway fills the close: the trade realizes the loss, then the position goes flat
    cascade = h.apply(trade(3, MNQ, "20937.50", pnl="-250", side=OrderSide.SELL, size=2, order_id=3))
    assert kinds(cascade) == [("RULE-003", "flatten"), ("RULE-003", "cancel_orders"), ("RULE-003", "lockout")]
    assert "day P&L -550.00 <= limit -500.00" in (cascade[0].reason or "")
    assert h.apply(flat(MNQ)) == []
    # and the lock now holds: a new position is closed by the gate
    assert kinds(h.apply(pos(MNQ, 1, "20940"))) == [("LOCKOUT", "close_position")]


def test_with_unrealized_included_rule_003_acts_on_the_same_quote_and_the_fill_adds_nothing() -> None:
    h = EngineHarness(
        rule("daily_realized_loss", limit=-500, include_unrealized=True),
        rule("daily_unrealized_loss", limit=-250),
    )
    h.apply(trade(1, MNQ, "21000", pnl="-300", order_id=1))
    h.apply(pos(MNQ, 2, "21000"), trade(2, MNQ, "21000", order_id=2))
    both = h.apply(quote(MNQ, 20937.5))
    assert kinds(both) == [
        ("RULE-003", "flatten"),
        ("RULE-003", "cancel_orders"),
        ("RULE-003", "lockout"),
        ("RULE-004", "close_position"),
    ]
    # the closing fill does not count the same loss twice, and enforces nothing new
    assert h.apply(trade(3, MNQ, "20937.50", pnl="-250", side=OrderSide.SELL, size=2, order_id=3)) == []
    assert h.apply(flat(MNQ)) == []
