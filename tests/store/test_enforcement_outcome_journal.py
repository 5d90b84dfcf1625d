"""Enforcement outcomes are journaled like every engine input: encoded by field name, replayed by a
recovery after a crash, so the read model's last enforcement comes back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from risk_manager.daemon.persistent import PersistentEngine
from risk_manager.daemon.recovery import recover
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.domain.events import EnforcementOutcome
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.rules.registry import rule_class
from risk_manager.store.codec import KIND_OUTCOME, decode, encode
from risk_manager.store.sqlite import Store

from engine_helpers import MNQ, T0, account_event, pos

OUTCOME = EnforcementOutcome("3.0", 7, "RULE-003", "flatten", "refused",
                             "fallback: flat", 4.5)  # fmt: skip


def engine() -> Engine:
    cls = rule_class("daily_realized_loss")
    rule = cls(cls.config_model.model_validate({"enabled": True, "limit": -500}))
    return Engine(Policy.uniform([rule]), TradingCalendar(), ContractTable())


def test_an_outcome_is_a_journal_entry_of_its_own_kind_written_by_field_name() -> None:
    kind, account, payload = encode(OUTCOME)
    assert (kind, account) == (KIND_OUTCOME, 7)
    assert payload.startswith(b'{"action_id":"3.0","account_id":7,')
    assert decode(kind, payload) == OUTCOME


def test_a_recovery_after_a_crash_replays_the_outcome_into_the_read_model(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "risk.db")
    persistent = PersistentEngine(engine(), store, snapshot_every=None)
    persistent.decide(account_event(), T0)
    persistent.decide(pos(MNQ, 1, 21000), T0)
    persistent.decide(OUTCOME, T0 + timedelta(seconds=1))
    persistent.flush()
    store.close()  # a crash: no snapshot at stop

    again = Store.open(tmp_path / "risk.db")
    try:
        recovered, report = recover(again, engine, T0 + timedelta(minutes=1))
        assert report.replayed == 3
        last = recovered.engine.accounts[7].last_enforcement
        assert last is not None
        assert (last.action_id, last.outcome, last.detail, last.at) == (
            "3.0", "refused", "fallback: flat", T0 + timedelta(seconds=1)
        )
    finally:
        again.close()
