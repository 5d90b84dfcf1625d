"""DayAudit: the trading day's audit rows for the dashboard, read from a real store a little at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from risk_manager.daemon.dashboard.audit import DayAudit
from risk_manager.domain.actions import Alert, ClosePosition, Flatten
from risk_manager.store.sqlite import Store

DAY_START = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # 17:00 Chicago


def at(minutes: float) -> datetime:
    return DAY_START + timedelta(minutes=minutes)


def test_new_rows_and_late_outcomes_show_and_the_rows_of_the_day_before_do_not(tmp_path: Path) -> None:
    with Store.open(tmp_path / "risk.db") as store:
        [yesterday] = store.record_actions(at(-5), [Flatten(account_id=7, rule="RULE-003", reason="old")])
        [close] = store.record_actions(at(1), [ClosePosition(account_id=7, rule="RULE-001", reason="size",
                                                             contract_id="CON.F.US.MNQ.H26")])
        audit = DayAudit()
        assert [(r.id, r.outcome) for r in audit.rows(store, DAY_START)] == [(close, None)]

        store.record_outcome(close, "done: reduced to 4", 12.5, at(1.01))  # the enforcer's answer
        [alert, flatten] = store.record_actions(at(2), [
            Alert(account_id=7, rule="RULE-003", level="warning", message="75% of the limit"),
            Flatten(account_id=7, rule="RULE-003", reason="day P&L -300 <= limit -300"),
        ])
        rows = audit.rows(store, DAY_START)
        assert [(r.id, r.outcome, r.latency_ms) for r in rows] == [
            (close, "done: reduced to 4", 12.5), (alert, None, None), (flatten, None, None)
        ]
        store.record_outcome(flatten, "done: flat", 40.0, at(2.01))
        assert [r.outcome for r in audit.rows(store, DAY_START)] == ["done: reduced to 4", None, "done: flat"]
        assert yesterday not in {r.id for r in rows}


def test_a_new_trading_day_starts_an_empty_log(tmp_path: Path) -> None:
    with Store.open(tmp_path / "risk.db") as store:
        store.record_actions(at(1), [Flatten(account_id=7, rule="RULE-003", reason="today")])
        audit = DayAudit()
        assert len(audit.rows(store, DAY_START)) == 1
        assert audit.rows(store, DAY_START + timedelta(days=1)) == []
