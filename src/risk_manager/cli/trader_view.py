"""Rich renderings of the control API's answers for ``risk-manager trader …`` (80 columns at most).

Everything drawn here comes from the answers' JSON (``AccountStatus.to_json`` and store rows): the
same drawing whether the daemon answered or the store was read with the daemon down. Times are
shown in the configured zone with its abbreviation; countdowns are taken against ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from risk_manager.store.codec import parse_iso

WIDTH = 80
BAR = 12
GREEN_BELOW = Decimal("0.5")
RED_ABOVE = Decimal("0.8")


class Clock:
    """Shows UTC answer times in the configured zone, and counts down to them from ``now``."""

    def __init__(self, zone: str, now: datetime) -> None:
        self.zone = ZoneInfo(zone)
        self.now = now

    def at(self, text: str | None, *, date: bool = False) -> str:
        if text is None:
            return "-"
        local = parse_iso(text).astimezone(self.zone)
        return local.strftime("%Y-%m-%d %H:%M %Z" if date else "%a %H:%M %Z")

    def left(self, text: str | None) -> str:
        """Time from now until ``text`` (an ISO time), e.g. ``3h 12m 05s``; ``now`` once passed."""
        if text is None:
            return "-"
        return countdown(parse_iso(text) - self.now)


def countdown(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "now"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def duration(seconds: float | None) -> str:
    return "-" if seconds is None else countdown(timedelta(seconds=seconds)) if seconds >= 1 else "0s"


def signed(text: str | None) -> Text:
    """An amount coloured by its sign (unknown: dim)."""
    if text is None:
        return Text("unknown", style="dim")
    value = Decimal(text)
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(f"{value:+,.2f}" if value else "0.00", style=style)


def gauge_style(fraction: Decimal | None) -> str:
    """green below 50 % of the limit, amber up to 80 %, red above."""
    if fraction is None:
        return "dim"
    if fraction < GREEN_BELOW:
        return "green"
    return "yellow" if fraction <= RED_ABOVE else "red"


def bar(fraction: Decimal | None, width: int = BAR) -> Text:
    if fraction is None:
        return Text("?" * width, style="dim")
    filled = min(width, int((fraction * width).to_integral_value()))
    text = Text("█" * filled, style=gauge_style(fraction))
    text.append("░" * (width - filled), style="dim")
    return text


# ---- the daemon's state ------------------------------------------------------------------------------


def daemon_banner(daemon: dict[str, Any], clock: Clock) -> RenderableType:
    """One line when the daemon runs; a loud red panel when it does not."""
    if daemon.get("running"):
        text = Text("daemon running", style="bold green")
        if daemon.get("pid") is not None:
            text.append(f"  pid {daemon['pid']}")
        if daemon.get("started_at"):
            text.append(f"  since {clock.at(daemon['started_at'], date=True)}")
        return text
    lines = Text("THE DAEMON IS NOT RUNNING: nothing is being enforced.\n", style="bold white on red")
    lines.append(daemon.get("message") or "", style="red")
    if daemon.get("last_record"):
        lines.append(f"\nLast record in the store: {clock.at(daemon['last_record'], date=True)}", style="red")
    return Panel(lines, border_style="red", width=WIDTH)


def daemon_status(answer: dict[str, Any], clock: Clock) -> RenderableType:
    daemon = answer["daemon"]
    parts: list[RenderableType] = [daemon_banner(daemon, clock)]
    if daemon.get("running"):
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        started = daemon.get("started_at")
        if started:
            table.add_row("uptime", duration((clock.now - parse_iso(started)).total_seconds()))
        for account in answer.get("accounts", []):
            table.add_row(f"account {account['account_id']}", _connection(account["connection"]))
        parts.append(table)
    return Group(*parts)


def _connection(state: str) -> Text:
    style = {"connected": "green", "reconnecting": "yellow", "connecting": "yellow"}.get(state, "red")
    return Text(f"feed {state}", style=style)


# ---- status ------------------------------------------------------------------------------------------


def status(answer: dict[str, Any], hours: dict[str, Any] | None, clock: Clock) -> RenderableType:
    parts: list[RenderableType] = [daemon_banner(answer["daemon"], clock)]
    accounts = answer.get("accounts", [])
    if not accounts:
        parts.append(Text("No account in view yet: the daemon has not seen any monitored account."))
    for account in accounts:
        parts.append(account_panel(account, clock))
    if hours is not None:
        parts.append(market_line(hours, clock))
    return Group(*parts)


def account_panel(account: dict[str, Any], clock: Clock) -> Panel:
    state = account["trading_state"]
    style = {"active": "green", "reducing": "yellow", "halted": "bold red"}[state]
    title = Text(f"Account {account['account_id']}  ")
    title.append(state.upper(), style=style)
    title.append("  ")
    title.append_text(_connection(account["connection"]))
    if account.get("name"):
        title.append(f"  {account['name']}", style="dim")
    title.truncate(WIDTH - 6, overflow="ellipsis")  # a long title would widen the panel past 80
    body: list[RenderableType] = [pnl_line(account)]
    gauges = account.get("gauges", [])
    if gauges:
        body.append(gauge_table(gauges))
    if account.get("positions"):
        body.append(position_table(account["positions"]))
    for lockout in account.get("lockouts", []):
        body.append(lockout_line(lockout, clock))
    reset = Text(f"Next reset in {clock.left(account['next_reset'])}", style="bold")
    reset.append(f" ({clock.at(account['next_reset'])})")
    body.append(reset)
    return Panel(Group(*body), title=title, title_align="left", width=WIDTH)


def pnl_line(account: dict[str, Any]) -> Text:
    text = Text("P&L  realized ")
    text.append_text(signed(account["realized"]))
    text.append("  unrealized ")
    text.append_text(signed(account["unrealized"]))
    text.append("  costs ")
    text.append(account["costs"])
    text.append("  total ")
    text.append_text(signed(account["net"]))
    return text


def gauge_table(gauges: list[dict[str, Any]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column("rule", no_wrap=True)
    table.add_column("name", no_wrap=True, max_width=24, overflow="ellipsis")
    table.add_column("bar", no_wrap=True)
    table.add_column("pct", justify="right", no_wrap=True)
    table.add_column("value", no_wrap=True)
    for gauge in gauges:
        fraction = None if gauge["fraction"] is None else Decimal(gauge["fraction"])
        style = "bold red" if gauge["breached"] else gauge_style(fraction)
        pct = "?" if fraction is None else f"{fraction * 100:.0f}%"
        name = (f"{gauge['subject']} " if gauge.get("subject") else "") + gauge["name"]
        value = f"{gauge['value'] if gauge['value'] is not None else '?'} / {gauge['limit']}"
        if gauge["unit"] != "USD":
            value += f" {gauge['unit']}"
        table.add_row(gauge["rule"], name, bar(fraction), Text(pct, style=style), value)
    return table


def position_table(positions: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for name, justify in (("symbol", "left"), ("size", "right"), ("avg", "right"), ("mark", "right"),
                          ("unrealized", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for p in positions:
        table.add_row(p["symbol"], f"{p['size']:+d}", p["average_price"], p["mark"] or "?",
                      signed(p["unrealized"]))
    return table


def lockout_line(lockout: dict[str, Any], clock: Clock) -> Text:
    what = lockout["rule"] + (f" {lockout['symbol']}" if lockout.get("symbol") else " account")
    text = Text("LOCKED ", style="bold red")
    text.append(what, style="red")
    if lockout.get("until"):
        text.append(f" until {clock.at(lockout['until'])} ({clock.left(lockout['until'])} left)")
    else:
        text.append(f" until {lockout.get('condition') or 'cleared'}")
    text.append(f": {lockout['reason']}", style="dim")
    return text


# ---- market hours --------------------------------------------------------------------------------------


def market_line(hours: dict[str, Any], clock: Clock) -> Text:
    session = hours["session"]
    if not session["configured"]:
        text = Text("Market: no session hours configured (always open)")
    elif session["open"]:
        text = Text("Market: ")
        text.append("OPEN", style="green")
        text.append(f", closes in {clock.left(session['closes_at'])} ({clock.at(session['closes_at'])})")
    else:
        text = Text("Market: ")
        text.append("CLOSED", style="red")
        text.append(f", opens in {clock.left(session['opens_at'])} ({clock.at(session['opens_at'])})")
    return text


def market_hours(answer: dict[str, Any], clock: Clock) -> RenderableType:
    parts: list[RenderableType] = []
    if "daemon" in answer and not answer["daemon"].get("running"):
        parts.append(daemon_banner(answer["daemon"], clock))
    parts.append(market_line(answer, clock))
    hours = answer["session"].get("hours")
    if hours:
        parts.append(Text(f"Session hours: {hours['start']}-{hours['end']} {hours['timezone']}"))
    reset = Text(f"Next daily reset in {clock.left(answer['next_reset'])}", style="bold")
    reset.append(f" ({clock.at(answer['next_reset'], date=True)})")
    parts.append(reset)
    if answer["holidays"]:
        table = Table(title="Holidays in the next 7 days", box=None, title_justify="left", pad_edge=False)
        table.add_column("date")
        table.add_column("")
        for day in answer["holidays"]:
            what = "closed" if day["closed"] else f"early close {clock.at(day['early_close'])}"
            table.add_row(day["date"], what)
        parts.append(table)
    else:
        parts.append(Text("No holiday or early close in the next 7 days."))
    return Group(*parts)


# ---- pnl, rules, lockouts, logs, clock -------------------------------------------------------------------


def pnl(answer: dict[str, Any], clock: Clock) -> RenderableType:
    parts: list[RenderableType] = [daemon_banner(answer["daemon"], clock)]
    for account in answer["accounts"]:
        table = Table(title=f"Account {account['account_id']} - trading day {account['trading_day']}",
                      title_justify="left", pad_edge=False, width=WIDTH)
        for name in ("symbol", "trades", "position", "realized", "fees", "unrealized", "net"):
            table.add_column(name, justify="left" if name == "symbol" else "right", no_wrap=True)
        for row in account["symbols"]:
            position = f"{row['position']:+d}" if row["position"] else "0"
            table.add_row(row["symbol"], str(row["trades"]), position, signed(row["realized"]), row["fees"],
                          signed(row["unrealized"]), signed(row["net"]))
        table.add_row(Text("total", style="bold"), str(account["trade_count"]), "",
                      signed(account["realized"]), account["costs"], signed(account["unrealized"]),
                      signed(account["net"]), style="bold")
        parts.append(table)
    return Group(*parts)


def rules(answer: dict[str, Any], clock: Clock) -> RenderableType:
    parts: list[RenderableType] = [daemon_banner(answer["daemon"], clock)]
    for account in answer["accounts"]:
        parts.append(Text(f"Account {account['account_id']}", style="bold"))
        if account["gauges"]:
            parts.append(gauge_table(account["gauges"]))
        else:
            parts.append(Text("  no rule with a running value"))
    return Group(*parts)


def lockouts(answer: dict[str, Any], clock: Clock) -> RenderableType:
    parts: list[RenderableType] = [daemon_banner(answer["daemon"], clock)]
    rows = [(a["account_id"], lk) for a in answer["accounts"] for lk in a["lockouts"]]
    if not rows:
        parts.append(Text("No active lockout.", style="green"))
        return Group(*parts)
    for account_id, lk in rows:
        what = f"{lk['rule']} " + (f"symbol {lk['symbol']}" if lk.get("symbol") else "account")
        table = Table(box=None, show_header=False, pad_edge=False, title_justify="left",
                      title=Text(f"Account {account_id}: {what}", style="bold red"))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(max_width=WIDTH - 12)
        table.add_row("reason", lk["reason"])
        table.add_row("since", clock.at(lk["since"], date=True))
        if lk.get("until"):
            table.add_row("until", clock.at(lk["until"], date=True))
            table.add_row("left", clock.left(lk["until"]))
        else:
            table.add_row("until", f"{lk.get('condition') or 'cleared'} (no fixed end)")
        parts.append(table)
    return Group(*parts)


def logs(answer: dict[str, Any], clock: Clock) -> RenderableType:
    parts: list[RenderableType] = []
    if not answer["daemon"].get("running"):
        parts.append(daemon_banner(answer["daemon"], clock))
    rows = answer["rows"]
    if not rows:
        parts.append(Text("No log row matches."))
        return Group(*parts)
    table = Table(pad_edge=False, box=None, header_style="bold", width=WIDTH)
    table.add_column("time", no_wrap=True)
    table.add_column("acct", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("reason / outcome", ratio=1, overflow="fold")
    level_style = {"info": "", "warning": "yellow", "error": "red", "critical": "bold red"}
    for row in rows:
        detail = row["reason"] or ""
        if row.get("outcome"):
            detail += f" -> {row['outcome']}"
        table.add_row(clock.at(row["t"]), str(row["account"]), row["rule"],
                      Text(row["kind"], style=level_style.get(row["level"], "")), detail)
    parts.append(table)
    return Group(*parts)


def clock_session(answer: dict[str, Any], clock: Clock, *, ended: bool) -> RenderableType:
    row = answer["clock"]
    if not ended:
        return Text(f"Clocked in on account {row['account']} at {clock.at(row['clock_in'], date=True)}.",
                    style="bold")
    text = Text(f"Clocked out of account {row['account']} at {clock.at(row['clock_out'], date=True)}.\n",
                style="bold")
    text.append(f"Session {duration(answer['duration_s'])}, {answer['trades']} trade(s), P&L ")
    text.append_text(signed(answer["pnl"]))
    return text
