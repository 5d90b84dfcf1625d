"""The trading day's audit rows for the dashboard's log and markers, read from the store a little at
a time: each read fetches only the rows from the oldest one still waiting for its outcome (or from
the newest row) on, not the whole day again, so a busy day costs the same per push as a quiet one."""

from __future__ import annotations

from datetime import datetime, timedelta

from risk_manager.daemon.enforcer import BROKER_KINDS
from risk_manager.store.reader import StoreReader
from risk_manager.store.rows import AuditRow

__all__ = ["DayAudit"]

# The actions the enforcer carries out at the broker: their rows get an outcome a moment later.
AWAITING_OUTCOME = frozenset(kind.kind for kind in BROKER_KINDS)
# An outcome that has not come by then never will (the enforcer gives up well before): stop waiting.
OUTCOME_WAIT = timedelta(minutes=2)


class DayAudit:
    def __init__(self) -> None:
        self._start: datetime | None = None
        self._rows: dict[int, AuditRow] = {}  # by id, in id order
        self._pending: dict[int, datetime] = {}  # rows awaiting their outcome: id -> decision time

    def rows(self, store: StoreReader, day_start: datetime) -> list[AuditRow]:
        """Every audit row of the trading day that started at ``day_start``, oldest first."""
        if day_start != self._start:  # the first read, or a new trading day
            self._start = day_start
            self._rows.clear()
            self._pending.clear()
            since = day_start
        else:
            since = self._since()
        for row in store.audit(since=since):
            self._rows[row.id] = row
            if row.outcome is None and row.kind in AWAITING_OUTCOME:
                self._pending[row.id] = row.t
            else:
                self._pending.pop(row.id, None)
        return list(self._rows.values())

    def _since(self) -> datetime:
        assert self._start is not None
        if not self._rows:
            return self._start
        newest = next(reversed(self._rows.values())).t
        horizon = newest - OUTCOME_WAIT
        for row_id, t in list(self._pending.items()):
            if t < horizon:
                del self._pending[row_id]
        return min([newest, *self._pending.values()])
