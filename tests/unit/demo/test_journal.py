"""The live demo's journal: each decision in order, its outcome filled in when the enforcer knows it."""

from __future__ import annotations

from datetime import UTC, datetime

from risk_manager.daemon.enforcer import Outcome
from risk_manager.daemon.persistent import Decision
from risk_manager.demo.session import Journal
from risk_manager.domain.actions import Alert, ClosePosition, LockAccount

T = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
CLOSE = ClosePosition(account_id=8, rule="RULE-008", contract_id="CON.F.US.EP.H26",
                      reason="no protective stop after 8 s")


def test_an_enforcement_is_listed_when_decided_and_completed_by_its_outcome() -> None:
    seen: list[tuple[str, str | None]] = []
    journal = Journal(emit=lambda what, entry: seen.append((what, entry.outcome)))
    journal.decided(Decision(41, T, CLOSE, 10, 0))
    assert [e.outcome for e in journal.enforcements()] == [None]
    journal.enforced(Outcome(41, CLOSE, "done", "closed", 6.25))
    [entry] = journal.enforcements()
    assert (entry.rule, entry.kind, entry.outcome, entry.latency_ms) == (
        "RULE-008", "close_position", "done: closed", 6.25)
    assert entry.reason == "no protective stop after 8 s"
    assert seen == [("decision", None), ("outcome", "done: closed")]


def test_a_lockout_is_an_enforcement_with_no_broker_call_and_an_alert_is_not_an_enforcement() -> None:
    journal = Journal()
    lock = LockAccount(account_id=7, rule="RULE-003", reason="day P&L -346.84")
    journal.decided(Decision(1, T, lock, 3, 0))
    journal.decided(Decision(2, T, Alert(account_id=7, rule="RULE-003", level="warning",
                                         message="75% of the limit"), 3, 1))
    assert [(e.kind, e.outcome) for e in journal.enforcements()] == [("lockout", "locked")]
    alert = journal.entries[1]
    assert (alert.kind, alert.level, alert.reason) == ("alert", "warning", "75% of the limit")
