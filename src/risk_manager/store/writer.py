"""Writing a store: the single writer (holds ``FILE-lock``), a repository that records what it is
told -- journal rows, audit rows, lockout rows started and ended, day figures, trades, resets,
snapshots -- in batches, one transaction each.

Durability model (WAL mode): a batch commits with ``synchronous=NORMAL`` (survives a crash of the
process at once, a power loss once the WAL is synced), or, when the caller marks it ``durable``,
with ``synchronous=FULL`` (the WAL is fsynced before COMMIT returns). What is critical is the
caller's to say: the runtime layer (risk_manager.daemon.PersistentEngine) marks a batch durable when
the engine reports a lockout taken or ended or a daily reset, and commits it before returning the
decision: nobody is told "locked" before the lock is on disk. Every batch is one transaction, so the
journal rows, the audit rows and the lockout rows of the same events are either all there or none.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import orjson

from risk_manager.domain.actions import Action, LockAccount, Unlock
from risk_manager.domain.codec import to_us
from risk_manager.domain.lockouts import Lockout
from risk_manager.store.codec import Entry, encode, iso
from risk_manager.store.errors import StoreError
from risk_manager.store.reader import DEFAULT_AUDIT_DAYS, DEFAULT_JOURNAL_DAYS, StoreReader, prune_cuts
from risk_manager.store.rows import ClockRow, PruneReport

SNAPSHOTS_KEPT = 2


@dataclass(slots=True)
class Batch:
    """Rows to write in one transaction. ``durable`` commits with fsync (critical state inside)."""

    journal: list[tuple[int, int, int | None, str, bytes]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    lockouts_new: list[tuple[Any, ...]] = field(default_factory=list)
    # (cleared_at, cleared_by, cleared_why, id)
    lockouts_cleared: list[tuple[str, str, str, int]] = field(default_factory=list)
    # (account, day) -> row; the last value staged for a day wins
    days: dict[tuple[int, str], tuple[Any, ...]] = field(default_factory=dict)
    trades: list[tuple[Any, ...]] = field(default_factory=list)
    resets: list[tuple[Any, ...]] = field(default_factory=list)
    snapshot: tuple[int, str | None, bytes] | None = None
    durable: bool = False

    def __bool__(self) -> bool:
        return bool(
            self.journal
            or self.audit
            or self.lockouts_new
            or self.lockouts_cleared
            or self.days
            or self.trades
            or self.resets
            or self.snapshot is not None
        )


class Store(StoreReader):
    """The writer of a store file (``Store.open(path)``; one per file); ``Store.open(path,
    readonly=True)`` opens a reader, as :class:`StoreReader` does."""

    WRITES: ClassVar[bool] = True

    def __init__(self, path: Path, con: sqlite3.Connection, readonly: bool, lock_fd: int | None) -> None:
        super().__init__(path, con, readonly, lock_fd)
        self._next_seq = 1
        self._next_audit = 1
        self._next_lockout = 1
        # Active lockout rows by (account, rule, scope, symbol) -> row id: which row an end closes.
        self._active: dict[tuple[int, str, str, str | None], int] = {}
        if not readonly:
            self._load_counters()

    # ---- writing -------------------------------------------------------------------------------

    def _writer(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only; open it for writing to change it")
        return self._con

    def _load_counters(self) -> None:
        con = self._con
        self._next_seq = (con.execute("SELECT max(seq) FROM journal").fetchone()[0] or 0) + 1
        self._next_audit = (con.execute("SELECT max(id) FROM audit").fetchone()[0] or 0) + 1
        self._next_lockout = (con.execute("SELECT max(id) FROM lockouts").fetchone()[0] or 0) + 1
        self._active = {
            (r[1], r[2], r[3], r[4]): r[0]
            for r in con.execute(
                "SELECT id, account, rule, scope, symbol FROM lockouts WHERE cleared_at IS NULL"
            )
        }

    @property
    def next_seq(self) -> int:
        """The journal sequence number the next appended entry gets."""
        return self._next_seq

    @property
    def last_seq(self) -> int:
        """The last journal sequence number: staged by this writer, or on file for a reader (0: none)."""
        if self.readonly:
            return super().last_seq
        return self._next_seq - 1

    def stage_entry(self, batch: Batch, t: datetime, entry: Entry) -> int:
        """Add a journal row to ``batch``; returns its sequence number."""
        kind, account, payload = encode(entry)
        seq = self._next_seq
        self._next_seq = seq + 1
        batch.journal.append((seq, to_us(t), account, kind, payload))
        return seq

    def stage_actions(
        self,
        batch: Batch,
        t: datetime,
        actions: Sequence[Action],
        *,
        journal_seq: int | None = None,
        first_index: int = 0,
        notes: Sequence[str | None] | None = None,
    ) -> list[int]:
        """Audit rows for ``actions`` (decided at ``t``); returns their audit ids, in order.

        With ``journal_seq`` (the entry that decided them) each row gets the action id
        ``"<journal_seq>.<first_index + i>"``. Lockout rows are the caller's to stage
        (:meth:`stage_lockout_start`, :meth:`stage_lockout_end`), and so is durability.
        """
        ids: list[int] = []
        t_text = iso(t)
        for i, action in enumerate(actions):
            audit_id = self._next_audit
            self._next_audit += 1
            ids.append(audit_id)
            note = notes[i] if notes is not None else None
            batch.audit.append(
                (
                    audit_id,
                    t_text,
                    action.account_id,
                    action.rule,
                    action.kind,
                    action.reason,
                    action.subject,
                    orjson.dumps(dict(action.inputs)).decode(),
                    orjson.dumps(action.record(t)).decode(),
                    journal_seq,
                    note,
                    None if journal_seq is None else f"{journal_seq}.{first_index + i}",
                )
            )
        return ids

    def stage_lockout_start(self, batch: Batch, lockout: Lockout, audit_id: int | None) -> None:
        """A lockout row (active). Its key must not have an active row: end that one first."""
        key = (lockout.account_id, lockout.rule, lockout.scope, lockout.symbol)
        if key in self._active:
            raise StoreError(
                f"{self.path}: lockout {key} already has an active row; end it before starting another"
            )
        row_id = self._next_lockout
        self._next_lockout += 1
        self._active[key] = row_id
        batch.lockouts_new.append(
            (
                row_id,
                lockout.account_id,
                lockout.rule,
                lockout.scope,
                lockout.symbol,
                lockout.reason,
                iso(lockout.since),
                None if lockout.until is None else iso(lockout.until),
                lockout.condition,
                audit_id,
            )
        )

    def stage_lockout_end(
        self,
        batch: Batch,
        account: int,
        key: tuple[str, str, str | None],
        t: datetime,
        by: str,
        why: str,
    ) -> bool:
        """Close the active row of ``(account, rule, scope, symbol)``; False if there is none."""
        row_id = self._active.pop((account, *key), None)
        if row_id is None:
            return False
        batch.lockouts_cleared.append((iso(t), by, why, row_id))
        return True

    def stage_day(
        self,
        batch: Batch,
        account: int,
        label: date,
        start: datetime,
        end: datetime,
        realized: Decimal,
        fees: Decimal,
        trade_count: int,
        t: datetime,
    ) -> None:
        day = label.isoformat()
        batch.days[(account, day)] = (
            account,
            day,
            iso(start),
            iso(end),
            str(realized),
            str(fees),
            trade_count,
            iso(t),
        )

    def stage_trade(
        self,
        batch: Batch,
        account: int,
        trade_id: int,
        label: date,
        t: datetime,
        contract: str,
        pnl: Decimal | None,
        fees: Decimal,
        counted: bool,
    ) -> None:
        batch.trades.append(
            (
                account,
                trade_id,
                label.isoformat(),
                iso(t),
                contract,
                None if pnl is None else str(pnl),
                str(fees),
                int(counted),
            )
        )

    def stage_reset(
        self,
        batch: Batch,
        t: datetime,
        account: int,
        label: date,
        previous: date | None,
        previous_realized: Decimal | None,
        previous_fees: Decimal | None,
        missed: bool,
    ) -> None:
        batch.resets.append(
            (
                iso(t),
                account,
                label.isoformat(),
                None if previous is None else previous.isoformat(),
                None if previous_realized is None else str(previous_realized),
                None if previous_fees is None else str(previous_fees),
                int(missed),
            )
        )

    def stage_snapshot(
        self, batch: Batch, data: dict[str, Any] | bytes, journal_seq: int, t: datetime | None
    ) -> None:
        blob = data if isinstance(data, bytes) else orjson.dumps(data)
        batch.snapshot = (journal_seq, None if t is None else iso(t), blob)

    def write(self, batch: Batch) -> None:
        """Commit ``batch`` in one transaction (fsynced when ``batch.durable``).

        On failure nothing of the batch is written and StoreError says why. The sequence numbers and
        lockout rows staged stay reserved for the batch: retry it (more rows may be staged into it
        meanwhile), or call :meth:`discard` to give them back.
        """
        if not batch:
            return
        con = self._writer()
        durable = batch.durable
        if durable:
            con.execute("PRAGMA synchronous = FULL")
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                self._write_rows(con, batch)
                self._commit()
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: writing to the store failed: {exc}") from exc
        finally:
            if durable:
                con.execute("PRAGMA synchronous = NORMAL")

    def discard(self) -> None:
        """Forget staged batches that were not written: counters and active lockouts from the file."""
        self._load_counters()

    def _write_once(self, batch: Batch) -> None:
        try:
            self.write(batch)
        except StoreError:
            self.discard()
            raise

    def _commit(self) -> None:
        self._con.execute("COMMIT")

    @staticmethod
    def _write_rows(con: sqlite3.Connection, batch: Batch) -> None:
        if batch.journal:
            con.executemany(
                "INSERT INTO journal (seq, t, account, kind, payload) VALUES (?, ?, ?, ?, ?)", batch.journal
            )
        if batch.audit:
            con.executemany(
                "INSERT INTO audit (id, t, account, rule, kind, reason, subject, inputs, record,"
                " journal_seq, note, action_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch.audit,
            )
        # Old rows are closed before new ones open: the partial unique index allows one active per key.
        if batch.lockouts_cleared:
            con.executemany(
                "UPDATE lockouts SET cleared_at = ?, cleared_by = ?, cleared_why = ?"
                " WHERE id = ? AND cleared_at IS NULL",
                batch.lockouts_cleared,
            )
        if batch.lockouts_new:
            for row in batch.lockouts_new:
                con.execute(
                    "INSERT INTO lockouts (id, account, rule, scope, symbol, reason, since, until, condition,"
                    " audit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        if batch.days:
            con.executemany(
                "INSERT INTO day_pnl (account, day, start, end, realized, fees, trade_count, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, day) DO UPDATE SET"
                " realized = excluded.realized, fees = excluded.fees, trade_count = excluded.trade_count,"
                " updated = excluded.updated",
                list(batch.days.values()),
            )
        if batch.trades:
            con.executemany(
                # A repeat of a trade id changes nothing, except that a P&L seen after the
                # P&L-less repeat of a close fills it in (the engine counts it then: Engine._late_pnl).
                "INSERT INTO trades (account, trade_id, day, t, contract, pnl, fees, counted)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, trade_id) DO UPDATE SET"
                " pnl = excluded.pnl WHERE trades.pnl IS NULL AND excluded.pnl IS NOT NULL",
                batch.trades,
            )
        if batch.resets:
            # A reset runs once per trading day (the engine guarantees it); a repeat is not an error
            # worth losing the batch's critical rows for, so the first row stays.
            con.executemany(
                "INSERT OR IGNORE INTO resets (t, account, day, previous_day, previous_realized,"
                " previous_fees, missed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                batch.resets,
            )
        if batch.snapshot is not None:
            con.execute("INSERT INTO snapshots (journal_seq, t, data) VALUES (?, ?, ?)", batch.snapshot)
            con.execute(
                "DELETE FROM snapshots WHERE id NOT IN (SELECT id FROM snapshots ORDER BY id DESC LIMIT ?)",
                (SNAPSHOTS_KEPT,),
            )

    # ---- convenience writers (one transaction each) --------------------------------------------

    def append_events(self, entries: Iterable[tuple[datetime, Entry]], *, durable: bool = False) -> int:
        """Journal ``(t, event)`` pairs in one transaction; returns the last sequence number."""
        batch = Batch(durable=durable)
        for t, entry in entries:
            self.stage_entry(batch, t, entry)
        self._write_once(batch)
        return self.last_seq

    def record_actions(
        self,
        t: datetime,
        actions: Sequence[Action],
        *,
        journal_seq: int | None = None,
        note: str | None = None,
        durable: bool = False,
    ) -> list[int]:
        """Record actions as given, in one transaction (tools and tests; the daemon's PersistentEngine
        stages from the engine's change report instead): audit rows, a lockout row per LockAccount
        (since ``t``; it replaces the key's active row, which the caller asserts by recording it) and
        the end of the row an Unlock names. Returns the audit ids."""
        self._writer()
        batch = Batch(durable=durable)
        ids = self.stage_actions(
            batch, t, actions, journal_seq=journal_seq, notes=[note] * len(actions) if note else None
        )
        for audit_id, action in zip(ids, actions, strict=True):
            if isinstance(action, LockAccount):
                lockout = Lockout(
                    action.account_id,
                    action.rule,
                    action.reason or "",
                    t,
                    action.scope,
                    action.symbol,
                    action.until,
                    action.condition,
                )
                until = iso(lockout.until) if lockout.until is not None else f"{lockout.condition} clears"
                self.stage_lockout_end(
                    batch, action.account_id, lockout.key, t, "superseded", f"replaced (until {until})"
                )
                self.stage_lockout_start(batch, lockout, audit_id)
            elif isinstance(action, Unlock):
                key = (action.rule, action.scope, action.symbol)
                self.stage_lockout_end(batch, action.account_id, key, t, "recorded", action.reason or "")
        self._write_once(batch)
        return ids

    def record_outcome(
        self, audit_id: int, outcome: str, latency_ms: float | None, at: datetime | None = None
    ) -> None:
        """The enforcer's result for an audit row ("done", "failed: ...") and its latency."""
        con = self._writer()
        try:
            cur = con.execute(
                "UPDATE audit SET outcome = ?, latency_ms = ?, outcome_t = ? WHERE id = ?",
                (outcome, latency_ms, None if at is None else iso(at), audit_id),
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: recording the outcome of audit row {audit_id} failed: {exc}"
            ) from exc
        if cur.rowcount == 0:
            raise StoreError(f"{self.path}: no audit row {audit_id} (outcome {outcome!r} not recorded)")

    def save_snapshot(
        self, data: dict[str, Any] | bytes, journal_seq: int, t: datetime | None = None
    ) -> None:
        """Engine state after journal rows up to ``journal_seq`` (engine/snapshot.snapshot())."""
        batch = Batch()
        self.stage_snapshot(batch, data, journal_seq, t)
        self._write_once(batch)

    def set_meta(self, key: str, value: str) -> None:
        self._writer().execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ---- the trader's clock-in / clock-out ----------------------------------------------------------

    def clock_in(self, account: int, at: datetime, by: str) -> ClockRow:
        """Open a clock session; StoreError if the account is clocked in already."""
        con = self._writer()
        try:
            cur = con.execute(
                "INSERT INTO clock_sessions (account, clock_in, by) VALUES (?, ?, ?)", (account, iso(at), by)
            )
        except sqlite3.IntegrityError:
            [row] = self.clock_sessions(account, open_only=True)
            raise StoreError(
                f"account {account} is clocked in already (since {iso(row.clock_in)}); clock out first"
            ) from None
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: recording the clock-in failed: {exc}") from exc
        return ClockRow(int(cur.lastrowid or 0), account, at, None, by)

    def clock_out(self, account: int, at: datetime) -> ClockRow:
        """Close the account's open clock session; StoreError if there is none."""
        open_rows = self.clock_sessions(account, open_only=True)
        if not open_rows:
            raise StoreError(f"account {account} is not clocked in; clock in first")
        row = open_rows[0]
        try:
            self._writer().execute("UPDATE clock_sessions SET clock_out = ? WHERE id = ?", (iso(at), row.id))
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: recording the clock-out failed: {exc}") from exc
        return ClockRow(row.id, account, row.clock_in, at, row.by)

    # ---- retention -----------------------------------------------------------------------------

    def prune(
        self,
        now: datetime,
        *,
        journal_days: int = DEFAULT_JOURNAL_DAYS,
        audit_days: int = DEFAULT_AUDIT_DAYS,
        chunk: int = 20_000,
    ) -> PruneReport:
        """Delete journal rows (and processed trade ids) older than ``journal_days`` and audit rows,
        ended lockouts, resets and day rows older than ``audit_days``.

        Journal rows that a restart still needs -- those after the oldest kept snapshot -- are never
        deleted, whatever their age; active lockouts are never deleted. Deletes run in chunks of
        ``chunk`` rows, one short transaction each, so a daemon sharing the file is not held up.
        """
        journal_cut, audit_cut, trade_cut, day_cut = prune_cuts(now, journal_days, audit_days)
        con = self._writer()
        report = PruneReport()
        kept = con.execute("SELECT min(journal_seq) FROM snapshots").fetchone()[0]
        if kept is not None:
            lo = con.execute("SELECT min(seq) FROM journal").fetchone()[0]
            while lo is not None and lo <= kept:
                hi = min(lo + chunk - 1, kept)
                n = self._delete(
                    con, "DELETE FROM journal WHERE seq BETWEEN ? AND ? AND t < ?", (lo, hi, journal_cut)
                )
                report.journal += n
                if n < hi - lo + 1:
                    break  # the journal is in time order: the rest is recent enough
                lo = hi + 1
        report.trades = self._delete_chunks(con, "trades", "t < ?", (trade_cut,), chunk, key="rowid")
        report.audit = self._delete_chunks(con, "audit", "t < ?", (audit_cut,), chunk)
        report.lockouts = self._delete_chunks(
            con, "lockouts", "cleared_at IS NOT NULL AND cleared_at < ?", (audit_cut,), chunk
        )
        report.resets = self._delete_chunks(con, "resets", "t < ?", (audit_cut,), chunk)
        report.days = self._delete_chunks(con, "day_pnl", "day < ?", (day_cut,), chunk, key="rowid")
        if report.journal or report.audit:
            with contextlib.suppress(sqlite3.Error):
                con.execute("PRAGMA incremental_vacuum")
        return report

    @staticmethod
    def _delete(con: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> int:
        con.execute("BEGIN IMMEDIATE")
        try:
            n = con.execute(sql, args).rowcount
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return int(n)

    def _delete_chunks(
        self,
        con: sqlite3.Connection,
        table: str,
        where: str,
        args: tuple[Any, ...],
        chunk: int,
        key: str = "id",
    ) -> int:
        total = 0
        if key == "rowid":
            # WITHOUT ROWID tables: delete by primary key through a bounded sub-select.
            pk = {"trades": "(account, trade_id)", "day_pnl": "(account, day)"}[table]
            sql = f"DELETE FROM {table} WHERE {pk} IN (SELECT {pk[1:-1]} FROM {table} WHERE {where} LIMIT ?)"
        else:
            sql = f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} LIMIT ?)"
        while True:
            n = self._delete(con, sql, (*args, chunk))
            total += n
            if n < chunk:
                return total
