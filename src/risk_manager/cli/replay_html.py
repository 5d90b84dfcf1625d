"""`risk-manager replay FILE --html OUT.html`: the replayed day as one self-contained web page.

One file, nothing fetched: the page template and its script (``web/report/``), the vendored uPlot
library and the data are all inlined, so the report opens from a mail attachment or a USB stick on a
machine without network. The data is one JSON blob: each account's P&L curve (``replay.pnl_curve``,
thinned to a few thousand points) with its decisions marked, and every decision shown. The decision
table and the summary (the text output's, from the same ``AccountStatus`` records) are HTML written
here, so they read without JavaScript too.

Times are UTC in the data; everything a person reads is in the configured display zone with its
abbreviation, whatever zone the browser is in: the table's times are written here, and the charts get
the zone's UTC offsets over the day (``zone.spans``) rather than trusting the browser's own zone.

Nothing from the configuration is written except the loss limit and profit target of each account;
reasons and names are escaped (HTML here, ``<`` ``>`` ``&`` inside the JSON blob), and the script
sets text, never markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from risk_manager.cli.replay_view import describe_target, local_time
from risk_manager.domain.actions import Action
from risk_manager.domain.money import money
from risk_manager.domain.status import AccountStatus
from risk_manager.replay.pnl_curve import CurvePoint, PnlCurves, thin
from risk_manager.web import asset_text

if TYPE_CHECKING:
    from risk_manager.cli.replay_cmd import ReplayReport

__all__ = ["ReportPage", "check_output_path", "render_report", "report_data", "zone_spans"]


@dataclass(frozen=True, slots=True)
class ReportPage:
    """What the page shows, as gathered by the replay command."""

    recording: Path
    zone: ZoneInfo
    decisions: Sequence[tuple[datetime, Action]]
    report: ReplayReport
    statuses: Sequence[AccountStatus]  # the accounts shown, at the end
    curves: PnlCurves
    wanted: frozenset[int]  # --account (empty: all)
    until: datetime | None


def check_output_path(path: Path) -> str | None:
    """Why ``path`` cannot take the report (checked before replaying), or None when it can."""
    if path.is_dir():
        return f"--html {path}: is a directory; name the report file, e.g. {path / 'report.html'}"
    parent = path.parent
    if not parent.exists():
        return f"--html {path}: the directory {parent} does not exist; create it or name another file"
    if not parent.is_dir():
        return f"--html {path}: {parent} is not a directory; name a file in an existing directory"
    return None


def write_report(path: Path, page: ReportPage) -> str | None:
    """Write the page to ``path``; the error text when that fails, else None."""
    text = render_report(page)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        return f"--html {path}: cannot write the report ({exc.strerror or exc}); name a writable file"
    return None


# ---- the data blob ------------------------------------------------------------------------------


def report_data(page: ReportPage) -> dict[str, Any]:
    """The JSON the page's script draws from: ``zone`` and ``accounts`` (curves, limits, markers). A
    marker lists the numbers of the decisions it stands for, in decision order: their rows of the
    decision table, where the script reads their words (they are not repeated here)."""
    zone = page.zone
    by_account: dict[int, list[int]] = {}
    for index, (_, action) in enumerate(page.decisions):
        by_account.setdefault(action.account_id, []).append(index)
    names = {s.account_id: s.name for s in page.statuses}
    accounts = []
    for account_id in page.curves.account_ids:
        if page.wanted and account_id not in page.wanted:
            continue
        points = thin(page.curves.points(account_id))
        accounts.append(_account(account_id, names.get(account_id), points, page, by_account))
    stats = page.report.stats
    times = [t for t in (stats.first_t, stats.last_t) if t is not None] + [t for t, _ in page.decisions[:1]]
    spans = zone_spans(zone, min(times), max(times)) if times else [[-1e12, 0, "UTC"]]
    return {
        "recording": page.recording.name,
        "zone": {"name": str(zone.key), "spans": spans},
        "accounts": accounts,
        "decision_count": len(page.decisions),
    }


def _account(
    account_id: int,
    name: str | None,
    points: list[CurvePoint],
    page: ReportPage,
    by_account: dict[int, list[int]],
) -> dict[str, Any]:
    index_of = {p.t: i for i, p in enumerate(points)}
    marks: dict[int, list[int]] = {}
    for decision in by_account.get(account_id, ()):
        found = index_of.get(page.decisions[decision][0])
        if found is not None:
            marks.setdefault(found, []).append(decision)
    limits = page.curves.limits(account_id)
    return {
        "id": account_id,
        "name": name,
        "loss_limit": _number(limits.loss_limit),
        "profit_target": _number(limits.profit_target),
        "t": [_seconds(p.t) for p in points],
        "realized": [_number(p.realized) for p in points],
        "net": [_number(p.net) for p in points],
        "marks": sorted(marks.items()),
        "decisions": len(by_account.get(account_id, ())),
    }


def _reason(action: Action) -> str:
    return action.reason or getattr(action, "message", "") or ""


def _seconds(t: datetime) -> float:
    # uPlot's time axis counts seconds; milliseconds are kept as decimals.
    return round(t.timestamp(), 3)


def _number(value: Decimal | None) -> float | None:
    # A display coordinate for the chart: the exact figures are in the tables.
    return None if value is None else float(value)


def zone_spans(zone: ZoneInfo, start: datetime, end: datetime) -> list[list[Any]]:
    """``[[utc seconds from, UTC offset in seconds, abbreviation], ...]`` covering a day either side of
    [start, end]: what the page needs to show the zone's wall time in any browser."""

    def offset(t: datetime) -> tuple[int, str]:
        local = t.astimezone(zone)
        delta = local.utcoffset() or timedelta(0)
        return int(delta.total_seconds()), local.strftime("%Z")

    t = (start - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    stop = end + timedelta(days=1)
    current = offset(t)
    spans: list[list[Any]] = [[-1e12, *current]]
    while t < stop:
        following = t + timedelta(hours=1)
        changed = offset(following)
        if changed != current:
            low, high = t, following  # the change happens in (low, high]: find its second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            spans.append([int(high.timestamp()), *changed])
            current = changed
        t = following
    return spans


# ---- the page -----------------------------------------------------------------------------------

_SLOT = re.compile(r"\{\{(\w+)\}\}")


def render_report(page: ReportPage) -> str:
    """The whole self-contained HTML page."""
    zone = page.zone
    stats = page.report.stats
    span = ""
    if stats.first_t is not None and stats.last_t is not None:
        span = f", {local_time(stats.first_t, zone)} to {local_time(stats.last_t, zone)}"
    meta = (
        f"{stats.lines:,} lines ({stats.events:,} events){span}; "
        f"{sum(page.report.per_rule.values()):,} decisions. Times in {zone.key}."
    )
    slots = {
        "title": html.escape(f"Replay of {page.recording.name}"),
        "meta": html.escape(meta),
        "zone": html.escape(str(zone.key)),
        "body": _decision_table(page) + _summary(page),
        "data": _script_json(report_data(page)),
        "uplot_css": asset_text("vendor", "uplot", "uPlot.min.css"),
        "uplot_js": asset_text("vendor", "uplot", "uPlot.iife.min.js"),
        "report_css": asset_text("report", "report.css"),
        "report_js": asset_text("report", "report.js"),
    }
    # One pass over the template: what is inserted is never scanned for slots itself.
    return _SLOT.sub(lambda m: slots[m.group(1)], asset_text("report", "report.html"))


def _script_json(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no "</script>", no "<!--", whatever a reason says."""
    text = orjson.dumps(data).decode("utf-8")
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _table(
    caption_id: str, title: str, columns: Iterable[tuple[str, str]], rows: Iterable[Iterable[str]]
) -> str:
    """A table; cells are already escaped; a column's kind is its cells' class ("num": right-aligned)."""
    kinds = list(columns)
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in kinds)
    opening = [f'<td class="{kind}">' if kind else "<td>" for _, kind in kinds]
    body = []
    for row in rows:
        cells = "".join(f"{start}{cell}</td>" for start, cell in zip(opening, row, strict=True))
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<h3>{html.escape(title)}</h3>\n<table id="{caption_id}">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n"
    )


_STRONG = frozenset({"lockout", "flatten", "close_position", "unlock"})  # coloured in the table


def _decision_table(page: ReportPage) -> str:
    zone = page.zone
    out = ['<section id="decisions">\n<h2>Decisions</h2>\n']
    if not page.decisions:
        out.append("<p>No decisions: the rules had nothing to enforce in this recording.</p>\n")
    else:
        rows = []
        for t, action in page.decisions:
            kind = html.escape(action.kind)
            rows.append(
                (
                    html.escape(local_time(t, zone, millis=True)),
                    str(action.account_id),
                    html.escape(action.rule),
                    f'<b class="action-{kind}">{kind}</b>' if kind in _STRONG else kind,
                    html.escape(describe_target(action, zone, t.astimezone(zone).date())),
                    html.escape(_reason(action)),
                )
            )
        columns = (
            ("Time", ""),
            ("Account", ""),
            ("Rule", ""),
            ("Action", ""),
            ("Details", ""),
            ("Reason", ""),
        )
        out.append(_table("decision-table", f"{len(rows):,} decisions", columns, rows))
    out.append("</section>\n")
    return "".join(out)


def _signed(value: Decimal | None) -> str:
    if value is None:
        return "-"
    css = "neg" if value < 0 else "pos" if value > 0 else ""
    text = html.escape(money(value))
    return f'<span class="{css}">{text}</span>' if css else text


def _summary(page: ReportPage) -> str:
    report, zone, stats = page.report, page.zone, page.report.stats
    out = ['<section id="summary">\n<h2>Summary</h2>\n']
    if stats.out_of_order:
        out.append(
            f"<p>{stats.out_of_order} line(s) had a time earlier than the line before and were "
            "replayed at the previous line's time.</p>\n"
        )
    if report.per_rule:
        rows = (
            (
                html.escape(rule),
                f"{report.per_rule[rule]:,}",
                html.escape(
                    ", ".join(f"{kind} {n:,}" for kind, n in sorted(report.per_rule_kind[rule].items()))
                ),
            )
            for rule in sorted(report.per_rule)
        )
        out.append(
            _table(
                "rule-table", "Decisions per rule", (("Rule", ""), ("Count", "num"), ("Actions", "")), rows
            )
        )
    day_rows = []
    for (account_id, label), day in sorted(report.days.items()):
        if page.wanted and account_id not in page.wanted:
            continue
        day_rows.append(
            (
                str(account_id),
                label.isoformat(),
                str(day.trades),
                html.escape(money(day.realized)),
                html.escape(money(day.fees)),
                _signed(day.realized - day.fees),
            )
        )
    if day_rows:
        columns = (
            ("Account", "num"),
            ("Trading day", ""),
            ("Trades", "num"),
            ("Realized", "num"),
            ("Fees+comm.", "num"),
            ("Net", "num"),
        )
        out.append(_table("account-table", "Accounts", columns, day_rows))
    end_label = "" if stats.last_t is None else f" ({local_time(stats.last_t, zone)})"
    positions = [
        (
            str(status.account_id),
            html.escape(p.contract_id),
            f"{p.size:+d}",
            html.escape(str(p.average_price)),
            "-" if p.mark is None else html.escape(str(p.mark)),
            _signed(p.unrealized),
        )
        for status in page.statuses
        for p in status.positions
    ]
    if positions:
        columns = (
            ("Account", "num"),
            ("Contract", ""),
            ("Size", "num"),
            ("Average price", "num"),
            ("Last", "num"),
            ("Unrealized", "num"),
        )
        out.append(_table("position-table", f"Open positions at the end{end_label}", columns, positions))
    else:
        out.append(f"<p>No open positions at the end{html.escape(end_label)}.</p>\n")
    lockouts = []
    for status in page.statuses:
        for lockout in status.lockouts:
            end = (
                local_time(lockout.until, zone)
                if lockout.until is not None
                else f"{lockout.condition} clears"
            )
            lockouts.append(
                (
                    str(status.account_id),
                    html.escape(lockout.rule),
                    "account" if lockout.symbol is None else html.escape(f"{lockout.symbol} only"),
                    html.escape(end),
                    html.escape(lockout.reason),
                )
            )
    if lockouts:
        out.append(
            _table(
                "lockout-table",
                f"Active lockouts at the end{end_label}",
                (("Account", "num"), ("Rule", ""), ("Scope", ""), ("Until", "time"), ("Reason", "reason")),
                lockouts,
            )
        )
        if page.until is None:
            out.append(
                "<p>Timers after the last line did not fire; pass --until TIME to run the clock "
                "further.</p>\n"
            )
    else:
        out.append(f"<p>No active lockouts at the end{html.escape(end_label)}.</p>\n")
    out.append("</section>\n")
    return "".join(out)
