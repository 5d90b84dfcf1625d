"""Human output of `risk-manager replay`: decisions as readable lines that fit the terminal.

One decision is one heading line (local time with its zone abbreviation, account, rule, action and
what it acts on, e.g. ``MNQ H26``) followed by its full reason, indented and word-wrapped to the
terminal width. Nothing is ever cut: a reason is the product's explanation of what it did.
``--wide`` keeps the older one-row-per-decision table for wide terminals and log files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from risk_manager.domain.actions import Action, ClosePosition, LockAccount
from risk_manager.domain.contracts import ContractIdError, parse_contract_id

__all__ = [
    "DecisionLines",
    "describe_target",
    "local_time",
    "plain_table",
    "short_contract",
    "wide_table",
    "wrapped",
]

INDENT = "    "
STYLES = {"lockout": "red", "flatten": "red", "close_position": "yellow", "unlock": "green"}


def local_time(t: datetime, zone: ZoneInfo, *, with_date: bool = True, millis: bool = False) -> str:
    """``2026-03-02 08:42:00 CST``: the display zone with its abbreviation (never a bare UTC time)."""
    local = t.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    if millis:
        text += f".{local.microsecond // 1000:03d}"
    return f"{text} {local.strftime('%Z')}"


def short_contract(contract_id: str) -> str:
    """``CON.F.US.MNQ.H26`` -> ``MNQ H26``; an id that does not parse is shown whole."""
    try:
        parsed = parse_contract_id(contract_id)
    except ContractIdError:
        return contract_id
    return f"{parsed.root} {contract_id.rsplit('.', 1)[-1]}"


def wrapped(text: str, width: int, indent: str = INDENT, first_indent: str | None = None) -> list[str]:
    """``text`` word-wrapped to ``width`` columns; words longer than a line are split, never cut."""
    return textwrap.wrap(
        text,
        width=max(width, len(indent) + 10),
        initial_indent=indent if first_indent is None else first_indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


class DecisionLines:
    """Prints decisions one after the other, with a date line whenever the local date changes."""

    def __init__(self, console: Console, zone: ZoneInfo) -> None:
        self.console = console
        self.zone = zone
        self._day: date | None = None

    def print(self, t: datetime, action: Action) -> None:
        day = t.astimezone(self.zone).date()
        if day != self._day:
            self._day = day
            self.console.print(Text(day.strftime("%A %Y-%m-%d"), style="bold"), soft_wrap=True)
        head = "  ".join(
            part
            for part in (
                local_time(t, self.zone, with_date=False, millis=True),
                f"acct {action.account_id}",
                action.rule,
                action.kind,
                describe_target(action, self.zone, day),
            )
            if part
        )
        width = self.console.width
        for n, line in enumerate(wrapped(head, width, first_indent="")):
            text = Text(line)
            if n == 0:
                start = line.find(f"  {action.kind}")
                if start >= 0 and action.kind in STYLES:
                    text.stylize(STYLES[action.kind], start + 2, start + 2 + len(action.kind))
            self.console.print(text, soft_wrap=True)
        reason = action.reason or getattr(action, "message", "") or ""
        if reason:
            for line in wrapped(reason, width):
                self.console.print(Text(line), soft_wrap=True)


def describe_target(action: Action, zone: ZoneInfo, day: date) -> str:
    """What an action acts on, in a few words: contract, size, symbol, stop, end of a lockout."""
    parts: list[str] = []
    contract = getattr(action, "contract_id", None)
    if contract is not None:
        parts.append(short_contract(contract))
    if isinstance(action, ClosePosition):
        parts.append("all" if action.size is None else f"size {action.size}")
    symbol = getattr(action, "symbol", None)
    if symbol is not None:
        parts.append(symbol)
    stop = getattr(action, "stop_price", None)
    if stop is not None:
        parts.append(f"stop {stop}")
    level = getattr(action, "level", None)
    if level is not None:
        parts.append(level)
    if isinstance(action, LockAccount):
        if action.until is not None:
            same_day = action.until.astimezone(zone).date() == day
            parts.append(f"until {local_time(action.until, zone, with_date=not same_day)}")
        elif action.condition is not None:
            parts.append(f"until {action.condition} clears")
    return " ".join(parts)


def wide_table(decisions: Iterable[tuple[datetime, Action]], zone: ZoneInfo, title: str) -> Table:
    """``--wide``: one table row per decision (for wide terminals and logs)."""
    table = Table(title=title, title_justify="left", expand=False)
    for name in ("Time", "Account", "Rule", "Action", "Details", "Reason"):
        table.add_column(name, overflow="fold", justify="right" if name == "Account" else "left")
    for t, action in decisions:
        style = STYLES.get(action.kind, "")
        details = describe_target(action, zone, t.astimezone(zone).date())
        table.add_row(
            local_time(t, zone, millis=True),
            str(action.account_id),
            action.rule,
            Text(action.kind, style=style),
            Text(details),
            Text(action.reason or getattr(action, "message", "") or ""),
        )
    return table


def plain_table(title: str, columns: Iterable[tuple[str, str]], rows: Iterable[Iterable[Any]]) -> Table:
    """A summary table whose cells wrap rather than being cut with an ellipsis."""
    table = Table(title=title, title_justify="left")
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    return table
