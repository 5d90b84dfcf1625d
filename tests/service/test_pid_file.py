"""<data-dir>/daemon.pid: written atomically, read back, removed only by its own process, and a
record whose process is gone counts as not running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from risk_manager.cli.admin_daemon_cmd import stop_daemon
from risk_manager.daemon.pidfile import (
    PidRecord,
    pid_alive,
    process_start,
    read_pid_file,
    remove_pid_file,
    running_daemon,
    write_pid_file,
)

STARTED = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)


def gone_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: the pid names nobody now
    return process.pid


def test_the_record_names_this_process_its_start_and_both_directories(tmp_path: Path) -> None:
    path = write_pid_file(tmp_path, tmp_path / "config", STARTED)
    assert path == tmp_path / "daemon.pid"
    this = process_start(os.getpid())
    assert this is not None  # Linux: the tests run there
    assert json.loads(path.read_text()) == {"pid": os.getpid(), "started_at": "2026-12-01T14:30:00+00:00",
                                            "config_dir": str((tmp_path / "config").resolve()),
                                            "data_dir": str(tmp_path.resolve()), "process_start": this}
    config = str((tmp_path / "config").resolve())
    assert running_daemon(tmp_path) == PidRecord(os.getpid(), "2026-12-01T14:30:00+00:00", config,
                                                  str(tmp_path.resolve()), this)
    assert read_pid_file(tmp_path).started == STARTED  # type: ignore[union-attr]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_record_whose_process_is_gone_is_not_a_running_daemon(tmp_path: Path) -> None:
    pid = gone_pid()
    (tmp_path / "daemon.pid").write_text(json.dumps({"pid": pid, "started_at": "x", "config_dir": "",
                                                     "data_dir": ""}))
    assert not pid_alive(pid)
    assert read_pid_file(tmp_path) is not None
    assert running_daemon(tmp_path) is None


def test_an_exited_child_not_yet_reaped_is_not_alive() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        assert not pid_alive(process.pid)
    finally:
        process.wait()


def test_an_unreadable_record_is_no_record(tmp_path: Path) -> None:
    (tmp_path / "daemon.pid").write_text("12")
    assert read_pid_file(tmp_path) is None
    (tmp_path / "daemon.pid").write_text("{not json")
    assert read_pid_file(tmp_path) is None
    assert read_pid_file(tmp_path / "nowhere") is None


def test_remove_leaves_another_daemons_record_alone(tmp_path: Path) -> None:
    path = write_pid_file(tmp_path, None, STARTED)
    remove_pid_file(path, pid=os.getpid() + 1)
    assert path.exists()
    remove_pid_file(path)
    assert not path.exists()
    remove_pid_file(path)  # already gone: nothing to do


def record_of(pid: int, started: str | None) -> dict[str, object]:
    record: dict[str, object] = {"pid": pid, "started_at": "2026-12-01T14:30:00+00:00", "config_dir": "",
                                 "data_dir": ""}
    if started is not None:
        record["process_start"] = started
    return record


def test_a_record_whose_pid_now_names_another_process_is_not_a_running_daemon(tmp_path: Path) -> None:
    # After a crash and a reboot (or enough processes later) the pid is given to another process.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        real = process_start(other.pid)
        assert real is not None and pid_alive(other.pid)
        boot, ticks = real.rsplit(":", 1)
        (tmp_path / "daemon.pid").write_text(json.dumps(record_of(other.pid, f"{boot}:{int(ticks) - 1}")))
        assert running_daemon(tmp_path) is None
        (tmp_path / "daemon.pid").write_text(json.dumps(record_of(other.pid, real)))
        assert running_daemon(tmp_path) is not None  # the very process: running
        (tmp_path / "daemon.pid").write_text(json.dumps(record_of(other.pid, None)))
        assert running_daemon(tmp_path) is not None  # a file from before the start was kept: the pid
    finally:
        other.kill()
        other.wait()


def test_admin_daemon_stop_never_signals_a_process_that_merely_reuses_the_recorded_pid(
    tmp_path: Path, capsys: object
) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        real = process_start(other.pid)
        assert real is not None
        boot, ticks = real.rsplit(":", 1)
        (tmp_path / "daemon.pid").write_text(json.dumps(record_of(other.pid, f"{boot}:{int(ticks) - 1}")))
        assert stop_daemon(tmp_path) == 0
        time.sleep(0.2)
        assert other.poll() is None, "the unrelated process was signalled"
        assert "not running" in capsys.readouterr().out  # type: ignore[attr-defined]
    finally:
        other.kill()
        other.wait()
