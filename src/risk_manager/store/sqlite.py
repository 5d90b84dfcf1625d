"""The SQLite store, one file: the event journal, engine snapshots, lockouts, the enforcement audit
trail, trading-day P&L, processed trade ids and the reset log.

Split by reason to change: store/files.py (opening a file safely, the writer lock),
store/migrations.py (the schema), store/rows.py (what reads return), store/reader.py
(:class:`StoreReader`: read-only access, checks), store/writer.py (:class:`Store`: the single
writer, batches). This module gathers the public names.
"""

from risk_manager.store.files import CheckLevel
from risk_manager.store.reader import DEFAULT_AUDIT_DAYS, DEFAULT_JOURNAL_DAYS, StoreReader
from risk_manager.store.rows import (
    AuditRow,
    CheckReport,
    ClockRow,
    DayRow,
    LockoutRow,
    PruneReport,
    ResetRow,
    SnapshotRow,
    TradeRow,
)
from risk_manager.store.writer import SNAPSHOTS_KEPT, Batch, Store

__all__ = [
    "DEFAULT_AUDIT_DAYS",
    "DEFAULT_JOURNAL_DAYS",
    "SNAPSHOTS_KEPT",
    "AuditRow",
    "Batch",
    "CheckLevel",
    "CheckReport",
    "ClockRow",
    "DayRow",
    "LockoutRow",
    "PruneReport",
    "ResetRow",
    "SnapshotRow",
    "Store",
    "StoreReader",
    "TradeRow",
]
