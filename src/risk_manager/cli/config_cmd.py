"""`risk-manager config check`: load a config directory and show what it means, or every error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from risk_manager.config.errors import ConfigError, ConfigIssue
from risk_manager.config.loader import LoadedConfig, load_config
from risk_manager.config.models import SessionHoursConfig
from risk_manager.config.paths import default_config_dir
from risk_manager.config.rules_section import RulesBase
from risk_manager.config.runtime import build_rules
from risk_manager.domain.calendar import WEEKDAYS

EXIT_OK = 0
EXIT_INVALID = 2

config_app = typer.Typer(help="Check and explain configuration files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("check", short_help="Validate a config directory and show the rules it sets up.")
def check(
    config: Path = typer.Option(
        None, "--config", "-c", metavar="DIR",
        help="Config directory (default: the platform's config directory).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate the config directory; print the rules that will run (one line each) or every error."""
    directory = config if config is not None else default_config_dir()
    try:
        loaded = load_config(directory)
    except ConfigError as exc:
        if as_json:
            typer.echo(
                json.dumps(
                    {"ok": False, "directory": str(directory), "errors": [e.as_dict() for e in exc.errors]},
                    indent=2,
                )
            )
        else:
            typer.secho(
                f"Config in {directory} is invalid ({len(exc.errors)} problem"
                f"{'s' if len(exc.errors) != 1 else ''}):",
                fg="red",
                err=True,
            )
            for issue in exc.errors:
                typer.echo(f"  {issue}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    try:
        # Build what the daemon builds, so a config that validates but cannot run fails here too.
        loaded.calendar()
        loaded.policy()
        loaded.contracts()
    except (ValueError, RuntimeError, ImportError) as exc:
        message = f"config in {directory} cannot be used: {exc}"
        if as_json:
            issue = ConfigIssue(str(directory), None, "", None, message)
            typer.echo(
                json.dumps({"ok": False, "directory": str(directory), "errors": [issue.as_dict()]}, indent=2)
            )
        else:
            typer.secho(message, fg="red", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    nothing = no_rule_enabled(loaded)
    if as_json:
        result = summary(loaded)
        if nothing is not None:
            result["warnings"].insert(0, nothing.as_dict())
        typer.echo(json.dumps(result, indent=2))
    else:
        for line in summary_lines(loaded):
            typer.echo(line)
        if nothing is not None:
            # Last and on stderr, so it is the line a user sees even after a long summary.
            typer.secho(f"WARNING: {nothing}", fg="yellow", bold=True, err=True)
    raise typer.Exit(EXIT_OK)


def no_rule_enabled(loaded: LoadedConfig) -> ConfigIssue | None:
    """A warning when no account would have any rule: such a config would enforce nothing."""
    if any(build_rules(rules) for _, _, rules in rule_groups(loaded)):
        return None
    return ConfigIssue(
        "risk_config.yaml",
        None,
        "rules",
        None,
        "no rule is enabled, so nothing would be enforced on any account: set enabled: true on the "
        "rules you want under rules: (docs/configuration.md lists them)",
        "warning",
    )


# ---- presentation (also used by other commands that show the loaded config) -----------------------


def rule_groups(loaded: LoadedConfig) -> list[tuple[str, list[int] | None, RulesBase]]:
    """Distinct rule sets: (label, account ids or None for "every other account", rules)."""
    groups: list[tuple[str, list[int] | None, RulesBase]] = []
    own: list[tuple[RulesBase, list[int]]] = []
    for entry in loaded.accounts.accounts:
        if not entry.enabled or entry.id not in loaded.account_rules:
            continue
        rules = loaded.account_rules[entry.id]
        if rules == loaded.risk.rules:
            continue  # overrides that change nothing
        for seen_rules, ids in own:
            if seen_rules == rules:
                ids.append(entry.id)
                break
        else:
            own.append((rules, [entry.id]))
    monitor_all = loaded.accounts.monitor == "all_active"
    base_listed = [
        a.id for a in loaded.accounts.accounts if a.enabled and not any(a.id in ids for _, ids in own)
    ]
    if monitor_all:
        label = "Rules for every monitored account" if not own else "Rules for all other monitored accounts"
        groups.append((label, None, loaded.risk.rules))
    elif base_listed:
        groups.append(
            (
                f"Rules for account{'s' if len(base_listed) > 1 else ''} {_ids(loaded, base_listed)}",
                base_listed,
                loaded.risk.rules,
            )
        )
    for rules, ids in own:
        groups.append((f"Rules for account{'s' if len(ids) > 1 else ''} {_ids(loaded, ids)}", ids, rules))
    return groups


def _ids(loaded: LoadedConfig, ids: list[int]) -> str:
    parts = []
    for account_id in ids:
        entry = loaded.accounts.entry(account_id)
        parts.append(f"{account_id} ({entry.name})" if entry is not None and entry.name else str(account_id))
    return ", ".join(parts)


def _days(days: tuple[int, ...]) -> str:
    """``mon-fri``, ``sun-thu`` (a run may wrap the week), else a list in week order."""
    chosen = set(days)
    if 2 < len(chosen) < 7:
        for first in chosen:
            if (first - 1) % 7 not in chosen:
                run = [(first + i) % 7 for i in range(len(chosen))]
                if set(run) == chosen:
                    return f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}"
    if len(chosen) == 7:
        return "every day"
    return ",".join(WEEKDAYS[d] for d in sorted(chosen))


def _session_lines(hours: SessionHoursConfig | None) -> list[str]:
    if hours is None:
        return ["Sessions: none configured (session rules cannot be used)"]
    lines = [f"Session: {hours.start:%H:%M}-{hours.end:%H:%M} {hours.timezone} {_days(hours.days)}"]
    for root, window in hours.per_symbol.items():
        zone = window.timezone or hours.timezone
        days = window.days if window.days is not None else hours.days
        lines.append(f"Session for {root}: {window.start:%H:%M}-{window.end:%H:%M} {zone} {_days(days)}")
    return lines


def summary_lines(loaded: LoadedConfig) -> list[str]:
    timers = loaded.timers
    where = f" in {loaded.directory}" if loaded.directory else ""
    lines = [f"Config OK{where} ({', '.join(loaded.files)})"]
    reset = timers.daily_reset
    shown_in = loaded.risk.general.timezone
    lines.append(f"Daily reset: {reset.time:%H:%M} {reset.timezone}; times shown in {shown_in}")
    lines.extend(_session_lines(timers.session_hours))
    holidays = timers.holidays
    parts = ["CME calendar" if holidays.calendar == "cme" else "no exchange calendar"]
    if holidays.dates:
        parts.append("closed " + ", ".join(d.isoformat() for d in holidays.dates))
    if holidays.early_close:
        early = ", ".join(f"{e.date.isoformat()} {e.time:%H:%M}" for e in holidays.early_close)
        parts.append(f"early close {early}")
    lines.append("Holidays: " + "; ".join(parts))
    accounts = loaded.accounts
    if accounts.monitor == "all_active":
        monitored = "every active account"
    else:
        listed = [a.id for a in accounts.accounts if a.enabled]
        monitored = "only " + (", ".join(str(i) for i in listed) if listed else "(none)")
    off = [str(a.id) for a in accounts.accounts if not a.enabled]
    lines.append(f"Accounts: monitoring {monitored}" + (f"; not monitored: {', '.join(off)}" if off else ""))
    levels = ", ".join(f"{float(f * 100):g}%" for f in loaded.risk.general.warn_at)
    lines.append(f"Limit warnings: {levels} of each limit" if levels else "Limit warnings: none")
    for label, _, rules in rule_groups(loaded):
        lines.append(f"{label}:")
        instances = build_rules(rules)
        lines.extend(f"  {rule.describe()}" for rule in instances)
        if not instances:
            lines.append("  (no rule enabled)")
    if loaded.warnings:
        lines.append("Warnings:")
        lines.extend(f"  {warning}" for warning in loaded.warnings)
    return lines


def summary(loaded: LoadedConfig) -> dict[str, Any]:
    """The JSON form of ``config check`` (no secrets)."""
    timers = loaded.timers.model_dump(mode="json")
    return {
        "ok": True,
        "directory": str(loaded.directory) if loaded.directory else None,
        "files": list(loaded.files),
        "daily_reset": timers["daily_reset"],
        "display_timezone": loaded.risk.general.timezone,
        "session_hours": timers["session_hours"],
        "holidays": timers["holidays"],
        "monitor": loaded.accounts.monitor,
        "accounts": [
            {"id": a.id, "name": a.name, "enabled": a.enabled, "has_overrides": a.id in loaded.account_rules}
            for a in loaded.accounts.accounts
        ],
        "warn_at": [str(f) for f in loaded.risk.general.warn_at],
        "rule_sets": [
            {
                "label": label,
                "accounts": ids if ids is not None else "all_others",
                "rules": [
                    {
                        "id": rule.id,
                        "key": rule.key,
                        "description": rule.describe(),
                        "config": rule.config.model_dump(mode="json"),
                    }
                    for rule in build_rules(rules)
                ],
            }
            for label, ids, rules in rule_groups(loaded)
        ],
        "warnings": [w.as_dict() for w in loaded.warnings],
    }
