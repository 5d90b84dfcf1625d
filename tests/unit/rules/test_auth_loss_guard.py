"""RULE-010 auth_loss_guard, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Action, Alert, LockAccount
from risk_manager.domain.events import ConnectionEvent
from risk_manager.rules.auth_loss_guard import AuthLossGuard, AuthLossGuardConfig

from engine_helpers import ES, EngineHarness, account_event, connection, kinds, pos

RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 17:00 Chicago on T0's day
ENFORCED = [("RULE-010", "flatten"), ("RULE-010", "cancel_orders"), ("RULE-010", "lockout")]


def harness() -> EngineHarness:
    h = EngineHarness(AuthLossGuard(AuthLossGuardConfig(enabled=True)))
    assert h.apply(account_event(can_trade=True)) == []  # the account is known, trading allowed
    return h


def rule_actions(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.rule == "RULE-010"]


# ---- canTrade --------------------------------------------------------------------------------------


def test_can_trade_false_flattens_cancels_and_locks_until_can_trade_returns() -> None:
    h = harness()
    actions = h.apply(account_event(can_trade=False))
    assert kinds(actions) == ENFORCED
    lock = actions[2]
    assert isinstance(lock, LockAccount)
    assert (lock.scope, lock.until, lock.condition, lock.subject) == ("account", None, "can_trade", "account")
    assert actions[0].reason == "gateway reports canTrade: false for the account"


@pytest.mark.parametrize("can_trade", [True, None])
def test_an_account_update_that_does_not_say_false_does_nothing(can_trade: bool | None) -> None:
    assert harness().apply(account_event(can_trade=can_trade)) == []


def test_repeated_false_updates_enforce_once() -> None:
    h = harness()
    h.apply(account_event(can_trade=False))
    assert rule_actions(h.apply(account_event(can_trade=False, balance="49000"))) == []


def test_can_trade_true_unlocks_and_a_later_false_locks_again() -> None:
    h = harness()
    h.apply(account_event(can_trade=False))
    h.tick(minutes=3)
    assert kinds(h.apply(account_event(can_trade=True))) == [("RULE-010", "unlock")]
    assert h.state.lockouts.covering(None) is None
    h.tick(minutes=3)
    assert kinds(h.apply(account_event(can_trade=False))) == ENFORCED


def test_a_position_opened_while_trading_is_revoked_is_closed_by_the_lockout_gate() -> None:
    h = harness()
    h.apply(account_event(can_trade=False))
    assert kinds(h.apply(pos(ES, 1, "5000"))) == [("LOCKOUT", "close_position")]


def test_the_lockout_outlasts_the_daily_reset_without_enforcing_again() -> None:
    h = harness()
    h.apply(account_event(can_trade=False))
    assert rule_actions(h.tick(to=RESET)) == []  # no unlock: the condition has not cleared
    assert h.state.lockouts.covering(None).condition == "can_trade"
    # still locked, nothing new (the balance jump only raises the BALANCE reconciliation alert)
    assert rule_actions(h.apply(account_event(can_trade=False, balance="48000"))) == []
    assert kinds(h.apply(account_event(can_trade=True))) == [("RULE-010", "unlock")]


# ---- connection ------------------------------------------------------------------------------------


def test_connection_loss_is_a_warning_alert_and_not_a_lockout() -> None:
    h = harness()
    actions = h.apply(connection("lost"))
    assert kinds(actions) == [("RULE-010", "alert")]
    alert = actions[0]
    assert isinstance(alert, Alert)
    assert (alert.level, alert.subject) == ("warning", None)
    assert alert.message == "connection lost (gateway) at 2026-03-02 08:30:00 CST"
    assert h.state.lockouts.covering(None) is None


def test_restoration_reports_the_outage_duration() -> None:
    h = harness()
    h.apply(connection("lost"))
    h.tick(seconds=95)
    actions = h.apply(connection("restored"))
    assert kinds(actions) == [("RULE-010", "alert")]
    alert = actions[0]
    assert isinstance(alert, Alert) and alert.level == "info"
    assert alert.message == "connection restored (gateway) after 1m35s (lost at 2026-03-02 08:30:00 CST)"
    assert dict(alert.inputs)["outage_seconds"] == "95.0"


def test_the_outage_is_measured_from_the_first_loss() -> None:
    h = harness()
    h.apply(ConnectionEvent("lost", hub="user"))
    h.tick(minutes=1)
    h.apply(ConnectionEvent("lost", hub="market"))
    h.tick(hours=1, minutes=1, seconds=5)
    [alert] = h.apply(ConnectionEvent("restored", hub="market"))
    assert isinstance(alert, Alert)
    assert alert.message.startswith("connection restored (market hub) after 1h02m05s")


def test_every_outage_is_reported_not_only_the_first() -> None:
    h = harness()
    for _ in range(2):
        assert kinds(h.apply(connection("lost"))) == [("RULE-010", "alert")]
        h.tick(seconds=2.5)
        [alert] = h.apply(connection("restored"))
        assert isinstance(alert, Alert) and "after 2.5s" in alert.message
        h.tick(minutes=10)


def test_a_restoration_without_a_known_loss_says_the_duration_is_unknown() -> None:
    h = harness()
    [alert] = h.apply(connection("restored"))
    assert isinstance(alert, Alert)
    assert alert.message == "connection restored (gateway); outage duration unknown"


def test_connection_events_do_not_touch_positions_or_lockouts() -> None:
    h = harness()
    h.apply(pos(ES, 1, "5000"))
    h.apply(connection("lost"))
    h.tick(timedelta(minutes=30).total_seconds())
    assert [a.kind for a in h.apply(connection("restored"))] == ["alert"]
    assert h.state.lockouts.covering(None) is None and ES in h.state.positions


# ---- config and description ------------------------------------------------------------------------


def test_describe_says_what_it_guards() -> None:
    text = AuthLossGuard(AuthLossGuardConfig(enabled=True)).describe()
    assert text.startswith("RULE-010 auth_loss_guard: canTrade false -> flatten, cancel orders, lock")
    assert "connection lost/restored -> alert" in text


def test_an_unknown_key_is_an_error() -> None:
    with pytest.raises(ValidationError, match="grace"):
        AuthLossGuardConfig.model_validate({"enabled": True, "grace": 5})
