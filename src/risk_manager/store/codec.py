"""Compact, exact (de)serialization of journal entries and the time formats of the store.

A journal row holds ``kind`` (one letter) and ``payload`` (an orjson list of the event's fields in
declaration order). Exactness matters more than looks: a restart replays these rows through the
engine and must reach the very state it had, so

- money and prices (Decimal) are written as their ``str`` and read back with ``Decimal(str)``;
- quote prices stay the JSON numbers received (orjson writes the shortest float repr, which reads
  back bit-identical);
- datetimes are integer microseconds since the Unix epoch (UTC): exact, compact and fast.

Besides the domain events the journal holds one control entry, :class:`ClearLockout` (an admin
cleared a lockout): it changes engine state, so a restart must replay it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from risk_manager.domain.events import (
    AccountEvent,
    ClockEvent,
    ConnectionEvent,
    Event,
    OrderEvent,
    PositionEvent,
    QuoteEvent,
    TradeEvent,
)
from risk_manager.store.errors import StoreCorruptError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ClearLockout:
    """Journal entry: an admin cleared lockouts of an account (``rule`` None = all of them)."""

    account_id: int
    by: str
    why: str
    rule: str | None = None


Entry = Event | ClearLockout


# ---- time ----------------------------------------------------------------------------------------


def to_us(t: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    return (t - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def iso(t: datetime) -> str:
    """Fixed-width ISO-8601 UTC with microseconds and Z: sorts as text in time order, reads back exactly."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError(f"time {text!r} in the store has no time zone")
    return t.astimezone(UTC)


def _t(t: datetime | None) -> int | None:
    return None if t is None else (t - EPOCH) // _US


def _dt(us: int | None) -> datetime | None:
    return None if us is None else EPOCH + timedelta(microseconds=us)


def _d(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _dec(s: str | None) -> Decimal | None:
    return None if s is None else Decimal(s)


# ---- entries -------------------------------------------------------------------------------------

KIND_ACCOUNT = "A"
KIND_ORDER = "O"
KIND_POSITION = "P"
KIND_TRADE = "T"
KIND_QUOTE = "Q"
KIND_CONNECTION = "C"
KIND_CLOCK = "K"
KIND_CLEAR = "X"

KIND_NAMES = {
    KIND_ACCOUNT: "account",
    KIND_ORDER: "order",
    KIND_POSITION: "position",
    KIND_TRADE: "trade",
    KIND_QUOTE: "quote",
    KIND_CONNECTION: "connection",
    KIND_CLOCK: "clock",
    KIND_CLEAR: "clear_lockout",
}

_EMPTY = b"[]"


def _enc_account(e: AccountEvent) -> list[Any]:
    return [e.account_id, e.name, _d(e.balance), e.can_trade, e.is_visible, e.simulated]


def _enc_order(e: OrderEvent) -> list[Any]:
    return [
        e.order_id,
        e.account_id,
        e.contract_id,
        e.status,
        e.type,
        e.side,
        e.size,
        _d(e.limit_price),
        _d(e.stop_price),
        e.fill_volume,
        _d(e.filled_price),
        e.custom_tag,
        _t(e.created),
        _t(e.updated),
    ]


def _enc_position(e: PositionEvent) -> list[Any]:
    return [e.position_id, e.account_id, e.contract_id, e.type, e.size, str(e.average_price), _t(e.created)]


def _enc_trade(e: TradeEvent) -> list[Any]:
    return [
        e.trade_id,
        e.account_id,
        e.contract_id,
        str(e.price),
        _d(e.pnl),
        str(e.fees),
        e.side,
        e.size,
        e.voided,
        e.order_id,
        _t(e.created),
        str(e.commissions),
    ]


def _enc_quote(e: QuoteEvent) -> list[Any]:
    return [e.contract_id, e.last, e.bid, e.ask, _t(e.timestamp)]


def _enc_connection(e: ConnectionEvent) -> list[Any]:
    return [e.state, e.hub]


def _enc_clear(e: ClearLockout) -> list[Any]:
    return [e.account_id, e.by, e.why, e.rule]


_ENCODERS: dict[type, tuple[str, Callable[[Any], list[Any]]]] = {
    AccountEvent: (KIND_ACCOUNT, _enc_account),
    OrderEvent: (KIND_ORDER, _enc_order),
    PositionEvent: (KIND_POSITION, _enc_position),
    TradeEvent: (KIND_TRADE, _enc_trade),
    QuoteEvent: (KIND_QUOTE, _enc_quote),
    ConnectionEvent: (KIND_CONNECTION, _enc_connection),
    ClearLockout: (KIND_CLEAR, _enc_clear),
}


def encode(entry: Entry) -> tuple[str, int | None, bytes]:
    """(kind, account id or None for market-wide entries, payload bytes) of a journal entry."""
    cls = type(entry)
    if cls is ClockEvent:
        return KIND_CLOCK, None, _EMPTY
    try:
        kind, fn = _ENCODERS[cls]
    except KeyError:
        raise TypeError(f"cannot journal {entry!r}: not a domain event or journal entry") from None
    account = getattr(entry, "account_id", None)
    return kind, account, orjson.dumps(fn(entry))


def _dec_account(v: list[Any]) -> AccountEvent:
    return AccountEvent(v[0], v[1], _dec(v[2]), v[3], v[4], v[5])


def _dec_order(v: list[Any]) -> OrderEvent:
    return OrderEvent(
        v[0],
        v[1],
        v[2],
        v[3],
        v[4],
        v[5],
        v[6],
        _dec(v[7]),
        _dec(v[8]),
        v[9],
        _dec(v[10]),
        v[11],
        _dt(v[12]),
        _dt(v[13]),
    )


def _dec_position(v: list[Any]) -> PositionEvent:
    return PositionEvent(v[0], v[1], v[2], v[3], v[4], Decimal(v[5]), _dt(v[6]))


def _dec_trade(v: list[Any]) -> TradeEvent:
    # Entries journaled before commissions were read have 11 fields: no commissions.
    commissions = Decimal(v[11]) if len(v) > 11 else Decimal(0)
    return TradeEvent(
        v[0],
        v[1],
        v[2],
        Decimal(v[3]),
        _dec(v[4]),
        Decimal(v[5]),
        v[6],
        v[7],
        v[8],
        v[9],
        _dt(v[10]),
        commissions,
    )


def _dec_quote(v: list[Any]) -> QuoteEvent:
    return QuoteEvent(v[0], v[1], v[2], v[3], _dt(v[4]))


def _dec_connection(v: list[Any]) -> ConnectionEvent:
    return ConnectionEvent(v[0], v[1])


def _dec_clear(v: list[Any]) -> ClearLockout:
    return ClearLockout(v[0], v[1], v[2], v[3])


_CLOCK = ClockEvent()

_DECODERS: dict[str, Callable[[list[Any]], Entry]] = {
    KIND_ACCOUNT: _dec_account,
    KIND_ORDER: _dec_order,
    KIND_POSITION: _dec_position,
    KIND_TRADE: _dec_trade,
    KIND_QUOTE: _dec_quote,
    KIND_CONNECTION: _dec_connection,
    KIND_CLOCK: lambda _v: _CLOCK,
    KIND_CLEAR: _dec_clear,
}


def decode(kind: str, payload: bytes, seq: int | None = None) -> Entry:
    """The entry of a journal row. A row this program cannot read raises StoreCorruptError."""
    where = f"journal row {seq}" if seq is not None else "journal row"
    fn = _DECODERS.get(kind)
    if fn is None:
        raise StoreCorruptError(
            f"{where} has kind {kind!r}, which this program does not know "
            f"(known: {', '.join(sorted(_DECODERS))}); was it written by a newer risk-manager?"
        )
    try:
        return fn(orjson.loads(payload))
    except (orjson.JSONDecodeError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
        raise StoreCorruptError(
            f"{where} ({KIND_NAMES[kind]}) is damaged: {type(exc).__name__}: {exc}"
        ) from None
