"""`risk-manager run --config DIR [--data-dir DIR] [--record FILE]`: the daemon, until SIGINT/SIGTERM
(or the control API's shutdown).

Exit codes: 0 stopped by a signal; 1 could not run (login refused, the gateway unreachable, another
daemon holds the data directory); 2 bad input (invalid config, no rule enabled, credentials missing).
See docs/daemon.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

import typer

from risk_manager.cli.help import PlainHelpCommand

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
STOP_GRACE = 1.5  # seconds the enforcement in flight gets at shutdown (the whole stop stays < 2 s)

log = logging.getLogger("risk_manager.run")


def register(app: typer.Typer) -> None:
    app.command("run", cls=PlainHelpCommand, short_help="Guard the accounts: the risk daemon.")(run_command)


def default_data_dir() -> Path:
    """The platform's per-user data directory (Linux: ~/.local/share/risk-manager)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("risk-manager", appauthor=False))


def run_command(
    config: Path | None = typer.Option(
        None, "--config", "-c", metavar="DIR",
        help="Config directory (default: $RISK_MANAGER_CONFIG, else the platform's config directory).",
        show_default=False,
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", metavar="DIR",
        help="Where the store (risk.db) and logs/ live (default: the platform's data directory).",
        show_default=False,
    ),
    record: Path | None = typer.Option(
        None, "--record", metavar="FILE",
        help="Also write everything received from the gateway to this recording (docs/replay.md).",
        show_default=False,
    ),
) -> None:
    """Connect to the gateway, guard every monitored account and enforce the rules until stopped."""
    from risk_manager.config.paths import default_config_dir

    raise typer.Exit(run_daemon(config if config is not None else default_config_dir(),
                                data_dir if data_dir is not None else default_data_dir(), record))


def _error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr, flush=True)


def run_daemon(config_dir: Path, data_dir: Path, record: Path | None = None) -> int:
    from risk_manager.broker.projectx import MissingCredentials, ProjectXSettings, Recorder
    from risk_manager.config.errors import ConfigError
    from risk_manager.config.loader import load_config
    from risk_manager.daemon.app import Daemon, NoRuleEnabled
    from risk_manager.daemon.logs import setup_logging

    try:
        loaded = load_config(config_dir)
        settings = ProjectXSettings.from_api_config(loaded.api)
        loaded.calendar()  # e.g. the CME calendar is asked for but not installed: say so now
        recorder = Recorder(record) if record is not None else None
        daemon = Daemon(loaded, data_dir, settings=settings, recorder=recorder)
    except ConfigError as exc:
        count = len(exc.errors)
        _error(f"config in {config_dir} is invalid ({count} problem{'s' if count != 1 else ''}):\n"
               + "\n".join(f"  {issue}" for issue in exc.errors))
        return EXIT_USAGE
    except (MissingCredentials, NoRuleEnabled) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (ValueError, RuntimeError, ImportError, OSError) as exc:
        _error(f"config in {config_dir} cannot be used: {exc}")
        return EXIT_USAGE
    log_config = loaded.risk.daemon.log
    handlers = setup_logging(data_dir, fmt=log_config.format, level=log_config.level,
                             secrets=(settings.api_key.reveal(),))
    try:
        return asyncio.run(_serve(daemon))
    finally:
        root = logging.getLogger()
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()


async def _serve(daemon: object) -> int:
    from risk_manager.broker.errors import GatewayError
    from risk_manager.daemon.app import Daemon
    from risk_manager.daemon.control.server import ControlSetupError
    from risk_manager.daemon.pidfile import remove_pid_file, write_pid_file
    from risk_manager.store.errors import StoreError

    assert isinstance(daemon, Daemon)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still raises KeyboardInterrupt
            loop.add_signal_handler(signum, daemon.request_stop)
    try:
        await daemon.start()
    except (GatewayError, StoreError, ControlSetupError, OSError) as exc:  # OSError: e.g. metrics port taken
        log.error("cannot start: %s", exc)
        _error(str(exc))
        return EXIT_RUNTIME
    pid_file = write_pid_file(daemon.data_dir, daemon.config.directory, daemon.started_at or daemon.wall())
    try:
        log.info("running; stop with Ctrl-C or SIGTERM")
        await daemon.stopping.wait()  # a signal, or the control API's shutdown
        log.info("stopping")
        try:
            await asyncio.wait_for(daemon.stop(), STOP_GRACE + 0.3)
        except TimeoutError:
            log.error("stopping took too long; the store was flushed at each decision")
    finally:
        remove_pid_file(pid_file)
    log.info("stopped")
    return EXIT_OK
