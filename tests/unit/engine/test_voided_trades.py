"""Voided trades: a bust takes the execution's P&L, fees and window count back out of the day.

RULES.md, settled points: a trade event with ``voided: true`` (first seen, or re-sent for an id
already counted) removes that execution from the trading day; limits and warnings are re-evaluated
on the corrected figures; a lockout already taken is not ended by a void.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson

from risk_manager.domain.actions import Action
from risk_manager.engine.snapshot import restore, snapshot
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig
from risk_manager.rules.trade_frequency_limit import TradeFrequencyLimit, TradeFrequencyLimitConfig

from engine_helpers import MNQ, T0, EngineHarness, kinds, trade

DAILY_LOCK = [("RULE-003", "flatten"), ("RULE-003", "cancel_orders"), ("RULE-003", "lockout")]


def daily_loss(warn_at: tuple[str, ...] = ()) -> EngineHarness:
    cfg = DailyRealizedLossConfig(enabled=True, limit=Decimal(-500), include_unrealized=False)
    return EngineHarness(DailyRealizedLoss(cfg), warn_at=warn_at)


def frequency() -> EngineHarness:
    return EngineHarness(TradeFrequencyLimit(TradeFrequencyLimitConfig(enabled=True, per_minute=3)))


def void(trade_id: int, pnl: str | None = None, **kw: Any) -> Any:
    return trade(trade_id, MNQ, 21000, pnl=pnl, voided=True, **kw)


def test_a_re_sent_voided_trade_removes_its_pnl_and_fees_from_the_day() -> None:
    h = daily_loss()
    h.apply(trade(1, MNQ, 21000, pnl="-120", fees="1.48"), trade(2, MNQ, 21000, pnl="-80", fees="0.74"))
    h.apply(void(1, pnl="-120", fees="1.48"))
    day = h.state.day
    assert (day.realized, day.fees, day.trade_count) == (Decimal(-80), Decimal("0.74"), 1)


def test_a_trade_first_seen_voided_never_counts_not_even_when_re_sent_without_the_flag() -> None:
    h = daily_loss()
    assert h.apply(void(1, pnl="-600")) == []
    assert h.apply(trade(1, MNQ, 21000, pnl="-600")) == []  # the same execution: the bust stands
    assert h.state.day.realized == 0


def test_a_voided_loss_no_longer_counts_towards_the_limit() -> None:
    h = daily_loss()
    h.apply(trade(1, MNQ, 21000, pnl="-400"))
    h.apply(void(1, pnl="-400"))
    assert h.apply(trade(2, MNQ, 21000, pnl="-300")) == []  # -300, not -700


def test_a_void_does_not_end_a_lockout_already_taken() -> None:
    h = daily_loss()
    assert kinds(h.apply(trade(1, MNQ, 21000, pnl="-600"))) == DAILY_LOCK
    assert h.apply(void(1, pnl="-600")) == []
    assert h.state.day.realized == 0
    assert h.state.lockouts.covering(None) is not None  # only the reset or an admin clear ends it


def test_a_voided_profit_can_trip_the_limit_on_the_corrected_figures() -> None:
    h = daily_loss(warn_at=("0.5",))
    h.apply(trade(1, MNQ, 21000, pnl="300"))
    assert h.apply(trade(2, MNQ, 21000, pnl="-520")) == []  # day -220
    assert kinds(h.apply(void(1, pnl="300"))) == DAILY_LOCK  # day -520 <= -500


def test_warnings_are_re_evaluated_on_the_corrected_figures() -> None:
    h = daily_loss(warn_at=("0.5", "0.9"))
    h.apply(trade(1, MNQ, 21000, pnl="-200"))
    h.apply(trade(2, MNQ, 21000, pnl="-100"))
    assert [a.rule for _, a in h.log if a.kind == "alert"] == ["RULE-003"]  # -300: 50 %
    voided: list[Action] = h.apply(void(2, pnl="-100"))
    assert voided == []  # -200: below every threshold not yet announced
    assert kinds(h.apply(trade(3, MNQ, 21000, pnl="-260"))) == [("RULE-003", "alert")]  # -460: 90 %


def test_a_voided_execution_leaves_the_trade_windows() -> None:
    h = frequency()
    for order_id in (1, 2, 3):
        h.apply(trade(order_id, MNQ, 21000, order_id=order_id))
        h.tick(1)
    h.apply(void(3, order_id=3))
    assert h.state.day.order_first_fill.keys() == {1, 2}
    assert h.apply(trade(4, MNQ, 21000, order_id=4)) == []  # 3 orders in the minute, not 4
    assert kinds(h.apply(trade(5, MNQ, 21000, order_id=5))) == [
        ("RULE-006", "cancel_orders"),
        ("RULE-006", "lockout"),
    ]


def test_an_order_keeps_its_place_in_the_windows_while_another_of_its_fills_stands() -> None:
    h = frequency()
    h.apply(trade(1, MNQ, 21000, order_id=9))
    h.tick(5)
    h.apply(trade(2, MNQ, 21000, order_id=9))
    h.apply(void(1, order_id=9))
    assert h.state.day.order_first_fill == {9: T0 + timedelta(seconds=5)}
    assert list(h.state.recent_orders) == [(T0 + timedelta(seconds=5), 9)]


def test_a_void_of_an_execution_counted_in_an_earlier_trading_day_changes_nothing_today() -> None:
    h = daily_loss()
    h.apply(trade(1, MNQ, 21000, pnl="-300"))
    h.tick(hours=9)  # past the 17:00 CT reset
    h.apply(trade(2, MNQ, 21000, pnl="-100"))
    assert h.apply(void(1, pnl="-300")) == []
    assert h.state.day.realized == Decimal(-100)


def test_a_void_after_a_restart_still_finds_what_the_execution_contributed() -> None:
    h = daily_loss()
    h.apply(trade(1, MNQ, 21000, pnl="-300", fees="0.74"))
    copy = daily_loss()
    restore(copy.engine, orjson.loads(orjson.dumps(snapshot(h.engine))))
    copy.apply(void(1, pnl="-300", fees="0.74"))
    assert (copy.state.day.realized, copy.state.day.fees) == (0, 0)
