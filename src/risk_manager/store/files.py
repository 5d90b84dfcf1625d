"""Opening a store file safely: create atomically, validate before writing, one writer (flock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from risk_manager.store.codec import iso
from risk_manager.store.errors import StoreCorruptError, StoreError, StoreLockedError
from risk_manager.store.migrations import VersionInfo, check_supported, migrate, read_version

BUSY_TIMEOUT_MS = 5000

CheckLevel = Literal["quick", "full", "none"]


def uri_path(p: Path) -> str:
    from urllib.parse import quote

    return quote(str(p.resolve()), safe="/")


def validate(con: sqlite3.Connection, name: str, *, check: CheckLevel) -> VersionInfo:
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


def initialize(con: sqlite3.Connection, name: str, *, fresh: bool) -> None:
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


def create_file(p: Path) -> None:
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
        initialize(con, str(p), fresh=True)
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


def acquire_writer_lock(p: Path) -> int:
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


def release(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing drops the flock
