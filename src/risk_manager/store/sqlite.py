"""The SQLite store: one file holding the event journal, engine snapshots, lockouts, the enforcement
audit trail, trading-day P&L, processed trade ids and the reset log.

Durability model (WAL mode):

- Ordinary batches (journal rows, audit rows of non-critical actions) commit with
  ``synchronous=NORMAL``: a commit survives a crash of the process (``kill -9``) at once and a power
  loss once the WAL is synced, which SQLite does at the next checkpoint or durable commit.
- A batch holding critical state -- a lockout started or ended, a daily reset, an admin clear -- is
  committed with ``synchronous=FULL`` (the WAL is fsynced before COMMIT returns), and
  :class:`~risk_manager.store.recovery.PersistentEngine` commits it *before* returning the decision
  to its caller: nobody is told "locked" before the lock is on disk.
- Every batch is one transaction, so the journal rows, the audit rows and the lockout rows of the
  same events are either all there or none: after a crash the state recovered from the journal and
  the lockout table agree.

One writer per file, many readers: the writer holds an advisory ``flock`` on ``FILE-lock`` (released
by the kernel if the process dies); readers open ``mode=ro`` and, thanks to WAL, never block the
writer nor wait for it.

Opening never damages a file it cannot validate: an empty, foreign, truncated or corrupt file, or one
with a newer schema, raises before anything is written to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson

from risk_manager.domain.actions import Action, LockAccount, Unlock
from risk_manager.domain.codec import from_us, to_us
from risk_manager.domain.lockouts import Lockout
from risk_manager.store.codec import Entry, decode, encode, iso, parse_iso
from risk_manager.store.errors import StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from risk_manager.store.migrations import SCHEMA_VERSION, VersionInfo, check_supported, migrate, read_version

__all__ = [
    "AuditRow",
    "Batch",
    "CheckReport",
    "DayRow",
    "LockoutRow",
    "PruneReport",
    "ResetRow",
    "SnapshotRow",
    "Store",
    "TradeRow",
]

DEFAULT_JOURNAL_DAYS = 30
DEFAULT_AUDIT_DAYS = 365
SNAPSHOTS_KEPT = 2
_BUSY_TIMEOUT_MS = 5000

CheckLevel = Literal["quick", "full", "none"]


# ---- rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    t: datetime
    account: int
    rule: str
    kind: str
    reason: str | None
    subject: str | None
    inputs: dict[str, str]
    record: dict[str, Any]
    journal_seq: int | None
    note: str | None
    outcome: str | None
    outcome_t: datetime | None
    latency_ms: float | None
    action_id: str | None  # "<journal seq>.<index>" (None: decided outside any journal entry)


@dataclass(frozen=True, slots=True)
class LockoutRow:
    id: int
    account: int
    rule: str
    scope: str
    symbol: str | None
    reason: str
    since: datetime
    until: datetime | None
    condition: str | None
    audit_id: int | None
    cleared_at: datetime | None
    cleared_by: str | None
    cleared_why: str | None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.rule, self.scope, self.symbol)

    def to_lockout(self) -> Lockout:
        return Lockout(
            self.account,
            self.rule,
            self.reason,
            self.since,
            self.scope,
            self.symbol,
            self.until,
            self.condition,
        )


@dataclass(frozen=True, slots=True)
class DayRow:
    account: int
    day: date
    start: datetime
    end: datetime
    realized: Decimal
    fees: Decimal
    trade_count: int
    updated: datetime

    @property
    def net(self) -> Decimal:
        return self.realized - self.fees


@dataclass(frozen=True, slots=True)
class TradeRow:
    account: int
    trade_id: int
    day: date
    t: datetime
    contract: str
    pnl: Decimal | None
    fees: Decimal
    counted: bool


@dataclass(frozen=True, slots=True)
class ResetRow:
    id: int
    t: datetime
    account: int
    day: date
    previous_day: date | None
    previous_realized: Decimal | None
    previous_fees: Decimal | None
    missed: bool


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    id: int
    journal_seq: int
    t: datetime | None
    data: bytes

    def load(self) -> dict[str, Any]:
        try:
            value = orjson.loads(self.data)
        except orjson.JSONDecodeError as exc:
            raise StoreCorruptError(f"snapshot {self.id} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise StoreCorruptError(f"snapshot {self.id} is not a JSON object")
        return value


@dataclass(slots=True)
class PruneReport:
    journal: int = 0
    audit: int = 0
    lockouts: int = 0
    trades: int = 0
    resets: int = 0
    days: int = 0


@dataclass(slots=True)
class CheckReport:
    path: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    schema_version: int = 0
    program: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    journal_first: tuple[int, datetime] | None = None
    journal_last: tuple[int, datetime] | None = None
    snapshot_seq: int | None = None
    active_lockouts: int = 0
    meta: dict[str, str] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)

    def as_dict(self) -> dict[str, Any]:
        def point(p: tuple[int, datetime] | None) -> dict[str, Any] | None:
            return None if p is None else {"seq": p[0], "t": iso(p[1])}

        return {
            "path": self.path,
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
            "schema_version": self.schema_version,
            "program": self.program,
            "counts": self.counts,
            "journal_first": point(self.journal_first),
            "journal_last": point(self.journal_last),
            "snapshot_seq": self.snapshot_seq,
            "active_lockouts": self.active_lockouts,
            "meta": self.meta,
        }


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


# ---- the store -----------------------------------------------------------------------------------

_COUNTED_TABLES = ("journal", "snapshots", "audit", "lockouts", "day_pnl", "trades", "resets")


def _dt_or_none(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def _dec_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _date_or_none(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


class Store:
    """An open store file. Use :meth:`open`; a writer is single (see module docstring)."""

    def __init__(self, path: Path, con: sqlite3.Connection, readonly: bool, lock_fd: int | None) -> None:
        self.path = path
        self.readonly = readonly
        self._con = con
        self._lock_fd = lock_fd
        self._closed = False
        self._next_seq = 1
        self._next_audit = 1
        self._next_lockout = 1
        # Active lockout rows by (account, rule, scope, symbol) -> row id: how Unlock finds its row.
        self._active: dict[tuple[int, str, str, str | None], int] = {}
        if not readonly:
            self._load_counters()

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        create: bool = True,
        check: CheckLevel = "quick",
        check_same_thread: bool = True,
    ) -> Store:
        """Open (and for a writer, create or upgrade) the store at ``path``.

        Raises StoreCorruptError (not SQLite, damaged, empty, someone else's database),
        StoreVersionError (written by a newer program), StoreLockedError (another writer),
        StoreError (missing file, unusable directory). The file is never written before it has been
        validated. Writers run ``PRAGMA quick_check`` (``check="full"``: integrity_check).
        """
        p = Path(path)
        name = str(p)
        exists = p.exists()
        if exists and not p.is_file():
            raise StoreError(f"{name} is not a file; give the path of the store's database file")
        if not exists and (readonly or not create):
            raise StoreError(
                f"{name} does not exist; check the path (`risk-manager replay --db FILE` creates a store)"
            )
        if exists and p.stat().st_size == 0:
            raise StoreCorruptError(
                f"{name} is empty (0 bytes), not a risk-manager database: it may have been truncated. "
                "It was left untouched; restore it from a backup, or move it away to start a new store"
            )
        if not exists and not p.parent.is_dir():
            raise StoreError(f"cannot create {name}: the directory {p.parent} does not exist")

        lock_fd = None if readonly else _acquire_writer_lock(p)
        con: sqlite3.Connection | None = None
        try:
            if not readonly and not p.exists():
                _create(p)
            # Validation runs on a read-only connection: closing a read-write one may checkpoint a
            # leftover WAL into the main file, which must not happen to a file found damaged.
            uri = f"file:{_uri_path(p)}?mode=ro"
            con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=check_same_thread)
            con.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            info = _validate(con, name, check="none" if readonly else check)
            if not readonly:
                con.close()
                con = None
                con = sqlite3.connect(name, isolation_level=None, check_same_thread=check_same_thread)
                con.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            if readonly:
                if info.version == 0:
                    raise StoreError(
                        f"{name} holds no store yet: it is created by the first program that writes it"
                    )
                if info.version < SCHEMA_VERSION:
                    raise StoreVersionError(
                        f"{name} has schema version {info.version}; this program reads version "
                        f"{SCHEMA_VERSION}. Open it once for writing with this version (that upgrades "
                        "the file), then retry"
                    )
            else:
                _initialize(con, name, fresh=info.version == 0)
        except sqlite3.OperationalError as exc:
            if con is not None:
                con.close()
            _release(lock_fd)
            raise StoreError(f"cannot open {name}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if con is not None:
                con.close()
            _release(lock_fd)
            raise StoreCorruptError(
                f"{name} is not a usable risk-manager database ({exc}); it was left untouched. "
                "Restore it from a backup, or move it away to start a new store"
            ) from None
        except BaseException:
            if con is not None:
                con.close()
            _release(lock_fd)
            raise
        return cls(p, con, readonly, lock_fd)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._con.close()
        finally:
            _release(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection, for read queries the API does not cover."""
        return self._con

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
            return int(self._read("SELECT max(seq) FROM journal")[0][0] or 0)
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
                "INSERT OR IGNORE INTO trades (account, trade_id, day, t, contract, pnl, fees, counted)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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

    # ---- reading -------------------------------------------------------------------------------

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Rows of a query; a damaged file raises StoreCorruptError, anything else StoreError."""
        try:
            return self._con.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: reading the store failed: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(
                f"{self.path} is damaged ({exc}); restore it from a backup (or try `sqlite3 FILE .recover`)"
            ) from None

    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self._read("SELECT key, value FROM meta")}

    def version(self) -> VersionInfo:
        try:
            return read_version(self._con, str(self.path))
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.path} is damaged ({exc})") from None

    def journal_bounds(self) -> tuple[tuple[int, datetime], tuple[int, datetime]] | None:
        rows = self._read("SELECT seq, t FROM journal ORDER BY seq LIMIT 1")
        if not rows:
            return None
        first = rows[0]
        last = self._read("SELECT seq, t FROM journal ORDER BY seq DESC LIMIT 1")[0]
        return (first[0], from_us(first[1])), (last[0], from_us(last[1]))

    def iter_journal(self, after_seq: int = 0) -> Iterator[tuple[int, datetime, Entry]]:
        """Journal entries with seq > ``after_seq``, in order, decoded."""
        try:
            cur = self._con.execute(
                "SELECT seq, t, kind, payload FROM journal WHERE seq > ? ORDER BY seq", (after_seq,)
            )
            cur.arraysize = 4096
            while rows := cur.fetchmany():
                for seq, t, kind, payload in rows:
                    yield seq, from_us(t), decode(kind, payload, seq)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: reading the journal failed: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(
                f"{self.path}: reading the journal failed, the file is damaged: {exc}"
            ) from None

    def journal_tail(self, n: int) -> list[tuple[int, datetime, Entry]]:
        """The last ``n`` journal entries, oldest first."""
        last = self._read("SELECT max(seq) FROM journal")[0][0] or 0
        return list(self.iter_journal(max(0, last - n)))

    def snapshots(self) -> list[SnapshotRow]:
        """Stored snapshots, newest first."""
        return [
            SnapshotRow(r[0], r[1], _dt_or_none(r[2]), r[3])
            for r in self._read("SELECT id, journal_seq, t, data FROM snapshots ORDER BY id DESC")
        ]

    def lockouts(
        self, account: int | None = None, *, active: bool | None = None, since: datetime | None = None
    ) -> list[LockoutRow]:
        sql = "SELECT * FROM lockouts WHERE 1 = 1"
        args: list[Any] = []
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        if active is True:
            sql += " AND cleared_at IS NULL"
        elif active is False:
            sql += " AND cleared_at IS NOT NULL"
        if since is not None:
            sql += " AND (cleared_at IS NULL OR cleared_at >= ?)"
            args.append(iso(since))
        sql += " ORDER BY id"
        return [
            LockoutRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                parse_iso(r[6]),
                _dt_or_none(r[7]),
                r[8],
                r[9],
                _dt_or_none(r[10]),
                r[11],
                r[12],
            )
            for r in self._read(sql, args)
        ]

    def active_lockouts(self, account: int | None = None) -> list[LockoutRow]:
        return self.lockouts(account, active=True)

    def audit(
        self,
        account: int | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        rule: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRow]:
        sql = "SELECT * FROM audit WHERE 1 = 1"
        args: list[Any] = []
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        if since is not None:
            sql += " AND t >= ?"
            args.append(iso(since))
        if until is not None:
            sql += " AND t < ?"
            args.append(iso(until))
        if rule is not None:
            sql += " AND rule = ?"
            args.append(rule)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [
            AuditRow(
                r[0],
                parse_iso(r[1]),
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                orjson.loads(r[7]),
                orjson.loads(r[8]),
                r[9],
                r[10],
                r[11],
                _dt_or_none(r[12]),
                r[13],
                r[14],
            )
            for r in self._read(sql, args)
        ]

    def day_pnl(self, account: int | None = None, day: date | None = None) -> list[DayRow]:
        sql = "SELECT * FROM day_pnl WHERE 1 = 1"
        args: list[Any] = []
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        if day is not None:
            sql += " AND day = ?"
            args.append(day.isoformat())
        sql += " ORDER BY account, day"
        return [
            DayRow(
                r[0],
                date.fromisoformat(r[1]),
                parse_iso(r[2]),
                parse_iso(r[3]),
                Decimal(r[4]),
                Decimal(r[5]),
                r[6],
                parse_iso(r[7]),
            )
            for r in self._read(sql, args)
        ]

    def trades(self, account: int | None = None) -> list[TradeRow]:
        sql = "SELECT * FROM trades"
        args: list[Any] = []
        if account is not None:
            sql += " WHERE account = ?"
            args.append(account)
        sql += " ORDER BY t, account, trade_id"
        return [
            TradeRow(
                r[0],
                r[1],
                date.fromisoformat(r[2]),
                parse_iso(r[3]),
                r[4],
                _dec_or_none(r[5]),
                Decimal(r[6]),
                bool(r[7]),
            )
            for r in self._read(sql, args)
        ]

    def resets(self, account: int | None = None) -> list[ResetRow]:
        sql = "SELECT * FROM resets"
        args: list[Any] = []
        if account is not None:
            sql += " WHERE account = ?"
            args.append(account)
        sql += " ORDER BY id"
        return [
            ResetRow(
                r[0],
                parse_iso(r[1]),
                r[2],
                date.fromisoformat(r[3]),
                _date_or_none(r[4]),
                _dec_or_none(r[5]),
                _dec_or_none(r[6]),
                bool(r[7]),
            )
            for r in self._read(sql, args)
        ]

    def counts(self) -> dict[str, int]:
        return {t: self._read(f"SELECT count(*) FROM {t}")[0][0] for t in _COUNTED_TABLES}

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
        journal_cut, audit_cut, trade_cut, day_cut = _prune_cuts(now, journal_days, audit_days)
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

    def prune_preview(
        self, now: datetime, *, journal_days: int = DEFAULT_JOURNAL_DAYS, audit_days: int = DEFAULT_AUDIT_DAYS
    ) -> PruneReport:
        """What ``prune`` with the same arguments would delete, counted without writing anything."""
        journal_cut, audit_cut, trade_cut, day_cut = _prune_cuts(now, journal_days, audit_days)

        def count(sql: str, *args: Any) -> int:
            return int(self._read(sql, args)[0][0])

        kept = self._read("SELECT min(journal_seq) FROM snapshots")[0][0]
        report = PruneReport()
        if kept is not None:
            report.journal = count("SELECT count(*) FROM journal WHERE seq <= ? AND t < ?", kept, journal_cut)
        report.trades = count("SELECT count(*) FROM trades WHERE t < ?", trade_cut)
        report.audit = count("SELECT count(*) FROM audit WHERE t < ?", audit_cut)
        report.lockouts = count(
            "SELECT count(*) FROM lockouts WHERE cleared_at IS NOT NULL AND cleared_at < ?", audit_cut
        )
        report.resets = count("SELECT count(*) FROM resets WHERE t < ?", audit_cut)
        report.days = count("SELECT count(*) FROM day_pnl WHERE day < ?", day_cut)
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

    # ---- checking ------------------------------------------------------------------------------

    def check(self, *, full: bool = True) -> CheckReport:
        """Integrity and consistency of the file: what ``risk-manager db check`` prints."""
        from risk_manager.engine.snapshot import READABLE_VERSIONS

        report = CheckReport(str(self.path))
        con = self._con
        try:
            pragma = "integrity_check" if full else "quick_check"
            rows = [r[0] for r in con.execute(f"PRAGMA {pragma}(20)")]
            if rows != ["ok"]:
                for text in rows:
                    report.problem(f"SQLite {pragma}: {text}")
            info = self.version()
            report.schema_version, report.program = info.version, info.program
            if info.version != SCHEMA_VERSION:
                report.problem(f"schema version {info.version}, this program expects {SCHEMA_VERSION}")
                return report
            report.meta = self.meta()
            report.counts = self.counts()
            bounds = self.journal_bounds()
            if bounds is not None:
                report.journal_first, report.journal_last = bounds
            snaps = self.snapshots()
            after = 0
            if snaps:
                latest = snaps[0]
                report.snapshot_seq = after = latest.journal_seq
                try:
                    data = latest.load()
                    if data.get("version") not in READABLE_VERSIONS:
                        readable = ", ".join(map(str, READABLE_VERSIONS))
                        report.problem(
                            f"snapshot {latest.id} has version {data.get('version')!r}; this program reads "
                            f"{readable}: a restart replays the journal from the start instead"
                        )
                except StoreCorruptError as exc:
                    report.problem(str(exc))
            if bounds is not None:
                first, last = bounds[0][0], bounds[1][0]
                if first > after + 1:
                    report.problem(
                        f"journal starts at seq {first} but the latest snapshot covers up to seq {after}: "
                        f"rows {after + 1}..{first - 1} are missing, a restart cannot rebuild the state"
                    )
                expected = last - max(after, first - 1)
                present = con.execute("SELECT count(*) FROM journal WHERE seq > ?", (after,)).fetchone()[0]
                if present != expected:
                    report.problem(
                        f"journal after seq {after} has gaps: {present} rows for {expected} numbers"
                    )
                try:
                    for _ in self.iter_journal(after):
                        pass
                except StoreCorruptError as exc:
                    report.problem(str(exc))
            active = self.active_lockouts()
            report.active_lockouts = len(active)
            pending = con.execute(
                "SELECT count(*) FROM audit WHERE outcome IS NULL AND kind IN"
                " ('close_position', 'flatten', 'cancel_orders', 'place_stop', 'modify_stop')"
            ).fetchone()[0]
            # A replay has no broker: its actions never get an outcome, and that is not a fault.
            if pending and report.meta.get("origin") != "replay":
                report.notes.append(f"{pending} broker actions in the audit trail have no outcome recorded")
        except sqlite3.DatabaseError as exc:
            report.problem(f"reading the database failed: {exc}")
        return report


# ---- helpers -------------------------------------------------------------------------------------


def _prune_cuts(now: datetime, journal_days: int, audit_days: int) -> tuple[int, str, str, str]:
    """(journal cut in microseconds, audit cut, trade cut, first day kept) for a prune at ``now``."""
    if journal_days < 1 or audit_days < 1:
        raise ValueError(
            f"retention must be at least 1 day (journal_days={journal_days}, audit_days={audit_days})"
        )
    return (
        to_us(now - timedelta(days=journal_days)),
        iso(now - timedelta(days=audit_days)),
        iso(now - timedelta(days=journal_days)),
        (now - timedelta(days=audit_days)).date().isoformat(),
    )


def _uri_path(p: Path) -> str:
    from urllib.parse import quote

    return quote(str(p.resolve()), safe="/")


def _validate(con: sqlite3.Connection, name: str, *, check: CheckLevel) -> VersionInfo:
    """Read-only checks before anything is written: a database, ours, a version we read, intact."""
    info = read_version(con, name)  # raises sqlite3.DatabaseError on a file that is not SQLite
    check_supported(info, name)
    if check != "none" and info.version > 0:
        pragma = "integrity_check" if check == "full" else "quick_check"
        rows = [r[0] for r in con.execute(f"PRAGMA {pragma}(10)")]
        if rows != ["ok"]:
            shown = "; ".join(rows[:5])
            raise StoreCorruptError(
                f"{name} is damaged ({pragma}: {shown}); it was left untouched. Restore it from a "
                "backup (or try `sqlite3 FILE .recover`), or move it away to start a new store"
            )
    return info


def _initialize(con: sqlite3.Connection, name: str, *, fresh: bool) -> None:
    """WAL mode, then the schema migrations (a writer's open, after validation)."""
    if fresh:
        # Must precede the first table; free pages after pruning then go back on incremental_vacuum.
        con.execute("PRAGMA auto_vacuum = INCREMENTAL")
    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"{name}: cannot switch to WAL mode (got {mode}); is it on a network drive?")
    con.execute("PRAGMA synchronous = NORMAL")
    migrate(con, name)
    if fresh:
        con.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', ?)", (iso(datetime.now(UTC)),)
        )


def _create(p: Path) -> None:
    """Create a new store atomically: built in ``FILE.creating``, then linked into place.

    A process killed half-way through creating leaves at most the side file (removed by the next
    attempt), never a half-made or empty file at ``p`` that a restart would refuse as damaged.
    Called with the writer lock held.
    """
    tmp = p.with_name(p.name + ".creating")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        leftover.unlink(missing_ok=True)
    con = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        _initialize(con, str(p), fresh=True)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()  # the last connection checkpoints and removes the -wal file
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, p)  # fails if p appeared meanwhile: never replaces a file
    except FileExistsError:
        raise StoreError(f"{p} appeared while the store was being created; open it again") from None
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(p.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _acquire_writer_lock(p: Path) -> int:
    lock_path = p.with_name(p.name + "-lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot create the writer lock {lock_path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)
        raise StoreLockedError(
            f"{p} is already open for writing by another process (pid {holder}); only one process at a "
            "time may write a store. Stop it, or use another file"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _release(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing drops the flock
