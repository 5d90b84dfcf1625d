"""What printing the decisions of `risk-manager replay` costs, per decision, on a busy day: the
default human output (decision lines, cli/replay_view.py) piped and on a colour terminal, `--wide`
(rich tables) and `--json`, measured in one run on the same decisions, with their ratios to `--json`.

The day is bench/synthetic_day.py's busy day (50 accounts, about 25 open positions per contract,
breakeven and trailing on: three quarters of the decisions are RULE-012 stop moves), replayed through
bench/engine.py's busy engine (all 13 rules). Output goes to memory, as wide as the CLI's piped
output (180 columns). `--wide` is timed on the first --wide-decisions decisions: it costs about a
millisecond a row. Target (issue 9): the human output of the 1,000,000-line busy day (216,532
decisions) within ~1.5 s of `--json`, i.e. at most ~7 us more per decision.

With --cli, also the wall and CPU time (with its workers) of `risk-manager replay` on the generated
day written to a file, without and with --json, --runs times in turns (the recording and a config
holding the same rules in a temporary directory).

    python bench/replay_output.py [--lines 400000] [--runs 3] [--wide-decisions 5000] [--cli]
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson
from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent))
from engine import build_engine, compile_package, run_replay_cli, write_config
from synthetic_day import busy_day

from risk_manager.cli.replay_view import DecisionLines, wide_tables
from risk_manager.domain.actions import Action
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay

WIDTH = 180  # the CLI's width for piped output (cli/replay_cmd.py _console)
BUSY_1M_DECISIONS = 216_532
ZONE = TradingCalendar().display_zone  # the busy engine's

Decisions = list[tuple[datetime, Action]]


def as_json(decisions: Decisions) -> None:
    out = io.BytesIO()
    for t, action in decisions:  # as cli/replay_cmd.py writes them
        out.write(orjson.dumps(action.record(t)) + b"\n")


def lines_piped(decisions: Decisions) -> None:
    DecisionLines(Console(file=io.StringIO(), width=WIDTH), ZONE).print_all(decisions)


def lines_on_terminal(decisions: Decisions) -> None:
    console = Console(file=io.StringIO(), width=WIDTH, force_terminal=True, color_system="truecolor")
    DecisionLines(console, ZONE).print_all(decisions)


def wide(decisions: Decisions) -> None:
    console = Console(file=io.StringIO(), width=WIDTH)
    for table in wide_tables(decisions, ZONE, "Decisions"):
        console.print(table)


def per_decision(render: Callable[[Decisions], None], decisions: Decisions, runs: int) -> float:
    """The best of ``runs`` runs, in microseconds per decision."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        render(decisions)
        best = min(best, time.perf_counter() - start)
    return best / len(decisions) * 1e6


def cli_seconds(recording: Path, config: Path, *options: str) -> tuple[float, float]:
    """Wall time and CPU time (the command and its workers) of a replay written to a file."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(recording.with_suffix(".out"), "wb") as out:
        run_replay_cli(recording, config, out, *options)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wide-decisions", type=int, default=5_000)
    parser.add_argument("--cli", action="store_true", help="also time `risk-manager replay` on the day")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "busy.jsonl"
        recording.write_bytes(b"\n".join(busy_day(args.lines)) + b"\n")
        decisions = list(replay(read_recording(recording), build_engine()))
        print(f"busy day: {args.lines:,} lines, {len(decisions):,} decisions; best of {args.runs} runs")
        json_us = per_decision(as_json, decisions, args.runs)
        figures = [
            ("--json", json_us),
            ("decision lines, piped", per_decision(lines_piped, decisions, args.runs)),
            ("decision lines, colour terminal", per_decision(lines_on_terminal, decisions, args.runs)),
            (
                f"--wide (first {min(args.wide_decisions, len(decisions)):,})",
                per_decision(wide, decisions[: args.wide_decisions], 1),
            ),
        ]
        for name, us in figures:
            extra = (us - json_us) * BUSY_1M_DECISIONS / 1e6
            note = (
                "" if name == "--json" else f"{us / json_us:5.2f}x --json, {extra:+7.2f} s on the 1M busy day"
            )
            print(f"  {name:<34} {us:9.2f} us/decision  {note}")
        if args.cli:
            config = write_config(Path(tmp))
            compile_package()
            for _ in range(args.runs):
                (text_wall, text_cpu), (json_wall, json_cpu) = (
                    cli_seconds(recording, config),
                    cli_seconds(recording, config, "--json"),
                )
                print(
                    f"  risk-manager replay > file: {text_wall:.2f} s wall, {text_cpu:.2f} s CPU; "
                    f"with --json: {json_wall:.2f} s wall, {json_cpu:.2f} s CPU "
                    f"(text {text_wall - json_wall:+.2f} s wall, {text_cpu - json_cpu:+.2f} s CPU)"
                )


if __name__ == "__main__":
    main()
