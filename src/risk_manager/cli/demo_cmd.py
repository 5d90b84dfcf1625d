"""`risk-manager demo`: see the rules act without an account or a network.

For now the demo replays the sample trading day shipped with the package (two accounts, MNQ and
ES, one session in which most rules act) through the shipped sample config, and prints the same
table and summary as `risk-manager replay`. It needs nothing but the installed package.
"""

from __future__ import annotations

import shutil
import sys
from importlib.resources import as_file, files

import typer

from risk_manager.cli.replay_cmd import ReplayOptions, run_replay
from risk_manager.cli.replay_view import wrapped

SAMPLE_DAY = "sample-day.jsonl.gz"
SAMPLE_CONFIG = "sample-config"

INTRO = (
    "Demo: replaying the sample trading day shipped with risk-manager (accounts 7 and 8 trading MNQ "
    "and ES on 2026-03-02) through the sample config, and showing every decision the rules make.\n"
    "Replay your own recording with: risk-manager replay FILE --config DIR "
    "(recording format and options: docs/replay.md)."
)


def register(app: typer.Typer) -> None:
    app.command("demo", short_help="See the rules act on a shipped sample day (no account needed).")(
        demo_command
    )


def demo_command(
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON line per decision instead of a table."
    ),
) -> None:
    """Show the risk rules at work on a shipped sample trading day (no account needed)."""
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
