"""`risk-manager demo`: see the rules act without an account or a network.

By default the demo is live (risk_manager/demo): the simulated gateway on a free loopback port, the
daemon with the bundled live-demo config, and a scripted trader who breaks its rules; a live view
shows what the daemon does, and a summary lists the enforcements; the daemon also serves its live
dashboard on 127.0.0.1 and the demo prints its URL (docs/dashboard.md). ``--replay`` replays the sample
trading day shipped with the package (two accounts, MNQ and ES) through the shipped sample config,
and prints the same table and summary as `risk-manager replay`. Both need nothing but the installed
package.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
from importlib.resources import as_file, files

import typer

from risk_manager.cli.replay_cmd import ReplayOptions, run_replay
from risk_manager.cli.replay_view import wrapped

SAMPLE_DAY = "sample-day.jsonl.gz"
SAMPLE_CONFIG = "sample-config"
DASHBOARD_PORT = 8765  # the demo's dashboard port when free (else any free port)

INTRO = (
    "Demo: replaying the sample trading day shipped with risk-manager (accounts 7 and 8 trading MNQ "
    "and ES on 2026-03-02) through the sample config, and showing every decision the rules make.\n"
    "Replay your own recording with: risk-manager replay FILE --config DIR "
    "(recording format and options: docs/replay.md)."
)


def register(app: typer.Typer) -> None:
    app.command("demo", short_help="Watch the daemon enforce live on a simulated gateway (no account).")(
        demo_command
    )


def demo_command(
    replay: bool = typer.Option(
        False, "--replay", help="Replay the shipped sample trading day instead of the live session."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON lines (one per decision and outcome, then a summary), no view."
    ),
    duration: float = typer.Option(
        60.0, "--duration", min=1.0, max=3600.0, metavar="SECONDS", help="Seconds the live session runs."
    ),
    speed: float = typer.Option(
        1.0, "--speed", min=0.1, max=100.0, metavar="X", help="How much faster the scripted trader acts."
    ),
    dashboard: bool = typer.Option(
        True, "--dashboard/--no-dashboard", help="Serve the live web dashboard on 127.0.0.1 (default: on)."
    ),
    dashboard_port: int | None = typer.Option(
        None, "--dashboard-port", min=0, max=65535, metavar="PORT",
        help=f"The dashboard's port (0: any free port; default {DASHBOARD_PORT}, or a free one if taken).",
    ),
) -> None:
    """Watch the daemon guard two simulated accounts while a scripted trader breaks the rules:
    the simulated gateway, the daemon and the trader run in this process, on loopback only.
    `--replay` shows the rules on a shipped sample trading day instead."""
    if not replay:
        from risk_manager.demo.run import run_live

        port = (dashboard_port if dashboard_port is not None else _default_port()) if dashboard else None
        raise typer.Exit(run_live(duration=duration, speed=speed, as_json=as_json, dashboard_port=port))
    _replay(as_json)


def _default_port() -> int:
    """The usual port when nothing listens on it, else 0 (any free port): a demo never fails for it."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind(("127.0.0.1", DASHBOARD_PORT))
        except OSError:
            return 0
    return DASHBOARD_PORT


def _replay(as_json: bool) -> None:
    examples = files("risk_manager") / "examples"
    with as_file(examples / SAMPLE_DAY) as recording, as_file(examples / SAMPLE_CONFIG) as config:
        if not recording.is_file() or not config.is_dir():
            typer.echo(
                f"error: the sample day is missing from this installation ({recording}); "
                "reinstall risk-manager",
                err=True,
            )
            raise typer.Exit(1)
        # The intro goes to stderr with --json so that stdout stays pure JSON Lines.
        width = shutil.get_terminal_size(fallback=(100, 24)).columns
        intro = "\n".join(line for part in INTRO.split("\n") for line in wrapped(part, width, indent=""))
        typer.echo(intro + "\n", err=as_json)
        sys.stdout.flush()
        code = run_replay(
            recording,
            config,
            options=ReplayOptions(as_json=as_json),
            title=f"Decisions on the sample day ({SAMPLE_DAY}, config {SAMPLE_CONFIG}/)",
        )
    raise typer.Exit(code)
