"""`risk-manager replay FILE --config DIR`: what the rules would have decided on a recorded day.

Reads a recording (FORMATS.md), runs it through the same engine the daemon uses, and prints every
decision: JSON Lines with ``--json`` (docs/replay.md, in decision order), otherwise readable lines
in the configured display zone (see cli/replay_view.py) and a summary (actions per rule, each
account's realized P&L per trading day, open positions and active lockouts at the end).

Exit codes: 0 done; 2 bad input (no such file, not a recording, an empty one, a malformed line, an
invalid config, a bad option). On a malformed line the decisions up to that line are printed first:
nothing already decided is lost. When nothing could be replayed at all, one error line is all.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.text import Text

from risk_manager.cli.help import PlainHelpCommand
from risk_manager.cli.replay_view import DecisionLines, local_time, plain_table, wide_tables, wrapped
from risk_manager.domain.actions import Action, format_time
from risk_manager.domain.events import Event, TradeEvent
from risk_manager.domain.money import ZERO, money
from risk_manager.domain.status import AccountStatus, LockoutStatus
from risk_manager.replay.reader import ReplayInputError, ReplayLine, read_recording
from risk_manager.replay.runner import ReplayStats, replay
from risk_manager.replay.split import SplitReplay, WorkerHooks, workers_for

EXIT_OK = 0
EXIT_BAD_INPUT = 2

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_OK",
    "ReplayOptions",
    "ReplayReport",
    "parse_until",
    "register",
    "run_replay",
]


def register(app: typer.Typer) -> None:
    app.command(
        "replay", cls=PlainHelpCommand, short_help="What the rules would have decided on a recorded feed."
    )(replay_command)


def replay_command(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="Recording to replay: JSON Lines, plain or gzip (see docs/replay.md).",
        show_default=False,
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        metavar="DIR",
        help="Config directory whose rules to apply (default: $RISK_MANAGER_CONFIG, else the "
        "platform's config directory).",
        show_default=False,
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print one JSON line per decision (fields in docs/replay.md); with --summary, one "
        "line with the summary and each account's state at the end.",
    ),
    until: str | None = typer.Option(
        None,
        "--until",
        metavar="TIME",
        help="Run the clock past the last line to this time, firing the timers due by then "
        "(cooldown ends, the daily reset). UTC (2026-03-02T23:00:00Z), an offset "
        "(2026-03-02T17:00-06:00), a zone (2026-03-02T17:00 America/Chicago) or the configured "
        "zone's abbreviation (2026-03-02T17:00 CST).",
        show_default=False,
    ),
    account: list[int] = typer.Option(
        [],
        "--account",
        "-a",
        metavar="ID",
        help="Show only this account's decisions (repeat for several).",
        show_default=False,
    ),
    rule: list[str] = typer.Option(
        [],
        "--rule",
        "-r",
        metavar="RULE",
        help="Show only this rule's decisions, e.g. RULE-003 (repeat for several).",
        show_default=False,
    ),
    summary: bool = typer.Option(False, "--summary", help="Print only the summary, not each decision."),
    wide: bool = typer.Option(
        False, "--wide", help="Print the decisions as a table, one row each (for wide terminals)."
    ),
    db: Path | None = typer.Option(
        None,
        "--db",
        metavar="FILE",
        help="Also write the replay into this new store file (journal, audit trail, lockouts, day P&L), "
        "for tools that read a store (see docs/persistence.md).",
        show_default=False,
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        metavar="N",
        min=1,
        help="Split the replay by account over N processes (the output is the same). Default: "
        "every core for a recording of 16 MB or more, else 1. --db and --html replay in one process.",
        show_default=False,
    ),
    html: Path | None = typer.Option(
        None,
        "--html",
        metavar="OUT.html",
        help="Also write the day as one self-contained web page: each account's P&L curve with the "
        "decisions marked (reason on hover), the decision table and the summary (docs/replay.md).",
        show_default=False,
    ),
) -> None:
    """Replay a recorded gateway feed through the rules and print what they would have decided."""
    from risk_manager.config.paths import default_config_dir

    directory = config if config is not None else default_config_dir()
    options = ReplayOptions(
        as_json=as_json,
        until=until,
        accounts=tuple(account),
        rules=tuple(rule),
        summary_only=summary,
        wide=wide,
        html=html,
        workers=workers,
    )
    raise typer.Exit(run_replay(file, directory, options=options, db=db))


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """What the user asked of a replay's output."""

    as_json: bool = False
    until: str | datetime | None = None  # text as typed (read in the configured zone), or a time
    accounts: tuple[int, ...] = ()
    rules: tuple[str, ...] = ()
    summary_only: bool = False
    wide: bool = False
    html: Path | None = None  # also write the HTML report here (cli/replay_html.py)
    workers: int | None = None  # processes to split the replay over; None: replay/split.workers_for


_ZONED = re.compile(r"^(?P<time>\S+(?:[ T]\d[\d:.]*)?)\s+(?P<zone>[A-Za-z][A-Za-z0-9_+/-]*)$")


def parse_until(text: str | None, zone: ZoneInfo | None = None) -> datetime | None:
    """``--until`` as an aware UTC datetime.

    Accepted: an ISO-8601 time with ``Z`` or an offset; or a local time followed by an IANA zone
    name or by the abbreviation of the configured zone ``zone`` (CST, CDT ...). A time without any
    zone is refused: it would be a guess.
    """
    if text is None:
        return None
    text = text.strip()
    example = "2026-03-02T23:00:00Z, 2026-03-02T17:00-06:00 or 2026-03-02T17:00 America/Chicago"
    zoned = _ZONED.match(text)
    if zoned is not None:
        local = _iso(zoned.group("time"), text, example)
        if local.tzinfo is not None:
            raise ValueError(f"--until {text!r} has both an offset and a zone; write one of them")
        named = _zone_named(zoned.group("zone"), text, zone, local.year)
        return local.replace(tzinfo=named).astimezone(UTC)
    t = _iso(text, text, example)
    if t.tzinfo is None:
        raise ValueError(
            f"--until {text!r} has no time zone; add Z for UTC (2026-03-02T23:00:00Z), an offset "
            "(2026-03-02T17:00:00-06:00) or a zone (2026-03-02T17:00 America/Chicago)"
        )
    return t.astimezone(UTC)


def _iso(part: str, text: str, example: str) -> datetime:
    try:
        return datetime.fromisoformat(part)
    except ValueError:
        raise ValueError(f"--until {text!r} is not an ISO-8601 time; write it like {example}") from None


def _zone_named(name: str, text: str, configured: ZoneInfo | None, year: int) -> ZoneInfo:
    if name.upper() in ("Z", "UTC"):
        return ZoneInfo("UTC")
    if configured is not None and name.upper() in _abbreviations(configured, year):
        return configured
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        known = f" or {'/'.join(sorted(_abbreviations(configured, year)))}" if configured is not None else ""
        raise ValueError(
            f"--until {text!r}: {name!r} is not a time zone; use an IANA name such as America/Chicago{known}"
        ) from None


def _abbreviations(zone: ZoneInfo, year: int) -> set[str]:
    """The abbreviations a zone uses in ``year`` (CST and CDT for America/Chicago)."""
    names = {datetime(year, month, 15, tzinfo=zone).strftime("%Z").upper() for month in range(1, 13)}
    return {n for n in names if n.isalpha()}


# ---- running ------------------------------------------------------------------------------------


@dataclass(slots=True)
class DayPnl:
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    trades: int = 0


@dataclass(slots=True)
class ReplayReport:
    """Everything the human-readable output shows, gathered while replaying."""

    decisions: list[tuple[datetime, Action]] = field(default_factory=list)
    per_rule: Counter[str] = field(default_factory=Counter)
    per_rule_kind: dict[str, Counter[str]] = field(default_factory=dict)
    # (account, trading day label) -> the engine's counters for that day, as last seen.
    days: dict[tuple[int, date], DayPnl] = field(default_factory=dict)
    stats: ReplayStats = field(default_factory=ReplayStats)
    # The decision lines, when the decisions shown are rendered as they come instead of kept in
    # ``decisions``: a busy day's 200,000 actions kept alive cost more than printing them.
    lines: DecisionLines | None = None
    shown: int = 0  # decisions kept or rendered

    def add(self, t: datetime, action: Action, keep: bool) -> None:
        self.per_rule[action.rule] += 1
        kinds = self.per_rule_kind.get(action.rule)
        if kinds is None:  # (not setdefault: it would build a Counter for every decision)
            kinds = self.per_rule_kind[action.rule] = Counter()
        kinds[action.kind] += 1
        if keep:
            self.shown += 1
            if self.lines is not None:
                self.lines.add(t, action)
            else:
                self.decisions.append((t, action))


def _console(stderr: bool = False) -> Console:
    # Piped output (files, CI logs) gets a wide fixed width instead of Rich's 80 columns, so the
    # table stays one row per decision; a terminal or $COLUMNS decides otherwise.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 180
    # Messages on stderr are never wrapped: a line number or a path must stay greppable.
    return Console(file=stream, width=width, soft_wrap=stderr)


def _load(config_dir: Path) -> tuple[Any, Any] | str:
    """(Engine, calendar) for a config directory, or the config error text."""
    from risk_manager.config.errors import ConfigError
    from risk_manager.config.loader import load_config
    from risk_manager.engine.engine import Engine

    try:
        loaded = load_config(config_dir)
        calendar = loaded.calendar()
        engine = Engine(loaded.policy(), calendar, loaded.contracts())
    except ConfigError as exc:
        count = len(exc.errors)
        lines = [f"config in {config_dir} is invalid ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  {issue}" for issue in exc.errors]
        return "\n".join(lines)
    except (ValueError, RuntimeError, ImportError) as exc:  # e.g. the CME calendar is not installed
        return f"config in {config_dir} cannot be used: {exc}"
    return engine, calendar


def run_replay(
    recording: Path,
    config_dir: Path,
    *,
    options: ReplayOptions = ReplayOptions(),
    title: str | None = None,
    db: Path | None = None,
) -> int:
    """Replay ``recording`` with the config in ``config_dir`` and print the result. Returns the exit code."""
    err = _console(stderr=True)

    def error(text: str) -> int:
        err.print(f"[red]error:[/red] {escape(text)}", highlight=False)
        return EXIT_BAD_INPUT

    loaded = _load(config_dir)
    if isinstance(loaded, str):
        return error(loaded)
    engine, calendar = loaded
    try:
        until = (
            options.until
            if not isinstance(options.until, str)
            else parse_until(options.until, calendar.display_zone)
        )
    except ValueError as exc:
        return error(str(exc))
    # A path that is no recording fails here, before a store is created or anything is printed.
    if recording.is_dir() or not recording.exists():
        what = "is a directory, not a recording" if recording.is_dir() else "does not exist"
        return error(f"{recording}: {what}; name a recording file (.jsonl or .jsonl.gz)")
    curves = None
    if options.html is not None:
        from risk_manager.cli.replay_html import check_output_path
        from risk_manager.replay.pnl_curve import PnlCurves

        problem = check_output_path(options.html)
        if problem is not None:
            return error(problem)
        curves = PnlCurves(engine, options.accounts)
    # --db: the runner drives a PersistentEngine (same decisions, also recorded in the store).
    runner: Any = engine
    if db is not None:
        from risk_manager.daemon import open_for_replay
        from risk_manager.store import StoreError

        try:
            runner = open_for_replay(db, engine, source=str(recording), config=str(config_dir))
        except StoreError as exc:
            return error(str(exc))
    wanted = frozenset(options.accounts)
    wanted_rules = frozenset(r.strip().upper() for r in options.rules)
    report = ReplayReport()
    if not (options.as_json or options.summary_only or options.wide or curves is not None):
        # The default output: decision lines, held until the summary is known (nothing is printed
        # while the progress bar runs).
        report.lines = DecisionLines(_console(), calendar.display_zone, hold=True)
    out: BinaryIO = sys.stdout.buffer
    failure: ReplayInputError | None = None
    # Split over processes (replay/split.py) unless a store or a report must read the one engine.
    json_lines = options.as_json and not options.summary_only

    def listed(action: Action) -> bool:
        return not (
            (wanted and action.account_id not in wanted) or (wanted_rules and action.rule not in wanted_rules)
        )

    def json_line(t: datetime, action: Action) -> bytes | None:
        return _json_line(t, action) if listed(action) else None

    split = None
    workers = 1 if db is not None or curves is not None else workers_for(recording, options.workers)
    if workers > 1:
        # --json: the workers write the lines themselves; the parent only merges and writes them
        # (nothing else of the report is printed).
        split = _split(recording, engine, workers, until, report, json_line if json_lines else None)
    with ProgressBar(recording, err) as progress:
        decisions: Iterable[tuple[datetime, Action]] = ()
        rendered: Generator[bytes, None, None] | None = None
        if split is not None:
            split.progress = progress.update
            if json_lines:
                rendered = split.rendered()
            else:
                decisions = split
        else:
            lines: Iterable[ReplayLine] = read_recording(recording, progress.update)
            if curves is not None:
                lines = curves.lines(lines)
            # after each line's trades, the day's P&L of the accounts that traded
            applied = functools.partial(_note_trades, engine=engine, report=report)
            decisions = replay(lines, runner, until, report.stats, applied=applied)
        try:
            if rendered is not None:
                out.writelines(rendered)
            for t, action in decisions:
                if not listed(action):
                    continue
                report.add(
                    t, action, keep=curves is not None or (not options.as_json and not options.summary_only)
                )
                if curves is not None:
                    curves.decision(t, action.account_id)
                if json_lines:
                    out.write(_json_line(t, action))
        except ReplayInputError as exc:
            failure = exc
        finally:
            if rendered is not None:
                rendered.close()  # stops the workers at once if writing failed (a closed pipe)
            if runner is not engine:
                runner.close()  # what was decided is kept, even up to a malformed line
    if report.stats.lines == 0:
        # Nothing was replayed: a summary ("Replayed 0 lines ... no active lockouts") would read as
        # a clean day. One error line is the whole answer.
        return error(str(failure) if failure is not None else f"{recording}: the recording is empty")
    # The state at the end, as the read model every client renders (nothing here reads the engine's
    # own state).
    statuses: list[AccountStatus]
    if split is not None:
        statuses = []
        for days, shared in split.results:  # each worker's accounts: disjoint shares
            report.days.update(days)
            statuses += shared
        statuses.sort(key=lambda status: status.account_id)  # as Engine.statuses lists them
    else:
        statuses = engine.statuses(engine.now) if engine.now is not None else []
    _note_days(report, statuses)
    shown = [s for s in statuses if not wanted or s.account_id in wanted]
    if curves is not None and options.html is not None:
        written = _write_html(options.html, recording, report, shown, curves, calendar, wanted, until)
        if written is not None:
            return error(written)
    if options.as_json and options.summary_only:
        out.write(orjson.dumps({"summary": _summary_json(report, shown)}) + b"\n")
        out.flush()
    elif options.as_json:
        out.flush()
    else:
        _print_human(report, shown, calendar, recording, wanted, until, title, options)
    seen_ids = [s.account_id for s in statuses]
    missing = sorted(wanted - set(seen_ids))
    if missing:
        seen = ", ".join(str(a) for a in seen_ids) or "none"
        err.print(
            f"warning: account {', '.join(map(str, missing))} does not appear in {recording.name}; "
            f"accounts in it: {seen}",
            highlight=False,
        )
    if (
        until is not None
        and report.stats.last_t is not None
        and until < report.stats.last_t
        and failure is None
    ):
        zone = calendar.display_zone
        err.print(
            f"note: --until {local_time(until, zone)} is before the recording's last line "
            f"({local_time(report.stats.last_t, zone)}); it changed nothing",
            highlight=False,
        )
    if failure is not None:
        sys.stdout.flush()
        err.print(f"[red]error:[/red] {escape(str(failure))}", highlight=False)
        err.print(
            f"the output above covers lines 1 to {report.stats.lines}, before that line; "
            "fix the line and replay again",
            highlight=False,
        )
        return EXIT_BAD_INPUT
    return EXIT_OK


def _write_html(
    path: Path,
    recording: Path,
    report: ReplayReport,
    shown: list[AccountStatus],
    curves: Any,
    calendar: Any,
    wanted: frozenset[int],
    until: datetime | None,
) -> str | None:
    """Write the HTML report; say where on stderr. The error text when it cannot be written."""
    from risk_manager.cli.replay_html import ReportPage, write_report

    curves.finish(report.stats.last_t)
    zone = calendar.display_zone
    page = ReportPage(recording, zone, report.decisions, report, shown, curves, wanted, until)
    problem = write_report(path, page)
    if problem is None:
        _console(stderr=True).print(
            f"report written to {path} ({len(report.decisions):,} decisions, "
            f"{len(curves.account_ids)} account(s))",
            highlight=False,
        )
    return problem


class ProgressBar:
    """Lines read, lines/s and (the file's size being known) time left, on stderr when it is a
    terminal; nothing at all otherwise, so that logs and pipes get only the output."""

    def __init__(self, recording: Path, console: Console) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if console.is_terminal:
            try:
                size = recording.stat().st_size
            except OSError:
                size = None
            self._progress = Progress(
                TextColumn("replaying {task.description}"),
                BarColumn(),
                TextColumn("{task.fields[lines]:,} lines, {task.fields[rate]:,.0f} lines/s"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self._task = self._progress.add_task(recording.name, total=size, lines=0, rate=0.0)

    def update(self, lines: int, position: int) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = self._progress.tasks[0].elapsed or 0.0
        rate = lines / elapsed if elapsed > 0 else 0.0
        self._progress.update(self._task, completed=position, lines=lines, rate=rate)

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _split(
    recording: Path,
    engine: Any,
    workers: int,
    until: datetime | None,
    report: ReplayReport,
    render: Callable[[datetime, Action], bytes | None] | None,
) -> SplitReplay:
    """A replay over ``workers`` processes, each tracking its own accounts' days in its copy of
    ``shares`` (forked with the worker) and answering them with its accounts' state at the end;
    ``render``, if given, writes each decision in the workers (SplitReplay.rendered)."""
    shares = ReplayReport()

    def finish(worker_engine: Any) -> tuple[dict[tuple[int, date], DayPnl], list[AccountStatus]]:
        now = worker_engine.now
        return shares.days, worker_engine.statuses(now) if now is not None else []

    # applied: (events, the worker's engine), the day's P&L noted in the worker's ``shares``
    hooks = WorkerHooks(finish=finish, render=render, applied=functools.partial(_note_trades, report=shares))
    return SplitReplay(recording, engine, workers, until, stats=report.stats, hooks=hooks)


def _note_trades(events: tuple[Event, ...], engine: Any, report: ReplayReport) -> None:
    """After the engine applied a line's account events: note the day's P&L of each account that
    traded (before the clock runs on, so a daily reset has not yet replaced the day recorded)."""
    traded = {event.account_id for event in events if type(event) is TradeEvent}
    if traded:
        _snapshot_days(engine, report, traded)


def _snapshot_days(engine: Any, report: ReplayReport, account_ids: Iterable[int]) -> None:
    if engine.now is None:
        return
    for account_id in account_ids:
        # The day's counters alone: a whole AccountStatus (every position marked, every rule's
        # gauge) after each trade was a tenth of a busy replay's worker.
        day = engine.day_figures(account_id)
        if day is not None:
            _note_day(report, account_id, day.label, day.realized, day.costs, day.trade_count)


def _note_days(report: ReplayReport, statuses: Iterable[AccountStatus]) -> None:
    for status in statuses:
        _note_day(
            report, status.account_id, status.trading_day, status.realized, status.costs, status.trade_count
        )


def _note_day(
    report: ReplayReport, account_id: int, label: date, realized: Decimal, costs: Decimal, trades: int
) -> None:
    key = (account_id, label)
    if trades == 0 and key not in report.days:
        return
    report.days[key] = DayPnl(realized, costs, trades)


def _json_line(t: datetime, action: Action) -> bytes:
    """A decision as one line of ``--json`` output."""
    return orjson.dumps(action.record(t), option=orjson.OPT_APPEND_NEWLINE)


def _summary_json(report: ReplayReport, statuses: list[AccountStatus]) -> dict[str, Any]:
    """``--json --summary``: the replay's counts and each account's state at the end."""
    stats = report.stats
    return {
        "lines": stats.lines,
        "events": stats.events,
        "first_t": None if stats.first_t is None else format_time(stats.first_t),
        "last_t": None if stats.last_t is None else format_time(stats.last_t),
        "out_of_order": stats.out_of_order,
        "decisions_per_rule": {rule: report.per_rule[rule] for rule in sorted(report.per_rule)},
        "accounts": [status.to_json() for status in statuses],
    }


# ---- human output -------------------------------------------------------------------------------


def _print_human(
    report: ReplayReport,
    statuses: list[AccountStatus],
    calendar: Any,
    recording: Path,
    wanted: frozenset[int],
    until: datetime | None,
    title: str | None,
    options: ReplayOptions,
) -> None:
    console = _console()
    zone: ZoneInfo = calendar.display_zone
    stats = report.stats
    heading = title or f"Decisions replaying {recording.name}"

    if options.summary_only:
        pass
    elif not report.shown:
        console.print("No decisions: the rules had nothing to enforce in this recording.")
    elif options.wide:
        for table in wide_tables(report.decisions, zone, heading):
            console.print(table)
    else:
        for line in wrapped(heading, console.width, indent=""):
            console.print(Text(line, style="bold"), soft_wrap=True)
        lines = report.lines if report.lines is not None else DecisionLines(console, zone)
        lines.print_all(report.decisions)  # those kept (with --html), or none: they are in the lines

    span = ""
    if stats.first_t is not None and stats.last_t is not None:
        span = f", {local_time(stats.first_t, zone)} to {local_time(stats.last_t, zone)}"
    _say(
        console,
        f"Replayed {stats.lines:,} lines ({stats.events:,} events){span}; "
        f"{sum(report.per_rule.values()):,} decisions.",
        blank_before=True,
    )
    if stats.out_of_order:
        _say(
            console,
            f"{stats.out_of_order} line(s) had a time earlier than the line before and were replayed "
            "at the previous line's time.",
        )

    if report.per_rule:
        console.print(
            plain_table(
                "Decisions per rule",
                (("Rule", "left"), ("Count", "right"), ("Actions", "left")),
                (
                    (
                        rule,
                        f"{report.per_rule[rule]:,}",
                        ", ".join(f"{kind} {n:,}" for kind, n in sorted(report.per_rule_kind[rule].items())),
                    )
                    for rule in sorted(report.per_rule)
                ),
            )
        )

    rows = []
    for (account_id, label), day in sorted(report.days.items()):
        if wanted and account_id not in wanted:
            continue
        net = day.realized - day.fees
        style = "red" if net < 0 else "green" if net > 0 else ""
        rows.append(
            (
                str(account_id),
                label.isoformat(),
                str(day.trades),
                money(day.realized),
                money(day.fees),
                Text(money(net), style=style),
            )
        )
    if rows:
        columns = (
            ("Account", "right"),
            ("Trading day", "left"),
            ("Trades", "right"),
            ("Realized", "right"),
            ("Fees+comm.", "right"),
            ("Net", "right"),
        )
        console.print(plain_table("Accounts", columns, rows))

    positions: list[tuple[str, Text, str, str, str, Text]] = []
    lockouts: list[tuple[int, LockoutStatus]] = []
    for status in statuses:
        for position in status.positions:
            pnl = position.unrealized
            positions.append(
                (
                    str(status.account_id),
                    Text(position.contract_id),
                    f"{position.size:+d}",
                    str(position.average_price),
                    "-" if position.mark is None else str(position.mark),
                    Text(
                        "-" if pnl is None else money(pnl),
                        style="" if pnl is None or pnl == 0 else "red" if pnl < 0 else "green",
                    ),
                )
            )
        lockouts.extend((status.account_id, lockout) for lockout in status.lockouts)
    end_label = "" if stats.last_t is None else f" ({local_time(stats.last_t, zone)})"
    if positions:
        console.print(
            plain_table(
                "Open positions at the end",
                (
                    ("Account", "right"),
                    ("Contract", "left"),
                    ("Size", "right"),
                    ("Average price", "right"),
                    ("Last", "right"),
                    ("Unrealized", "right"),
                ),
                positions,
            )
        )
    else:
        _say(console, f"No open positions at the end{end_label}.")
    if lockouts:
        _say(console, f"Active lockouts at the end{end_label}:")
        for account_id, lockout in lockouts:
            scope = "account" if lockout.symbol is None else f"{lockout.symbol} only"
            end = (
                local_time(lockout.until, zone)
                if lockout.until is not None
                else f"{lockout.condition} clears"
            )
            for line in wrapped(
                f"acct {account_id}  {lockout.rule}  {scope}  until {end}", console.width, "  "
            ):
                console.print(Text(line), soft_wrap=True)
            for line in wrapped(lockout.reason, console.width, "      "):
                console.print(Text(line), soft_wrap=True)
    else:
        _say(console, f"No active lockouts at the end{end_label}.")
    if until is None and lockouts:
        _say(console, "Timers after the last line did not fire; pass --until TIME to run the clock further.")


def _say(console: Console, text: str, *, blank_before: bool = False) -> None:
    """A sentence of the summary, word-wrapped to the terminal (never cut)."""
    if blank_before:
        console.print()
    for line in wrapped(text, console.width, indent=""):
        console.print(Text(line), soft_wrap=True)
