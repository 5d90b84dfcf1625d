"""The read model: where one account stands now, as one frozen record.

Built by the engine (``Engine.status``), or from the store when no engine runs; rendered by the
replay summary, every ``--json`` output, the trader CLI and the dashboard. Nobody renders account
state from engine internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from risk_manager.domain.actions import format_time
from risk_manager.domain.money import money

FRACTION = Decimal("0.0001")


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    LOST = "lost"
    REPLAY = "replay"  # no live feed: the state comes from a recording


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"  # a symbol lockout only: the account may trade other symbols, or close
    HALTED = "halted"  # an account lockout, or the account failed closed


@dataclass(frozen=True, slots=True)
class PositionStatus:
    contract_id: str
    symbol: str  # root, e.g. "MNQ"
    size: int  # signed: positive long, negative short
    average_price: Decimal
    mark: Decimal | None
    unrealized: Decimal | None  # None while the mark or the tick spec is unknown
    opened_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "symbol": self.symbol,
            "size": self.size,
            "average_price": str(self.average_price),
            "mark": None if self.mark is None else str(self.mark),
            "unrealized": _money(self.unrealized),
            "opened_at": format_time(self.opened_at),
        }


@dataclass(frozen=True, slots=True)
class RuleGauge:
    """One rule's running value against its limit: ``fraction`` is value/limit (0 at nothing, 1 at
    the limit, above 1 past it); None when the value is unknown (no mark yet)."""

    rule: str  # "RULE-003"
    name: str  # "daily_realized_loss"
    value: Decimal | None
    limit: Decimal
    fraction: Decimal | None
    unit: str  # "USD" | "contracts" | "trades"
    breached: bool
    # What the gauge is about when a rule has one per symbol, position or window (the worst one is
    # shown): "MNQ", "CON.F.US.MNQ.H26", "per_hour"; None for account-wide values.
    subject: str | None = None

    @staticmethod
    def of(
        rule: str,
        name: str,
        value: Decimal | None,
        limit: Decimal,
        unit: str,
        *,
        breached: bool | None = None,
        subject: str | None = None,
    ) -> RuleGauge:
        """A gauge of ``value`` against ``limit`` (both signed alike: losses negative, targets and
        counts positive). ``breached`` defaults to "the value reached the limit"; rules whose
        limit is itself allowed (a count of contracts) say so."""
        if value is None:
            return RuleGauge(rule, name, None, limit, None, unit, bool(breached), subject)
        fraction = value / limit if limit != 0 else Decimal(0)
        fraction = fraction if fraction > 0 else Decimal(0)  # never -0: a profit is 0 of a loss limit
        hit = fraction >= 1 if breached is None else breached
        return RuleGauge(rule, name, value, limit, fraction, unit, hit, subject)

    def to_json(self) -> dict[str, Any]:
        show = _money if self.unit == "USD" else _plain
        return {
            "rule": self.rule,
            "name": self.name,
            "value": show(self.value),
            "limit": show(self.limit),
            "fraction": None if self.fraction is None else str(self.fraction.quantize(FRACTION)),
            "unit": self.unit,
            "breached": self.breached,
            "subject": self.subject,
        }


@dataclass(frozen=True, slots=True)
class LockoutStatus:
    rule: str
    scope: str  # "account" | "symbol"
    symbol: str | None
    reason: str
    since: datetime
    until: datetime | None  # None: held by a condition (or until unlocked)
    condition: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "scope": self.scope,
            "symbol": self.symbol,
            "reason": self.reason,
            "since": format_time(self.since),
            "until": None if self.until is None else format_time(self.until),
            "condition": self.condition,
        }


@dataclass(frozen=True, slots=True)
class EnforcementStatus:
    """The account's last enforcement outcome the engine was told of (an ``EnforcementOutcome``
    event) and when."""

    action_id: str
    rule: str
    action: str  # flatten | close_position | cancel_orders | place_stop | modify_stop
    outcome: str  # ok | failed | refused
    detail: str
    latency_ms: float | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "rule": self.rule,
            "action": self.action,
            "outcome": self.outcome,
            "detail": self.detail,
            "latency_ms": self.latency_ms,
            "at": format_time(self.at),
        }


@dataclass(frozen=True, slots=True)
class AccountStatus:
    account_id: int
    name: str | None
    balance: Decimal | None
    can_trade: bool | None
    trading_day: date
    realized: Decimal
    costs: Decimal  # fees + commissions
    unrealized: Decimal | None  # None when any open position has no mark
    net: Decimal  # realized - costs + the unrealized P&L that is known
    positions: tuple[PositionStatus, ...]
    gauges: tuple[RuleGauge, ...]
    lockouts: tuple[LockoutStatus, ...]
    trading_state: TradingState
    next_reset: datetime
    connection: ConnectionState
    as_of: datetime
    trade_count: int = 0  # executions counted in the trading day
    last_enforcement: EnforcementStatus | None = None  # the enforcer's last report on this account

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "name": self.name,
            "balance": _money(self.balance),
            "can_trade": self.can_trade,
            "trading_day": self.trading_day.isoformat(),
            "realized": money(self.realized),
            "costs": money(self.costs),
            "unrealized": _money(self.unrealized),
            "net": money(self.net),
            "trade_count": self.trade_count,
            "positions": [p.to_json() for p in self.positions],
            "gauges": [g.to_json() for g in self.gauges],
            "lockouts": [lk.to_json() for lk in self.lockouts],
            "trading_state": str(self.trading_state),
            "next_reset": format_time(self.next_reset),
            "connection": str(self.connection),
            "as_of": format_time(self.as_of),
            "last_enforcement": None if self.last_enforcement is None else self.last_enforcement.to_json(),
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money(value)


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
