"""`risk-manager replay FILE --config DIR`: what the rules would have decided on a recorded day.

Reads a recording (FORMATS.md), runs it through the same engine the daemon uses, and prints every
decision: JSON Lines with ``--json`` (the FORMATS.md replay output, in decision order), otherwise a
table in the configured display zone and a summary (actions per rule, each account's realized P&L
per trading day, open positions and active lockouts at the end).

Exit codes: 0 done; 2 bad input (a malformed recording line, an invalid config, a bad option). On a
malformed line the decisions up to that line are printed first: nothing already decided is lost.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from risk_manager.domain.actions import Action, format_time
from risk_manager.domain.events import TradeEvent
from risk_manager.domain.money import ZERO, money
from risk_manager.replay.reader import ReplayInputError, ReplayLine, read_recording
from risk_manager.replay.runner import ReplayStats, replay

EXIT_OK = 0
EXIT_BAD_INPUT = 2

__all__ = ["EXIT_BAD_INPUT", "EXIT_OK", "ReplayReport", "parse_until", "register", "run_replay"]


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)


def replay_command(
    file: Path = typer.Argument(
        ..., help="Recording to replay: JSON Lines, plain or gzip (see docs/replay.md)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Config directory whose rules to apply (default: $RISK_MANAGER_CONFIG, else the "
        "platform's config directory).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON line per decision (fields in docs/replay.md)."
    ),
    until: str | None = typer.Option(
        None,
        "--until",
        help="Run the clock past the last line to this UTC time (e.g. 2026-03-02T23:00:00Z), "
        "firing the timers due by then (cooldown ends, the daily reset).",
    ),
    account: list[int] = typer.Option(
        [], "--account", "-a", help="Show only this account's decisions (repeat for several)."
    ),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="Also write the replay into this new store file (journal, audit trail, lockouts, day P&L), "
        "for tools that read a store (see docs/persistence.md).",
    ),
) -> None:
    """Replay a recorded gateway feed through the rules and print what they would have decided."""
    try:
        until_t = parse_until(until)
    except ValueError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    from risk_manager.config.paths import default_config_dir

    directory = config if config is not None else default_config_dir()
    code = run_replay(file, directory, as_json=as_json, until=until_t, accounts=account, db=db)
    raise typer.Exit(code)


def parse_until(text: str | None) -> datetime | None:
    """``--until`` as an aware UTC datetime; a time without zone is refused (it would be a guess)."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--until {text!r} is not an ISO-8601 time; write it like 2026-03-02T23:00:00Z"
        ) from None
    if t.tzinfo is None:
        raise ValueError(
            f"--until {text!r} has no time zone; add Z for UTC (2026-03-02T23:00:00Z) "
            "or an offset (2026-03-02T17:00:00-06:00)"
        )
    return t.astimezone(UTC)


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

    def add(self, t: datetime, action: Action, keep: bool) -> None:
        self.per_rule[action.rule] += 1
        self.per_rule_kind.setdefault(action.rule, Counter())[action.kind] += 1
        if keep:
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
    as_json: bool = False,
    until: datetime | None = None,
    accounts: Sequence[int] = (),
    title: str | None = None,
    db: Path | None = None,
) -> int:
    """Replay ``recording`` with the config in ``config_dir`` and print the result. Returns the exit code."""
    err = _console(stderr=True)
    loaded = _load(config_dir)
    if isinstance(loaded, str):
        err.print(f"[red]error:[/red] {escape(loaded)}", highlight=False)
        return EXIT_BAD_INPUT
    engine, calendar = loaded
    # --db: the runner drives a PersistentEngine (same decisions, also recorded in the store).
    runner: Any = engine
    if db is not None:
        from risk_manager.store import StoreError, open_for_replay

        try:
            runner = open_for_replay(db, engine, source=str(recording), config=str(config_dir))
        except StoreError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            return EXIT_BAD_INPUT
    wanted = frozenset(accounts)
    report = ReplayReport()
    out: BinaryIO = sys.stdout.buffer
    failure: ReplayInputError | None = None
    lines = _tracking(read_recording(recording), engine, report)
    try:
        for t, action in replay(lines, runner, until, report.stats):
            if wanted and action.account_id not in wanted:
                continue
            report.add(t, action, keep=not as_json)
            if as_json:
                out.write(orjson.dumps(action.record(t)) + b"\n")
    except ReplayInputError as exc:
        failure = exc
    finally:
        if runner is not engine:
            runner.close()  # what was decided is kept, even up to a malformed line
    _snapshot_days(engine, report, engine.accounts.keys())
    if as_json:
        out.flush()
    else:
        _print_human(report, engine, calendar, recording, wanted, until, title)
    if (
        until is not None
        and report.stats.last_t is not None
        and until < report.stats.last_t
        and failure is None
    ):
        err.print(
            f"note: --until {format_time(until)} is before the recording's last line "
            f"({format_time(report.stats.last_t)}); it changed nothing",
            highlight=False,
        )
    if failure is not None:
        sys.stdout.flush()
        err.print(f"[red]error:[/red] {escape(str(failure))}", highlight=False)
        err.print(
            "the decisions above were made before that line; fix the line and replay again", highlight=False
        )
        return EXIT_BAD_INPUT
    return EXIT_OK


def _tracking(lines: Iterable[ReplayLine], engine: Any, report: ReplayReport) -> Iterator[ReplayLine]:
    """Pass lines through; after the engine has applied a line with trades, note the day's P&L.

    The snapshot is taken when the *next* line is requested: by then the runner has applied the
    previous line, and has not yet run the clock to the next one (so a daily reset has not yet
    replaced the day being recorded).
    """
    touched: set[int] = set()
    for line in lines:
        if touched:
            _snapshot_days(engine, report, touched)
            touched = set()
        for event in line.events:
            if type(event) is TradeEvent:
                touched.add(event.account_id)
        yield line
    if touched:
        _snapshot_days(engine, report, touched)


def _snapshot_days(engine: Any, report: ReplayReport, account_ids: Iterable[int]) -> None:
    accounts = engine.accounts
    for account_id in account_ids:
        state = accounts.get(account_id)
        if state is None:
            continue
        day = state.day
        if day.trade_count == 0 and (account_id, day.label) not in report.days:
            continue
        report.days[(account_id, day.label)] = DayPnl(day.realized, day.costs, day.trade_count)


# ---- human output -------------------------------------------------------------------------------

_HIDDEN = ("t", "account", "rule", "action", "reason")


def _when(t: datetime, zone: ZoneInfo) -> str:
    local = t.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def _details(t: datetime, action: Action, zone: ZoneInfo) -> str:
    record = action.record(t)
    parts: list[str] = []
    for key, value in record.items():
        if key in _HIDDEN:
            continue
        if key == "until" and isinstance(value, str):
            value = _when(datetime.fromisoformat(value), zone)
        elif key == "message" and value == action.reason:
            continue
        elif value is None:
            value = "all" if key == "size" else "-"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _print_human(
    report: ReplayReport,
    engine: Any,
    calendar: Any,
    recording: Path,
    wanted: frozenset[int],
    until: datetime | None,
    title: str | None,
) -> None:
    console = _console()
    zone: ZoneInfo = calendar.display_zone
    zone_name = getattr(zone, "key", str(zone))
    stats = report.stats

    table = Table(title=title or f"Decisions replaying {recording.name}", title_justify="left", expand=False)
    table.add_column(f"Time ({zone_name})", no_wrap=True)
    table.add_column("Account", justify="right")
    table.add_column("Rule", no_wrap=True)
    table.add_column("Action", no_wrap=True)
    table.add_column("Details")
    table.add_column("Reason", overflow="fold")
    styles = {"lockout": "red", "flatten": "red", "close_position": "yellow", "unlock": "green"}
    for t, action in report.decisions:
        style = styles.get(action.kind, "")
        table.add_row(
            _when(t, zone),
            str(action.account_id),
            action.rule,
            f"[{style}]{action.kind}[/{style}]" if style else action.kind,
            Text(_details(t, action, zone)),
            Text(action.reason or ""),
        )
    if report.decisions:
        console.print(table)
    else:
        console.print("No decisions: the rules had nothing to enforce in this recording.")

    span = ""
    if stats.first_t is not None and stats.last_t is not None:
        span = f", {_when(stats.first_t, zone)} to {_when(stats.last_t, zone)} {zone_name}"
    console.print(
        f"\nReplayed {stats.lines} lines ({stats.events} events){span}; "
        f"{sum(report.per_rule.values())} decisions.",
        highlight=False,
    )
    if stats.out_of_order:
        console.print(
            f"{stats.out_of_order} line(s) had a time earlier than the line before and were replayed "
            "at the previous line's time.",
            highlight=False,
        )

    if report.per_rule:
        rules = Table(title="Decisions per rule", title_justify="left")
        rules.add_column("Rule")
        rules.add_column("Count", justify="right")
        rules.add_column("Actions")
        for rule in sorted(report.per_rule):
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report.per_rule_kind[rule].items()))
            rules.add_row(rule, str(report.per_rule[rule]), kinds)
        console.print(rules)

    accounts = Table(title="Accounts", title_justify="left")
    for name, justify in (
        ("Account", "right"),
        ("Trading day", "left"),
        ("Trades", "right"),
        ("Realized", "right"),
        ("Fees+comm.", "right"),
        ("Net", "right"),
    ):
        accounts.add_column(name, justify=justify)  # type: ignore[arg-type]
    for (account_id, label), day in sorted(report.days.items()):
        if wanted and account_id not in wanted:
            continue
        net = day.realized - day.fees
        style = "red" if net < 0 else "green" if net > 0 else ""
        accounts.add_row(
            str(account_id),
            label.isoformat(),
            str(day.trades),
            money(day.realized),
            money(day.fees),
            f"[{style}]{money(net)}[/{style}]" if style else money(net),
        )
    if accounts.row_count:
        console.print(accounts)

    positions = Table(title="Open positions at the end", title_justify="left")
    for name in ("Account", "Contract", "Size", "Average price"):
        positions.add_column(name)
    lockouts = Table(title="Active lockouts at the end", title_justify="left")
    for name in ("Account", "Rule", "Scope", "Until", "Reason"):
        lockouts.add_column(name)
    for account_id, state in sorted(engine.accounts.items()):
        if wanted and account_id not in wanted:
            continue
        for position in state.positions.values():
            positions.add_row(
                str(account_id),
                Text(position.contract_id),
                f"{position.size:+d}",
                str(position.average_price),
            )
        for lockout in state.lockouts:
            scope = lockout.scope if lockout.symbol is None else f"{lockout.scope} {lockout.symbol}"
            end = _when(lockout.until, zone) if lockout.until is not None else f"{lockout.condition} clears"
            # Text(): reasons and contract ids are data, never Rich markup ("[...]" must print as is).
            lockouts.add_row(str(account_id), lockout.rule, Text(scope), Text(end), Text(lockout.reason))
    end_label = "" if stats.last_t is None else f" ({_when(stats.last_t, zone)})"
    if positions.row_count:
        console.print(positions)
    else:
        console.print(f"No open positions at the end{end_label}.")
    if lockouts.row_count:
        console.print(lockouts)
    else:
        console.print(f"No active lockouts at the end{end_label}.")
    if until is None and lockouts.row_count:
        console.print(
            "Timers after the last line did not fire; pass --until TIME to run the clock further.",
            highlight=False,
        )
