"""Entry point of the `risk-manager` command. Each command group lives in its own module with a
``register(app)`` function, so a command's code sits next to nothing else's."""

from __future__ import annotations

import importlib

import typer

from risk_manager.cli.help import command_group

app = command_group("risk-manager", "Real-time risk enforcement for TopstepX / ProjectX Gateway accounts.")


def _installed_version() -> str:
    # imported here: importlib.metadata is a twentieth of a second of start-up only --version needs
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("risk-manager")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"risk-manager {_installed_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Real-time risk enforcement for TopstepX / ProjectX Gateway accounts."""

COMMAND_MODULES = (
    "risk_manager.cli.demo_cmd",
    "risk_manager.cli.replay_cmd",
    "risk_manager.cli.config_cmd",
    "risk_manager.cli.sim_cmd",
    "risk_manager.cli.db_cmd",
    "risk_manager.cli.run_cmd",
    "risk_manager.cli.admin_cmd",
    "risk_manager.cli.trader_cmd",
    "risk_manager.cli.service_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    app(prog_name="risk-manager")  # also under `python -m risk_manager.cli.main`


if __name__ == "__main__":
    main()
