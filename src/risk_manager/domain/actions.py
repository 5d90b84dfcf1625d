"""Decisions the engine returns. The daemon's enforcer turns them into broker calls.

Every action names its account, the rule that decided it (``RULE-0NN``, ``LOCKOUT`` for the lockout
gate, ``RESET`` for the daily reset, ``BALANCE`` for the balance reconciliation), a human reason with
the numbers behind it, and ``inputs``: those numbers as (name, value) pairs for the audit trail.
``record(t)`` gives the replay output line of FORMATS.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Self

from risk_manager.domain.records import fast_copier, fast_init

LOCKOUT_RULE = "LOCKOUT"
RESET_RULE = "RESET"
BALANCE_RULE = "BALANCE"
# Alerts about input the engine will not guess at: a contract with no tick spec, an undefined
# enum value in a gateway payload (RULES.md, settled points).
INPUT_RULE = "INPUT"

Inputs = tuple[tuple[str, str], ...]


# The last time formatted and its text: most decisions share their instant with the one before
# (a quote moving the trailing stops of many positions), so most stamps are this one again.
# Replaced whole, so a thread reading it sees a matching pair.
_last_stamp: tuple[datetime | None, str] = (None, "")


def format_time(t: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z: 2026-03-02T23:00:00.000Z."""
    global _last_stamp
    last, text = _last_stamp
    if t == last:  # the same instant (in any zone) has the same UTC text
        return text
    utc = t if t.tzinfo is UTC else t.astimezone(UTC)
    # isoformat (then "+00:00" -> "Z") rather than strftime: a quarter of the cost, and every
    # decision of a replay's --json output and of the journal is stamped with it
    text = utc.isoformat(timespec="milliseconds")[:-6] + "Z"
    _last_stamp = (t, text)
    return text


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    kind: ClassVar[str] = "action"

    account_id: int
    rule: str
    reason: str | None = None
    inputs: Inputs = field(default=(), compare=False)
    # Key of the breach this action answers ("account", "pos:<contract>", ...); the engine marks it
    # so the same breach is not enforced twice. None for actions that are not breach decisions.
    subject: str | None = field(default=None, compare=False)

    def fields(self) -> dict[str, Any]:
        """Kind-specific output fields, in FORMATS.md order."""
        return {}

    def for_account(self, account_id: int) -> Self:
        """The same decision for another account (a rule deciding alike for the copies of a
        copied trade). The kinds below have a faster one, made by ``fast_copier``."""
        return dataclasses.replace(self, account_id=account_id)

    def record(self, t: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {"t": format_time(t), "account": self.account_id, "rule": self.rule}
        out["action"] = self.kind
        out.update(self.fields())
        if self.reason is not None and self.reason != out.get("message"):
            out["reason"] = self.reason
        return out


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ClosePosition(Action):
    """Close one contract's position: all of it (size None) or ``size`` contracts of it."""

    kind: ClassVar[str] = "close_position"
    contract_id: str
    size: int | None = None
    # RULE-008: the enforcer re-checks for a protective stop over REST before closing.
    verify_no_stop: bool = field(default=False, compare=False)

    def fields(self) -> dict[str, Any]:
        return {"contract": self.contract_id, "size": self.size}


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Flatten(Action):
    """Close every position of the account (the enforcer cancels orders first, then verifies flat)."""

    kind: ClassVar[str] = "flatten"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrders(Action):
    """Cancel working orders: all of the account's, one contract's, or one symbol's (root)."""

    kind: ClassVar[str] = "cancel_orders"
    contract_id: str | None = None
    symbol: str | None = None

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.contract_id is not None:
            out["contract"] = self.contract_id
        if self.symbol is not None:
            out["symbol"] = self.symbol
        return out


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class LockAccount(Action):
    """Start a lockout: account-wide, or one symbol. Ends at ``until`` or when ``condition`` clears."""

    kind: ClassVar[str] = "lockout"
    scope: str = "account"  # "account" | "symbol"
    symbol: str | None = None
    until: datetime | None = None
    condition: str | None = None

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scope": self.scope}
        if self.symbol is not None:
            out["symbol"] = self.symbol
        if self.until is not None:
            out["until"] = format_time(self.until)
        if self.condition is not None:
            out["condition"] = self.condition
        return out


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Unlock(Action):
    """A lockout ended (its time passed, its condition cleared, or an admin cleared it)."""

    kind: ClassVar[str] = "unlock"
    scope: str = "account"
    symbol: str | None = None

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scope": self.scope}
        if self.symbol is not None:
            out["symbol"] = self.symbol
        return out


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceStop(Action):
    """Place a protective stop for a position that has none (RULE-012)."""

    kind: ClassVar[str] = "place_stop"
    contract_id: str
    stop_price: Decimal
    side: int  # OrderSide of the stop order: SELL protects a long
    size: int

    def fields(self) -> dict[str, Any]:
        return {"contract": self.contract_id, "stop_price": float(self.stop_price)}


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ModifyStop(Action):
    """Move an existing stop order (RULE-012): stops only tighten."""

    kind: ClassVar[str] = "modify_stop"
    contract_id: str
    order_id: int
    stop_price: Decimal

    def fields(self) -> dict[str, Any]:
        return {"contract": self.contract_id, "stop_price": float(self.stop_price)}


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Action):
    kind: ClassVar[str] = "alert"
    level: str = "warning"  # "info" | "warning" | "critical"
    message: str = ""

    def fields(self) -> dict[str, Any]:
        return {"level": self.level, "message": self.message}


ACTION_KINDS: dict[str, type[Action]] = {
    cls.kind: cls
    for cls in (ClosePosition, Flatten, CancelOrders, LockAccount, Unlock, PlaceStop, ModifyStop, Alert)
}
for _kind in ACTION_KINDS.values():
    _kind.for_account = fast_copier(_kind, ("account_id",))  # type: ignore[method-assign,assignment]
