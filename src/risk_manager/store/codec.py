"""Compact, exact (de)serialization of journal entries and the time formats of the store.

A journal row holds ``kind`` (one letter) and ``payload``: the entry by field name, as the one
domain codec writes it (domain/codec.py: Decimals as text, datetimes as integer microseconds, quote
prices as the JSON numbers received -- exact, because a restart replays these rows through the
engine and must reach the very state it had). Rows written before that codec hold a list of the
fields in declaration order; they still read.

Besides the domain events the journal holds one control entry, :class:`ClearLockout` (an admin
cleared a lockout): it changes engine state, so a restart must replay it too. The enforcer's
reports (``EnforcementOutcome``, kind ``E``) are journaled like the gateway's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from risk_manager.domain.codec import from_fields, from_positional, to_fields
from risk_manager.domain.events import (
    AccountEvent,
    ClockEvent,
    ConnectionEvent,
    EnforcementOutcome,
    Event,
    OrderEvent,
    PositionEvent,
    QuoteEvent,
    TradeEvent,
)
from risk_manager.store.errors import StoreCorruptError


@dataclass(frozen=True, slots=True)
class ClearLockout:
    """Journal entry: an admin cleared lockouts of an account (``rule`` None = all of them)."""

    account_id: int
    by: str
    why: str
    rule: str | None = None


Entry = Event | ClearLockout


# ---- time ----------------------------------------------------------------------------------------


def iso(t: datetime) -> str:
    """Fixed-width ISO-8601 UTC with microseconds and Z: sorts as text in time order, reads back exactly."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError(f"time {text!r} in the store has no time zone")
    return t.astimezone(UTC)


# ---- entries -------------------------------------------------------------------------------------

KIND_ACCOUNT = "A"
KIND_ORDER = "O"
KIND_POSITION = "P"
KIND_TRADE = "T"
KIND_QUOTE = "Q"
KIND_CONNECTION = "C"
KIND_CLOCK = "K"
KIND_CLEAR = "X"
KIND_OUTCOME = "E"

KIND_NAMES = {
    KIND_ACCOUNT: "account",
    KIND_ORDER: "order",
    KIND_POSITION: "position",
    KIND_TRADE: "trade",
    KIND_QUOTE: "quote",
    KIND_CONNECTION: "connection",
    KIND_CLOCK: "clock",
    KIND_CLEAR: "clear_lockout",
    KIND_OUTCOME: "enforcement_outcome",
}

_CLASSES: dict[str, type] = {
    KIND_ACCOUNT: AccountEvent,
    KIND_ORDER: OrderEvent,
    KIND_POSITION: PositionEvent,
    KIND_TRADE: TradeEvent,
    KIND_QUOTE: QuoteEvent,
    KIND_CONNECTION: ConnectionEvent,
    KIND_CLOCK: ClockEvent,
    KIND_CLEAR: ClearLockout,
    KIND_OUTCOME: EnforcementOutcome,
}
_KINDS: dict[type, str] = {cls: kind for kind, cls in _CLASSES.items()}
_CLOCK = ClockEvent()
_CLOCK_PAYLOAD = b"{}"


def encode(entry: Entry) -> tuple[str, int | None, bytes]:
    """(kind, account id or None for market-wide entries, payload bytes) of a journal entry."""
    cls = type(entry)
    if cls is ClockEvent:
        return KIND_CLOCK, None, _CLOCK_PAYLOAD
    kind = _KINDS.get(cls)
    if kind is None:
        raise TypeError(f"cannot journal {entry!r}: not a domain event or journal entry")
    account = getattr(entry, "account_id", None)
    return kind, account, orjson.dumps(to_fields(entry))


def decode(kind: str, payload: bytes, seq: int | None = None) -> Entry:
    """The entry of a journal row. A row this program cannot read raises StoreCorruptError.

    A payload is an object by field name (domain/codec.py); rows journaled before that are a list
    of the fields in declaration order (a shorter list: fields added since take their defaults).
    """
    where = f"journal row {seq}" if seq is not None else "journal row"
    cls = _CLASSES.get(kind)
    if cls is None:
        raise StoreCorruptError(
            f"{where} has kind {kind!r}, which this program does not know "
            f"(known: {', '.join(sorted(_CLASSES))}); was it written by a newer risk-manager?"
        )
    if cls is ClockEvent:
        return _CLOCK
    try:
        data = orjson.loads(payload)
        if isinstance(data, dict):
            entry: Entry = from_fields(cls, data)
        elif isinstance(data, list):
            entry = from_positional(cls, data)
        else:
            raise TypeError(f"expected an object or a list, got {type(data).__name__}")
    except (orjson.JSONDecodeError, TypeError, ValueError, ArithmeticError) as exc:
        raise StoreCorruptError(
            f"{where} ({KIND_NAMES[kind]}) is damaged: {type(exc).__name__}: {exc}"
        ) from None
    return entry
