"""Engine state as plain JSON-able data, and back: the store saves it so a restart resumes exactly.

Everything the engine decides from is here: per-account positions, working orders, day counters,
lockouts, breach markers, deduplicated trade ids, execution windows, requested stops, last quotes and
the clock. Derived things (quiet bands, the timer heap, rule wake-ups) are rebuilt on restore.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from risk_manager.domain.codec import from_fields, from_positional, to_fields
from risk_manager.domain.contracts import root_of
from risk_manager.domain.events import OrderEvent
from risk_manager.domain.lockouts import Lockout
from risk_manager.domain.money import ZERO
from risk_manager.domain.status import EnforcementStatus
from risk_manager.engine.engine import Engine
from risk_manager.engine.lockouts import LockoutBook
from risk_manager.engine.state import (
    AccountState,
    CloseRetry,
    CountedTrade,
    KeptFill,
    MarketQuote,
    Position,
    TradingDayStats,
)
from risk_manager.engine.timers import TimerKind

# 2: working orders by field name (domain/codec.py); 1 (read too): orders as positional lists.
SNAPSHOT_VERSION = 2
READABLE_VERSIONS = (1, 2)


class SnapshotError(ValueError):
    """A snapshot this program cannot read (newer version, or damaged)."""


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _order_back(v: dict[str, Any] | list[Any]) -> OrderEvent:
    """A working order by field name (domain/codec.py); version 1 snapshots held a list of the
    fields in declaration order, times as ISO text."""
    if isinstance(v, list):
        return from_positional(OrderEvent, v, time=datetime.fromisoformat)
    return from_fields(OrderEvent, v)


def _lockout(lo: Lockout) -> dict[str, Any]:
    return {
        "rule": lo.rule,
        "reason": lo.reason,
        "since": _t(lo.since),
        "scope": lo.scope,
        "symbol": lo.symbol,
        "until": _t(lo.until),
        "condition": lo.condition,
    }


def lockout_from_dict(account_id: int, v: dict[str, Any]) -> Lockout:
    since = _dt(v["since"])
    assert since is not None
    return Lockout(
        account_id, v["rule"], v["reason"], since, v["scope"], v["symbol"], _dt(v["until"]), v["condition"]
    )


def _account(a: AccountState) -> dict[str, Any]:
    day = a.day
    return {
        "id": a.account_id,
        "name": a.name,
        "balance": _d(a.balance),
        "can_trade": a.can_trade,
        "failed": a.failed,
        "day": {
            "label": day.label.isoformat(),
            "start": _t(day.start),
            "end": _t(day.end),
            "realized": str(day.realized),
            "fees": str(day.fees),
            "commissions": str(day.commissions),
            "opening_balance": _d(day.opening_balance),
            "balance_off": day.balance_off,
            "trade_count": day.trade_count,
            "order_first_fill": [[oid, _t(t)] for oid, t in day.order_first_fill.items()],
            "counted": [
                [tid, str(c.pnl), str(c.fees), c.order_id, _t(c.executed), str(c.commissions)]
                for tid, c in day.counted.items()
            ],
        },
        "positions": [
            {
                "contract_id": p.contract_id,
                "size": p.size,
                "average_price": str(p.average_price),
                "opened_at": _t(p.opened_at),
                "position_id": p.position_id,
                "best_price": _d(p.best_price),
                "closing": p.closing,
            }
            for p in a.positions.values()
        ],
        "working_orders": [to_fields(o) for o in a.working_orders.values()],
        "lockouts": [_lockout(lo) for lo in a.lockouts],
        "breaches": sorted([list(b) for b in a.breaches]),
        "seen_trades": [[tid, d.isoformat()] for tid, d in a.seen_trades.items()],
        "recent_orders": [[_t(t), oid] for t, oid in a.recent_orders],
        "stops_requested": {cid: str(p) for cid, p in a.stops_requested.items()},
        "kept_fills": {cid: [k.size, _t(k.executed)] for cid, k in a.kept_fills.items()},
        "last_enforcement": None if a.last_enforcement is None else to_fields(a.last_enforcement),
        "close_retries": {key: to_fields(r) for key, r in a.close_retries.items()},
    }


def snapshot(engine: Engine) -> dict[str, Any]:
    """The engine's state as JSON-able data (Decimals and datetimes as strings)."""
    engine.settle_best_prices()
    return {
        "version": SNAPSHOT_VERSION,
        "now": _t(engine.now),
        "reset_at": _t(engine._reset_at),
        "connection_lost_since": _t(engine.connection_lost_since),
        "quotes": {cid: [q.last, q.bid, q.ask, _t(q.timestamp)] for cid, q in engine.quotes.items()},
        "accounts": [_account(a) for a in engine.accounts.values()],
    }


def restore(engine: Engine, data: dict[str, Any]) -> None:
    """Load a snapshot into a fresh engine (same policy, calendar and contracts as before)."""
    if engine.now is not None or engine.accounts:
        raise SnapshotError("restore needs a fresh engine")
    version = data.get("version")
    if version not in READABLE_VERSIONS:
        raise SnapshotError(
            f"snapshot version {version!r} is not supported (this program reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})"
        )
    try:
        _restore(engine, data)
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
        raise SnapshotError(f"damaged snapshot: {type(exc).__name__}: {exc}") from exc


def _restore(engine: Engine, data: dict[str, Any]) -> None:
    engine._now = _dt(data["now"])
    engine.connection_lost_since = _dt(data["connection_lost_since"])
    for cid, (last, bid, ask, ts) in data["quotes"].items():
        engine._quotes[cid] = MarketQuote(last, bid, ask, _dt(ts))
    for v in data["accounts"]:
        d = v["day"]
        day = TradingDayStats(
            date.fromisoformat(d["label"]),
            datetime.fromisoformat(d["start"]),
            datetime.fromisoformat(d["end"]),
            Decimal(d["realized"]),
            Decimal(d["fees"]),
            d["trade_count"],
            {oid: datetime.fromisoformat(t) for oid, t in d["order_first_fill"]},
            # snapshots written before commissions and reconciliation existed lack these keys
            Decimal(d.get("commissions", "0")),
            _dec(d.get("opening_balance")),
            bool(d.get("balance_off", False)),
            # What each execution added (for voids); absent from snapshots written before voids were
            # handled: those executions can then no longer be taken back out.
            {
                # (commissions, the sixth field, are absent from snapshots written before them)
                row[0]: CountedTrade(
                    Decimal(row[1]),
                    Decimal(row[2]),
                    row[3],
                    datetime.fromisoformat(row[4]),
                    Decimal(row[5]) if len(row) > 5 else ZERO,
                )
                for row in d.get("counted", [])
            },
        )
        account = AccountState(v["id"], day, v["name"], _dec(v["balance"]), v["can_trade"])
        account.failed = v["failed"]
        for p in v["positions"]:
            cid = p["contract_id"]
            opened = datetime.fromisoformat(p["opened_at"])
            position = Position(
                cid,
                root_of(cid),
                engine.contracts.for_contract(cid),
                p["size"],
                Decimal(p["average_price"]),
                opened,
                p["position_id"],
                _dec(p["best_price"]),
            )
            # Contracts closed by an execution whose position update has not arrived yet; absent
            # from snapshots written before the field existed (0 is what they meant).
            position.closing = p.get("closing", 0)
            account.positions[cid] = position
            engine._watch(account, position)
        orders = (_order_back(o) for o in v["working_orders"])
        account.working_orders = {o.order_id: o for o in orders}
        book = LockoutBook()
        for lo in v["lockouts"]:
            book.add(lockout_from_dict(account.account_id, lo))
        account.lockouts = book
        account.breaches = {(b[0], b[1]) for b in v["breaches"]}
        account.seen_trades = {tid: date.fromisoformat(dd) for tid, dd in v["seen_trades"]}
        recent = sorted((datetime.fromisoformat(t), oid) for t, oid in v["recent_orders"])
        account.recent_orders = deque(recent)  # in time order (an older snapshot may not be)
        account.stops_requested = {cid: Decimal(p) for cid, p in v["stops_requested"].items()}
        account.kept_fills = {
            cid: KeptFill(size, datetime.fromisoformat(t))
            for cid, (size, t) in v.get("kept_fills", {}).items()
        }
        last = v.get("last_enforcement")  # absent from snapshots written before outcomes were fed back
        account.last_enforcement = None if last is None else from_fields(EnforcementStatus, last)
        # absent from snapshots written before failed closes were retried
        retries = v.get("close_retries", {})
        account.close_retries = {key: from_fields(CloseRetry, r) for key, r in retries.items()}
        engine._accounts[account.account_id] = account
    reset_at = _dt(data["reset_at"])
    if reset_at is not None:
        engine._reset_at = reset_at
        engine._push(reset_at, TimerKind.RESET, 0, None)
    now = engine.now
    for account in engine._accounts.values():
        for lockout in account.lockouts:
            if lockout.until is not None:
                engine._push(lockout.until, TimerKind.LOCKOUT_END, account.account_id, lockout.key)
        for key, retry in account.close_retries.items():
            # one whose time has passed was decided already (kept to count a retry failing again)
            if now is not None and retry.due > now:
                engine._push(retry.due, TimerKind.CLOSE_RETRY, account.account_id, key)
        if now is not None:
            engine._refresh(account, now)
