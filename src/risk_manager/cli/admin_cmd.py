"""`risk-manager admin …`: what the admin (never the trader) may do. Each sub-group lives in its own
module with a ``register(admin_app)`` function, listed in ``ADMIN_MODULES``."""

from __future__ import annotations

import importlib

import typer

from risk_manager.cli.help import PlainHelpCommand, command_group  # noqa: F401  (sub-modules use it)

admin_app = command_group("admin", "Configure the risk manager and control its daemon (admin role only).")

ADMIN_MODULES: tuple[str, ...] = (
    "risk_manager.cli.admin_config_cmd",
    "risk_manager.cli.admin_api_cmd",
    "risk_manager.cli.admin_daemon_cmd",
)


def register(app: typer.Typer) -> None:
    for name in ADMIN_MODULES:
        importlib.import_module(name).register(admin_app)
    if ADMIN_MODULES:
        app.add_typer(admin_app, name="admin", short_help="Configure the risk manager, control its daemon.")
