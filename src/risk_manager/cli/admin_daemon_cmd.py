"""`risk-manager admin daemon start|stop|restart|status`: the daemon of one data directory.

- ``start``: through the service manager when a service is installed for this data directory (a
  daemon started beside it would fight it for the store); else ``risk-manager run`` detached, its
  output in ``<data-dir>/logs/daemon.out``, and this command waits for its pid file and admin socket.
- ``stop``: ``POST /v1/shutdown`` on the admin socket (the daemon flushes and stops as on SIGTERM);
  without an answering socket, SIGTERM to the process in the pid file. Waits until it is gone.
- ``status``: ``GET /v1/daemon`` -- pid, uptime, accounts and their connection, rules, enforcements
  today, last event age, store size, and the metrics. Down: says so loudly, with the store's last
  activity.

Exit codes: 0 done / running; 1 could not be done (refused, timed out, the daemon failed to start);
2 bad input; 3 (status) not running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from risk_manager.cli.help import PlainHelpCommand, command_group

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
START_TIMEOUT = 30.0  # seconds: login, recovery and the start-up reconcile
STOP_TIMEOUT = 15.0
POLL = 0.1
OUTPUT_NAME = "daemon.out"

daemon_app = command_group("daemon", "Start, stop, restart the risk daemon, or show its state.")


def register(admin_app: typer.Typer) -> None:
    admin_app.add_typer(daemon_app, name="daemon", short_help="Start, stop, restart the daemon; its state.")


ConfigOption = typer.Option(None, "--config", "-c", metavar="DIR", show_default=False,
                            help="Config directory (default: as `risk-manager run`).")
DataOption = typer.Option(None, "--data-dir", metavar="DIR", show_default=False,
                          help="Data directory: store, logs, control sockets (default: as `run`).")


def _dirs(config: Path | None, data_dir: Path | None) -> tuple[Path, Path]:
    from risk_manager.cli.run_cmd import default_data_dir
    from risk_manager.config.paths import default_config_dir

    return (config or default_config_dir()).absolute(), (data_dir or default_data_dir()).absolute()


def _fail(text: str, code: int = EXIT_FAILED) -> typer.Exit:
    typer.echo(f"error: {text}", err=True)
    return typer.Exit(code)


def _service_for(data: Path) -> Any:
    """The installed service that runs the daemon of ``data``, if any."""
    from risk_manager.daemon.service import installed_service

    service = installed_service()
    if service is None or service.data_dir.absolute() != data:
        return None
    return service


# ---- start ----------------------------------------------------------------------------------------------


@daemon_app.command("start", cls=PlainHelpCommand, short_help="Start the daemon in the background.")
def start_command(config: Path | None = ConfigOption, data_dir: Path | None = DataOption) -> None:
    """Start the daemon in the background and wait until it answers."""
    raise typer.Exit(start_daemon(*_dirs(config, data_dir)))


def start_daemon(config: Path, data: Path) -> int:
    from risk_manager.daemon.pidfile import running_daemon

    running = running_daemon(data)
    if running is not None:
        typer.echo(f"The daemon is already running (pid {running.pid}, since {running.started_at}).")
        return EXIT_OK
    service = _service_for(data)
    if service is not None:
        try:
            service.start()
        except Exception as exc:
            raise _fail(f"the {service.manager} service did not start: {exc}") from None
        started = _wait_started(data, None, lambda: None)
        typer.echo(f"Started through {service.manager}: pid {started}.")
        return EXIT_OK
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "risk_manager.cli.main", "run", "--config", str(config),
               "--data-dir", str(data)]
    with (logs / OUTPUT_NAME).open("ab") as output:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   close_fds=True, **_detached())
    pid = _wait_started(data, process.pid, process.poll)
    typer.echo(f"Started: pid {pid}; config {config}; logs in {logs}.")
    return EXIT_OK


def _detached() -> dict[str, Any]:
    """Outlive this command and its terminal: a new session (POSIX) or a detached process (Windows)."""
    if sys.platform == "win32":
        flags = ("DETACHED_PROCESS", "CREATE_NEW_PROCESS_GROUP")
        return {"creationflags": getattr(subprocess, flags[0], 0) | getattr(subprocess, flags[1], 0)}
    return {"start_new_session": True}


def _wait_started(data: Path, pid: int | None, exited: Callable[[], int | None]) -> int:
    """Wait for the pid file (of ``pid`` when known) and the admin socket; the pid that started."""
    from risk_manager.daemon.control.roles import Role
    from risk_manager.daemon.control.sockets import control_present
    from risk_manager.daemon.pidfile import running_daemon

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        record = running_daemon(data)
        ours = record is not None and (pid is None or record.pid == pid)
        if record is not None and ours and control_present(data, Role.ADMIN):
            return record.pid
        code = exited()
        if code is not None:
            raise _fail(f"the daemon exited with code {code} while starting:\n{_tail(data)}")
        time.sleep(POLL)
    raise _fail(f"the daemon did not answer within {START_TIMEOUT:g} s; see {data / 'logs'}")


def _tail(data: Path, lines: int = 15) -> str:
    try:
        text = (data / "logs" / OUTPUT_NAME).read_text(errors="replace")
    except OSError:
        return "  (no output)"
    return "\n".join(f"  {line}" for line in text.splitlines()[-lines:])


# ---- stop -----------------------------------------------------------------------------------------------


@daemon_app.command("stop", cls=PlainHelpCommand, short_help="Stop the daemon gracefully.")
def stop_command(config: Path | None = ConfigOption, data_dir: Path | None = DataOption) -> None:
    """Stop the daemon gracefully (state flushed) and wait until it is gone."""
    raise typer.Exit(stop_daemon(_dirs(config, data_dir)[1]))


def stop_daemon(data: Path) -> int:
    from risk_manager.daemon.control.client import ControlClient, ControlRefused, DaemonNotRunning
    from risk_manager.daemon.pidfile import running_daemon

    record = running_daemon(data)
    service = _service_for(data)
    if service is not None:  # stopped behind its manager's back, it would only be restarted
        try:
            service.stop()
        except Exception as exc:
            raise _fail(f"the {service.manager} service did not stop: {exc}") from None
        how = f"stopped through {service.manager}"
    else:
        try:
            with ControlClient(data, role="admin") as client:
                client.post("/v1/shutdown")
            how = "asked to stop over the admin socket"
        except ControlRefused as exc:
            raise _fail(f"the daemon refused to stop: {exc.message}") from None
        except DaemonNotRunning:
            if record is None:
                typer.echo("The daemon is not running (nothing to stop).")
                return EXIT_OK
            os.kill(record.pid, signal.SIGTERM)
            how = f"sent SIGTERM to pid {record.pid} (the admin socket did not answer)"
    _wait_stopped(data, record.pid if record is not None else None)
    typer.echo(f"Stopped: {how}.")
    return EXIT_OK


def _wait_stopped(data: Path, pid: int | None) -> None:
    """Until the process is gone (its pid known), else until the admin socket no longer answers. A
    socket file left by a daemon that stopped in a hurry is not a running daemon."""
    from risk_manager.daemon.control.client import ControlClient, ControlError, DaemonNotRunning
    from risk_manager.daemon.pidfile import pid_alive

    def gone() -> bool:
        if pid is not None:
            return not pid_alive(pid)
        try:
            with ControlClient(data, role="admin", timeout=1.0) as client:
                client.get("/v1/daemon")
        except DaemonNotRunning:
            return True
        except ControlError:
            pass
        return False

    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(POLL)
    raise _fail(f"the daemon{' (pid ' + str(pid) + ')' if pid else ''} is still running after "
                f"{STOP_TIMEOUT:g} s; see {data / 'logs' / 'daemon.log'}")


@daemon_app.command("restart", cls=PlainHelpCommand, short_help="Stop the daemon, then start it.")
def restart_command(config: Path | None = ConfigOption, data_dir: Path | None = DataOption) -> None:
    """Stop the daemon (if running) and start it again: lockouts survive (they are in the store)."""
    config_dir, data = _dirs(config, data_dir)
    stop_daemon(data)
    raise typer.Exit(start_daemon(config_dir, data))


# ---- status ---------------------------------------------------------------------------------------------


@daemon_app.command("status", cls=PlainHelpCommand, short_help="The daemon's state and figures.")
def status_command(
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """PID, uptime, accounts and their connection, rules, enforcements today, last event age, store
    size and the metrics; loud when the daemon is not running."""
    from risk_manager.daemon.control.client import (
        ControlClient,
        ControlError,
        ControlRefused,
        DaemonNotRunning,
    )

    data = _dirs(config, data_dir)[1]
    try:
        with ControlClient(data, role="admin") as client:
            info = client.get("/v1/daemon")
    except DaemonNotRunning:
        down = _down_status(data)
        if as_json:
            typer.echo(json.dumps(down, indent=2))
        else:
            _print_down(down)
        raise typer.Exit(EXIT_FAILED if down["pid_alive"] else EXIT_NOT_RUNNING) from None
    except ControlRefused as exc:
        raise _fail(f"the daemon refused: {exc.message}") from None
    except ControlError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"running": True, **info}, indent=2))
    else:
        for line in running_lines(info):
            typer.echo(line)


def _down_status(data: Path) -> dict[str, Any]:
    from risk_manager.daemon.pidfile import read_pid_file, record_alive
    from risk_manager.store.errors import StoreError
    from risk_manager.store.reader import StoreReader

    record = read_pid_file(data)
    alive = record is not None and record_alive(record)
    store: dict[str, Any] = {"path": str(data / "risk.db"), "exists": (data / "risk.db").is_file()}
    if store["exists"]:
        store["size_bytes"] = sum(p.stat().st_size for p in (data / "risk.db", data / "risk.db-wal")
                                  if p.exists())
        try:
            with StoreReader.open(data / "risk.db") as reader:
                bounds = reader.journal_bounds()
                store["last_activity"] = None if bounds is None else bounds[1][1].isoformat()
                store["active_lockouts"] = len(reader.active_lockouts())
        except StoreError as exc:
            store["error"] = str(exc)
    return {"running": False, "pid_alive": alive,
            "pid_file": None if record is None else {"pid": record.pid, "started_at": record.started_at,
                                                    "stale": not alive},
            "store": store}


def _print_down(down: dict[str, Any]) -> None:
    pid_file, store = down["pid_file"], down["store"]
    if down["pid_alive"]:
        typer.echo(f"DAEMON NOT ANSWERING: pid {pid_file['pid']} is alive but its admin socket does not "
                   "answer (still starting, or stuck); see its logs.")
    else:
        typer.echo("*** THE RISK DAEMON IS NOT RUNNING: NO RULE IS BEING ENFORCED ***")
        typer.echo("Start it with `risk-manager admin daemon start` (or the service).")
        if pid_file is not None:
            typer.echo(f"stale pid file: pid {pid_file['pid']} (started {pid_file['started_at']}) is gone")
    if not store["exists"]:
        typer.echo(f"store: {store['path']} does not exist (the daemon never ran with this data dir)")
        return
    if "error" in store:
        typer.echo(f"store: {store['error']}")
        return
    typer.echo(f"store: {store['path']} ({_size(store['size_bytes'])}), last activity "
               f"{store['last_activity'] or 'never'}, {store['active_lockouts']} lockout(s) recorded active")


def running_lines(info: dict[str, Any]) -> list[str]:
    """The human view of GET /v1/daemon, 80 columns."""
    lines = [f"Risk daemon RUNNING: pid {info.get('pid')}, up {_duration(info.get('uptime_s'))} "
             f"(since {info.get('started_at')})"]
    accounts = info.get("accounts") or []
    rules = info.get("rules") or {}
    for account in accounts:
        count = len(rules.get(str(account.get("id")), []))
        lines.append(f"  account {account.get('id')}: {account.get('connection')}, {count} rule(s) loaded")
    if not accounts:
        lines.append("  no monitored account")
    age = info.get("last_event_age_s")
    lines.append(f"  enforcements today: {info.get('enforcements_today')}   last event: "
                 f"{'none yet' if age is None else _duration(age) + ' ago'}   store: "
                 f"{_size(info.get('db_size_bytes'))}")
    metrics = info.get("metrics")
    if isinstance(metrics, dict):
        lines.extend(metrics_lines(metrics))
    return [part for line in lines for part in _wrap(line)]


def _wrap(line: str, width: int = 80) -> list[str]:
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) or [line]


def metrics_lines(m: dict[str, Any]) -> list[str]:
    rates = m.get("events_per_s") or {}
    counts = sorted((m.get("events") or {}).items())
    events = ", ".join(f"{kind} {n} ({rates.get(kind, 0):g}/s)" for kind, n in counts)
    lines = [f"  events: {events or 'none yet'}"]
    for key, label in (("rule_evaluation_ms", "rule evaluation"), ("breach_to_ack_ms", "breach to ack")):
        h = m.get(key) or {}
        if h.get("count"):
            lines.append(f"  {label}: {h['count']} measured, mean {h['mean']:g} ms, "
                         f"p99 <= {h['p99_at_most'] if h.get('p99_at_most') is not None else '?'} ms")
    enforcements = m.get("enforcements") or {}
    if enforcements:
        parts = [f"{rule} " + " ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
                 for rule, statuses in sorted(enforcements.items())]
        lines.append(f"  enforcements: {'; '.join(parts)}")
    failures = m.get("failures") or {}
    lines.append(f"  failures: {', '.join(f'{r} {n}' for r, n in sorted(failures.items())) or 'none'}   "
                 f"lockouts active: {m.get('lockouts_active')}")
    connection = m.get("connection") or {}
    reconnects = m.get("reconnects") or {}
    hubs = ", ".join(f"{hub} {state} ({reconnects.get(hub, 0)} reconnects)" for hub, state in
                     sorted(connection.items()))
    lines.append(f"  hubs: {hubs or 'not connected'}")
    return lines


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f} s"
    h, rest = divmod(s, 3600)
    return f"{h}h {rest // 60:02d}m" if h else f"{rest // 60}m {rest % 60:02d}s"


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
