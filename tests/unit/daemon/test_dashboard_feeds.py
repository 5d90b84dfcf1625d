"""The dashboard's JSON feeds: built from the read model and the store's audit rows, no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from risk_manager.daemon.dashboard.feeds import history_payload, log_payload, status_payload
from risk_manager.daemon.dashboard.history import PnlHistory
from risk_manager.domain.status import (
    AccountStatus,
    ConnectionState,
    LockoutStatus,
    RuleGauge,
    TradingState,
)
from risk_manager.store.rows import AuditRow

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DAY = date(2026, 3, 2)


def status(account_id: int = 7) -> AccountStatus:
    lockout = LockoutStatus("RULE-003", "account", None, "day P&L -512.50 <= limit -500.00", T0,
                            T0 + timedelta(hours=8), None)
    return AccountStatus(
        account_id=account_id, name="acct", balance=Decimal("49487.50"), can_trade=False, trading_day=DAY,
        realized=Decimal("-512.5"), costs=Decimal("4.2"), unrealized=Decimal(0), net=Decimal("-516.7"),
        positions=(), gauges=(RuleGauge.of("RULE-003", "daily_realized_loss", Decimal("-516.7"),
                                           Decimal(-500), "USD"),),
        lockouts=(lockout,), trading_state=TradingState.HALTED, next_reset=T0 + timedelta(hours=8),
        connection=ConnectionState.CONNECTED, as_of=T0,
    )


def row(id: int, kind: str, *, account: int = 7, reason: str | None = "day P&L -512.50 <= limit -500.00",
        record: dict[str, Any] | None = None, outcome: str | None = None,
        latency_ms: float | None = None) -> AuditRow:
    return AuditRow(id, T0 + timedelta(seconds=id), account, "RULE-003", kind, reason, "account", {},
                    record or {}, id, None, outcome, None, latency_ms, f"{id}.0")


def test_the_status_feed_is_the_control_apis_document_with_the_display_zone() -> None:
    doc = status_payload([status().to_json()], now=T0, started_at=T0 - timedelta(hours=1), pid=42,
                         timezone="America/Chicago")
    assert doc["daemon"] == {"running": True, "pid": 42, "started_at": "2026-03-02T14:00:00.000Z",
                             "as_of": "2026-03-02T15:00:00.000Z"}
    assert doc["timezone"] == "America/Chicago"
    assert doc["accounts"] == [status().to_json()]
    [lockout] = doc["accounts"][0]["lockouts"]
    assert lockout["until"] == "2026-03-02T23:00:00.000Z"  # the page counts down to it


def test_the_log_feed_lists_the_newest_rows_first_with_reasons_outcomes_and_latencies() -> None:
    rows = [row(1, "flatten", outcome="done: flat", latency_ms=41.5), row(2, "lockout"),
            row(3, "alert", reason=None, record={"level": "warning", "message": "75% of the limit"})]
    doc = log_payload(rows)
    assert doc["total"] == 3
    assert [r["id"] for r in doc["rows"]] == [3, 2, 1]
    alert, lockout, flatten = doc["rows"]
    assert (alert["kind"], alert["level"], alert["reason"]) == ("alert", "warning", "75% of the limit")
    assert lockout["outcome"] is None and lockout["level"] is None
    assert flatten == {
        "id": 1, "t": (T0 + timedelta(seconds=1)).timestamp(), "time": "2026-03-02T15:00:01.000Z",
        "account": 7, "rule": "RULE-003", "kind": "flatten", "level": None,
        "reason": "day P&L -512.50 <= limit -500.00", "subject": "account", "outcome": "done: flat",
        "latency_ms": 41.5, "action_id": "1.0",
    }


def test_the_log_feed_is_bounded_and_says_how_many_rows_the_day_holds() -> None:
    rows = [row(n, "close_position") for n in range(1, 11)]
    doc = log_payload(rows, limit=4)
    assert doc["total"] == 10 and [r["id"] for r in doc["rows"]] == [10, 9, 8, 7]


def test_the_history_feed_marks_each_enforcement_on_its_accounts_curve_but_no_alert() -> None:
    history = PnlHistory()
    history.add(7, DAY, T0, Decimal(0), Decimal(0))
    history.add(7, DAY, T0 + timedelta(seconds=2), Decimal("-512.5"), Decimal("-516.7"))
    rows = [row(1, "alert", record={"level": "warning", "message": "90%"}), row(2, "flatten"),
            row(3, "lockout"), row(4, "close_position", account=8)]
    doc = history_payload(history, [7, 8], rows)
    seven, eight = doc["accounts"]
    assert seven["net"] == ["0.00", "-516.70"]
    assert [m["kind"] for m in seven["markers"]] == ["flatten", "lockout"]
    assert seven["markers"][0]["reason"] == "day P&L -512.50 <= limit -500.00"
    assert eight["t"] == [] and [m["kind"] for m in eight["markers"]] == ["close_position"]
    only = history_payload(history, [8], rows)
    assert [a["account_id"] for a in only["accounts"]] == [8]
