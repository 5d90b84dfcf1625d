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
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from risk_manager.demo.session import Entry, Session
from risk_manager.domain.status import AccountStatus, RuleGauge

__all__ = ["dashboard_line", "entry_lines", "live_view", "summary", "summary_json"]

SHOWN_ENTRIES = 8
REASON_INDENT = 9
WIDTH = 80
GAUGE_WIDTH = 20


def _table(*columns: tuple[str, dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, expand=False, show_edge=False, padding=(0, 1))
    for title, options in columns:
        table.add_column(title, overflow="fold", **options)
    return table


def _money(value: Decimal) -> Text:
    return Text(f"{value:+,.2f}", style="red" if value < 0 else "green")


def accounts_table(session: Session) -> RenderableType:
    """One row per account (net and open P&L, positions, trading state), then its rule gauges."""
    table = _table(("acct", {"width": 4}), ("name", {"width": 12}),
                   ("net P&L", {"width": 10, "justify": "right"}),
                   ("open P&L", {"width": 9, "justify": "right"}), ("positions", {"width": 22}),
                   ("state", {"width": 14}))
    for status in session.accounts:
        unrealized = Text("n/a", style="dim") if status.unrealized is None else _money(status.unrealized)
        table.add_row(str(status.account_id), status.name or "", _money(status.net), unrealized,
                      _positions(status), _state(status))
    gauges = _table(("acct", {"width": 4}), ("rule", {"width": 8}), ("of", {"width": 4}),
                    ("gauge", {"width": GAUGE_WIDTH}), ("", {"width": 5, "justify": "right"}),
                    ("value / limit", {"width": 27}))
    for status in session.accounts:
        for gauge in status.gauges:
            gauges.add_row(str(status.account_id), gauge.rule, gauge.subject or "", *_gauge(gauge))
    return Group(table, Text(""), gauges)


def _positions(status: AccountStatus) -> Text:
    if not status.positions:
        return Text("flat", style="dim")
    text = Text()
    for n, p in enumerate(status.positions):
        text.append(("\n" if n else "") + f"{p.size:+d} {p.symbol} @{p.average_price}")
    return text


def _state(status: AccountStatus) -> Text:
    state = str(status.trading_state)
    style = {"active": "green", "reducing": "yellow"}.get(state, "bold red")
    return Text(state if status.connection == "connected" else f"{state} ({status.connection})", style=style)


def _gauge(gauge: RuleGauge) -> tuple[RenderableType, str, str]:
    unit = gauge.unit
    limit = f"{gauge.limit:,.2f}" if unit == "USD" else f"{gauge.limit:g}"
    if gauge.value is None or gauge.fraction is None:
        return Text("no price yet", style="dim"), "", f"? / {limit} {unit}"
    value = f"{gauge.value:,.2f}" if unit == "USD" else f"{gauge.value:g}"
    fraction = float(gauge.fraction)
    colour = "red" if gauge.breached else "yellow" if fraction >= 0.75 else "green"
    bar = ProgressBar(total=1.0, completed=min(fraction, 1.0), width=GAUGE_WIDTH, complete_style=colour,
                      finished_style=colour)
    return bar, f"{fraction:.0%}", f"{value} / {limit} {unit}"


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


def dashboard_line(session: Session) -> Text:
    """Where the live dashboard is (or why there is none)."""
    if session.dashboard_port is None:
        return Text("dashboard: off (--no-dashboard)", style="dim")
    if session.dashboard_url is None:
        return Text(f"dashboard: could not listen on 127.0.0.1:{session.dashboard_port} (port in use? "
                    "try --dashboard-port 0)", style="yellow", overflow="fold")
    return Text.assemble(("dashboard: ", "bold"), (session.dashboard_url, "bold cyan underline"),
                         (" (open it in a browser while the demo runs)", "dim"), overflow="fold")


def live_view(session: Session) -> RenderableType:
    left = max(0.0, session.duration - session.elapsed)
    header = Text(f"risk-manager demo · live · {left:4.0f} s left · speed {session.speed:g}x",
                  style="bold")
    now = Text(f"now: {session.now_doing}", style="cyan")
    entries = session.journal.entries[-SHOWN_ENTRIES:]
    return Group(header, dashboard_line(session), now, Text(""), accounts_table(session), Text(""),
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
        "accounts": [status.to_json() for status in session.accounts],
        "script_error": None if session.script_error is None else str(session.script_error),
    }
