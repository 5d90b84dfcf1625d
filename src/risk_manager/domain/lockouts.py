"""Lockout records: who may not trade, why, and until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from risk_manager.domain.records import fast_init

# Conditions a lockout can wait for instead of a time.
CONDITION_CAN_TRADE = "can_trade"  # RULE-010: ends when the gateway says canTrade: true
CONDITION_SYMBOL_BLOCKED = "symbol_blocked"  # RULE-011: lasts while the symbol stays blocked in config


@fast_init  # one per lockout taken
@dataclass(frozen=True, slots=True)
class Lockout:
    account_id: int
    rule: str
    reason: str
    since: datetime
    scope: str = "account"  # "account" | "symbol"
    symbol: str | None = None  # CME root when scope == "symbol"
    until: datetime | None = None
    condition: str | None = None

    def covers(self, root: str | None) -> bool:
        """True when this lockout forbids trading ``root`` (None = "anything in the account")."""
        return self.scope == "account" or (root is not None and self.symbol == root)

    @property
    def key(self) -> tuple[str, str, str | None]:
        """Identity within an account's book: one lockout per (rule, scope, symbol)."""
        return (self.rule, self.scope, self.symbol)
