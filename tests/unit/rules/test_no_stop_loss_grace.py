"""RULE-008 no_stop_loss_grace, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Action, ClosePosition
from risk_manager.domain.events import OrderSide, OrderStatus, OrderType
from risk_manager.rules.no_stop_loss_grace import NoStopLossGrace, NoStopLossGraceConfig

from engine_helpers import ES, MNQ, T0, EngineHarness, flat, kinds, order, pos, quote

RESET = T0.replace(hour=23, minute=0)  # 17:00 Chicago on 2 March 2026 (CST)


def harness(**cfg: Any) -> EngineHarness:
    return EngineHarness(NoStopLossGrace(NoStopLossGraceConfig(enabled=True, **cfg)))


def closes(actions: list[Action]) -> list[str]:
    return [a.contract_id for a in actions if isinstance(a, ClosePosition)]


def fired_at(h: EngineHarness) -> list[tuple[Any, str]]:
    return [(t, a.contract_id) for t, a in h.log if isinstance(a, ClosePosition)]


def test_position_without_stop_is_closed_when_the_grace_period_ends() -> None:
    h = harness()
    assert h.apply(pos(MNQ, 2, "21000")) == []
    actions = h.tick(10)
    assert kinds(actions) == [("RULE-008", "close_position")]
    close = actions[0]
    assert isinstance(close, ClosePosition)
    assert (close.contract_id, close.size, close.verify_no_stop) == (MNQ, None, True)
    assert close.subject == f"pos:{MNQ}"
    assert close.reason == f"position +2 {MNQ} open 10s without a protective stop >= grace 10s"
    assert ("grace_seconds", "10") in close.inputs


def test_the_close_fires_at_the_deadline_itself_not_at_the_next_event() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    h.tick(minutes=5)
    assert fired_at(h) == [(T0 + timedelta(seconds=10), MNQ)]


def test_one_second_short_of_the_grace_period_nothing_happens() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    assert h.tick(9) == []
    assert h.apply(quote(MNQ, 21001.0), order(5, MNQ, type=OrderType.LIMIT, side=OrderSide.SELL)) == []
    assert closes(h.tick(1)) == [MNQ]


def test_a_stop_placed_within_the_grace_period_keeps_the_position() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    h.tick(9)
    assert h.apply(order(11, MNQ, type=OrderType.STOP, side=OrderSide.SELL, stop_price="20990")) == []
    assert h.tick(hours=1) == []


def test_a_trailing_stop_counts_as_protection() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"), order(11, MNQ, type=OrderType.TRAILING_STOP, side=OrderSide.SELL))
    assert h.tick(60) == []


def test_a_short_is_protected_by_a_buy_stop_only() -> None:
    h = harness()
    h.apply(pos(ES, -1, "5000"), order(11, ES, type=OrderType.STOP, side=OrderSide.SELL, stop_price="4990"))
    assert closes(h.tick(10)) == [ES]
    h2 = harness()
    h2.apply(pos(ES, -1, "5000"), order(11, ES, type=OrderType.STOP, side=OrderSide.BUY, stop_price="5010"))
    assert h2.tick(10) == []


def test_orders_that_do_not_protect_do_not_count() -> None:
    h = harness()
    h.apply(
        pos(MNQ, 1, "21000"),
        order(11, MNQ, type=OrderType.LIMIT, side=OrderSide.SELL, limit_price="21050"),  # take profit
        order(12, ES, type=OrderType.STOP, side=OrderSide.SELL, stop_price="4990"),  # other contract
        order(13, MNQ, type=OrderType.STOP, side=OrderSide.BUY, stop_price="21010"),  # adds, not protects
    )
    assert closes(h.tick(10)) == [MNQ]


def test_the_close_is_decided_once_per_breach() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    assert closes(h.tick(10)) == [MNQ]
    # The enforcer found a stop over REST (placed elsewhere, no event) and left the position open.
    assert h.apply(order(20, MNQ, type=OrderType.LIMIT, side=OrderSide.SELL), pos(MNQ, 1, "21000")) == []
    assert h.tick(hours=1) == []


def test_a_stop_cancelled_after_the_grace_period_closes_at_once() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"), order(11, MNQ, stop_price="20990"))
    assert h.tick(60) == []
    cancelled = order(11, MNQ, stop_price="20990", status=OrderStatus.CANCELLED)
    assert closes(h.apply(cancelled)) == [MNQ]


def test_a_stop_cancelled_within_the_grace_period_closes_when_the_grace_ends() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"), order(11, MNQ, stop_price="20990"))
    h.tick(4)
    assert h.apply(order(11, MNQ, stop_price="20990", status=OrderStatus.CANCELLED)) == []
    h.tick(60)
    assert fired_at(h) == [(T0 + timedelta(seconds=10), MNQ)]


def test_closing_and_reopening_restarts_the_grace_period() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    h.tick(8)
    assert h.apply(flat(MNQ)) == []
    h.tick(2)
    reopened = h.now
    assert h.apply(pos(MNQ, 1, "21005")) == []
    assert h.tick(9) == []
    assert closes(h.tick(1)) == [MNQ]
    assert fired_at(h) == [(reopened + timedelta(seconds=10), MNQ)]


def test_a_reversal_restarts_the_grace_period_and_rearms_the_breach() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    assert closes(h.tick(10)) == [MNQ]
    h.tick(5)
    reversed_at = h.now
    assert h.apply(pos(MNQ, -1, "21002")) == []
    assert h.tick(9) == []
    assert closes(h.tick(1)) == [MNQ]
    assert fired_at(h)[-1] == (reversed_at + timedelta(seconds=10), MNQ)


def test_growth_keeps_the_open_time_but_rearms_so_the_grown_position_is_checked_again() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    assert closes(h.tick(10)) == [MNQ]  # enforcer verified a stop over REST and kept it
    h.tick(30)
    assert closes(h.apply(pos(MNQ, 2, "21001"))) == [MNQ]  # open 40s: no new grace for added size


def test_growth_within_the_grace_period_does_not_extend_it() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    h.tick(6)
    assert h.apply(pos(MNQ, 3, "21001")) == []
    h.tick(60)
    assert fired_at(h) == [(T0 + timedelta(seconds=10), MNQ)]


def test_each_position_has_its_own_deadline() -> None:
    h = harness(grace_period_seconds=30)
    h.apply(pos(MNQ, 1, "21000"))
    h.tick(20)
    h.apply(pos(ES, -1, "5000"))
    h.tick(minutes=5)
    assert fired_at(h) == [(T0 + timedelta(seconds=30), MNQ), (T0 + timedelta(seconds=50), ES)]


def test_configured_grace_period_is_used() -> None:
    h = harness(grace_period_seconds=45)
    h.apply(pos(MNQ, 1, "21000"))
    assert h.tick(44) == []
    assert closes(h.tick(1)) == [MNQ]


def test_a_grace_period_running_over_the_daily_reset_still_ends_on_time() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"), at=RESET - timedelta(seconds=4))
    h.tick(20)
    assert fired_at(h) == [(RESET + timedelta(seconds=6), MNQ)]


def test_a_position_still_unprotected_after_the_daily_reset_is_decided_again_in_the_new_day() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"), at=RESET - timedelta(hours=1))
    assert closes(h.tick(10)) == [MNQ]  # enforcer kept it (stop seen over REST only)
    assert h.tick(to=RESET - timedelta(seconds=1)) == []
    h.tick(to=RESET + timedelta(seconds=1))
    assert fired_at(h) == [(RESET - timedelta(minutes=59, seconds=50), MNQ), (RESET, MNQ)]


def test_describe_mentions_the_grace_period() -> None:
    rule = NoStopLossGrace(NoStopLossGraceConfig(enabled=True, grace_period_seconds=15))
    assert "RULE-008" in rule.describe()
    assert "15s" in rule.describe()


def test_default_grace_period_is_ten_seconds_and_the_rule_is_off() -> None:
    config = NoStopLossGraceConfig()
    assert config.grace_period_seconds == 10
    assert config.enabled is False


@pytest.mark.parametrize("bad", [0, -5, "10s", 2.5, True, 86_401])
def test_config_rejects_a_bad_grace_period_with_a_fix(bad: Any) -> None:
    with pytest.raises(ValidationError, match="whole number of seconds from 1 to 86400"):
        NoStopLossGraceConfig(enabled=True, grace_period_seconds=bad)


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="grace_seconds"):
        NoStopLossGraceConfig(enabled=True, grace_seconds=10)  # type: ignore[call-arg]


def test_a_view_listing_fewer_positions_is_not_answered_from_the_full_views_listing() -> None:
    """The unprotected positions are listed once per view; a view scoped to some positions (as the
    engine makes for per-position rules) shares that memo and must still see only its own."""
    h = harness(grace_period_seconds=30)
    h.apply(pos(MNQ, 1, "21000"), pos(ES, 1, "5800"))
    engine = h.engine
    account = engine.accounts[7]
    rule = engine.policy.rules_for(7).rules[0]  # type: ignore[union-attr]
    view = engine._view(account, h.now, None)
    assert rule.next_wakeup(view) == T0 + timedelta(seconds=30)
    h.tick(5)
    h.apply(pos(ES, 1, "5800", pid=2))  # unchanged size: ES keeps its opening time
    view = engine._view(account, h.now, None)
    assert len(rule._unprotected(view)) == 2
    only_es = view.scoped({ES: account.position_views[ES]})
    assert [p.contract_id for p in rule._unprotected(only_es)] == [ES]
    assert len(rule._unprotected(view)) == 2
