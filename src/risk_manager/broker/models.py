"""Typed REST answers of the gateway: the fields the daemon reads, plus the raw row.

Each row keeps ``raw`` (the object exactly as received) because ``broker/normalize`` turns REST rows
and hub payloads into domain events with one set of functions; the typed fields are for the code that
acts on an answer (the enforcer reads ``size`` and ``contract_id``, not dict keys). Money and prices
are exact ``Decimal``; absent and null optional fields are alike (PROJECTX.md §2b).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from risk_manager.broker.errors import ProtocolError

Raw = Mapping[str, Any]


class _Row:
    """Reads one JSON object with errors that name the endpoint and field."""

    def __init__(self, endpoint: str, data: object) -> None:
        if not isinstance(data, dict):
            raise ProtocolError(endpoint, f"expected a JSON object in the answer, got {type(data).__name__}")
        self.endpoint = endpoint
        self.data: dict[str, Any] = data

    def _bad(self, name: str, what: str) -> ProtocolError:
        return ProtocolError(self.endpoint, f"field {name!r} must be {what}, got {self.data.get(name)!r}")

    def integer(self, name: str) -> int:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(name, "an integer")
        return value

    def opt_int(self, name: str) -> int | None:
        return None if self.data.get(name) is None else self.integer(name)

    def text(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        return value

    def opt_str(self, name: str) -> str | None:
        return None if self.data.get(name) is None else self.text(name)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def decimal(self, name: str) -> Decimal:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self._bad(name, "a number")
        try:
            return Decimal(repr(value) if isinstance(value, float) else str(value))
        except InvalidOperation:
            raise self._bad(name, "a number") from None

    def opt_decimal(self, name: str) -> Decimal | None:
        return None if self.data.get(name) is None else self.decimal(name)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    balance: Decimal
    can_trade: bool
    is_visible: bool
    simulated: bool | None
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def parse(cls, endpoint: str, data: object) -> Account:
        r = _Row(endpoint, data)
        simulated = r.data.get("simulated")
        return cls(r.integer("id"), r.text("name"), r.decimal("balance"), r.flag("canTrade"),
                   r.flag("isVisible", True), simulated if isinstance(simulated, bool) else None, r.data)


@dataclass(frozen=True, slots=True)
class Position:
    id: int
    account_id: int
    contract_id: str
    type: int  # PositionType: 1 long, 2 short
    size: int  # always positive
    average_price: Decimal
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def parse(cls, endpoint: str, data: object) -> Position:
        r = _Row(endpoint, data)
        return cls(r.integer("id"), r.integer("accountId"), r.text("contractId"), r.integer("type"),
                   r.integer("size"), r.decimal("averagePrice"), r.data)


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    account_id: int
    contract_id: str
    status: int
    type: int
    side: int
    size: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    custom_tag: str | None
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def parse(cls, endpoint: str, data: object) -> Order:
        r = _Row(endpoint, data)
        return cls(r.integer("id"), r.integer("accountId"), r.text("contractId"), r.integer("status"),
                   r.integer("type"), r.integer("side"), r.integer("size"), r.opt_decimal("limitPrice"),
                   r.opt_decimal("stopPrice"), r.opt_str("customTag"), r.data)


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    account_id: int
    contract_id: str
    creation_timestamp: str
    price: Decimal
    profit_and_loss: Decimal | None  # None: an opening half-turn
    fees: Decimal
    commissions: Decimal
    side: int
    size: int
    voided: bool
    order_id: int | None
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def parse(cls, endpoint: str, data: object) -> Trade:
        r = _Row(endpoint, data)
        fees = r.opt_decimal("fees")
        commissions = r.opt_decimal("commissions")
        return cls(r.integer("id"), r.integer("accountId"), r.text("contractId"), r.text("creationTimestamp"),
                   r.decimal("price"), r.opt_decimal("profitAndLoss"), fees or Decimal(0),
                   commissions or Decimal(0), r.integer("side"), r.integer("size"), r.flag("voided"),
                   r.opt_int("orderId"), r.data)


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    name: str
    description: str
    tick_size: Decimal
    tick_value: Decimal
    active_contract: bool
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def parse(cls, endpoint: str, data: object) -> Contract:
        r = _Row(endpoint, data)
        return cls(r.text("id"), r.text("name"), r.opt_str("description") or "", r.decimal("tickSize"),
                   r.decimal("tickValue"), r.flag("activeContract"), r.data)


@dataclass(frozen=True, slots=True)
class Bar:
    t: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int

    @classmethod
    def parse(cls, endpoint: str, data: object) -> Bar:
        r = _Row(endpoint, data)
        volume = r.data.get("v")
        return cls(r.text("t"), r.decimal("o"), r.decimal("h"), r.decimal("l"), r.decimal("c"),
                   volume if isinstance(volume, int) and not isinstance(volume, bool) else 0)


def rows(endpoint: str, answer: Mapping[str, Any], key: str) -> list[Any]:
    """The list under ``key`` of an answer (a missing or null list is empty)."""
    value = answer.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(endpoint, f"field {key!r} must be a list, got {type(value).__name__}")
    return value
