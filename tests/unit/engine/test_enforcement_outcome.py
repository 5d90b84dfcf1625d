"""The enforcer's outcome fed back to the engine: kept as the account's last enforcement for the read
model, deciding nothing, and carried by snapshots."""

from __future__ import annotations

from datetime import timedelta

import orjson

from risk_manager.domain.events import EnforcementOutcome
from risk_manager.engine.snapshot import restore, snapshot
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig

from engine_helpers import ACCOUNT, MNQ, EngineHarness, account_event, pos

FLAT = EnforcementOutcome("12.0", ACCOUNT, "RULE-003", "flatten", "ok", "done: flat", 3.25)


def harness() -> EngineHarness:
    h = EngineHarness(DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-500)))
    h.apply(account_event(), pos(MNQ, 1, 21000))
    return h


def test_an_outcome_becomes_the_accounts_last_enforcement_and_decides_nothing() -> None:
    h = harness()
    assert h.apply(FLAT) == []
    status = h.engine.status(ACCOUNT, h.now)
    assert status is not None and status.last_enforcement is not None
    last = status.last_enforcement
    assert (last.action_id, last.rule, last.action, last.outcome, last.detail, last.latency_ms) == (
        "12.0", "RULE-003", "flatten", "ok", "done: flat", 3.25
    )
    assert last.at == h.now
    assert status.to_json()["last_enforcement"]["outcome"] == "ok"


def test_a_later_outcome_replaces_the_earlier_one() -> None:
    h = harness()
    h.apply(FLAT)
    h.tick(seconds=2)
    failed = EnforcementOutcome("13.0", ACCOUNT, "RULE-004", "close_position", "failed", "failed: still open")
    h.apply(failed)
    status = h.engine.status(ACCOUNT, h.now)
    assert status is not None and status.last_enforcement is not None
    assert status.last_enforcement.action_id == "13.0" and status.last_enforcement.latency_ms is None


def test_an_outcome_for_an_account_the_engine_does_not_hold_is_ignored() -> None:
    h = harness()
    assert h.apply(EnforcementOutcome("1.0", 999, "RULE-003", "flatten", "ok")) == []
    assert h.engine.status(999, h.now) is None


def test_the_last_enforcement_survives_a_snapshot_and_an_old_snapshot_without_it_still_reads() -> None:
    h = harness()
    h.apply(FLAT)
    data = orjson.loads(orjson.dumps(snapshot(h.engine)))
    copy = EngineHarness(DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-500)))
    restore(copy.engine, data)
    restored = copy.engine.status(ACCOUNT, h.now + timedelta(seconds=1))
    assert restored is not None and restored.last_enforcement is not None
    assert restored.last_enforcement == h.engine.accounts[ACCOUNT].last_enforcement
    for account in data["accounts"]:
        del account["last_enforcement"]  # written before outcomes were fed back
    older = EngineHarness(DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-500)))
    restore(older.engine, data)
    assert older.engine.accounts[ACCOUNT].last_enforcement is None
