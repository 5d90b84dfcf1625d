"""A deterministic trading stream that trips real lockouts, and the engine that judges it.

Three accounts trade MNQ and ES round trips with losing days, quotes in between, a few duplicated
executions (a gateway replaying after a reconnect), ``canTrade`` going false and back (RULE-010's
condition lockout) and a daily reset in the middle (17:00 Chicago = 23:00 UTC in March). The rules
are the real ones from the registry: daily loss (lock until reset), cooldown after loss (timed
lockouts), trade frequency (cooldowns), auth loss guard, per-position loss and max contracts.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.domain.events import (
    AccountEvent,
    Event,
    OrderEvent,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionEvent,
    PositionType,
    QuoteEvent,
    TradeEvent,
)
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.rules.registry import rule_class

START = datetime(2026, 3, 2, 21, 40, tzinfo=UTC)  # 15:40 Chicago; the reset is at 23:00 UTC
ACCOUNTS = (101, 102, 103)
CONTRACTS = {  # contract -> (start price, tick size, dollars per point)
    "CON.F.US.MNQ.H26": (Decimal("21000.00"), Decimal("0.25"), Decimal(2)),
    "CON.F.US.EP.H26": (Decimal("5800.00"), Decimal("0.25"), Decimal(50)),
}

RULES: dict[str, dict[str, Any]] = {
    "max_contracts": {"limit": 4},
    "daily_realized_loss": {"limit": -400},
    "daily_unrealized_loss": {"limit": -350},
    "trade_frequency_limit": {
        "per_minute": 3,
        "per_hour": 40,
        "per_session": 200,
        "cooldowns": {"per_minute": "1m", "per_hour": "5m", "per_session": "until_reset"},
    },
    "cooldown_after_loss": {
        "close_positions": False,
        "tiers": [{"loss": -60, "cooldown": "2m"}, {"loss": -150, "cooldown": "10m"}],
    },
    "auth_loss_guard": {},
}


def build_engine() -> Engine:
    rules = []
    for key, cfg in RULES.items():
        cls = rule_class(key)
        rules.append(cls(cls.config_model.model_validate({"enabled": True, **cfg})))
    return Engine(Policy.uniform(rules), TradingCalendar(), ContractTable())


def stream(n: int = 2000, seed: int = 11) -> list[tuple[datetime, Event]]:
    """``n`` (time, event) pairs with strictly increasing times (a resume point is unambiguous)."""
    rng = random.Random(seed)
    prices = {cid: spec[0] for cid, spec in CONTRACTS.items()}
    out: list[tuple[datetime, Event]] = []
    t = START
    ids = {"order": 5000, "trade": 90000, "position": 300}
    open_pos: dict[int, tuple[str, int, Decimal]] = {}
    recent_trades: list[TradeEvent] = []
    can_trade = dict.fromkeys(ACCOUNTS, True)
    pending: list[Event] = []

    def emit(event: Event) -> None:
        nonlocal t
        t += timedelta(milliseconds=rng.randrange(500, 6000))
        out.append((t, event))

    while len(out) < n:
        if pending:
            emit(pending.pop(0))
            continue
        roll = rng.random()
        if roll < 0.55:
            cid = rng.choice(list(CONTRACTS))
            tick = CONTRACTS[cid][1]
            prices[cid] += tick * rng.choice((-2, -1, -1, 1, 1, 2))
            p = float(prices[cid])
            emit(QuoteEvent(cid, p, p - float(tick), p, t))
            continue
        if roll < 0.57 and recent_trades:
            emit(rng.choice(recent_trades))  # the gateway replays an execution after a reconnect
            continue
        acc = rng.choice(ACCOUNTS)
        if roll < 0.59:
            can_trade[acc] = not can_trade[acc] if not can_trade[acc] or rng.random() < 0.3 else True
            emit(AccountEvent(acc, f"ACC-{acc}", Decimal(50000), can_trade[acc], True, True))
            continue
        ids["order"] += 1
        ids["trade"] += 1
        oid, tid = ids["order"], ids["trade"]
        if acc in open_pos:
            cid, size, entry = open_pos.pop(acc)
            _, tick, per_point = CONTRACTS[cid]
            # Losing more often than winning, so the day's loss and cooldown rules trip.
            exit_price = entry + tick * rng.choice((-16, -10, -6, -3, 2, 4, 8)) * (1 if size > 0 else -1)
            pnl = (exit_price - entry) * size * per_point
            side = OrderSide.SELL if size > 0 else OrderSide.BUY
            trade = TradeEvent(
                tid,
                acc,
                cid,
                exit_price,
                pnl,
                Decimal("0.74") * abs(size),
                int(side),
                abs(size),
                False,
                oid,
                t,
            )
            pending += [
                OrderEvent(
                    oid, acc, cid, int(OrderStatus.FILLED), int(OrderType.MARKET), int(side), abs(size)
                ),
                trade,
                PositionEvent(ids["position"], acc, cid, int(PositionType.LONG), 0, Decimal(0)),
            ]
        else:
            cid = rng.choice(list(CONTRACTS))
            size = rng.choice((1, 1, 2, 3, 5)) * rng.choice((1, -1))
            entry = prices[cid]
            side = OrderSide.BUY if size > 0 else OrderSide.SELL
            ids["position"] += 1
            trade = TradeEvent(
                tid, acc, cid, entry, None, Decimal("0.74") * abs(size), int(side), abs(size), False, oid, t
            )
            kind = PositionType.LONG if size > 0 else PositionType.SHORT
            pending += [
                OrderEvent(
                    oid, acc, cid, int(OrderStatus.FILLED), int(OrderType.MARKET), int(side), abs(size)
                ),
                trade,
                PositionEvent(ids["position"], acc, cid, int(kind), abs(size), entry),
            ]
            open_pos[acc] = (cid, size, entry)
        recent_trades = [*recent_trades[-5:], trade]
        emit(pending.pop(0))
    return out
