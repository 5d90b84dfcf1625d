"""`risk-manager admin config|timers …`: the admin's edits of the config (api and unlock: admin_api_cmd).

Every edit changes only the value asked for (config/edit.py: comments and layout kept), is checked
with the real loader on the would-be files before anything is written (refused with the loader's
reason, nothing written), is written atomically, and then says whether it took effect now: when a
daemon runs on the data directory it is asked to reload (control API, admin socket) and its answer is
shown; otherwise the change takes effect when the daemon starts. See docs/admin.md.

Exit codes: 0 done; 1 the daemon is not running or refused (reload, unlock); 2 refused input (an edit
that fails validation, an unknown rule, a bad time). The helpers here (options, ``apply_edits``) are
shared with admin_api_cmd.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from risk_manager.cli.help import PlainHelpCommand

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_REFUSED = 2

# `config set daily_realized_loss.limit -250`: a negative number is a value, not an option.
VALUE_ARGS = {"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]}

config_app = typer.Typer(help="View, change, validate and reload the configuration.", no_args_is_help=True)
timers_app = typer.Typer(help="The daily reset and the session hours (timers.yaml).", no_args_is_help=True)


def register(admin_app: typer.Typer) -> None:
    admin_app.add_typer(config_app, name="config")
    admin_app.add_typer(timers_app, name="timers")


# ---- common options --------------------------------------------------------------------------------

CONFIG_OPTION = typer.Option(
    None, "--config", "-c", metavar="DIR", show_default=False,
    help="Config directory (default as `run`: $RISK_MANAGER_CONFIG, else the platform's config directory).",
)
DATA_OPTION = typer.Option(
    None, "--data-dir", metavar="DIR", show_default=False,
    help="The daemon's data directory, where its control socket is (default as `run`).",
)
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")


def dirs(config: Path | None, data_dir: Path | None) -> tuple[Path, Path]:
    from risk_manager.cli.run_cmd import default_data_dir
    from risk_manager.config.paths import default_config_dir

    return (config if config is not None else default_config_dir(),
            data_dir if data_dir is not None else default_data_dir())


def fail(message: str, code: int = EXIT_REFUSED) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


# ---- the edit → validate → write → reload sequence ------------------------------------------------


def apply_edits(config_dir: Path, data_dir: Path, edits: Sequence[Any]) -> None:
    """Validate ``edits`` with the loader, write them, tell the daemon; raises typer.Exit when refused."""
    from risk_manager.config.edit import check_edits, write_edits
    from risk_manager.config.errors import ConfigError

    if not config_dir.is_dir():
        raise fail(f"config directory {config_dir} does not exist: pass --config DIR")
    lines = [line for edit in edits for line in edit.changes]
    if not lines:
        typer.echo("no change: the config already says so")
        raise typer.Exit(EXIT_OK)
    try:
        check_edits(config_dir, edits)
    except ConfigError as exc:
        typer.secho("refused, nothing written: the config would be invalid:", fg="red", err=True)
        for issue in exc.errors:
            typer.echo(f"  {issue}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    write_edits(config_dir, edits)
    for line in lines:
        typer.echo(f"changed {line}")
    tell_daemon(data_dir, lines)


def tell_daemon(data_dir: Path, lines: list[str]) -> None:
    from risk_manager.daemon.control.client import ControlClient, ControlError, DaemonNotRunning

    try:
        with ControlClient(data_dir, "admin") as client:
            answer = client.post("/v1/reload")
    except DaemonNotRunning:
        typer.echo("the daemon is not running: this takes effect when the daemon starts")
        return
    except ControlError as exc:
        typer.secho(f"saved, but the running daemon did not take the reload request ({exc}); its file "
                    "watcher applies the change within seconds, or restart it", fg="yellow")
        return
    if answer.get("error"):
        typer.secho(f"saved, but the daemon refused the config and keeps the running one: {answer['error']}",
                    fg="red", err=True)
        raise typer.Exit(EXIT_RUNTIME)
    changes = [str(c) for c in answer.get("changes") or []]
    restart = [c for c in changes if c.endswith("(needs a restart)")]
    if answer.get("applied"):
        applied = [c for c in changes if c not in restart]
    else:  # nothing left to apply: the daemon's file watcher applied this edit already
        applied = [line for line in lines if not read_at_start(line)]
    if applied:
        typer.secho("applied now: " + "; ".join(applied), fg="green")
    for line in restart:
        typer.secho(f"not in effect until the daemon restarts: {line}", fg="yellow")


def read_at_start(line: str) -> bool:
    """Whether an edit's change line is of a setting the daemon reads only at start (daemon/reload.py)."""
    return line.startswith(("api_config.yaml", "daemon.", "instruments", "accounts.yaml monitor")) or (
        line.startswith("accounts.yaml accounts") and (".enabled" in line or " added" in line)
    )


# ---- config ------------------------------------------------------------------------------------------


@config_app.command("view", short_help="Show the configuration in effect on disk (secrets masked).")
def config_view(
    config: Path = CONFIG_OPTION, data_dir: Path = DATA_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Show the configuration: what each rule does and every setting (secrets masked), and whether a
    daemon runs on the data directory (it applies the files as they are saved)."""
    config_dir, data = dirs(config, data_dir)
    loaded = _load(config_dir, as_json)
    running = _daemon_running(data)
    if as_json:
        typer.echo(json.dumps({"directory": str(loaded.directory), "files": list(loaded.files),
                               "daemon_running": running, "config": loaded.redacted()},
                              indent=2, default=str))
        return
    from risk_manager.cli.config_cmd import summary_lines

    for line in summary_lines(loaded):
        typer.echo(line)
    typer.echo(f"Daemon on {data}: " + ("running (it applies these files as they are saved)" if running
                                         else "not running (these files apply when it starts)"))


def _daemon_running(data_dir: Path) -> bool:
    from risk_manager.daemon.control.client import ControlClient, ControlError, ControlRefused

    try:
        with ControlClient(data_dir, "trader") as client:
            client.get("/v1/status")
    except ControlRefused:
        return True  # it answered
    except ControlError:
        return False
    return True


@config_app.command("validate", short_help="Check the config files with the daemon's own loader.")
def config_validate(
    config: Path = CONFIG_OPTION, data_dir: Path = DATA_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Check the config directory as the daemon would load it; exit 2 with every problem if invalid."""
    loaded = _load(dirs(config, data_dir)[0], as_json)
    warnings = [w.as_dict() for w in loaded.warnings]
    if as_json:
        typer.echo(json.dumps({"ok": True, "directory": str(loaded.directory), "errors": [],
                               "warnings": warnings}, indent=2))
        return
    typer.secho(f"valid: {loaded.directory} ({', '.join(loaded.files)})", fg="green")
    for warning in loaded.warnings:
        typer.secho(f"  warning: {warning}", fg="yellow")


def _load(directory: Path, as_json: bool = False) -> Any:
    from risk_manager.config.errors import ConfigError, ConfigIssue
    from risk_manager.config.loader import load_config

    try:
        loaded = load_config(directory)
        loaded.calendar()
        loaded.policy()
        loaded.contracts()
        return loaded
    except ConfigError as exc:
        issues = exc.errors
    except (ValueError, RuntimeError, ImportError) as exc:
        issues = [ConfigIssue(str(directory), None, "", None, f"cannot be used: {exc}")]
    if as_json:
        typer.echo(json.dumps({"ok": False, "directory": str(directory),
                               "errors": [i.as_dict() for i in issues], "warnings": []}, indent=2))
    else:
        typer.secho(f"config in {directory} is invalid:", fg="red", err=True)
        for issue in issues:
            typer.echo(f"  {issue}", err=True)
    raise typer.Exit(EXIT_REFUSED)


@config_app.command("set", cls=PlainHelpCommand, context_settings=VALUE_ARGS,
                    short_help="Change one setting: RULE.KEY VALUE (e.g. daily_realized_loss.limit -250).")
def config_set(
    key: str = typer.Argument(..., metavar="RULE.KEY", help="e.g. daily_realized_loss.limit, "
                              "max_contracts_per_instrument.instrument_limits.MNQ, general.timezone"),
    value: str = typer.Argument(..., metavar="VALUE", help="As written in YAML: -250, true, 30s, [RTY, ES]"),
    config: Path = CONFIG_OPTION,
    data_dir: Path = DATA_OPTION,
) -> None:
    """Set one value in risk_config.yaml, keeping every comment and the layout."""
    from risk_manager.config.edit import EditRefused, parse_typed_value, rule_path, set_values
    from risk_manager.rules.registry import RULE_KEYS

    config_dir, data = dirs(config, data_dir)
    try:
        path = rule_path(_rule_key(key.split(".", 1)[0]) + key[len(key.split(".", 1)[0]):], RULE_KEYS)
        if len(path) < 2 or (path[0] == "rules" and len(path) < 3):
            raise EditRefused(f"{key!r} names a whole section: write RULE.KEY, "
                              "e.g. daily_realized_loss.limit")
        edit = set_values(config_dir, "risk_config.yaml", [(path, parse_typed_value(value), value)])
    except (EditRefused, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    apply_edits(config_dir, data, [edit])


def _rule_key(name: str) -> str:
    """``RULE-003`` -> ``daily_realized_loss``; anything else as typed."""
    if re.fullmatch(r"(?i)rule-\d+", name):
        from risk_manager.rules.registry import RULE_KEYS

        number = int(name.split("-", 1)[1])
        if 1 <= number <= len(RULE_KEYS):
            return RULE_KEYS[number - 1]
    return name


def _enable(rule: str, on: bool, config: Path | None, data_dir: Path | None) -> None:
    from risk_manager.config.edit import EditRefused, rule_path, set_values
    from risk_manager.rules.registry import RULE_KEYS

    config_dir, data = dirs(config, data_dir)
    try:
        key = _rule_key(rule)
        path = rule_path(key, RULE_KEYS)
        if path[0] != "rules" or len(path) != 2:
            raise EditRefused(f"{rule!r} is not a rule: name one of {', '.join(RULE_KEYS)}")
        edit = set_values(config_dir, "risk_config.yaml", [((*path, "enabled"), on, None)])
    except (EditRefused, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    apply_edits(config_dir, data, [edit])


RULE_ARG = typer.Argument(..., metavar="RULE", help="The rule's name (daily_realized_loss) or id (RULE-003).")


@config_app.command("enable", cls=PlainHelpCommand, short_help="Turn a rule on.")
def config_enable(rule: str = RULE_ARG, config: Path = CONFIG_OPTION, data_dir: Path = DATA_OPTION) -> None:
    """Set enabled: true on a rule (refused if its settings are incomplete: the loader says which)."""
    _enable(rule, True, config, data_dir)


@config_app.command("disable", cls=PlainHelpCommand, short_help="Turn a rule off.")
def config_disable(rule: str = RULE_ARG, config: Path = CONFIG_OPTION, data_dir: Path = DATA_OPTION) -> None:
    """Set enabled: false on a rule."""
    _enable(rule, False, config, data_dir)


@config_app.command("reload", short_help="Ask the running daemon to apply the config files now.")
def config_reload(data_dir: Path = DATA_OPTION, config: Path = CONFIG_OPTION) -> None:
    """Ask the running daemon to read its config directory again and apply what changed."""
    from risk_manager.daemon.control.client import ControlClient, ControlError, DaemonNotRunning

    _config_dir, data = dirs(config, data_dir)
    try:
        with ControlClient(data, "admin") as client:
            answer = client.post("/v1/reload")
    except DaemonNotRunning as exc:
        raise fail(f"{exc}: the config takes effect when the daemon starts", EXIT_RUNTIME) from None
    except ControlError as exc:
        raise fail(str(exc), EXIT_RUNTIME) from None
    if answer.get("error"):
        raise fail(f"the daemon refused the config and keeps the running one:\n{answer['error']}",
                    EXIT_RUNTIME)
    changes = [str(c) for c in answer.get("changes") or []]
    if not changes:
        typer.echo("no change: the daemon already runs with the config on disk")
    for line in changes:
        restart = line.endswith("(needs a restart)")
        typer.secho(("not in effect until the daemon restarts: " if restart else "applied now: ") + line,
                    fg="yellow" if restart else "green")


# ---- timers ------------------------------------------------------------------------------------------


@timers_app.command("view", short_help="The daily reset, sessions and holidays, and the next reset.")
def timers_view(
    config: Path = CONFIG_OPTION, data_dir: Path = DATA_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Show the daily reset, the session hours, the holidays and when the next reset is."""
    loaded = _load(dirs(config, data_dir)[0], as_json)
    calendar = loaded.calendar()
    now = datetime.now(UTC)
    next_reset = calendar.next_reset(now)
    timers = loaded.timers
    if as_json:
        data = timers.model_dump(mode="json")
        data["next_reset"] = next_reset.isoformat()
        data["display_timezone"] = loaded.risk.general.timezone
        typer.echo(json.dumps(data, indent=2))
        return
    from risk_manager.cli.config_cmd import summary_lines

    reset = timers.daily_reset
    typer.echo(f"Daily reset: {reset.time:%H:%M} {reset.timezone}")
    typer.echo(f"Next reset: {calendar.show(next_reset)} (in {_span(next_reset - now)})")
    for line in summary_lines(loaded)[2:]:
        if line.startswith(("Session", "Holidays")):
            typer.echo(line)


def _span(delta: Any) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


@timers_app.command("set-reset-time", cls=PlainHelpCommand, short_help="When the trading day ends.")
def timers_set_reset_time(
    at: str = typer.Argument(..., metavar="HH:MM", help="e.g. 17:00"),
    zone: str = typer.Argument(..., metavar="ZONE", help="An IANA time zone, e.g. America/Chicago"),
    config: Path = CONFIG_OPTION,
    data_dir: Path = DATA_OPTION,
) -> None:
    """Set the daily reset (timers.yaml daily_reset), DST-correct in ZONE."""
    from risk_manager.config.edit import EditRefused, set_values

    config_dir, data = dirs(config, data_dir)
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", at):
        raise fail(f"{at!r} is not a time: write HH:MM on a 24-hour clock, e.g. 17:00")
    name = "timers_config.yaml" if (config_dir / "timers_config.yaml").is_file() else "timers.yaml"
    try:
        edit = set_values(config_dir, name, [(("daily_reset", "time"), at, None),
                                             (("daily_reset", "timezone"), zone, zone)])
    except (EditRefused, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    apply_edits(config_dir, data, [edit])
