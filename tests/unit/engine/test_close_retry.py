"""A close or flatten the enforcer gave up on is decided again while the breach that decided it
still stands: a lock holds even when the gateway refused to close for a while."""

from __future__ import annotations

from datetime import timedelta

import orjson

from risk_manager.domain.actions import ClosePosition, Flatten
from risk_manager.domain.events import EnforcementOutcome
from risk_manager.engine.engine import CLOSE_RETRY_AFTER
from risk_manager.engine.snapshot import restore, snapshot
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig
from risk_manager.rules.max_contracts import MaxContracts, MaxContractsConfig

from engine_helpers import ACCOUNT, ES, MNQ, EngineHarness, account_event, flat, kinds, pos, trade

WAIT = CLOSE_RETRY_AFTER.total_seconds()


def loss_rule() -> DailyRealizedLoss:
    return DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-500))


def locked_with_two_positions() -> EngineHarness:
    """RULE-003 breached with MNQ and ES open: flatten, cancel, lock."""
    h = EngineHarness(loss_rule())
    h.apply(account_event(), pos(MNQ, 1, 21000), pos(ES, 1, 5000))
    assert kinds(h.apply(trade(1, MNQ, 21000, pnl=-600))) == [
        ("RULE-003", "flatten"), ("RULE-003", "cancel_orders"), ("RULE-003", "lockout")
    ]
    return h


def failed(
    action_id: str, rule: str = "RULE-003", action: str = "flatten", contract_id: str | None = None,
    size: int | None = None,
) -> EnforcementOutcome:
    detail = "failed: still open after 5 rounds"
    return EnforcementOutcome(action_id, ACCOUNT, rule, action, "failed", detail, None, contract_id, size)


def ok(action_id: str, rule: str = "RULE-003", action: str = "flatten") -> EnforcementOutcome:
    return EnforcementOutcome(action_id, ACCOUNT, rule, action, "ok", "done: flat")


def test_a_flatten_the_enforcer_gave_up_on_is_decided_again_later_while_the_lockout_holds() -> None:
    h = locked_with_two_positions()
    assert h.apply(failed("7.0")) == []  # nothing at once: the enforcer has just tried five times
    assert h.tick(seconds=WAIT - 1) == []
    [retry] = h.tick(seconds=1)
    assert isinstance(retry, Flatten) and retry.rule == "RULE-003"
    assert retry.reason is not None
    assert retry.reason.startswith("retry 1: the flatten decided by RULE-003 did not take effect (failed: ")
    assert f"+1 {MNQ}" in retry.reason and "lockout by RULE-003" in retry.reason
    assert dict(retry.inputs)["failed_action"] == "7.0"


def test_a_retry_that_fails_too_is_retried_again_and_counted_until_one_takes_effect() -> None:
    h = locked_with_two_positions()
    h.apply(failed("7.0"))
    h.tick(seconds=WAIT)
    h.apply(failed("9.0"))
    [second] = h.tick(seconds=WAIT)
    assert second.reason is not None and second.reason.startswith("retry 2:")
    h.apply(ok("11.0"))
    assert h.state.close_retries == {}
    h.apply(failed("12.0"))  # a later failure starts a new count
    [again] = h.tick(seconds=WAIT)
    assert again.reason is not None and again.reason.startswith("retry 1:")


def test_a_flatten_is_not_retried_once_the_account_is_flat() -> None:
    h = locked_with_two_positions()
    h.apply(failed("7.0"))
    h.tick(seconds=5)
    h.apply(flat(MNQ), flat(ES))  # the gateway closed them after all (or the trader did)
    assert h.tick(seconds=WAIT) == []
    assert h.state.close_retries == {}


def test_a_flatten_is_not_retried_once_an_admin_cleared_the_lockout() -> None:
    h = locked_with_two_positions()
    h.apply(failed("7.0"))
    h.engine.clear_lockout(ACCOUNT, h.now, "admin", "closing by hand")
    assert h.tick(seconds=WAIT) == []


def test_a_flatten_decided_without_a_lockout_is_retried_while_its_breach_stands() -> None:
    h = EngineHarness(MaxContracts(MaxContractsConfig(enabled=True, limit=2, enforcement="close_all")))
    h.apply(account_event(), pos(MNQ, 2, 21000))
    assert kinds(h.apply(pos(ES, 1, 5000))) == [("RULE-001", "flatten")]
    h.apply(failed("3.0", rule="RULE-001"))
    assert kinds(h.tick(seconds=WAIT)) == [("RULE-001", "flatten")]
    h.apply(failed("5.0", rule="RULE-001"))
    h.apply(flat(ES))  # the position that broke the limit closed: its breach marker went with it
    assert h.tick(seconds=WAIT) == []


def test_a_failed_close_of_a_position_opened_while_locked_is_retried_while_it_is_open() -> None:
    h = locked_with_two_positions()
    h.apply(ok("7.0"), flat(MNQ), flat(ES))
    [close] = h.apply(pos(ES, 2, 5000))  # opened while locked: the lockout gate closes it
    assert isinstance(close, ClosePosition) and close.rule == "LOCKOUT"
    h.apply(failed("8.0", rule="LOCKOUT", action="close_position", contract_id=ES))
    [retry] = h.tick(seconds=WAIT)
    assert isinstance(retry, ClosePosition)
    assert (retry.rule, retry.contract_id, retry.size) == ("LOCKOUT", ES, None)
    assert retry.reason is not None and retry.reason.endswith(f"+2 {ES} still open")


def test_a_failed_close_is_not_retried_once_its_position_closed_or_was_replaced() -> None:
    h = locked_with_two_positions()
    h.apply(ok("7.0"), flat(MNQ), flat(ES))
    h.apply(pos(ES, 2, 5000))
    h.apply(failed("8.0", rule="LOCKOUT", action="close_position", contract_id=ES))
    h.tick(seconds=5)
    h.apply(flat(ES))
    assert h.tick(seconds=WAIT) == []


def test_a_failed_close_of_the_lockout_gate_is_not_retried_once_the_lockout_ended() -> None:
    h = locked_with_two_positions()
    h.apply(ok("7.0"), flat(MNQ), flat(ES))
    h.apply(pos(ES, 2, 5000))
    h.apply(failed("8.0", rule="LOCKOUT", action="close_position", contract_id=ES))
    h.engine.clear_lockout(ACCOUNT, h.now, "admin", "the trader may hold ES again")
    assert h.tick(seconds=WAIT) == []


def test_a_failed_partial_close_and_a_close_without_its_contract_are_not_retried() -> None:
    h = locked_with_two_positions()
    h.apply(failed("8.0", rule="RULE-002", action="close_position", contract_id=MNQ, size=1))
    h.apply(failed("9.0", rule="LOCKOUT", action="close_position"))  # a journal row from before
    assert h.state.close_retries == {}


def test_only_a_failure_is_retried_not_a_refusal() -> None:
    h = locked_with_two_positions()
    h.apply(EnforcementOutcome("7.0", ACCOUNT, "RULE-003", "flatten", "refused", "failed: errorCode 6"))
    assert h.tick(seconds=WAIT) == []


def test_a_waiting_retry_survives_a_snapshot_and_fires_at_the_same_time_in_the_restored_engine() -> None:
    h = locked_with_two_positions()
    h.apply(failed("7.0"))
    h.tick(seconds=10)
    data = orjson.loads(orjson.dumps(snapshot(h.engine)))
    copy = EngineHarness(loss_rule(), start=h.now)
    restore(copy.engine, data)
    assert copy.tick(seconds=WAIT - 11) == []
    [retry] = copy.tick(seconds=1)
    assert isinstance(retry, Flatten) and retry.reason == h.tick(seconds=WAIT - 10)[0].reason


def test_a_retry_already_decided_is_not_decided_again_by_a_restored_engine() -> None:
    h = locked_with_two_positions()
    h.apply(failed("7.0"))
    h.tick(seconds=WAIT)
    data = orjson.loads(orjson.dumps(snapshot(h.engine)))
    copy = EngineHarness(loss_rule(), start=h.now)
    restore(copy.engine, data)
    assert copy.tick(seconds=WAIT * 3) == []
    copy.apply(failed("9.0"))  # ... and it still counts on
    [second] = copy.tick(seconds=WAIT)
    assert second.reason is not None and second.reason.startswith("retry 2:")


def test_an_old_snapshot_without_retries_still_reads() -> None:
    h = locked_with_two_positions()
    data = orjson.loads(orjson.dumps(snapshot(h.engine)))
    for account in data["accounts"]:
        del account["close_retries"]
    copy = EngineHarness(loss_rule(), start=h.now)
    restore(copy.engine, data)
    assert copy.engine.accounts[ACCOUNT].close_retries == {}
    assert copy.tick(seconds=timedelta(minutes=5).total_seconds()) == []
