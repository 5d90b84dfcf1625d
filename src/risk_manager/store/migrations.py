"""Versioned schema of the store.

``MIGRATIONS[i]`` takes a database from schema version ``i`` to ``i + 1``; each runs in one
transaction together with its ``schema_version`` row, so a crash mid-migration leaves the previous
version intact. ``schema_version`` records which program applied each version, so a program that
finds a newer schema than it knows can say which release is needed instead of guessing at tables.

Rules for adding a migration: append, never edit a released one; add columns with defaults rather
than rewriting tables (the journal can be large); bump nothing else -- ``SCHEMA_VERSION`` follows.

Times in the tables are fixed-width ISO-8601 UTC text (``codec.iso``: sorts in time order) except
the journal's ``t``, integer microseconds since the epoch (compact: it is the big table). Money is
Decimal text, exact.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from risk_manager import __version__
from risk_manager.store.codec import iso
from risk_manager.store.errors import StoreCorruptError, StoreError, StoreVersionError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "journal, snapshots, lockouts, audit, day P&L, trades, resets, meta",
        (
            """CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
            # Every event the engine applied, in order; `t` is the engine time it was applied at.
            """CREATE TABLE journal (
                seq INTEGER PRIMARY KEY,
                t INTEGER NOT NULL,
                account INTEGER,
                kind TEXT NOT NULL,
                payload BLOB NOT NULL
            )""",
            # Engine state (engine/snapshot.py) after applying journal rows up to journal_seq.
            """CREATE TABLE snapshots (
                id INTEGER PRIMARY KEY,
                journal_seq INTEGER NOT NULL,
                t TEXT,
                data BLOB NOT NULL
            )""",
            # One row per decided action; outcome and latency are filled in by the enforcer.
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                t TEXT NOT NULL,
                account INTEGER NOT NULL,
                rule TEXT NOT NULL,
                kind TEXT NOT NULL,
                reason TEXT,
                subject TEXT,
                inputs TEXT NOT NULL,
                record TEXT NOT NULL,
                journal_seq INTEGER,
                note TEXT,
                outcome TEXT,
                outcome_t TEXT,
                latency_ms REAL
            )""",
            "CREATE INDEX audit_t ON audit (t)",
            "CREATE INDEX audit_account_t ON audit (account, t)",
            # Lockouts as decided, and how each ended. Active = cleared_at IS NULL.
            """CREATE TABLE lockouts (
                id INTEGER PRIMARY KEY,
                account INTEGER NOT NULL,
                rule TEXT NOT NULL,
                scope TEXT NOT NULL CHECK (scope IN ('account', 'symbol')),
                symbol TEXT,
                reason TEXT NOT NULL,
                since TEXT NOT NULL,
                until TEXT,
                condition TEXT,
                audit_id INTEGER,
                cleared_at TEXT,
                cleared_by TEXT,
                cleared_why TEXT
            )""",
            # The engine keeps one lockout per (rule, scope, symbol) of an account; so does the table.
            """CREATE UNIQUE INDEX lockouts_active
                ON lockouts (account, rule, scope, coalesce(symbol, '')) WHERE cleared_at IS NULL""",
            "CREATE INDEX lockouts_account ON lockouts (account, since)",
            """CREATE TABLE day_pnl (
                account INTEGER NOT NULL,
                day TEXT NOT NULL,
                start TEXT NOT NULL,
                end TEXT NOT NULL,
                realized TEXT NOT NULL,
                fees TEXT NOT NULL,
                trade_count INTEGER NOT NULL,
                updated TEXT NOT NULL,
                PRIMARY KEY (account, day)
            ) WITHOUT ROWID""",
            # Executions seen, once each: counted = 1 when it went into the day's P&L.
            """CREATE TABLE trades (
                account INTEGER NOT NULL,
                trade_id INTEGER NOT NULL,
                day TEXT NOT NULL,
                t TEXT NOT NULL,
                contract TEXT NOT NULL,
                pnl TEXT,
                fees TEXT NOT NULL,
                counted INTEGER NOT NULL,
                PRIMARY KEY (account, trade_id)
            ) WITHOUT ROWID""",
            "CREATE INDEX trades_t ON trades (t)",
            # One row per account per trading day started; `missed` = applied at start-up.
            """CREATE TABLE resets (
                id INTEGER PRIMARY KEY,
                t TEXT NOT NULL,
                account INTEGER NOT NULL,
                day TEXT NOT NULL,
                previous_day TEXT,
                previous_realized TEXT,
                previous_fees TEXT,
                missed INTEGER NOT NULL DEFAULT 0,
                UNIQUE (account, day)
            )""",
        ),
    ),
    Migration(
        2,
        "audit.action_id: the decided action's deterministic id '<journal seq>.<index>'",
        (
            "ALTER TABLE audit ADD COLUMN action_id TEXT",
            "CREATE UNIQUE INDEX audit_action_id ON audit (action_id) WHERE action_id IS NOT NULL",
        ),
    ),
    Migration(
        3,
        "clock_sessions: the trader's clock-in / clock-out (no effect on any rule)",
        (
            # One row per clock-in; clock_out IS NULL while the trader is clocked in.
            """CREATE TABLE clock_sessions (
                id INTEGER PRIMARY KEY,
                account INTEGER NOT NULL,
                clock_in TEXT NOT NULL,
                clock_out TEXT,
                by TEXT NOT NULL
            )""",
            "CREATE UNIQUE INDEX clock_sessions_open ON clock_sessions (account) WHERE clock_out IS NULL",
        ),
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

_CREATE_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    program TEXT NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int  # 0 = empty database
    program: str | None  # the program that applied the latest version


def read_version(con: sqlite3.Connection, path: str) -> VersionInfo:
    """The schema version of an open database, without writing anything.

    A database with tables but no ``schema_version`` is someone else's file: StoreCorruptError.
    """
    tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        if tables:
            shown = ", ".join(sorted(tables)[:5])
            raise StoreCorruptError(
                f"{path} is an SQLite database but not a risk-manager store (it has tables {shown} and "
                "no schema_version); it was left untouched: choose another file for the store"
            )
        return VersionInfo(0, None)
    row = con.execute("SELECT version, program FROM schema_version ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return VersionInfo(0, None)
    return VersionInfo(int(row[0]), str(row[1]))


def check_supported(info: VersionInfo, path: str) -> None:
    if info.version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{path} has schema version {info.version}, written by risk-manager {info.program}; "
            f"this is risk-manager {__version__}, which reads schema versions up to {SCHEMA_VERSION}. "
            f"Upgrade risk-manager to {info.program} or later to open it (the file was left untouched)."
        )


def migrate(con: sqlite3.Connection, path: str, now: datetime | None = None) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; returns the version found before. One transaction each."""
    found = read_version(con, path)
    check_supported(found, path)
    applied_at = iso(now or datetime.now(UTC))
    for migration in MIGRATIONS[found.version :]:
        con.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another writer may have migrated meanwhile.
            if read_version(con, path).version >= migration.version:
                con.execute("ROLLBACK")
                continue
            con.execute(_CREATE_VERSION_TABLE)
            for statement in migration.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version (version, applied_at, program) VALUES (?, ?, ?)",
                (migration.version, applied_at, __version__),
            )
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(
                f"{path}: upgrading the schema to version {migration.version} ({migration.description}) "
                f"failed: {exc}; the file stays at version {migration.version - 1}"
            ) from None
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return found.version
