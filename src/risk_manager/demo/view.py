"""What the live demo shows: per account P&L, positions and rule gauges, the enforcements as they
happen (reason, outcome, latency), and the closing summary. Everything fits 80 columns: long text
wraps (overflow "fold"), nothing is cut with an ellipsis."""

from __future__ import annotations

from collections import Counter
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from risk_manager.demo.session import Entry, Session

__all__ = ["entry_lines", "live_view", "summary", "summary_json"]

SHOWN_ENTRIES = 8
REASON_INDENT = 9
WIDTH = 80


def _table(*columns: tuple[str, dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, expand=False, show_edge=False, padding=(0, 1))
    for title, options in columns:
        table.add_column(title, overflow="fold", **options)
    return table


def _money(value: Decimal) -> Text:
    return Text(f"{value:+,.2f}", style="red" if value < 0 else "green")


def accounts_table(session: Session) -> Table:
    table = _table(("acct", {"width": 4}), ("net P&L", {"width": 9, "justify": "right"}),
                   ("positions", {"width": 20}), ("gauges", {"width": 27}), ("state", {"width": 6}))
    for row in session.accounts:
        table.add_row(str(row.account_id), _money(row.net), row.positions, row.gauges,
                      Text(row.state, style="bold red" if row.state == "LOCKED" else "green"))
    return table


def _latency(entry: Entry) -> str:
    return "" if entry.latency_ms is None else f"{entry.latency_ms:.1f} ms"


def entry_lines(entry: Entry, zone: tzinfo) -> RenderableType:
    """``hh:mm:ss acct rule action -> outcome (latency)``, then the reason, indented and wrapped."""
    alert = entry.kind == "alert"
    head = Text(f"{entry.t.astimezone(zone):%H:%M:%S} {entry.account_id:>4} {entry.rule:<8} ",
                overflow="fold")
    head.append(f"alert ({entry.level})" if alert else entry.kind,
                style="yellow" if alert else "bold")
    if not alert:
        outcome = entry.outcome or "running"
        head.append(" -> ")
        head.append(outcome, style="red" if outcome.startswith("failed") else "green")
        if entry.latency_ms is not None:
            head.append(f" in {entry.latency_ms:.1f} ms", style="cyan")
    if not entry.reason:
        return head
    reason = Text(entry.reason, style="dim", overflow="fold")
    return Group(head, Padding(reason, (0, 0, 0, REASON_INDENT), expand=False))


def entries_block(entries: list[Entry], zone: tzinfo) -> RenderableType:
    if not entries:
        return Text("  (nothing yet)", style="dim")
    return Group(*(entry_lines(e, zone) for e in entries))


def live_view(session: Session) -> RenderableType:
    left = max(0.0, session.duration - session.elapsed)
    header = Text(f"risk-manager demo · live · {left:4.0f} s left · speed {session.speed:g}x",
                  style="bold")
    now = Text(f"now: {session.now_doing}", style="cyan")
    entries = session.journal.entries[-SHOWN_ENTRIES:]
    return Group(header, now, Text(""), accounts_table(session), Text(""),
                 Text("decisions (latest last)", style="bold"), entries_block(entries, session.zone))


def summary(session: Session) -> RenderableType:
    enforcements = session.journal.enforcements()
    counts = Counter(f"{e.rule} {e.kind}" for e in enforcements)
    alerts = len(session.journal.entries) - len(enforcements)
    lines: list[RenderableType] = [
        Text(""), accounts_table(session), Text(""),
        Text(f"Summary: {len(enforcements)} enforcement(s) and {alerts} alert(s) in "
             f"{min(session.elapsed, session.duration):.0f} s", style="bold"),
    ]
    for key, n in sorted(counts.items()):
        lines.append(Text(f"  {key}: {n}"))
    lines.append(Text(""))
    lines.append(entries_block(enforcements, session.zone))
    if session.script_error is not None:
        lines.append(Text(f"the scripted trader stopped early: {session.script_error}", style="red"))
    lines.append(Text("\nRun the daemon on your own accounts: risk-manager run --config DIR "
                      "(docs/daemon.md). Replay the sample day: risk-manager demo --replay."))
    return Group(*lines)


def summary_json(session: Session) -> dict[str, Any]:
    enforcements = session.journal.enforcements()
    return {
        "type": "summary",
        "seconds": round(min(session.elapsed, session.duration), 1),
        "speed": session.speed,
        "enforcements": [e.to_json() for e in enforcements],
        "counts": dict(sorted(Counter(f"{e.rule} {e.kind}" for e in enforcements).items())),
        "alerts": len(session.journal.entries) - len(enforcements),
        "accounts": [{"account": r.account_id, "name": r.name, "net": f"{r.net:.2f}",
                      "positions": r.positions, "state": r.state} for r in session.accounts],
        "script_error": None if session.script_error is None else str(session.script_error),
    }
