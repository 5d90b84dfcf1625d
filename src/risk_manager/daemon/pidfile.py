"""``<data-dir>/daemon.pid``: which process runs the daemon of a data directory.

Written by ``risk-manager run`` once the daemon has started (so a second daemon, refused by the
store's writer lock, never overwrites it) and removed when it stops. A file left behind by a crash
names a process that is gone: :func:`running_daemon` treats it as "not running". It may also name a
process that is not gone but another one: after a reboot, or enough processes later, the pid is
reused. ``admin daemon stop`` signals the recorded pid when the admin socket does not answer, so
the record also says which process it was (``process_start``: on Linux the boot and the process's
start in clock ticks since boot, from /proc); a live pid whose start differs is not the daemon.

The file is JSON: ``{"pid", "started_at" (UTC ISO), "config_dir", "data_dir", "process_start"}``
(``process_start`` is "" where the system does not tell, and in files written before it existed).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["PID_NAME", "PidRecord", "pid_alive", "process_start", "read_pid_file", "record_alive",
           "remove_pid_file", "running_daemon", "write_pid_file"]

PID_NAME = "daemon.pid"


@dataclass(frozen=True, slots=True)
class PidRecord:
    pid: int
    started_at: str  # UTC ISO 8601
    config_dir: str
    data_dir: str
    process_start: str = ""  # which process ``pid`` was (process_start()); "" when unknown

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)


def pid_path(data_dir: Path) -> Path:
    return data_dir / PID_NAME


def write_pid_file(data_dir: Path, config_dir: Path | None, started_at: datetime) -> Path:
    """Write this process's record atomically (a reader never sees half a file)."""
    record = PidRecord(os.getpid(), started_at.isoformat(), str(config_dir.resolve()) if config_dir else "",
                       str(data_dir.resolve()), process_start(os.getpid()) or "")
    path = pid_path(data_dir)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(asdict(record)) + "\n", encoding="utf-8")
    partial.chmod(0o644)  # the trader may see whether the daemon runs
    os.replace(partial, path)
    return path


def read_pid_file(data_dir: Path) -> PidRecord | None:
    """The record as written, alive or not; None when there is no readable record."""
    try:
        raw = json.loads(pid_path(data_dir).read_text(encoding="utf-8"))
        return PidRecord(int(raw["pid"]), str(raw["started_at"]), str(raw["config_dir"]),
                         str(raw["data_dir"]), str(raw.get("process_start", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_daemon(data_dir: Path) -> PidRecord | None:
    """The record of a daemon that is alive; a stale record (its process gone, or its pid now
    another process's) is None."""
    record = read_pid_file(data_dir)
    return record if record is not None and record_alive(record) else None


def record_alive(record: PidRecord) -> bool:
    """Whether the process the record names is still running: its pid alive and, when both are
    known, started when the record says (not a later process that was given the same pid)."""
    if not pid_alive(record.pid):
        return False
    if not record.process_start:
        return True  # written where (or before) the start was recorded: the pid is all there is
    now = process_start(record.pid)
    return now is None or now == record.process_start


def process_start(pid: int) -> str | None:
    """Which process ``pid`` is, as text that another process given the same pid later cannot
    have: on Linux the boot id and the start time in clock ticks since boot (/proc/<pid>/stat,
    field 22). None where /proc does not tell (another system, or the process is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the name in parentheses may hold spaces
    if len(fields) < 20:
        return None
    return f"{boot}:{fields[19]}"  # fields[0] is field 3 (state): field 22 is fields[19]


def remove_pid_file(path: Path, pid: int | None = None) -> None:
    """Remove the file if it still names ``pid`` (default: this process): never another daemon's."""
    record = read_pid_file(path.parent)
    if record is not None and record.pid != (os.getpid() if pid is None else pid):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie awaiting its parent has exited)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:  # Linux: an exited child nobody has reaped yet still answers kill(0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _windows_alive(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows: ask for its exit code instead.
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    process_query_limited_information, still_active = 0x1000, 259
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == still_active
    finally:
        kernel32.CloseHandle(handle)
