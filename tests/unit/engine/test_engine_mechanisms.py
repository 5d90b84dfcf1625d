"""The engine's own mechanisms, driven with small purpose-built rules and an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from risk_manager.domain.actions import Action, Alert, ClosePosition, LockAccount
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.events import ClockEvent, Event, OrderStatus, PositionEvent, TradeEvent
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy, RuleSet
from risk_manager.rules.api import AccountView, Rule, RuleConfig

from engine_helpers import (
    ACCOUNT,
    ES,
    MNQ,
    RTY,
    T0,
    EngineHarness,
    flat,
    kinds,
    order,
    pos,
    quote,
    trade,
)


class LockOnTradeConfig(RuleConfig):
    minutes: int | None = None  # None: until the daily reset
    scope: str = "account"
    symbol: str | None = None


class LockOnTrade(Rule[LockOnTradeConfig]):
    """Test rule: every counted trade locks (for ``minutes``, or until reset)."""

    id: ClassVar[str] = "RULE-900"
    key: ClassVar[str] = "lock_on_trade"
    config_model = LockOnTradeConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({TradeEvent})

    def evaluate(self, view: AccountView) -> list[Action]:
        cfg = self.config
        until = view.next_reset if cfg.minutes is None else view.now + timedelta(minutes=cfg.minutes)
        return [
            LockAccount(
                account_id=view.account_id,
                rule=self.id,
                scope=cfg.scope,
                symbol=cfg.symbol,
                until=until,
                reason=f"trade seen, lock {cfg.minutes} min",
            )
        ]

    def describe(self) -> str:
        return "test rule"


def lock_rule(rule_id: str = "RULE-900", **cfg: Any) -> LockOnTrade:
    rule = LockOnTrade(LockOnTradeConfig(enabled=True, **cfg))
    rule.id = rule_id  # type: ignore[misc]  # a second instance standing for another rule
    return rule


class CloseWhenLarge(Rule[RuleConfig]):
    """Test rule: a position of 3 or more contracts is closed, once per breach."""

    id: ClassVar[str] = "RULE-901"
    key: ClassVar[str] = "close_when_large"
    config_model = RuleConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({PositionEvent})

    def evaluate(self, view: AccountView) -> list[Action]:
        return [
            ClosePosition(account_id=view.account_id, rule=self.id, contract_id=cid, subject=f"pos:{cid}")
            for cid, p in view.positions.items()
            if p.abs_size >= 3 and not view.breached(self.id, f"pos:{cid}")
        ]

    def describe(self) -> str:
        return "test rule"


class Exploding(Rule[RuleConfig]):
    id: ClassVar[str] = "RULE-902"
    key: ClassVar[str] = "exploding"
    config_model = RuleConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({TradeEvent})

    def evaluate(self, view: AccountView) -> list[Action]:
        if view.account_id == 666:
            raise ZeroDivisionError("boom")
        return []

    def describe(self) -> str:
        return "test rule"


class WakeAfter(Rule[RuleConfig]):
    """Test rule: 10 s after a position opens, an alert (a timer)."""

    id: ClassVar[str] = "RULE-903"
    key: ClassVar[str] = "wake_after"
    config_model = RuleConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({ClockEvent, PositionEvent})

    def evaluate(self, view: AccountView) -> list[Action]:
        return [
            Alert(account_id=view.account_id, rule=self.id, message=f"{cid} open 10s", subject=f"pos:{cid}")
            for cid, p in view.positions.items()
            if view.now >= p.opened_at + timedelta(seconds=10) and not view.breached(self.id, f"pos:{cid}")
        ]

    def next_wakeup(self, view: AccountView) -> datetime | None:
        due = [
            p.opened_at + timedelta(seconds=10)
            for cid, p in view.positions.items()
            if not view.breached(self.id, f"pos:{cid}")
        ]
        return min(due, default=None)

    def describe(self) -> str:
        return "test rule"


# ---- lockout gate --------------------------------------------------------------------------------


def test_a_position_opened_while_the_account_is_locked_is_closed_in_any_symbol() -> None:
    h = EngineHarness(lock_rule())
    assert kinds(h.apply(trade(1, MNQ, 21000, pnl="-10"))) == [("RULE-900", "lockout")]
    assert h.apply(pos(MNQ, 1, 21000)) == []  # the triggering fill's own update (no flatten decided)
    for contract in (ES, RTY):
        actions = h.apply(pos(contract, 1, 100))
        assert kinds(actions) == [("LOCKOUT", "close_position")]
        assert isinstance(actions[0], ClosePosition) and actions[0].contract_id == contract
        assert "RULE-900" in (actions[0].reason or "")


def test_the_gate_closes_a_growing_or_reversing_position_but_not_a_shrinking_one() -> None:
    h = EngineHarness(lock_rule())
    h.apply(pos(MNQ, 2, 21000))
    h.apply(trade(1, MNQ, 21000))
    assert h.apply(pos(MNQ, 1, 21000)) == []  # reduced: the flatten is in progress, nothing new
    assert kinds(h.apply(pos(MNQ, 3, 21000))) == [("LOCKOUT", "close_position")]
    assert h.apply(pos(MNQ, 3, 21000)) == []  # the same breach is not enforced twice
    assert kinds(h.apply(pos(MNQ, -1, 21000))) == [("LOCKOUT", "close_position")]  # reversed


def test_a_symbol_lockout_only_closes_positions_in_that_symbol() -> None:
    h = EngineHarness(lock_rule(scope="symbol", symbol="ES"))
    h.apply(trade(1, ES, 5000))
    h.tick(seconds=10)  # long after the triggering fill's own update would have come
    assert h.apply(pos(MNQ, 1, 21000)) == []
    assert kinds(h.apply(pos(ES, 1, 5000))) == [("LOCKOUT", "close_position")]


def test_an_order_working_while_locked_is_cancelled_once() -> None:
    h = EngineHarness(lock_rule())
    h.apply(trade(1, MNQ, 21000))
    actions = h.apply(order(55, MNQ, stop_price=20990))
    assert kinds(actions) == [("LOCKOUT", "cancel_orders")]
    assert actions[0].record(T0)["contract"] == MNQ
    assert h.apply(order(55, MNQ, stop_price=20980)) == []  # modified, same order: already cancelling


def test_an_order_cancelled_while_locked_leaves_no_marker_once_it_stops_working() -> None:
    # A locked day cancels every order that shows up; the marker that keeps one order from being
    # cancelled twice must not outlive it, or the markers of a busy day pile up in the account.
    h = EngineHarness(lock_rule())
    h.apply(trade(1, MNQ, 21000))
    for order_id in range(55, 60):
        assert kinds(h.apply(order(order_id, MNQ, stop_price=20990))) == [("LOCKOUT", "cancel_orders")]
        assert h.apply(order(order_id, MNQ, stop_price=20990, status=OrderStatus.CANCELLED)) == []
    assert not any(subject.startswith("order:") for _, subject in h.state.breaches)


def test_after_the_lockout_ends_positions_may_open_again() -> None:
    h = EngineHarness(lock_rule(minutes=5))
    h.apply(trade(1, MNQ, 21000))
    assert kinds(h.tick(minutes=5)) == [("RULE-900", "unlock")]
    assert h.apply(pos(MNQ, 1, 21000)) == []


# ---- several lockouts ----------------------------------------------------------------------------


def test_several_lockouts_hold_at_once_and_each_ends_at_its_own_time() -> None:
    h = EngineHarness(lock_rule("RULE-900", minutes=5), lock_rule("RULE-907", minutes=15))
    h.apply(trade(1, MNQ, 21000))
    assert len(h.state.lockouts) == 2
    assert kinds(h.tick(minutes=5)) == [("RULE-900", "unlock")]
    assert kinds(h.apply(pos(MNQ, 1, 21000))) == [("LOCKOUT", "close_position")]  # still locked by 907
    assert [(t - T0, k) for t, k in ((t, a.kind) for t, a in h.log if a.kind == "unlock")] == [
        (timedelta(minutes=5), "unlock")
    ]
    h.tick(minutes=20)
    unlocks = [(t - T0, a.rule) for t, a in h.log if a.kind == "unlock"]
    assert unlocks == [(timedelta(minutes=5), "RULE-900"), (timedelta(minutes=15), "RULE-907")]


def test_a_shorter_lockout_of_the_same_rule_never_shortens_a_longer_one() -> None:
    h = EngineHarness(lock_rule(minutes=15))
    h.apply(trade(1, MNQ, 21000))
    long_until = h.state.lockouts.covering(None).until
    h.engine.policy = Policy.uniform([lock_rule(minutes=1)], ())
    h.tick(minutes=1)
    assert h.apply(trade(2, MNQ, 21000)) == []  # a 1-minute lock would end before the 15-minute one
    assert h.state.lockouts.covering(None).until == long_until
    h.tick(minutes=1)
    assert kinds(h.apply(pos(MNQ, 1, 21000))) == [("LOCKOUT", "close_position")]


# ---- trades and the trading day --------------------------------------------------------------------


def test_the_same_trade_seen_twice_counts_once() -> None:
    h = EngineHarness()
    h.apply(trade(901, MNQ, 21000, pnl="-50", fees="0.74"))
    h.apply(trade(901, MNQ, 21000, pnl="-50", fees="0.74"))  # replayed after a reconnect
    assert h.state.day.realized == Decimal("-50")
    assert h.state.day.net_realized(True) == Decimal("-50.74")
    assert h.state.day.trade_count == 1


def test_voided_trades_and_trades_of_an_earlier_day_do_not_count() -> None:
    h = EngineHarness()
    h.apply(trade(1, MNQ, 21000, pnl="-50", voided=True))
    h.apply(trade(2, MNQ, 21000, pnl="-70", created=T0 - timedelta(days=1)))
    assert h.state.day.realized == 0
    assert h.state.day.trade_count == 0


def test_executions_are_counted_per_distinct_order() -> None:
    h = EngineHarness()
    h.apply(
        trade(1, MNQ, 21000, order_id=10),
        trade(2, MNQ, 21000, order_id=10),
        trade(3, MNQ, 21000, order_id=11),
    )
    assert len(h.state.day.order_first_fill) == 2


def test_the_daily_reset_zeroes_the_day_and_ends_lockouts_until_reset() -> None:
    h = EngineHarness(lock_rule())
    h.apply(trade(1, MNQ, 21000, pnl="-200", order_id=3))
    reset = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 17:00 CST
    actions = h.tick(to=reset)
    # the lockout belongs to the closing day: it ends first, then the new day starts
    assert kinds(actions) == [("RULE-900", "unlock"), ("RESET", "alert")]
    assert "-200.00" in actions[1].record(reset)["message"]
    assert h.state.day.realized == 0 and h.state.day.order_first_fill == {}
    assert h.state.day.label.isoformat() == "2026-03-03"


@pytest.mark.parametrize(
    ("start", "expected_reset_utc"),
    [
        # 8 March 2026: DST starts at 02:00 in Chicago; 17:00 CDT is 22:00 UTC.
        (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 8, 22, 0, tzinfo=UTC)),
        # 1 November 2026: DST ends at 02:00; 17:00 CST is 23:00 UTC.
        (datetime(2026, 11, 1, 12, 0, tzinfo=UTC), datetime(2026, 11, 1, 23, 0, tzinfo=UTC)),
    ],
)
def test_the_reset_happens_at_17_00_chicago_on_dst_change_days(
    start: datetime, expected_reset_utc: datetime
) -> None:
    h = EngineHarness(lock_rule(), start=start)
    h.apply(trade(1, MNQ, 21000))
    assert h.state.lockouts.covering(None).until == expected_reset_utc
    assert h.engine.next_deadline() == expected_reset_utc
    h.tick(to=expected_reset_utc - timedelta(seconds=1))
    assert len(h.state.lockouts) == 1
    assert kinds(h.tick(seconds=1)) == [("RULE-900", "unlock"), ("RESET", "alert")]
    # and the following reset is 24 h of local time later
    assert h.engine.next_deadline() == expected_reset_utc + timedelta(days=1)


def test_a_reset_runs_once_per_trading_day_even_when_the_clock_jumps() -> None:
    h = EngineHarness()
    h.apply(trade(1, MNQ, 21000))
    h.tick(hours=24 * 3)  # three resets passed
    resets = [t for t, a in h.log if a.rule == "RESET"]
    assert len(resets) == 3 and len(set(resets)) == 3


# ---- once per breach ----------------------------------------------------------------------------


def test_a_breach_is_enforced_once_and_rearms_when_the_position_grows_or_closes() -> None:
    h = EngineHarness(CloseWhenLarge(RuleConfig(enabled=True)))
    assert kinds(h.apply(pos(MNQ, 3, 21000))) == [("RULE-901", "close_position")]
    assert h.apply(pos(MNQ, 3, 21000)) == []
    assert h.apply(pos(MNQ, 3, 21001)) == []  # same size, new average: same breach
    assert kinds(h.apply(pos(MNQ, 4, 21000))) == [("RULE-901", "close_position")]  # grew: re-armed
    h.apply(flat(MNQ))
    assert kinds(h.apply(pos(MNQ, 3, 21000))) == [("RULE-901", "close_position")]  # closed: re-armed


# ---- fail closed ---------------------------------------------------------------------------------


def test_an_account_whose_evaluation_raises_is_locked_and_others_go_on() -> None:
    h = EngineHarness(Exploding(RuleConfig(enabled=True)), CloseWhenLarge(RuleConfig(enabled=True)))
    actions = h.apply(trade(1, MNQ, 21000, account=666))
    assert kinds(actions) == [("ENGINE", "alert"), ("ENGINE", "cancel_orders"), ("ENGINE", "lockout")]
    assert "ZeroDivisionError: boom" in actions[0].record(T0)["message"]
    assert kinds(h.apply(pos(MNQ, 1, 21000, account=666))) == [("LOCKOUT", "close_position")]
    assert h.apply(trade(2, MNQ, 21000, account=666)) == []  # one alert, not one per event
    assert kinds(h.apply(pos(MNQ, 3, 21000, account=8))) == [("RULE-901", "close_position")]
    unlocked = h.engine.clear_lockout(666, h.now, by="admin", why="bug fixed")
    assert kinds(unlocked) == [("ENGINE", "unlock")]


# ---- timers --------------------------------------------------------------------------------------


def test_a_rule_timer_fires_at_its_due_time_once() -> None:
    h = EngineHarness(WakeAfter(RuleConfig(enabled=True)))
    h.apply(pos(MNQ, 1, 21000))
    assert h.engine.next_deadline() == T0 + timedelta(seconds=10)
    assert h.tick(seconds=9) == []
    assert kinds(h.tick(seconds=1)) == [("RULE-903", "alert")]
    assert [t for t, a in h.log if a.rule == "RULE-903"] == [T0 + timedelta(seconds=10)]
    assert h.tick(seconds=60) == []


def test_a_timer_is_cancelled_when_its_subject_goes_away() -> None:
    h = EngineHarness(WakeAfter(RuleConfig(enabled=True)))
    h.apply(pos(MNQ, 1, 21000))
    h.tick(seconds=5)
    h.apply(flat(MNQ))
    assert h.tick(seconds=30) == []


# ---- time, accounts, quotes ----------------------------------------------------------------------


def test_engine_time_never_goes_backwards() -> None:
    h = EngineHarness(WakeAfter(RuleConfig(enabled=True)))
    h.apply(pos(MNQ, 1, 21000))
    h.engine.apply(quote(MNQ, 21000.25), T0 - timedelta(minutes=5))
    assert h.engine.now == T0


def test_naive_times_are_refused() -> None:
    engine = Engine(Policy.uniform([]), TradingCalendar())
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.apply(quote(MNQ, 1.0), datetime(2026, 3, 2, 14, 30))


def test_accounts_the_policy_does_not_monitor_are_ignored() -> None:
    rule_set = RuleSet((CloseWhenLarge(RuleConfig(enabled=True)),))
    engine = Engine(Policy(lambda acc: rule_set if acc == ACCOUNT else None), TradingCalendar())
    assert engine.apply(pos(MNQ, 5, 21000, account=99), T0) == []
    assert 99 not in engine.accounts
    assert kinds(engine.apply(pos(MNQ, 5, 21000), T0)) == [("RULE-901", "close_position")]


def test_partial_quotes_keep_the_last_known_fields() -> None:
    h = EngineHarness()
    h.apply(quote(MNQ, 21000.0, 20999.75, 21000.25))
    h.apply(quote(MNQ, bid=21000.0))
    q = h.engine.quotes[MNQ]
    assert (q.last, q.bid, q.ask) == (21000.0, 21000.0, 21000.25)


def test_the_gate_does_not_cancel_the_market_order_that_closes_the_position() -> None:
    from risk_manager.domain.events import OrderSide, OrderType

    h = EngineHarness(lock_rule())
    h.apply(pos(MNQ, 2, 21000))
    h.apply(trade(1, MNQ, 21000))  # locked; the flatten's closing market order shows up next
    assert h.apply(order(70, MNQ, type=OrderType.MARKET, side=OrderSide.SELL, size=2)) == []
    # an order that would open or grow is still cancelled, market or resting
    assert kinds(h.apply(order(71, MNQ, type=OrderType.MARKET, side=OrderSide.BUY, size=1))) == [
        ("LOCKOUT", "cancel_orders")
    ]
    assert kinds(h.apply(order(72, MNQ, type=OrderType.LIMIT, side=OrderSide.SELL, size=1))) == [
        ("LOCKOUT", "cancel_orders")
    ]
