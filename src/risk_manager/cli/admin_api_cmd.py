"""`risk-manager admin api …` and `admin unlock`: the gateway credentials (written owner-only, the key
never printed), the monitored accounts, and the audited unlock through the running daemon.
See docs/admin.md."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from risk_manager.cli.admin_config_cmd import (
    CONFIG_OPTION,
    DATA_OPTION,
    EXIT_RUNTIME,
    apply_edits,
    dirs,
    fail,
)
from risk_manager.cli.help import PlainHelpCommand

api_app = typer.Typer(help="Gateway credentials and accounts (api_config.yaml, accounts.yaml).",
                      no_args_is_help=True)


def register(admin_app: typer.Typer) -> None:
    admin_app.add_typer(api_app, name="api")
    admin_app.command("unlock", cls=PlainHelpCommand, short_help="End an account's lockout (when allowed).")(
        unlock
    )


# ---- api ---------------------------------------------------------------------------------------------


@api_app.command("set-credentials", short_help="Store the gateway username and API key (file mode 0600).")
def api_set_credentials(
    username: str | None = typer.Option(None, "--username", envvar="PROJECTX_USERNAME", metavar="NAME",
                                        help="The gateway username (default: asked; env PROJECTX_USERNAME)."),
    key_stdin: bool = typer.Option(False, "--api-key-stdin",
                                   help="Read the API key from the first line of standard input."),
    config: Path = CONFIG_OPTION,
    data_dir: Path = DATA_OPTION,
) -> None:
    """Write the username and API key to api_config.yaml, readable by its owner only (0600).

    The key is asked without echo, or read from --api-key-stdin or $PROJECTX_API_KEY; it is never
    printed."""
    from risk_manager.config.edit import EditRefused, set_values

    config_dir, data = dirs(config, data_dir)
    if username is None:
        username = typer.prompt("Gateway username")
    if key_stdin:
        api_key = sys.stdin.readline().strip()
    else:
        api_key = os.environ.get("PROJECTX_API_KEY") or typer.prompt("API key", hide_input=True)
    if not username.strip() or not api_key.strip():
        raise fail("both a username and an API key are needed")
    template = "# ProjectX gateway credentials: readable by the admin only (mode 0600). See docs/admin.md\n"
    try:
        edit = set_values(config_dir, "api_config.yaml",
                          [(("projectx", "username"), username.strip(), username.strip()),
                           (("projectx", "api_key"), api_key.strip(), None)],
                          template=template, secret=True)
    except EditRefused as exc:
        raise fail(str(exc)) from None
    apply_edits(config_dir, data, [edit])


@api_app.command("set-account", cls=PlainHelpCommand, short_help="Monitor an account (accounts.yaml).")
def api_set_account(
    account: int = typer.Argument(..., metavar="ID", help="The gateway's account id."),
    name: str | None = typer.Option(None, "--name", metavar="TEXT", help="A name to show for it."),
    only: bool = typer.Option(False, "--only", help="Also set monitor: listed (only listed accounts)."),
    config: Path = CONFIG_OPTION,
    data_dir: Path = DATA_OPTION,
) -> None:
    """List the account in accounts.yaml as enabled (added if absent)."""
    from risk_manager.config.edit import EditRefused, FileEdit, append_item, set_values

    config_dir, data = dirs(config, data_dir)
    path = config_dir / "accounts.yaml"
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else "monitor: all_active\n"
        ids = _listed_ids(text)
        values: list[tuple[Any, Any, str | None]] = []
        if only:
            values.append((("monitor",), "listed", "listed"))
        if account in ids:
            index = ids.index(account)
            values.append((("accounts", index, "enabled"), True, None))
            if name is not None:
                values.append((("accounts", index, "name"), name, None))
            edit = set_values(config_dir, "accounts.yaml", values)
        else:
            entry: dict[str, Any] = {"id": account}
            if name is not None:
                entry["name"] = name
            entry["enabled"] = True
            added = append_item(text, "accounts.yaml", ("accounts",), entry)
            staged = FileEdit("accounts.yaml", text if path.is_file() else None, added,
                              (f"accounts.yaml accounts: account {account} added",))
            if values:
                path_edit = _set_on(staged, values)
                staged = FileEdit("accounts.yaml", staged.before, path_edit[0], staged.changes + path_edit[1])
            edit = staged
    except (EditRefused, ValueError) as exc:
        raise fail(str(exc)) from None
    apply_edits(config_dir, data, [edit])


def _listed_ids(text: str) -> list[int]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(text) or {}
    entries = data.get("accounts") if isinstance(data, dict) else None
    listed = [e for e in entries or [] if isinstance(e, dict)]
    return [e["id"] if isinstance(e.get("id"), int) else -1 for e in listed]


def _set_on(edit: Any, values: list[tuple[Any, Any, str | None]]) -> tuple[str, tuple[str, ...]]:
    from risk_manager.config.edit import edit_value

    text, lines = edit.after, []
    for path, value, raw in values:
        text, old = edit_value(text, edit.name, path, value, raw=raw)
        if old != (raw or value):
            lines.append(f"accounts.yaml {'.'.join(map(str, path))}: {old} → {raw or value}")
    return text, tuple(lines)


# ---- unlock ------------------------------------------------------------------------------------------


def unlock(
    account: int = typer.Argument(..., metavar="ACCOUNT", help="The account id."),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why (kept in the audit trail)."),
    rule: str | None = typer.Option(None, "--rule", metavar="RULE",
                                    help="Only this rule's lockout (RULE-003)."),
    data_dir: Path = DATA_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """End an account's lockout now, with a reason kept in the audit trail.

    Refused unless risk_config.yaml sets admin.allow_unlock: true (by design a lockout holds until its
    own end)."""
    from risk_manager.daemon.control.client import ControlClient, ControlError, DaemonNotRunning

    if not reason.strip():
        raise fail("give a reason: --reason TEXT (it is kept in the audit trail)")
    _config_dir, data = dirs(config, data_dir)
    rule_id = _rule_id(rule) if rule is not None else None
    try:
        with ControlClient(data, "admin") as client:
            body = {"account": account, "reason": reason.strip(), "rule": rule_id}
            answer = client.post("/v1/unlock", body)
    except DaemonNotRunning as exc:
        raise fail(f"{exc}: a lockout is ended by the running daemon; start it first",
                    EXIT_RUNTIME) from None
    except ControlError as exc:
        raise fail(str(exc), EXIT_RUNTIME) from None
    for lockout in answer.get("unlocked") or []:
        where = f" {lockout.get('symbol')}" if lockout.get("symbol") else ""
        typer.secho(f"account {account}: {lockout.get('rule')}{where} lockout ended "
                    f"({lockout.get('reason')})", fg="green")
    typer.echo(f"reason kept in the audit trail: {reason.strip()}")


def _rule_id(rule: str) -> str:
    """``daily_realized_loss`` -> ``RULE-003``; an id as typed (upper-cased)."""
    from risk_manager.rules.registry import RULE_KEYS

    if rule in RULE_KEYS:
        return f"RULE-{RULE_KEYS.index(rule) + 1:03d}"
    return rule.upper()
