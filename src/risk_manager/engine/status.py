"""Builds the read model (``domain.status.AccountStatus``) of one account from engine state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from risk_manager.domain.events import EnforcementOutcome
from risk_manager.domain.money import ZERO
from risk_manager.domain.status import (
    AccountStatus,
    ConnectionState,
    EnforcementStatus,
    LockoutStatus,
    PositionStatus,
    TradingState,
)
from risk_manager.engine.state import AccountState
from risk_manager.engine.view import AccountView
from risk_manager.rules.api import Rule

# Positions are shown marked at the last price, like the account-level P&L of RULE-003/013.
MARK_SOURCE = "last"


def account_status(
    account: AccountState,
    view: AccountView,
    rules: Sequence[Rule[Any]],
    now: datetime,
    connection: ConnectionState,
) -> AccountStatus:
    positions = tuple(_position(view, cid) for cid in sorted(view.positions))
    unknown = any(p.unrealized is None for p in positions)
    known = sum((p.unrealized for p in positions if p.unrealized is not None), ZERO)
    day = account.day
    gauges = tuple(g for g in (rule.gauge(view) for rule in rules) if g is not None)
    lockouts = tuple(
        LockoutStatus(lk.rule, lk.scope, lk.symbol, lk.reason, lk.since, lk.until, lk.condition)
        for lk in sorted(account.lockouts, key=lambda lk: (lk.since, lk.rule, lk.scope, lk.symbol or ""))
    )
    return AccountStatus(
        account_id=account.account_id,
        name=account.name,
        balance=account.balance,
        can_trade=account.can_trade,
        trading_day=day.label,
        realized=day.realized,
        costs=day.costs,
        unrealized=None if unknown else known,
        net=day.realized - day.costs + known,
        positions=positions,
        gauges=gauges,
        lockouts=lockouts,
        trading_state=_trading_state(account, lockouts),
        next_reset=day.end,
        connection=connection,
        as_of=now,
        trade_count=day.trade_count,
        last_enforcement=account.last_enforcement,
    )


def enforcement_status(event: EnforcementOutcome, at: datetime) -> EnforcementStatus:
    """What the read model shows of the enforcer's last report on an account."""
    return EnforcementStatus(
        event.action_id, event.rule, event.action, event.outcome, event.detail, event.latency_ms, at
    )


def _position(view: AccountView, contract_id: str) -> PositionStatus:
    position = view.positions[contract_id]
    mark = view.mark(position, MARK_SOURCE)
    unrealized: Decimal | None = None if mark is None else position.unrealized_at(mark)
    return PositionStatus(
        contract_id=contract_id,
        symbol=position.root,
        size=position.size,
        average_price=position.average_price,
        mark=mark,
        unrealized=unrealized,
        opened_at=position.opened_at,
    )


def _trading_state(account: AccountState, lockouts: tuple[LockoutStatus, ...]) -> TradingState:
    if account.failed is not None or any(lk.scope == "account" for lk in lockouts):
        return TradingState.HALTED
    if lockouts:
        return TradingState.REDUCING
    return TradingState.ACTIVE
