"""Human output of `risk-manager replay`: decisions as readable lines that fit the terminal.

One decision is one heading line (local time with its zone abbreviation, account, rule, action and
what it acts on, e.g. ``MNQ H26``) followed by its full reason, indented and word-wrapped to the
terminal width. Nothing is ever cut: a reason is the product's explanation of what it did.
``--wide`` keeps the older one-row-per-decision table for wide terminals and log files, a table
per 1,000 decisions.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import COLOR_SYSTEMS, Console
from rich.control import strip_control_codes
from rich.table import Table
from rich.text import Text

from risk_manager.domain.actions import Action, ClosePosition, LockAccount
from risk_manager.domain.contracts import ContractIdError, parse_contract_id

__all__ = [
    "DecisionLines",
    "StyledLines",
    "describe_target",
    "local_time",
    "plain_table",
    "short_contract",
    "wide_table",
    "wide_tables",
    "wrapped",
]

INDENT = "    "
STYLES = {"lockout": "red", "flatten": "red", "close_position": "yellow", "unlock": "green"}


def local_time(t: datetime, zone: ZoneInfo, *, with_date: bool = True, millis: bool = False) -> str:
    """``2026-03-02 08:42:00 CST``: the display zone with its abbreviation (never a bare UTC time)."""
    local = t.astimezone(zone)
    # The wall-clock time's isoformat (HH:MM:SS, then .mmm truncated): a fifth of strftime's cost,
    # for the 200,000 headings of a busy day.
    text = local.time().isoformat(timespec="milliseconds" if millis else "seconds")
    if with_date:
        text = f"{local.strftime('%Y-%m-%d')} {text}"
    return f"{text} {local.tzname() or ''}"


@lru_cache(maxsize=4096)  # a replay names a few contracts in thousands of decisions
def short_contract(contract_id: str) -> str:
    """``CON.F.US.MNQ.H26`` -> ``MNQ H26``; an id that does not parse is shown whole."""
    try:
        parsed = parse_contract_id(contract_id)
    except ContractIdError:
        return contract_id
    return f"{parsed.root} {contract_id.rsplit('.', 1)[-1]}"


def wrapped(text: str, width: int, indent: str = INDENT, first_indent: str | None = None) -> list[str]:
    """``text`` word-wrapped to ``width`` columns; words longer than a line are split, never cut."""
    width = max(width, len(indent) + 10)
    first = indent if first_indent is None else first_indent
    # Nearly every line fits: answering it without textwrap (~10 us a line) is what lets a busy
    # day's 400,000 lines print in about a second. textwrap would only turn tabs, newlines and the
    # like into spaces (none in a printable text) and drop a trailing space, so the result is the
    # same (tested against textwrap).
    if text and len(first) + len(text) <= width and text[-1] != " " and text.isprintable():
        return [first + text]
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


class StyledLines:
    """Lines written to a rich Console's file exactly as ``console.print(Text(line), soft_wrap=True)``
    writes them (control codes stripped; on a terminal, a styled part wrapped in the escape codes
    rich's own ``Style.render`` makes for this console's colour system), but in blocks.

    ``console.print`` builds a renderable, its segments and a flush of the stream for every line:
    ~100 us a line, and a busy day's replay prints 400,000 lines. Call ``flush`` before anything
    else is printed on the console. ``hold``: nothing reaches the file before ``flush`` (the text
    is held in blocks meanwhile). A legacy Windows console, which rich drives through the win32 API
    rather than escape codes, is still printed to line by line.
    """

    # Characters written at a time at most (unless one line is longer), as rich does: a larger write
    # to a Windows console can fail (https://bugs.python.org/issue37871).
    BLOCK = 8 * 1024

    def __init__(self, console: Console, *, hold: bool = False) -> None:
        self.console = console
        self._direct = not (console.legacy_windows and console.is_terminal) and not console.is_jupyter
        self._colors = None if console.color_system is None else COLOR_SYSTEMS[console.color_system]
        self._rendered: dict[tuple[str, str], str] = {}
        self._hold = hold
        self._held: list[str | Text] = []  # blocks (or, printed by rich, lines) waiting for flush
        self._block: list[str] = []
        self._size = 0

    def line(self, text: str, style: str = "", start: int = 0, end: int | None = None) -> None:
        """Print ``text``, with ``style`` on ``text[start:end]`` (the whole line by default)."""
        if not self._direct:
            shown = Text(text)
            if style:
                shown.stylize(style, start, end)
            if self._hold:
                self._held.append(shown)
            else:
                self.console.print(shown, soft_wrap=True)
            return
        plain = text if text.isprintable() else strip_control_codes(text)  # as Text() does
        if style and self._colors is not None:
            stop = len(plain) if end is None else end
            plain = plain[:start] + self._styled(plain[start:stop], style) + plain[stop:]
        if self._size + len(plain) + 1 > self.BLOCK:
            self._write()
        self._block.append(plain)
        self._size += len(plain) + 1

    def flush(self) -> None:
        """Write what is held and pending; from now on nothing is held."""
        self._write()  # the block being filled: after the held ones
        self._hold = False
        for held in self._held:
            if isinstance(held, Text):
                self.console.print(held, soft_wrap=True)
            else:
                self.console.file.write(held)
        self._held = []
        self.console.file.flush()

    def _styled(self, text: str, style: str) -> str:
        key = (text, style)
        rendered = self._rendered.get(key)
        if rendered is None:
            console = self.console
            chosen = console.get_style(style)
            if console.no_color:  # NO_COLOR keeps bold and the like, as rich does
                chosen = chosen.without_color
            rendered = chosen.render(text, color_system=self._colors, legacy_windows=console.legacy_windows)
            if len(self._rendered) < 1024:  # the action kinds, a few dates: a bounded cache
                self._rendered[key] = rendered
        return rendered

    def _write(self) -> None:
        if self._block:
            self._block.append("")
            block = "\n".join(self._block)
            if self._hold:
                self._held.append(block)
            else:
                self.console.file.write(block)
            self._block = []
            self._size = 0


class DecisionLines:
    """Decisions one after the other, with a date line whenever the local date changes.

    ``add`` renders a decision (a few microseconds); the text reaches the console at ``flush``, or
    before with ``hold=False`` once a block is full. A replay adds its decisions as they come and
    holds them until it ends: it keeps a day's text rather than its 200,000 actions.
    """

    def __init__(self, console: Console, zone: ZoneInfo, *, hold: bool = False) -> None:
        self.zone = zone
        self.width = console.width
        self._out = StyledLines(console, hold=hold)
        self._day: date | None = None
        self._last: tuple[datetime, str, date] | None = None  # decisions often share an instant

    def print_all(self, decisions: Iterable[tuple[datetime, Action]]) -> None:
        """Add every decision, then flush (the console may be printed to again after this)."""
        try:
            for t, action in decisions:
                self.add(t, action)
        finally:
            self.flush()

    def flush(self) -> None:
        self._out.flush()

    def add(self, t: datetime, action: Action) -> None:
        out = self._out
        clock, day = self._clock(t)
        if day != self._day:
            self._day = day
            out.line(day.strftime("%A %Y-%m-%d"), "bold")
        kind = action.kind
        target = describe_target(action, self.zone, day)
        head = "  ".join(filter(None, (clock, f"acct {action.account_id}", action.rule, kind, target)))
        first, *more = wrapped(head, self.width, first_indent="")
        style = STYLES.get(kind)
        start = first.find(f"  {kind}") if style else -1
        if style and start >= 0:
            out.line(first, style, start + 2, start + 2 + len(kind))
        else:
            out.line(first)
        for line in more:
            out.line(line)
        reason = action.reason or getattr(action, "message", "") or ""
        if reason:
            for line in wrapped(reason, self.width):
                out.line(line)

    def _clock(self, t: datetime) -> tuple[str, date]:
        """The heading's local time and the local date of ``t``: worked out once per instant."""
        last = self._last
        if last is None or last[0] != t:
            clock = local_time(t, self.zone, with_date=False, millis=True)
            last = self._last = (t, clock, t.astimezone(self.zone).date())
        return last[1], last[2]


def describe_target(action: Action, zone: ZoneInfo, day: date) -> str:
    """What an action acts on, in a few words: contract, size, symbol, stop, end of a lockout."""
    parts: list[str] = []
    has = _described_by(type(action))
    contract = action.contract_id if "contract_id" in has else None  # type: ignore[attr-defined]
    if contract is not None:
        parts.append(short_contract(contract))
    if isinstance(action, ClosePosition):
        parts.append("all" if action.size is None else f"size {action.size}")
    symbol = action.symbol if "symbol" in has else None  # type: ignore[attr-defined]
    if symbol is not None:
        parts.append(symbol)
    stop = action.stop_price if "stop_price" in has else None  # type: ignore[attr-defined]
    if stop is not None:
        parts.append(f"stop {stop}")
    level = action.level if "level" in has else None  # type: ignore[attr-defined]
    if level is not None:
        parts.append(level)
    if isinstance(action, LockAccount):
        if action.until is not None:
            same_day = action.until.astimezone(zone).date() == day
            parts.append(f"until {local_time(action.until, zone, with_date=not same_day)}")
        elif action.condition is not None:
            parts.append(f"until {action.condition} clears")
    return " ".join(parts)


_DESCRIBED_BY: dict[type, frozenset[str]] = {}


def _described_by(kind: type) -> frozenset[str]:
    """Which of the attributes a target is described by an action class has: looked up once per
    class, since asking an action for one it lacks costs an exception each time."""
    has = _DESCRIBED_BY.get(kind)
    if has is None:
        names = ("contract_id", "symbol", "stop_price", "level")
        has = _DESCRIBED_BY[kind] = frozenset(name for name in names if hasattr(kind, name))
    return has


# Rows per --wide table. rich lays a table out from all of its rows at once and prints nothing until
# it is done (~1.5 ms and a few KB of memory a row): a busy day's 200,000 decisions as one table
# would print nothing for minutes and take gigabytes. Page by page, the first rows show at once.
WIDE_PAGE = 1_000


def wide_tables(decisions: Sequence[tuple[datetime, Action]], zone: ZoneInfo, title: str) -> Iterator[Table]:
    """``--wide``: one table row per decision (for wide terminals and logs), ``WIDE_PAGE`` rows a
    table; the first table has the title, every one has the column headings."""
    for start in range(0, len(decisions), WIDE_PAGE):
        yield wide_table(decisions[start : start + WIDE_PAGE], zone, title if start == 0 else None)


def wide_table(decisions: Iterable[tuple[datetime, Action]], zone: ZoneInfo, title: str | None) -> Table:
    """One table of ``--wide`` rows."""
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
