"""The rows a store returns, and what its checks and prunes report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from risk_manager.domain.lockouts import Lockout
from risk_manager.store.codec import iso, parse_iso
from risk_manager.store.errors import StoreCorruptError


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    t: datetime
    account: int
    rule: str
    kind: str
    reason: str | None
    subject: str | None
    inputs: dict[str, str]
    record: dict[str, Any]
    journal_seq: int | None
    note: str | None
    outcome: str | None
    outcome_t: datetime | None
    latency_ms: float | None
    action_id: str | None  # "<journal seq>.<index>" (None: decided outside any journal entry)


@dataclass(frozen=True, slots=True)
class LockoutRow:
    id: int
    account: int
    rule: str
    scope: str
    symbol: str | None
    reason: str
    since: datetime
    until: datetime | None
    condition: str | None
    audit_id: int | None
    cleared_at: datetime | None
    cleared_by: str | None
    cleared_why: str | None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.rule, self.scope, self.symbol)

    def to_lockout(self) -> Lockout:
        return Lockout(
            self.account,
            self.rule,
            self.reason,
            self.since,
            self.scope,
            self.symbol,
            self.until,
            self.condition,
        )


@dataclass(frozen=True, slots=True)
class DayRow:
    account: int
    day: date
    start: datetime
    end: datetime
    realized: Decimal
    fees: Decimal
    trade_count: int
    updated: datetime

    @property
    def net(self) -> Decimal:
        return self.realized - self.fees


@dataclass(frozen=True, slots=True)
class TradeRow:
    account: int
    trade_id: int
    day: date
    t: datetime
    contract: str
    pnl: Decimal | None
    fees: Decimal
    counted: bool


@dataclass(frozen=True, slots=True)
class ResetRow:
    id: int
    t: datetime
    account: int
    day: date
    previous_day: date | None
    previous_realized: Decimal | None
    previous_fees: Decimal | None
    missed: bool


@dataclass(frozen=True, slots=True)
class ClockRow:
    """A trader's clock-in (and clock-out, once clocked out): a record for the trader, not a rule input."""

    id: int
    account: int
    clock_in: datetime
    clock_out: datetime | None
    by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "clock_in": iso(self.clock_in),
            "clock_out": None if self.clock_out is None else iso(self.clock_out),
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    id: int
    journal_seq: int
    t: datetime | None
    data: bytes

    def load(self) -> dict[str, Any]:
        try:
            value = orjson.loads(self.data)
        except orjson.JSONDecodeError as exc:
            raise StoreCorruptError(f"snapshot {self.id} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise StoreCorruptError(f"snapshot {self.id} is not a JSON object")
        return value


@dataclass(slots=True)
class PruneReport:
    journal: int = 0
    audit: int = 0
    lockouts: int = 0
    trades: int = 0
    resets: int = 0
    days: int = 0


@dataclass(slots=True)
class CheckReport:
    path: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    schema_version: int = 0
    program: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    journal_first: tuple[int, datetime] | None = None
    journal_last: tuple[int, datetime] | None = None
    snapshot_seq: int | None = None
    active_lockouts: int = 0
    meta: dict[str, str] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)

    def as_dict(self) -> dict[str, Any]:
        def point(p: tuple[int, datetime] | None) -> dict[str, Any] | None:
            return None if p is None else {"seq": p[0], "t": iso(p[1])}

        return {
            "path": self.path,
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
            "schema_version": self.schema_version,
            "program": self.program,
            "counts": self.counts,
            "journal_first": point(self.journal_first),
            "journal_last": point(self.journal_last),
            "snapshot_seq": self.snapshot_seq,
            "active_lockouts": self.active_lockouts,
            "meta": self.meta,
        }


def dt_or_none(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def dec_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def date_or_none(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)
