"""Help text as users read it: argument names (FILE), never typer's internal type tags.

Typer prints a required argument as ``{file}`` in the usage line and adds ``<path>`` after its name;
commands with arguments use this class instead (``app.command(cls=PlainHelpCommand)``). Options show
their ``metavar`` (DIR, TIME ...), which every option with a value sets.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand

__all__ = ["PlainHelpCommand", "command_group"]


def command_group(name: str, help: str) -> typer.Typer:
    """A command group as every group of ours is set up: help on no arguments, ``-h`` as ``--help``,
    plain help (typer's rich panels print internal type tags such as <bool> next to options), and no
    shell-completion options or pretty tracebacks."""
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def _name(param: Any) -> str:
    return param.metavar or (param.name or "").upper()


class PlainHelpCommand(TyperCommand):
    # Context and formatter are typer's (vendored) click types, not a public import: Any.
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(_name(param) if param.required else f"[{_name(param)}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                arguments.append((_name(param), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
