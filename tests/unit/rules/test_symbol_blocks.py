"""RULE-011 symbol_blocks, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import CancelOrders, ClosePosition, LockAccount, Unlock
from risk_manager.domain.events import OrderStatus, OrderType
from risk_manager.domain.lockouts import CONDITION_SYMBOL_BLOCKED
from risk_manager.engine.policy import Policy
from risk_manager.rules.symbol_blocks import SymbolBlocks, SymbolBlocksConfig

from engine_helpers import ES, MNQ, NQ, RTY, T0, EngineHarness, flat, kinds, order, pos

RESET = T0.replace(hour=23)  # 17:00 Chicago on 2 March 2026 (CST)
M2K = "CON.F.US.M2K.H26"
RTY_M26 = "CON.F.US.RTY.M26"
LOCK_KEY = ("RULE-011", "symbol", "RTY")
ENFORCED = [("RULE-011", "close_position"), ("RULE-011", "cancel_orders"), ("RULE-011", "lockout")]


def rule(*symbols: str) -> SymbolBlocks:
    return SymbolBlocks(SymbolBlocksConfig(enabled=True, blocked_symbols=list(symbols)))


def test_a_position_in_a_blocked_symbol_is_closed_its_orders_cancelled_and_the_symbol_locked() -> None:
    h = EngineHarness(rule("RTY"))
    actions = h.apply(pos(RTY, 2, "2000"))
    assert kinds(actions) == ENFORCED
    close, cancel, lock = actions
    assert isinstance(close, ClosePosition) and (close.contract_id, close.size) == (RTY, None)
    assert isinstance(cancel, CancelOrders) and (cancel.symbol, cancel.contract_id) == ("RTY", None)
    assert isinstance(lock, LockAccount)
    assert (lock.scope, lock.symbol, lock.until, lock.condition) == ("symbol", "RTY", None, "symbol_blocked")
    assert lock.condition == CONDITION_SYMBOL_BLOCKED
    assert {a.subject for a in actions} == {"symbol:RTY"}
    assert close.reason == f"RTY is a blocked symbol: close {RTY}"
    lockout = h.state.lockouts.get(LOCK_KEY)
    assert lockout is not None and lockout.condition == CONDITION_SYMBOL_BLOCKED


def test_a_working_order_in_a_blocked_symbol_is_cancelled_and_the_symbol_locked() -> None:
    h = EngineHarness(rule("RTY"))
    actions = h.apply(order(55, RTY, type=OrderType.LIMIT, side=0, limit_price="1990"))
    assert kinds(actions) == [("RULE-011", "cancel_orders"), ("RULE-011", "lockout")]


def test_an_order_that_is_no_longer_working_is_not_a_breach() -> None:
    h = EngineHarness(rule("RTY"))
    for status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED):
        assert h.apply(order(55, RTY, status=status)) == []


def test_other_symbols_trade_freely_even_close_relatives() -> None:
    h = EngineHarness(rule("RTY"))
    assert h.apply(pos(M2K, 3, "2000"), pos(MNQ, 1, "21000"), order(9, ES)) == []
    h.apply(pos(RTY, 1, "2000"))
    assert h.apply(pos(MNQ, 2, "21000"), order(10, ES), flat(M2K)) == []


def test_product_codes_name_the_same_symbol() -> None:
    h = EngineHarness(rule("ENQ"))
    actions = h.apply(pos(NQ, 1, "21000"))  # CON.F.US.ENQ.H26
    assert kinds(actions) == ENFORCED
    lock = actions[2]
    assert isinstance(lock, LockAccount) and lock.symbol == "NQ"


def test_blocking_a_held_symbol_on_reload_closes_every_contract_month_at_the_next_event() -> None:
    h = EngineHarness(rule("ES"))
    assert h.apply(pos(RTY, 1, "2000"), pos(RTY_M26, -2, "2010"), order(3, RTY, side=1)) == []
    assert h.engine.update_policy(Policy.uniform([rule("ES", "RTY")]), h.now) == []
    actions = h.apply(pos(MNQ, 1, "21000"))
    assert kinds(actions) == [("RULE-011", "close_position")] * 2 + ENFORCED[1:]
    assert [a.contract_id for a in actions if isinstance(a, ClosePosition)] == [RTY, RTY_M26]


def test_once_locked_the_lockout_gate_undoes_new_positions_and_orders_not_the_rule() -> None:
    h = EngineHarness(rule("RTY"))
    assert kinds(h.apply(pos(RTY, 1, "2000"))) == ENFORCED
    assert h.apply(pos(RTY, 1, "2000")) == []  # the same snapshot again: already decided
    assert h.apply(flat(RTY)) == []
    assert kinds(h.apply(pos(RTY, -1, "2000"))) == [("LOCKOUT", "close_position")]
    assert kinds(h.apply(order(77, RTY))) == [("LOCKOUT", "cancel_orders")]


def test_the_symbol_lockout_outlasts_the_daily_reset() -> None:
    h = EngineHarness(rule("RTY"))
    h.apply(pos(RTY, 1, "2000"), flat(RTY))
    reset_actions = h.tick(to=RESET + timedelta(minutes=1))
    assert not any(isinstance(a, Unlock) for a in reset_actions)
    assert h.state.lockouts.get(LOCK_KEY) is not None
    assert kinds(h.apply(pos(RTY, 1, "2000"))) == [("LOCKOUT", "close_position")]


def test_unblocking_the_symbol_in_config_ends_the_lockout() -> None:
    h = EngineHarness(rule("RTY", "ES"))
    h.apply(pos(RTY, 1, "2000"), flat(RTY))
    # A reload that still blocks RTY keeps the lockout.
    assert h.engine.update_policy(Policy.uniform([rule("ES", "RTY")]), h.now) == []
    assert h.state.lockouts.get(LOCK_KEY) is not None
    actions = h.engine.update_policy(Policy.uniform([rule("ES")]), h.now)
    assert kinds(actions) == [("RULE-011", "unlock")]
    unlock = actions[0]
    assert isinstance(unlock, Unlock) and (unlock.scope, unlock.symbol) == ("symbol", "RTY")
    assert h.apply(pos(RTY, 1, "2000")) == []


def test_disabling_the_rule_ends_its_lockouts() -> None:
    h = EngineHarness(rule("RTY"))
    h.apply(order(5, RTY))
    assert kinds(h.engine.update_policy(Policy.uniform([]), h.now)) == [("RULE-011", "unlock")]


def test_a_lockout_cleared_by_an_admin_comes_back_while_the_symbol_stays_blocked() -> None:
    h = EngineHarness(rule("RTY"))
    h.apply(pos(RTY, 1, "2000"))
    assert kinds(h.engine.clear_lockout(7, h.now, "admin", "test")) == [("RULE-011", "unlock")]
    assert kinds(h.apply(pos(RTY, 1, "2000"))) == ENFORCED


def test_describe_lists_the_blocked_symbols() -> None:
    text = rule("RTY", "ENQ").describe()
    assert "RULE-011" in text and "RTY, NQ" in text


def test_aliases_and_repeats_collapse_to_one_root_each() -> None:
    assert SymbolBlocksConfig(blocked_symbols=["enq", "NQ", "RTY"]).blocked_symbols == ("NQ", "RTY")


def test_an_enabled_rule_with_nothing_to_block_is_refused() -> None:
    with pytest.raises(ValidationError, match="blocked_symbols is empty: list the CME roots to block"):
        SymbolBlocksConfig(enabled=True)
    assert SymbolBlocksConfig().blocked_symbols == ()


@pytest.mark.parametrize("bad", ["R TY", "", 5, None])
def test_a_blocked_symbol_that_is_not_a_root_is_refused(bad: Any) -> None:
    with pytest.raises(ValidationError, match="use a CME root"):
        SymbolBlocksConfig(blocked_symbols=[bad])
