"""Entry point of the `risk-manager` command. Each command group lives in its own module with a
``register(app)`` function, so a command's code sits next to nothing else's."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="risk-manager",
    help="Real-time risk enforcement for TopstepX / ProjectX Gateway accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (
    "risk_manager.cli.demo_cmd",
    "risk_manager.cli.replay_cmd",
    "risk_manager.cli.config_cmd",
    "risk_manager.cli.sim_cmd",
    "risk_manager.cli.db_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
