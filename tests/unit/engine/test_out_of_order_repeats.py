"""A close's P&L-less repeat (PROJECTX.md §2b: same trade id, maybe) arriving before the close
itself: the execution counts once, with the P&L the close carries -- as when they come in order."""

from __future__ import annotations

from decimal import Decimal

from risk_manager.domain.events import OrderSide, TradeEvent
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig

from engine_helpers import ACCOUNT, ES, EngineHarness, account_event, flat, kinds, pos, trade

SELL = OrderSide.SELL


def harness() -> EngineHarness:
    h = EngineHarness(DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=Decimal(-500))))
    h.apply(account_event(), pos(ES, 1, "6000.25"), trade(1, ES, "6000.25", fees="1.40", order_id=10))
    return h


def close(pnl: str | None) -> TradeEvent:
    # the close at 5985.00 and its repeat at the opening price share trade id 2
    price = "5985.00" if pnl is not None else "6000.25"
    return trade(2, ES, price, pnl=pnl, fees="1.40", side=SELL, order_id=11)


def test_the_close_after_its_repeat_counts_its_pnl_once_and_breaches_as_in_order() -> None:
    in_order = harness()
    expected = in_order.apply(close("-762.50"), close(None), flat(ES))
    reversed_ = harness()
    decided = reversed_.apply(flat(ES), close(None), close("-762.50"))
    assert ("RULE-003", "flatten") in kinds(decided)
    assert sorted(kinds(decided)) == sorted(kinds(expected))
    for h in (in_order, reversed_):
        day = h.engine.accounts[ACCOUNT].day
        assert (day.realized, day.fees, day.trade_count) == (Decimal("-762.50"), Decimal("2.80"), 2)


def test_a_further_repeat_of_a_counted_close_changes_nothing() -> None:
    h = harness()
    h.apply(close(None), close("-762.50"))
    assert h.apply(close("-762.50"), close(None)) == []
    assert h.engine.accounts[ACCOUNT].day.realized == Decimal("-762.50")
