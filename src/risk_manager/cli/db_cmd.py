"""`risk-manager db ...`: inspect and maintain a store file (see docs/persistence.md).

- ``db check FILE``  integrity (SQLite integrity_check), schema version, journal continuity after the
  last snapshot, row counts. Read-only: it never writes the file. Exit 0 healthy, 2 otherwise.
- ``db info FILE``   what the file holds: origin, counts, journal span, active lockouts, each
  account's last trading day that had activity, and each account's read model (``AccountStatus``:
  positions, day figures, rule gauges, lockouts, next reset) as of the store's last record, rebuilt
  in memory as ``trader status`` does with the daemon down. The rebuild needs the config
  (``--config DIR``, default as ``run``): without one the rest still prints and the accounts say
  what is missing (exit 0); a config that cannot be used, or a journal that cannot be replayed,
  is an error (exit 2), printed after the rest.
- ``db prune FILE``  retention: journal rows older than ``--journal-days`` (default 30), audit rows,
  ended lockouts and resets older than ``--audit-days`` (default 365). Needs the writer lock, so it
  refuses while another process writes the file. ``--dry-run`` counts what would go, read-only.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console, Group

from risk_manager.cli import trader_view as view
from risk_manager.cli.help import PlainHelpCommand
from risk_manager.domain.actions import format_time
from risk_manager.domain.money import money
from risk_manager.domain.status import AccountStatus
from risk_manager.store.codec import iso
from risk_manager.store.errors import StoreError
from risk_manager.store.reader import StoreReader
from risk_manager.store.sqlite import DEFAULT_AUDIT_DAYS, DEFAULT_JOURNAL_DAYS, CheckReport, Store

if TYPE_CHECKING:
    from risk_manager.config.loader import LoadedConfig

EXIT_OK = 0
EXIT_PROBLEM = 2

db_app = typer.Typer(help="Check, inspect and prune the store (SQLite database file).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


def _fail(message: str, as_json: bool, path: Path) -> None:
    if as_json:
        typer.echo(json.dumps({"path": str(path), "ok": False, "problems": [message]}, indent=2))
    else:
        typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(EXIT_PROBLEM)


@db_app.command("check", cls=PlainHelpCommand, short_help="Verify a store file (read-only).")
def check(
    file: Path = typer.Argument(..., metavar="FILE", help="The store's database file.", show_default=False),
    quick: bool = typer.Option(
        False, "--quick", help="PRAGMA quick_check instead of the full integrity_check."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Verify a store file without writing to it; exit 0 when healthy, 2 when not."""
    try:
        with Store.open(file, readonly=True) as store:
            report = store.check(full=not quick)
    except StoreError as exc:
        _fail(str(exc), as_json, file)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for line in _check_lines(report):
            typer.echo(line)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PROBLEM)


def _check_lines(report: CheckReport) -> list[str]:
    lines = [f"{report.path}: {'OK' if report.ok else 'PROBLEMS FOUND'}"]
    lines.append(f"  schema version {report.schema_version} (written by risk-manager {report.program})")
    if report.journal_first is not None and report.journal_last is not None:
        (s0, t0), (s1, t1) = report.journal_first, report.journal_last
        lines.append(f"  journal: seq {s0}..{s1}, {iso(t0)} to {iso(t1)}")
    else:
        lines.append("  journal: empty")
    snap = "none" if report.snapshot_seq is None else f"covers journal up to seq {report.snapshot_seq}"
    lines.append(f"  latest snapshot: {snap}")
    if report.counts:
        lines.append("  rows: " + ", ".join(f"{k} {v}" for k, v in report.counts.items()))
    lines.append(f"  active lockouts: {report.active_lockouts}")
    lines += [f"  problem: {p}" for p in report.problems]
    lines += [f"  note: {n}" for n in report.notes]
    return lines


@db_app.command("info", cls=PlainHelpCommand, short_help="Show what a store file holds.")
def info(
    file: Path = typer.Argument(..., metavar="FILE", help="The store's database file.", show_default=False),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        metavar="DIR",
        help="Config directory (default: $RISK_MANAGER_CONFIG, else the platform's config directory).",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Show what a store holds: origin, row counts, journal span, active lockouts, day P&L, and each
    account's positions, rule gauges, lockouts and next reset (rebuilt with the config's rules)."""
    try:
        with StoreReader.open(file, readonly=True) as store:
            data = _info(store)
            accounts = _accounts(store, config)
    except StoreError as exc:
        _fail(str(exc), as_json, file)
    code = EXIT_PROBLEM if accounts.error else EXIT_OK
    if accounts.error:
        typer.secho(f"error: {accounts.error}", fg="red", err=True)
    if as_json:
        data["accounts"] = None if accounts.statuses is None else [s.to_json() for s in accounts.statuses]
        data["accounts_as_of"] = None if accounts.as_of is None else format_time(accounts.as_of)
        data["accounts_unavailable"] = accounts.note or accounts.error
        typer.echo(json.dumps(data, indent=2))
        raise typer.Exit(code)
    typer.echo(f"{file}")
    for key, value in data["meta"].items():
        typer.echo(f"  {key}: {value}")
    typer.echo("  rows: " + ", ".join(f"{k} {v}" for k, v in data["counts"].items()))
    if data["journal"]:
        j = data["journal"]
        typer.echo(f"  journal: seq {j['first_seq']}..{j['last_seq']}, {j['first_t']} to {j['last_t']}")
    typer.echo(f"  active lockouts: {len(data['active_lockouts'])}")
    for lo in data["active_lockouts"]:
        scope = "account" if lo["symbol"] is None else f"symbol {lo['symbol']}"
        end = f"until {lo['until']}" if lo["until"] else f"until {lo['condition']} clears"
        typer.echo(
            f"    account {lo['account']} {lo['rule']} {scope} since {lo['since']} {end}: {lo['reason']}"
        )
    if data["days"]:
        typer.echo("  day P&L (last trading day with activity, per account):")
        for d in data["days"]:
            typer.echo(
                f"    account {d['account']} {d['day']}: realized {d['realized']} fees {d['fees']} "
                f"net {d['net']} trades {d['trades']}"
            )
    _print_accounts(accounts)
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True)
class Accounts:
    """Each account's read model rebuilt from the store, or why it is not shown: ``note`` when no
    config was found where none was asked for (fine: the store alone still says a lot), ``error``
    when the config cannot be used (the caller exits 2)."""

    statuses: list[AccountStatus] | None = None
    zone: str = "UTC"
    as_of: datetime | None = None
    config_dir: Path | None = None
    note: str | None = None
    error: str | None = None


def _accounts(store: StoreReader, config_dir: Path | None) -> Accounts:
    """The accounts as the store last left them: the engine rebuilt in memory from snapshot and
    journal (the active lockout rows put back) exactly as ``trader status`` does with the daemon down,
    read at the store's last record rather than at the wall clock, so a replay of a past day still
    shows that day."""
    from risk_manager.config.loader import RISK_FILE
    from risk_manager.config.paths import default_config_dir
    from risk_manager.daemon.control.store_views import offline_engine, statuses_at
    from risk_manager.engine.engine import Engine

    directory = config_dir if config_dir is not None else default_config_dir()
    if config_dir is None and not (directory / RISK_FILE).is_file():
        return Accounts(
            note=f"rebuilding them needs the config (rules, calendar, contracts) and there is no "
            f"{RISK_FILE} in {directory}: pass --config DIR"
        )
    loaded = _load_config(directory)
    if isinstance(loaded, str):
        return Accounts(error=loaded)
    bounds = store.journal_bounds()
    last = datetime.now(UTC) if bounds is None else bounds[1][1]
    try:
        engine = offline_engine(
            store, lambda: Engine(loaded.policy(), loaded.calendar(), loaded.contracts()), last
        )
    except StoreError as exc:  # the rest of the file may still be readable: say so, print it
        return Accounts(
            error=f"the accounts cannot be rebuilt from the store: {exc} "
            f"(see `risk-manager db check {store.path}`)"
        )
    as_of = engine.now if engine.now is not None and engine.now > last else last
    return Accounts(
        statuses=statuses_at(engine, as_of),
        zone=loaded.risk.general.timezone,
        as_of=as_of,
        config_dir=directory,
    )


def _load_config(directory: Path) -> LoadedConfig | str:
    """The loaded config (its calendar, contracts and policy built once, so they are known to work),
    or the loader's problems, each naming its file and the fix."""
    from risk_manager.config.errors import ConfigError
    from risk_manager.config.loader import load_config

    try:
        loaded = load_config(directory)
        loaded.calendar()
        loaded.contracts()
        loaded.policy()
    except ConfigError as exc:
        count = len(exc.errors)
        lines = [f"config in {directory} is invalid ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  {issue}" for issue in exc.errors]
        return "\n".join(lines)
    except (ValueError, RuntimeError, ImportError, OSError) as exc:  # e.g. no CME calendar installed
        return f"config in {directory} cannot be used: {exc}"
    return loaded


def _print_accounts(accounts: Accounts) -> None:
    if accounts.statuses is None:
        why = accounts.note
        if why is None:  # the error itself went to stderr; its first line says what it is about
            first, *rest = (accounts.error or "").splitlines()
            why = f"{first.rstrip(':')} (see the error)" if rest else first
        typer.echo(f"  accounts: not shown: {why}")
        return
    if not accounts.statuses:
        typer.echo("  accounts: none (the store holds no account)")
        return
    clock = view.Clock(accounts.zone, accounts.as_of or datetime.now(UTC))
    # The heading is one line (a path stays greppable); each account is a panel of 80 columns.
    typer.echo(
        f"  accounts at the store's last record, {clock.at(format_time(clock.now), date=True)} "
        f"(rules from {accounts.config_dir}):"
    )
    console = Console(file=sys.stdout, width=min(Console().width, view.WIDTH), highlight=False)
    console.print(Group(*(view.account_panel(s.to_json(), clock) for s in accounts.statuses)))


def _info(store: StoreReader) -> dict[str, Any]:
    bounds = store.journal_bounds()
    # Per account, the last trading day that had activity: a daily reset opens an empty next day,
    # which says nothing (a replay always ends with one).
    latest: dict[int, Any] = {}
    for row in store.day_pnl():  # ordered by (account, day)
        active = row.trade_count or row.realized or row.fees
        if active or row.account not in latest:
            latest[row.account] = row
    return {
        "path": str(store.path),
        "schema_version": store.version().version,
        "meta": store.meta(),
        "counts": store.counts(),
        "journal": None
        if bounds is None
        else {
            "first_seq": bounds[0][0],
            "first_t": iso(bounds[0][1]),
            "last_seq": bounds[1][0],
            "last_t": iso(bounds[1][1]),
        },
        "active_lockouts": [
            {
                "account": r.account,
                "rule": r.rule,
                "scope": r.scope,
                "symbol": r.symbol,
                "reason": r.reason,
                "since": iso(r.since),
                "until": None if r.until is None else iso(r.until),
                "condition": r.condition,
            }
            for r in store.active_lockouts()
        ],
        "days": [
            {
                "account": r.account,
                "day": r.day.isoformat(),
                "realized": money(r.realized),
                "fees": money(r.fees),
                "net": money(r.net),
                "trades": r.trade_count,
            }
            for r in latest.values()
        ],
    }


@db_app.command(
    "prune", cls=PlainHelpCommand, short_help="Delete rows past their retention (--dry-run: count only)."
)
def prune(
    file: Path = typer.Argument(..., metavar="FILE", help="The store's database file.", show_default=False),
    journal_days: int = typer.Option(
        DEFAULT_JOURNAL_DAYS,
        "--journal-days",
        min=1,
        metavar="DAYS",
        help="Keep journal rows this many days.",
    ),
    audit_days: int = typer.Option(
        DEFAULT_AUDIT_DAYS,
        "--audit-days",
        metavar="DAYS",
        min=1,
        help="Keep audit rows, ended lockouts and resets this many days.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only count what would be deleted; the file is not written."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Delete rows past their retention (never what a restart needs, never an active lockout)."""
    now = datetime.now(UTC)
    try:
        if dry_run:
            with Store.open(file, readonly=True) as store:
                report = store.prune_preview(now, journal_days=journal_days, audit_days=audit_days)
        else:
            with Store.open(file, create=False) as store:
                report = store.prune(now, journal_days=journal_days, audit_days=audit_days)
    except StoreError as exc:
        _fail(str(exc), as_json, file)
    counts = {
        "journal": report.journal,
        "audit": report.audit,
        "lockouts": report.lockouts,
        "trades": report.trades,
        "resets": report.resets,
        "days": report.days,
    }
    verb = "would delete" if dry_run else "deleted"
    if as_json:
        key = "would_delete" if dry_run else "deleted"
        typer.echo(json.dumps({"path": str(file), "dry_run": dry_run, key: counts}, indent=2))
    else:
        typer.echo(f"{file}: {verb} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if dry_run:
            typer.echo("(dry run: nothing was deleted)")
    raise typer.Exit(EXIT_OK)
