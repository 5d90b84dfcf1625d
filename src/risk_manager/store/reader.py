"""Reading a store: the read-only side (the trader view, ``db check``/``db info``) and the base of
the writer. Readers open the file ``mode=ro`` and, thanks to WAL, never block the writer nor wait for
it. Opening never damages a file it cannot validate: an empty, foreign, truncated or corrupt file,
or one with a newer schema, raises before anything is written to it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Self

import orjson

from risk_manager.domain.codec import from_us, to_us
from risk_manager.store import migrations
from risk_manager.store.codec import Entry, decode, iso, parse_iso
from risk_manager.store.errors import StoreCorruptError, StoreError, StoreVersionError
from risk_manager.store.files import (
    BUSY_TIMEOUT_MS,
    CheckLevel,
    acquire_writer_lock,
    create_file,
    initialize,
    release,
    uri_path,
    validate,
)
from risk_manager.store.migrations import VersionInfo, read_version
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
    date_or_none,
    dec_or_none,
    dt_or_none,
)

DEFAULT_JOURNAL_DAYS = 30
DEFAULT_AUDIT_DAYS = 365

_COUNTED_TABLES = ("journal", "snapshots", "audit", "lockouts", "day_pnl", "trades", "resets")


class StoreReader:
    """An open store file, read-only. ``StoreReader.open(path)``; the writer is :class:`Store`."""

    WRITES: ClassVar[bool] = False

    def __init__(self, path: Path, con: sqlite3.Connection, readonly: bool, lock_fd: int | None) -> None:
        self.path = path
        self.readonly = readonly
        self._con = con
        self._lock_fd = lock_fd
        self._closed = False

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        readonly: bool | None = None,
        create: bool = True,
        check: CheckLevel = "quick",
        check_same_thread: bool = True,
    ) -> Self:
        """Open (and for a writer, create or upgrade) the store at ``path``: a :class:`StoreReader`
        opens it read-only, a :class:`~risk_manager.store.writer.Store` for writing unless
        ``readonly=True``.

        Raises StoreCorruptError (not SQLite, damaged, empty, someone else's database),
        StoreVersionError (written by a newer program), StoreLockedError (another writer),
        StoreError (missing file, unusable directory). The file is never written before it has been
        validated. Writers run ``PRAGMA quick_check`` (``check="full"``: integrity_check).
        """
        if readonly is None:
            readonly = not cls.WRITES
        elif not readonly and not cls.WRITES:
            raise ValueError("a StoreReader only reads: open the writer with Store.open(path)")
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

        lock_fd = None if readonly else acquire_writer_lock(p)
        con: sqlite3.Connection | None = None
        try:
            if not readonly and not p.exists():
                create_file(p)
            # Validation runs on a read-only connection: closing a read-write one may checkpoint a
            # leftover WAL into the main file, which must not happen to a file found damaged.
            uri = f"file:{uri_path(p)}?mode=ro"
            con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=check_same_thread)
            con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            info = validate(con, name, check="none" if readonly else check)
            if not readonly:
                con.close()
                con = None
                con = sqlite3.connect(name, isolation_level=None, check_same_thread=check_same_thread)
                con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if readonly:
                if info.version == 0:
                    raise StoreError(
                        f"{name} holds no store yet: it is created by the first program that writes it"
                    )
                if info.version < migrations.SCHEMA_VERSION:
                    raise StoreVersionError(
                        f"{name} has schema version {info.version}; this program reads version "
                        f"{migrations.SCHEMA_VERSION}. Open it once for writing with this version "
                        "(that upgrades the file), then retry"
                    )
            else:
                initialize(con, name, fresh=info.version == 0)
        except sqlite3.OperationalError as exc:
            if con is not None:
                con.close()
            release(lock_fd)
            raise StoreError(f"cannot open {name}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if con is not None:
                con.close()
            release(lock_fd)
            raise StoreCorruptError(
                f"{name} is not a usable risk-manager database ({exc}); it was left untouched. "
                "Restore it from a backup, or move it away to start a new store"
            ) from None
        except BaseException:
            if con is not None:
                con.close()
            release(lock_fd)
            raise
        return cls(p, con, readonly, lock_fd)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._con.close()
        finally:
            release(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection, for read queries the API does not cover."""
        return self._con

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

    @property
    def last_seq(self) -> int:
        """The last journal sequence number on file (0: none)."""
        return int(self._read("SELECT max(seq) FROM journal")[0][0] or 0)

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
            SnapshotRow(r[0], r[1], dt_or_none(r[2]), r[3])
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
                dt_or_none(r[7]),
                r[8],
                r[9],
                dt_or_none(r[10]),
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
                dt_or_none(r[12]),
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
                dec_or_none(r[5]),
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
                date_or_none(r[4]),
                dec_or_none(r[5]),
                dec_or_none(r[6]),
                bool(r[7]),
            )
            for r in self._read(sql, args)
        ]

    def clock_sessions(self, account: int | None = None, *, open_only: bool = False) -> list[ClockRow]:
        """The trader's clock-in rows, oldest first (``open_only``: those not clocked out yet)."""
        sql = "SELECT id, account, clock_in, clock_out, by FROM clock_sessions WHERE 1 = 1"
        args: list[Any] = []
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        if open_only:
            sql += " AND clock_out IS NULL"
        sql += " ORDER BY id"
        return [ClockRow(r[0], r[1], parse_iso(r[2]), dt_or_none(r[3]), r[4]) for r in self._read(sql, args)]

    def counts(self) -> dict[str, int]:
        return {t: self._read(f"SELECT count(*) FROM {t}")[0][0] for t in _COUNTED_TABLES}

    def prune_preview(
        self, now: datetime, *, journal_days: int = DEFAULT_JOURNAL_DAYS, audit_days: int = DEFAULT_AUDIT_DAYS
    ) -> PruneReport:
        """What ``prune`` with the same arguments would delete, counted without writing anything."""
        journal_cut, audit_cut, trade_cut, day_cut = prune_cuts(now, journal_days, audit_days)

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
            if info.version != migrations.SCHEMA_VERSION:
                report.problem(
                    f"schema version {info.version}, this program expects {migrations.SCHEMA_VERSION}"
                )
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


def prune_cuts(now: datetime, journal_days: int, audit_days: int) -> tuple[int, str, str, str]:
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
