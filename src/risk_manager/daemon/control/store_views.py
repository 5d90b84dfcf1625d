"""Answers built from the store's rows: the enforcement log, clock sessions, and the read model of
every account when no daemon runs (the engine rebuilt in memory from snapshot + journal, read-only).

The daemon's control server and the trader CLI (daemon down) both call these, so an answer has the
same shape whoever serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from risk_manager.daemon.recovery import rebuild
from risk_manager.domain.actions import format_time
from risk_manager.domain.contracts import root_of
from risk_manager.domain.money import ZERO, money
from risk_manager.domain.status import AccountStatus, ConnectionState
from risk_manager.engine.engine import Engine
from risk_manager.store.reader import StoreReader
from risk_manager.store.rows import AuditRow, ClockRow, TradeRow

LEVELS = ("info", "warning", "error", "critical")
DEFAULT_TAIL = 100
MAX_TAIL = 10_000
# What the daemon did to an account (as opposed to what it noted: alerts, unlocks, resets).
ENFORCEMENT_KINDS = frozenset(
    {"flatten", "close_position", "cancel_orders", "lockout", "place_stop", "modify_stop"}
)


class BadQuery(ValueError):
    """A log query that cannot be answered as asked; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class LogQuery:
    rule: str | None = None
    level: str | None = None  # the lowest level shown
    since: datetime | None = None
    search: str | None = None
    tail: int = DEFAULT_TAIL
    account: int | None = None

    def __post_init__(self) -> None:
        if self.level is not None and self.level not in LEVELS:
            raise BadQuery(f"level={self.level!r} is not a level: use one of {', '.join(LEVELS)}")
        if not 1 <= self.tail <= MAX_TAIL:
            raise BadQuery(f"tail={self.tail}: give a number of rows between 1 and {MAX_TAIL}")
        if self.since is not None and self.since.tzinfo is None:
            raise BadQuery("since has no time zone: give an ISO-8601 time with Z or an offset")


def level_of(row: AuditRow) -> str:
    """How loud an audit row is: a failed enforcement is an error, an alert has its own level, an
    enforcement is a warning, anything else (unlock, reset) is info."""
    if row.outcome is not None and row.outcome.startswith("failed"):
        return "error"
    if row.kind == "alert":
        level = str(row.record.get("level", "warning"))
        return level if level in LEVELS else "warning"
    return "warning" if row.kind in ENFORCEMENT_KINDS else "info"


def log_row(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "t": format_time(row.t),
        "account": row.account,
        "rule": row.rule,
        "kind": row.kind,
        "level": level_of(row),
        "reason": row.reason,
        "subject": row.subject,
        "inputs": row.inputs,
        "note": row.note,
        "outcome": row.outcome,
        "latency_ms": row.latency_ms,
        "action_id": row.action_id,
    }


def log_rows(reader: StoreReader, query: LogQuery) -> list[dict[str, Any]]:
    """The ``/v1/logs`` rows: audit rows matching ``query``, the newest ``tail`` of them, oldest first."""
    rows: Iterable[AuditRow] = reader.audit(query.account, since=query.since, rule=query.rule)
    if query.level is not None:
        floor = LEVELS.index(query.level)
        rows = [r for r in rows if LEVELS.index(level_of(r)) >= floor]
    if query.search:
        needle = query.search.casefold()
        rows = [r for r in rows if needle in _searchable(r)]
    return [log_row(r) for r in list(rows)[-query.tail :]]


def _searchable(row: AuditRow) -> str:
    parts = (row.rule, row.kind, row.reason or "", row.subject or "", row.note or "", row.outcome or "")
    return " ".join(parts).casefold()


def clock_summary(reader: StoreReader, row: ClockRow) -> dict[str, Any]:
    """A clock session with its duration, the executions in it and their net P&L (after fees)."""
    end = row.clock_out
    trades = [
        t for t in reader.trades(row.account)
        if t.counted and row.clock_in <= t.t and (end is None or t.t < end)
    ]
    pnl = sum((t.pnl or ZERO for t in trades), ZERO) - sum((t.fees for t in trades), ZERO)
    duration = None if end is None else (end - row.clock_in).total_seconds()
    return {"clock": row.to_json(), "duration_s": duration, "trades": len(trades), "pnl": money(pnl)}


def offline_statuses(
    reader: StoreReader, engine_factory: Callable[[], Engine], now: datetime
) -> list[AccountStatus]:
    """Every account's read model at ``now`` from the store alone (no daemon running): the engine
    rebuilt in memory from the newest snapshot and the journal after it, the lockout table's active
    rows put back (as a restart would), then advanced to ``now`` -- nothing is written."""
    return statuses_at(offline_engine(reader, engine_factory, now), now)


def offline_engine(reader: StoreReader, engine_factory: Callable[[], Engine], now: datetime) -> Engine:
    """The engine as the store last left it (see offline_statuses); kept by a caller that shows it
    again and again (``trader status --live``) while the store does not change."""
    engine = rebuild(reader, engine_factory)
    engine_now = engine.now
    held = {(a.account_id, lo.key) for a in engine.accounts.values() for lo in a.lockouts}
    for row in reader.active_lockouts():
        if (row.account, row.key) not in held and (row.until is None or row.until > now):
            engine.reinstate_lockout(row.to_lockout(), engine_now or now)
    return engine


def statuses_at(engine: Engine, now: datetime) -> list[AccountStatus]:
    """The read model of an offline engine advanced to ``now`` (never back: engine time only moves on)."""
    engine_now = engine.now
    at = now if engine_now is None or now > engine_now else engine_now
    engine.advance(at)
    return engine.statuses(at, connection=ConnectionState.LOST)


def status_answer(
    statuses: Iterable[AccountStatus], daemon: dict[str, Any], account: int | None = None
) -> dict[str, Any]:
    """The ``/v1/status`` answer."""
    chosen = [s for s in statuses if account is None or s.account_id == account]
    return {"daemon": daemon, "accounts": [s.to_json() for s in chosen]}



def pnl_breakdown(status: AccountStatus, trades: Iterable[TradeRow]) -> dict[str, Any]:
    """The day's P&L of one account by symbol: executions of its trading day (realized, fees) from
    the store, open positions (size, unrealized) from the read model."""
    symbols: dict[str, dict[str, Any]] = {}

    def entry(symbol: str) -> dict[str, Any]:
        return symbols.setdefault(
            symbol,
            {"trades": 0, "realized": ZERO, "fees": ZERO, "unrealized": ZERO, "position": 0, "known": True},
        )

    for trade in trades:
        if trade.account == status.account_id and trade.day == status.trading_day and trade.counted:
            row = entry(root_of(trade.contract))
            row["trades"] += 1
            row["realized"] += trade.pnl or ZERO
            row["fees"] += trade.fees
    for position in status.positions:
        row = entry(position.symbol)
        row["position"] += position.size
        if position.unrealized is None:
            row["known"] = False
        else:
            row["unrealized"] += position.unrealized
    rows = []
    for symbol in sorted(symbols):
        row = symbols[symbol]
        unrealized = row["unrealized"] if row["known"] else None
        rows.append({
            "symbol": symbol,
            "trades": row["trades"],
            "position": row["position"],
            "realized": money(row["realized"]),
            "fees": money(row["fees"]),
            "unrealized": None if unrealized is None else money(unrealized),
            "net": money(row["realized"] - row["fees"] + (unrealized or ZERO)),
        })
    return {
        "account_id": status.account_id,
        "name": status.name,
        "trading_day": status.trading_day.isoformat(),
        "realized": money(status.realized),
        "costs": money(status.costs),
        "unrealized": None if status.unrealized is None else money(status.unrealized),
        "net": money(status.net),
        "trade_count": status.trade_count,
        "symbols": rows,
    }
