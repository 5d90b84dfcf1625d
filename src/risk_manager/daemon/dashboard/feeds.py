"""The dashboard's JSON feeds, built from the read model and the store's audit rows (nothing here
reads engine internals or the clock: the time is an argument).

- status: the same document as the control API's ``GET /v1/status`` (``daemon`` + ``accounts`` as
  ``AccountStatus.to_json()``), plus the display ``timezone``;
- log: the trading day's audit rows (enforcements and alerts) with reasons, outcomes and latencies;
- history: each account's P&L series (``PnlHistory``) with the day's enforcements as markers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from risk_manager.daemon.dashboard.history import PnlHistory
from risk_manager.domain.actions import format_time
from risk_manager.store.rows import AuditRow

__all__ = ["LOG_ROWS", "history_payload", "log_entry", "log_payload", "status_payload"]

LOG_ROWS = 200  # the newest rows the log shows; the whole day stays in the store (`risk-manager db`)
ALERT = "alert"


def status_payload(
    accounts: Sequence[dict[str, Any]], *, now: datetime, started_at: datetime, pid: int, timezone: str
) -> dict[str, Any]:
    """``accounts``: ``AccountStatus.to_json()`` of each account (the server keeps them between
    samples and converts only the accounts that changed)."""
    return {
        "daemon": {"running": True, "pid": pid, "started_at": format_time(started_at),
                   "as_of": format_time(now)},
        "timezone": timezone,
        "accounts": list(accounts),
    }


def log_entry(row: AuditRow) -> dict[str, Any]:
    """One audit row as the log and the chart markers show it."""
    record = row.record if isinstance(row.record, dict) else {}
    reason = row.reason or record.get("message") or record.get("reason") or ""
    return {
        "id": row.id,
        "t": row.t.timestamp(),
        "time": format_time(row.t),
        "account": row.account,
        "rule": row.rule,
        "kind": row.kind,
        "level": record.get("level") if row.kind == ALERT else None,
        "reason": str(reason),
        "subject": row.subject,
        "outcome": row.outcome,
        "latency_ms": row.latency_ms,
        "action_id": row.action_id,
    }


def log_payload(rows: Sequence[AuditRow], limit: int = LOG_ROWS) -> dict[str, Any]:
    """The newest ``limit`` rows, newest first, and how many the day holds."""
    newest = rows[-limit:] if limit > 0 else []
    return {"total": len(rows), "rows": [log_entry(row) for row in reversed(newest)]}


def history_payload(history: PnlHistory, accounts: Iterable[int], rows: Sequence[AuditRow]) -> dict[str, Any]:
    """Per account of ``accounts``: the P&L series and the enforcement markers (alerts are in the log,
    not on the curve), oldest first."""
    markers: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row.kind != ALERT:
            markers.setdefault(row.account, []).append(log_entry(row))
    wanted = sorted(set(accounts))
    return {
        "accounts": [{**history.to_json(account_id), "markers": markers.get(account_id, [])}
                     for account_id in wanted]
    }
