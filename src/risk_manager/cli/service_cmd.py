"""`risk-manager service install|uninstall|status`: run the daemon as a system service (docs/service.md).

Linux: a systemd unit run by a dedicated user; Windows: a pywin32 service under LocalSystem. Both are
set up so that the trader can read but not change the config and the data, cannot read the
credentials, and cannot stop the service.

Exit codes: 0 done; 1 could not be done (not root, systemctl failed); 2 bad input.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from risk_manager.cli.help import PlainHelpCommand, command_group

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

service_app = command_group(
    "service", "Install, remove or inspect the risk daemon as a system service (systemd or Windows)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(service_app, name="service", short_help="Run the daemon as a system service.")


def _default_dirs() -> tuple[Path, Path]:
    if sys.platform == "win32":
        from risk_manager.daemon.service.windows import program_data_dirs

        return program_data_dirs()
    from risk_manager.daemon.service.systemd import DEFAULT_CONFIG_DIR, DEFAULT_DATA_DIR

    return DEFAULT_CONFIG_DIR, DEFAULT_DATA_DIR


def _fail(text: str, code: int = EXIT_FAILED) -> typer.Exit:
    typer.echo(f"error: {text}", err=True)
    return typer.Exit(code)


@service_app.command("install", cls=PlainHelpCommand, short_help="Install the daemon as a boot-time service.")
def install_command(
    config: Path | None = typer.Option(
        None, "--config", metavar="DIR", show_default=False,
        help="The service's config directory (default: /etc/risk-manager; Windows: "
             "%ProgramData%\\risk-manager\\config)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", metavar="DIR", show_default=False,
        help="The service's data directory (default: /var/lib/risk-manager; Windows: "
             "%ProgramData%\\risk-manager\\data)."),
    source: Path | None = typer.Option(
        None, "--from", metavar="DIR", show_default=False,
        help="Copy the *.yaml files of this config directory into the service's config directory."),
    user: str = typer.Option("risk-manager", "--user", help="Linux: the system user the daemon runs as "
                             "(created when missing)."),
    trader_group: str | None = typer.Option(
        None, "--trader-group", metavar="GROUP", show_default=False,
        help="The trader's group: may read the config (never the credentials) and the data."),
    root: Path = typer.Option(Path("/"), "--root", metavar="DIR", help="Linux: install into this root "
                              "(an image being built) instead of /; users and systemctl are not touched."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be done; change nothing."),
) -> None:
    """Install the daemon as a service that starts at boot and restarts whenever it stops."""
    default_config, default_data = _default_dirs()
    config_dir, data = (config or default_config), (data_dir or default_data)
    if sys.platform == "win32":
        from risk_manager.daemon.service.windows import WindowsInstaller, WindowsPlan

        if source is not None and not dry_run:
            _copy_config(source, config_dir)
        _print(WindowsInstaller().install(WindowsPlan(config_dir, data, trader_group), dry_run=dry_run),
               dry_run)
        return
    from risk_manager.daemon.service.systemd import InstallError, LinuxInstaller, LinuxPlan

    _require_root(dry_run or root != Path("/"))
    installer = LinuxInstaller(root, run=_runner(root))
    plan = LinuxPlan(config_dir.absolute(), data.absolute(), user, trader_group)
    try:
        done = installer.install(plan, source, dry_run=dry_run)
    except InstallError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"installing failed at {exc.filename or 'a file'}: {exc.strerror}") from None
    _print(done, dry_run)
    if not dry_run:
        typer.echo(f"The daemon runs as {user}; see its state with `risk-manager service status` and "
                   f"`risk-manager admin daemon status --data-dir {data}`.")


@service_app.command("uninstall", cls=PlainHelpCommand, short_help="Stop and remove the service.")
def uninstall_command(
    root: Path = typer.Option(Path("/"), "--root", metavar="DIR",
                              help="Linux: the root it was installed into."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be done; change nothing."),
) -> None:
    """Stop and remove the service; the config and the data (lockouts, audit trail) are kept."""
    if sys.platform == "win32":
        from risk_manager.daemon.service.windows import WindowsInstaller

        _print(WindowsInstaller().uninstall(dry_run=dry_run), dry_run)
        return
    from risk_manager.daemon.service.systemd import InstallError, LinuxInstaller

    _require_root(dry_run or root != Path("/"))
    try:
        _print(LinuxInstaller(root, run=_runner(root)).uninstall(dry_run=dry_run), dry_run)
    except InstallError as exc:
        raise _fail(str(exc)) from None


@service_app.command("status", cls=PlainHelpCommand, short_help="Is the service installed, running, intact?")
def status_command(
    root: Path = typer.Option(Path("/"), "--root", metavar="DIR",
                              help="Linux: the root it was installed into."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """Whether the service is installed and running, and whether its files still have the owners and
    modes install gave them."""
    if sys.platform == "win32":
        from risk_manager.daemon.service.windows import WindowsInstaller

        state = WindowsInstaller().status()
        _show({"installed": state != "not installed", "manager": "windows", "state": state}, as_json)
        return
    from risk_manager.daemon.service.systemd import InstallError, LinuxInstaller, active_state, read_plan

    installer = LinuxInstaller(root)
    plan = read_plan(installer.unit_path)
    if plan is None:
        _show({"installed": False, "manager": "systemd", "unit": str(installer.unit_path)}, as_json)
        return
    try:
        drift = installer.drift(plan)
    except InstallError as exc:
        drift = [str(exc)]
    state = active_state() if root == Path("/") else "not asked (--root)"
    _show({"installed": True, "manager": "systemd", "unit": str(installer.unit_path), "state": state,
           "user": plan.user, "trader_group": plan.trader_group, "config_dir": str(plan.config_dir),
           "data_dir": str(plan.data_dir), "permission_drift": drift}, as_json)


def _require_root(exempt: bool) -> None:
    if not exempt and hasattr(os, "geteuid") and os.geteuid() != 0:
        raise _fail("installing a system service needs root: run it with sudo (or --dry-run to see the plan)")


def _runner(root: Path) -> Callable[[Sequence[str]], None]:
    """Commands (useradd, systemctl) run for real only on the live system, never under --root."""
    from risk_manager.daemon.service.systemd import run_command

    if root == Path("/"):
        return run_command

    def skip(command: Sequence[str]) -> None:
        typer.echo(f"  (skipped under --root: {' '.join(command)})")

    return skip


def _copy_config(source: Path, target: Path) -> None:
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for file in source.glob("*.yaml"):
        shutil.copyfile(file, target / file.name)


def _print(lines: list[str], dry_run: bool) -> None:
    if dry_run:
        typer.echo("Would (--dry-run, nothing changed):")
    for line in lines:
        typer.echo(f"  {line}")


def _show(status: dict[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(status, indent=2))
        return
    if not status["installed"]:
        typer.echo(f"The risk-manager service is NOT installed ({status['manager']}); "
                   "install it with `sudo risk-manager service install --from CONFIG_DIR`.")
        return
    typer.echo(f"risk-manager service ({status['manager']}): {status['state']}")
    for key in ("unit", "user", "trader_group", "config_dir", "data_dir"):
        if key in status:
            typer.echo(f"  {key.replace('_', ' ')}: {status[key] or '-'}")
    drift = status.get("permission_drift")
    if isinstance(drift, list):
        if drift:
            typer.echo("  PERMISSIONS CHANGED since install (run `service install` again to restore):")
            for line in drift:
                typer.echo(f"    {line}")
        else:
            typer.echo("  permissions: as installed")
