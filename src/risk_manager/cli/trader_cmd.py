"""`risk-manager trader …`: what the trader may see (everything) and do (clock in and out).

Every command asks the daemon over ``<data-dir>/control/trader.sock`` (or, on Windows, the
loopback port of ``trader.endpoint``). When no daemon answers, the read commands open the store
read-only, rebuild the view from it (the config is needed for the rules and the calendar:
``--config DIR``) and say plainly that the daemon is down. Every command has ``--json``: the
control API's answer as is. See docs/trader.md.

Exit codes: 0 answered; 1 the daemon is down (``daemon-status``, clock-in/out) or there is nothing to
read; 2 bad input (an option, a config that cannot be read).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, RenderableType

from risk_manager.cli import trader_view as view
from risk_manager.cli.help import PlainHelpCommand, command_group

EXIT_OK = 0
EXIT_DOWN = 1
EXIT_USAGE = 2
LIVE_INTERVAL = 1.0  # seconds between two refreshes of `status --live`

trader_app = command_group(
    "trader", "See your accounts, rules, lockouts and logs; clock in and out (read-only otherwise)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(trader_app, name="trader", short_help="Your accounts, rules, lockouts, logs; clock in/out.")


class Failure(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# ---- where the answers come from -------------------------------------------------------------------------


class Answers:
    """The daemon's answers over the trader socket, or -- daemon down -- the same answers built from
    the store (read-only) and the config."""

    def __init__(self, data_dir: Path | None, config_dir: Path | None) -> None:
        from risk_manager.cli.run_cmd import default_data_dir

        self.data_dir = data_dir if data_dir is not None else default_data_dir()
        self._config_dir = config_dir
        self._config: Any = None
        # Daemon down: the engine rebuilt from the store, kept while the store's files do not change
        # (`status --live` redraws every second; a rebuild replays the journal).
        self._offline: tuple[tuple[tuple[int, int] | None, ...], Any, datetime | None] | None = None
        self.rebuilds = 0  # how many times the store was replayed (the tests read it)

    def ask(self, path: str, **params: Any) -> dict[str, Any]:
        from risk_manager.daemon.control import ControlClient, ControlRefused, DaemonNotRunning
        from risk_manager.daemon.control.client import ControlError

        try:
            with ControlClient(self.data_dir, "trader") as client:
                answer = client.get(path, **params)
        except DaemonNotRunning:
            return self.offline(path, params)
        except ControlRefused as exc:
            raise Failure(exc.message, EXIT_USAGE if exc.status < 500 else EXIT_DOWN) from None
        except ControlError as exc:
            raise Failure(str(exc), EXIT_DOWN) from None
        answer.setdefault("daemon", {"running": True})
        return answer

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        from risk_manager.daemon.control import ControlClient, ControlRefused, DaemonNotRunning
        from risk_manager.daemon.control.client import ControlError

        try:
            with ControlClient(self.data_dir, "trader") as client:
                return client.post(path, body)
        except DaemonNotRunning:
            raise Failure(f"the daemon is not running (no answer in {self.data_dir / 'control'}): "
                          "clocking in and out is recorded by the daemon; ask the admin to start it",
                          EXIT_DOWN) from None
        except ControlRefused as exc:
            raise Failure(exc.message, EXIT_DOWN if exc.status == 409 else EXIT_USAGE) from None
        except ControlError as exc:
            raise Failure(str(exc), EXIT_DOWN) from None

    # ---- daemon down: the store, read-only ------------------------------------------------------------

    def config(self) -> Any:
        if self._config is None:
            from risk_manager.config.errors import ConfigError
            from risk_manager.config.loader import load_config
            from risk_manager.config.paths import default_config_dir

            directory = self._config_dir if self._config_dir is not None else default_config_dir()
            try:
                self._config = load_config(directory)
                self._config.calendar()
            except ConfigError as exc:
                raise Failure(f"the daemon is not running, and the config in {directory} cannot be read to "
                              "show the state from the store:\n" + "\n".join(f"  {i}" for i in exc.errors),
                              EXIT_USAGE) from None
            except (ValueError, RuntimeError, ImportError, OSError) as exc:
                raise Failure(f"the daemon is not running, and the config in {directory} cannot be used: "
                              f"{exc}", EXIT_USAGE) from None
        return self._config

    def offline(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        from risk_manager.daemon.control.market import market_hours

        now = datetime.now(UTC)
        config = self.config()
        zone = config.risk.general.timezone
        if path == "/v1/market-hours":
            answer = market_hours(config.calendar(), now)
            answer["daemon"] = self._down(now, zone, None)
            return answer
        from risk_manager.daemon.control.store_views import (
            BadQuery,
            LogQuery,
            log_rows,
            offline_statuses,
            pnl_breakdown,
            status_answer,
        )
        from risk_manager.engine.engine import Engine
        from risk_manager.store.codec import parse_iso
        from risk_manager.store.errors import StoreError
        from risk_manager.store.reader import StoreReader

        db = self.data_dir / "risk.db"
        if not db.exists():
            raise Failure(f"the daemon is not running, and there is no store at {db}: the daemon has never "
                          "run with this data directory (give the one `run` uses: --data-dir DIR)", EXIT_DOWN)
        if path == "/v1/status":
            return self._offline_status(db, params.get("account"), now, zone)
        try:
            with StoreReader.open(db) as reader:
                bounds = reader.journal_bounds()
                daemon = self._down(now, zone, None if bounds is None else bounds[1][1])
                if path == "/v1/logs":
                    try:
                        since = params.get("since")
                        query = LogQuery(**{**params, "since": parse_iso(since) if since else None})
                    except BadQuery as exc:
                        raise Failure(str(exc), EXIT_USAGE) from None
                    return {"daemon": daemon, "rows": log_rows(reader, query)}
                account = params.get("account")
                statuses = offline_statuses(
                    reader, lambda: Engine(config.policy(), config.calendar(), config.contracts()), now
                )
                if path == "/v1/pnl":
                    trades = reader.trades(account)
                    chosen = [s for s in statuses if account is None or s.account_id == account]
                    return {"daemon": daemon, "accounts": [pnl_breakdown(s, trades) for s in chosen]}
                return status_answer(statuses, daemon, account)
        except StoreError as exc:
            raise Failure(f"the daemon is not running, and the store cannot be read: {exc}",
                          EXIT_DOWN) from None

    def _offline_status(self, db: Path, account: int | None, now: datetime, zone: str) -> dict[str, Any]:
        """``/v1/status`` from the store: replayed once, then only when the store's files changed;
        in between the same engine is advanced to ``now`` (countdowns and lockout ends move on)."""
        from risk_manager.daemon.control.store_views import offline_engine, status_answer, statuses_at
        from risk_manager.engine.engine import Engine
        from risk_manager.store.errors import StoreError
        from risk_manager.store.reader import StoreReader

        signature = _files_signature(db)
        if self._offline is None or self._offline[0] != signature:
            config = self.config()
            try:
                with StoreReader.open(db) as reader:
                    bounds = reader.journal_bounds()
                    engine = offline_engine(
                        reader, lambda: Engine(config.policy(), config.calendar(), config.contracts()), now
                    )
            except StoreError as exc:
                raise Failure(f"the daemon is not running, and the store cannot be read: {exc}",
                              EXIT_DOWN) from None
            self._offline = (signature, engine, None if bounds is None else bounds[1][1])
            self.rebuilds += 1
        _signature, engine, last = self._offline
        return status_answer(statuses_at(engine, now), self._down(now, zone, last), account)

    @staticmethod
    def _down(now: datetime, zone: str, last: datetime | None) -> dict[str, Any]:
        from risk_manager.domain.actions import format_time

        return {
            "running": False,
            "pid": None,
            "started_at": None,
            "as_of": format_time(now),
            "timezone": zone,
            "last_record": None if last is None else format_time(last),
            "message": "The daemon is down: what follows is read from the store (as the daemon last "
                       "recorded it), and no rule is being enforced until it runs again.",
        }


def _files_signature(db: Path) -> tuple[tuple[int, int] | None, ...]:
    """(mtime, size) of the store and its write-ahead log: it changes whenever anything is written."""
    signature: list[tuple[int, int] | None] = []
    for path in (db, db.with_name(db.name + "-wal")):
        try:
            st = path.stat()
        except FileNotFoundError:
            signature.append(None)
        else:
            signature.append((st.st_mtime_ns, st.st_size))
    return tuple(signature)


# ---- shared options and output -------------------------------------------------------------------------

DATA_DIR = typer.Option(None, "--data-dir", metavar="DIR", show_default=False,
                        help="The daemon's data directory (default: as `run`).")
CONFIG_DIR = typer.Option(None, "--config", "-c", metavar="DIR", show_default=False,
                          help="Config directory, read when the daemon is down (default: as `run`).")
AS_JSON = typer.Option(False, "--json", help="Print the answer as JSON.")
ACCOUNT = typer.Option(None, "--account", metavar="ID", show_default=False, help="Only this account.")


def _console() -> Console:
    width = min(Console().width, view.WIDTH)
    return Console(width=width, highlight=False)


def _clock(answer: dict[str, Any]) -> view.Clock:
    daemon = answer.get("daemon", {})
    zone = answer.get("timezone") or daemon.get("timezone") or "UTC"
    return view.Clock(zone, datetime.now(UTC))


def _run(action: Callable[[], int | None]) -> None:
    try:
        code = action()
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise typer.Exit(exc.code) from None
    raise typer.Exit(code or EXIT_OK)


def _emit(answer: dict[str, Any], as_json: bool, draw: Callable[[dict[str, Any], view.Clock], RenderableType]
          ) -> None:
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    else:
        _console().print(draw(answer, _clock(answer)))


# ---- commands ----------------------------------------------------------------------------------------------


@trader_app.command("status", cls=PlainHelpCommand, short_help="P&L, rule gauges, positions, lockouts.")
def status_command(
    live: bool = typer.Option(False, "--live", help="Redraw every second until Ctrl-C."),
    account: int | None = ACCOUNT, data_dir: Path | None = DATA_DIR, config: Path | None = CONFIG_DIR,
    as_json: bool = AS_JSON,
) -> None:
    """Where each account stands: P&L, how close each rule is to its limit, positions, lockouts,
    the market session and the countdown to the next daily reset."""

    def go() -> int:
        if live and as_json:
            raise Failure("--live redraws a screen and --json prints once: use one of them", EXIT_USAGE)
        answers = Answers(data_dir, config)

        def frame() -> tuple[dict[str, Any], RenderableType]:
            answer = answers.ask("/v1/status", account=account)
            hours = answers.ask("/v1/market-hours")
            answer["market_hours"] = {k: v for k, v in hours.items() if k != "daemon"}
            return answer, view.status(answer, answer["market_hours"], _clock(answer))

        if not live:
            answer, drawing = frame()
            if as_json:
                typer.echo(json.dumps(answer, indent=2))
            else:
                _console().print(drawing)
            return EXIT_OK
        return _live(frame)

    _run(go)


def _live(frame: Callable[[], tuple[dict[str, Any], RenderableType]]) -> int:
    from rich.live import Live

    console = _console()
    _answer, drawing = frame()
    try:
        with Live(drawing, console=console, auto_refresh=False, screen=False) as screen:
            while True:
                time.sleep(LIVE_INTERVAL)
                _answer, drawing = frame()
                screen.update(drawing, refresh=True)
    except KeyboardInterrupt:
        return EXIT_OK


@trader_app.command("pnl", cls=PlainHelpCommand, short_help="The day's P&L by symbol.")
def pnl_command(
    account: int | None = ACCOUNT, data_dir: Path | None = DATA_DIR, config: Path | None = CONFIG_DIR,
    as_json: bool = AS_JSON,
) -> None:
    """The trading day's P&L of each account, by symbol: trades, position, realized, fees, unrealized."""
    _run(lambda: _emit(Answers(data_dir, config).ask("/v1/pnl", account=account), as_json, view.pnl))


@trader_app.command("rules", cls=PlainHelpCommand, short_help="Each rule's current value vs its limit.")
def rules_command(
    account: int | None = ACCOUNT, data_dir: Path | None = DATA_DIR, config: Path | None = CONFIG_DIR,
    as_json: bool = AS_JSON,
) -> None:
    """Each rule's running value against its limit (green < 50 %, amber, red > 80 %)."""

    def go() -> None:
        answer = Answers(data_dir, config).ask("/v1/status", account=account)
        shaped = {"daemon": answer["daemon"],
                  "accounts": [{"account_id": a["account_id"], "gauges": a["gauges"]}
                               for a in answer["accounts"]]}
        _emit(shaped, as_json, view.rules)

    _run(go)


@trader_app.command("lockouts", cls=PlainHelpCommand, short_help="Active lockouts and time left.")
def lockouts_command(
    account: int | None = ACCOUNT, data_dir: Path | None = DATA_DIR, config: Path | None = CONFIG_DIR,
    as_json: bool = AS_JSON,
) -> None:
    """Active lockouts: rule, reason, since, until and the time remaining."""

    def go() -> None:
        answer = Answers(data_dir, config).ask("/v1/status", account=account)
        now = datetime.now(UTC)
        from risk_manager.store.codec import parse_iso

        shaped = {"daemon": answer["daemon"], "accounts": [
            {"account_id": a["account_id"], "trading_state": a["trading_state"], "lockouts": [
                {**lk, "remaining_s": None if lk["until"] is None
                 else max(0.0, round((parse_iso(lk["until"]) - now).total_seconds(), 3))}
                for lk in a["lockouts"]]}
            for a in answer["accounts"]]}
        _emit(shaped, as_json, view.lockouts)

    _run(go)


@trader_app.command("logs", cls=PlainHelpCommand, short_help="The enforcement log.")
def logs_command(
    rule: str | None = typer.Option(None, "--rule", metavar="RULE", help="Only this rule, e.g. RULE-003."),
    level: str | None = typer.Option(None, "--level", metavar="LEVEL",
                                     help="At least this level: info, warning, error, critical."),
    since: str | None = typer.Option(None, "--since", metavar="WHEN",
                                     help="From this time (ISO-8601, e.g. 2026-03-02T14:30:00Z) or this "
                                          "long ago (90m, 2h, 1d)."),
    search: str | None = typer.Option(None, "--search", metavar="TEXT", help="Rows containing this text."),
    tail: int = typer.Option(50, "--tail", metavar="N", help="The last N rows."),
    account: int | None = ACCOUNT, data_dir: Path | None = DATA_DIR, config: Path | None = CONFIG_DIR,
    as_json: bool = AS_JSON,
) -> None:
    """What the daemon decided and did: enforcements, lockouts, unlocks, alerts, resets."""

    def go() -> None:
        when = None if since is None else _since(since, datetime.now(UTC))
        answer = Answers(data_dir, config).ask(
            "/v1/logs", rule=rule, level=level, since=when, search=search, tail=tail, account=account
        )
        _emit(answer, as_json, view.logs)

    _run(go)


_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _since(text: str, now: datetime) -> Any:
    from risk_manager.domain.actions import format_time
    from risk_manager.store.codec import parse_iso

    match = _RELATIVE.match(text.strip().lower())
    if match:
        return format_time(now - timedelta(**{_UNITS[match[2]]: int(match[1])}))
    try:
        at = parse_iso(text)
    except ValueError:
        raise Failure(f"--since {text!r}: give an ISO-8601 time (2026-03-02T14:30:00Z) or a duration "
                      "ago (90m, 2h, 1d)", EXIT_USAGE) from None
    return format_time(at)


@trader_app.command("market-hours", cls=PlainHelpCommand, short_help="Session, next close, holidays.")
def market_hours_command(
    data_dir: Path | None = DATA_DIR, config: Path | None = CONFIG_DIR, as_json: bool = AS_JSON,
) -> None:
    """Whether the session is open and until when, the next daily reset, holidays in the next 7 days."""
    _run(lambda: _emit(Answers(data_dir, config).ask("/v1/market-hours"), as_json, view.market_hours))


@trader_app.command("clock-in", cls=PlainHelpCommand, short_help="Start a trading session (a record).")
def clock_in_command(
    account: int | None = ACCOUNT, data_dir: Path | None = DATA_DIR, as_json: bool = AS_JSON,
) -> None:
    """Record the start of your trading session (changes no rule)."""

    def go() -> None:
        answer = Answers(data_dir, None).post("/v1/clock-in", {"account": account})
        _emit(answer, as_json, lambda a, c: view.clock_session(a, c, ended=False))

    _run(go)


@trader_app.command("clock-out", cls=PlainHelpCommand, short_help="End the session: duration, trades, P&L.")
def clock_out_command(
    account: int | None = ACCOUNT, data_dir: Path | None = DATA_DIR, as_json: bool = AS_JSON,
) -> None:
    """Record the end of your trading session; shows its duration, trades and P&L."""

    def go() -> None:
        answer = Answers(data_dir, None).post("/v1/clock-out", {"account": account})
        _emit(answer, as_json, lambda a, c: view.clock_session(a, c, ended=True))

    _run(go)


@trader_app.command("daemon-status", cls=PlainHelpCommand, short_help="Is the daemon guarding you?")
def daemon_status_command(data_dir: Path | None = DATA_DIR, as_json: bool = AS_JSON) -> None:
    """Whether the daemon runs (loudly when it does not), since when, and each account's feed."""

    def go() -> int:
        from risk_manager.daemon.control import ControlClient, ControlRefused, DaemonNotRunning

        answers = Answers(data_dir, None)
        try:
            with ControlClient(answers.data_dir, "trader") as client:
                status = client.get("/v1/status")
        except DaemonNotRunning as exc:
            answer: dict[str, Any] = {"daemon": {"running": False, "message": f"{exc}. Your accounts are "
                                                 "NOT guarded: ask the admin to start it."}}
            _emit(answer, as_json, view.daemon_status)
            return EXIT_DOWN
        except ControlRefused as exc:
            raise Failure(exc.message, EXIT_USAGE) from None
        answer = {"daemon": status["daemon"], "accounts": [
            {"account_id": a["account_id"], "connection": a["connection"]} for a in status["accounts"]]}
        _emit(answer, as_json, view.daemon_status)
        return EXIT_OK

    _run(go)
