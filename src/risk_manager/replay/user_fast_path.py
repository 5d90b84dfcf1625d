"""The user-hub fast path of the recording reader.

About one line in twelve of a busy recording is a user-hub event (orders, trades, positions,
accounts), written the one way a recorder writes them:
  {"t": "...Z", "hub": "user", "target": "GatewayUserOrder", "arguments": [{payload}]}
The general path reads such a line with orjson, then checks and converts each field with a
Python call of its own (broker/normalize.py): about five times what the same line costs here,
where msgspec decodes the whole line and checks every type in one C pass, and only the money
(Decimal) and the times are converted in Python, as the general path converts them.

Like the quote fast path (reader.py), it accepts only a subset of what the general path accepts,
and for that subset gives the same ReplayLine; anything else (another kind of line, an extra key,
a ``{"action", "data"}`` wrapper, a value of another type, an integer beyond 64 bits, a time the
general path would convert or refuse, malformed JSON) gives None, and the line goes through the
general path, which reads it or names the problem. tests/unit/replay/test_user_fast_path.py holds
the two paths to that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from risk_manager.broker.normalize import parse_timestamp
from risk_manager.domain.events import Event, new_account, new_order, new_position, new_trade
from risk_manager.domain.money import ZERO, to_decimal

__all__ = ["read_user_line"]

# orjson turns an integer beyond 64 bits into a float, which the general path then reads its own
# way; such values (and the few above 2**63 orjson still keeps) take the general path.
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Size = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # a negative size is the general path's error
_Text = Annotated[str, msgspec.Meta(min_length=1)]  # a required string must not be empty
# A JSON number as the general path reads it: an int stays an int (Decimal(5800), not 5800.0).
_Number = _Int | float


# Every field the gateway sends is named, so that every value is fully decoded (msgspec only
# skims unknown ones, and would let through a value orjson refuses, such as 1e400); an unknown
# field, a wrapper among them, takes the general path. gc=False: these hold only strings,
# numbers and each other, so they can never be part of a reference cycle. The fields are declared
# in the gateway's order (PROJECTX.md §3), which recorders keep: msgspec looks each key up from
# the field after the last one found, so keys in declared order are found at the first try
# (kw_only: required and optional fields mixed in that order).
class _Order(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    id: _Int
    accountId: _Int
    contractId: _Text
    symbolId: str | None = None
    creationTimestamp: str | None = None
    updateTimestamp: str | None = None
    status: _Int
    type: _Int
    side: _Int
    size: _Size
    limitPrice: _Number | None = None
    stopPrice: _Number | None = None
    fillVolume: _Int | None = None
    filledPrice: _Number | None = None
    customTag: str | None = None


class _Trade(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    id: _Int
    accountId: _Int
    contractId: _Text
    creationTimestamp: str | None = None
    price: _Number
    profitAndLoss: _Number | None = None
    fees: _Number | None = None
    commissions: _Number | None = None
    side: _Int
    size: _Size
    voided: bool | None = None
    orderId: _Int | None = None


class _Position(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    id: _Int
    accountId: _Int
    contractId: _Text
    creationTimestamp: str | None = None
    type: _Int | None = None  # required only while the position is open (see normalize_position)
    size: _Size
    averagePrice: _Number | None = None


class _Account(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    id: _Int
    name: str | None = None
    balance: _Number | None = None
    canTrade: bool | None = None
    isVisible: bool | None = None
    simulated: bool | None = None


# The line itself, one struct per target, told apart by "target" (a tagged union).
class _OrderLine(
    msgspec.Struct, tag_field="target", tag="GatewayUserOrder", forbid_unknown_fields=True, gc=False
):
    t: str
    hub: Literal["user"]
    arguments: tuple[_Order, ...]


class _TradeLine(
    msgspec.Struct, tag_field="target", tag="GatewayUserTrade", forbid_unknown_fields=True, gc=False
):
    t: str
    hub: Literal["user"]
    arguments: tuple[_Trade, ...]


class _PositionLine(
    msgspec.Struct, tag_field="target", tag="GatewayUserPosition", forbid_unknown_fields=True, gc=False
):
    t: str
    hub: Literal["user"]
    arguments: tuple[_Position, ...]


class _AccountLine(
    msgspec.Struct, tag_field="target", tag="GatewayUserAccount", forbid_unknown_fields=True, gc=False
):
    t: str
    hub: Literal["user"]
    arguments: tuple[_Account, ...]


_decode = msgspec.json.Decoder(_OrderLine | _TradeLine | _PositionLine | _AccountLine).decode
# As in the quote fast path: RecursionError for absurd nesting, UnicodeError for a str line holding
# a lone surrogate, TypeError for something that is not text. The general path names each.
_NOT_A_PLAIN_USER_LINE = (msgspec.DecodeError, RecursionError, UnicodeError, TypeError)
_fromisoformat = datetime.fromisoformat


class _GeneralPath(Exception):
    """A value this path does not convert itself: the general path reads the line."""


def _money(value: int | float | None) -> Decimal | None:
    # as broker/normalize's _opt_dec; msgspec has already refused a number out of a float's range,
    # so to_decimal never raises here
    return None if value is None else to_decimal(value)


def _time(value: str | None, text: str, t: datetime) -> datetime | None:
    """A payload's time; ``t``, the line's receive time read from ``text``, when it is written
    alike: a recorder stamps most events with their receive time, which then reads once."""
    if value is None:
        return None
    if value == text:
        return t
    try:
        return parse_timestamp(value)  # the general path's own reader of gateway times
    except ValueError:
        raise _GeneralPath from None


def _order(o: _Order, text: str, t: datetime) -> Event:
    return new_order(
        o.id,
        o.accountId,
        o.contractId,
        o.status,
        o.type,
        o.side,
        o.size,
        _money(o.limitPrice),
        _money(o.stopPrice),
        o.fillVolume,
        _money(o.filledPrice),
        o.customTag,
        _time(o.creationTimestamp, text, t),
        _time(o.updateTimestamp, text, t),
    )


def _trade(o: _Trade, text: str, t: datetime) -> Event:
    fees = _money(o.fees)
    commissions = _money(o.commissions)
    return new_trade(
        o.id,
        o.accountId,
        o.contractId,
        to_decimal(o.price),
        _money(o.profitAndLoss),
        ZERO if fees is None else fees,
        o.side,
        o.size,
        bool(o.voided),
        o.orderId,
        _time(o.creationTimestamp, text, t),
        ZERO if commissions is None else commissions,
    )


def _position(o: _Position, text: str, t: datetime) -> Event:
    if o.size:
        if o.type is None or o.averagePrice is None:
            raise _GeneralPath  # required while open: the general path names the missing field
        type_ = o.type
        average = to_decimal(o.averagePrice)
    else:
        type_ = o.type or 0
        average = _money(o.averagePrice) or ZERO
    created = _time(o.creationTimestamp, text, t)
    return new_position(o.id, o.accountId, o.contractId, type_, o.size, average, created)


def _account(o: _Account, text: str, t: datetime) -> Event:
    return new_account(o.id, o.name, _money(o.balance), o.canTrade, o.isVisible, o.simulated)


# Each builder takes the payload, and the line's time as written and as read (see _time).
_BUILDERS: dict[type, Callable[[Any, str, datetime], Event]] = {
    _OrderLine: _order,
    _TradeLine: _trade,
    _PositionLine: _position,
    _AccountLine: _account,
}


def read_user_line(raw: bytes | str) -> tuple[datetime, tuple[Event, ...]] | None:
    """The receive time and events of a plain user-hub line, or None: let the general path read it."""
    try:
        line = _decode(raw)
    except _NOT_A_PLAIN_USER_LINE:
        return None
    text = line.t
    try:
        t = _fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is not UTC:
        return None
    build = _BUILDERS[type(line)]
    payloads = line.arguments
    try:
        if len(payloads) == 1:  # nearly every line: then no list (a comprehension is a call) to build
            return t, (build(payloads[0], text, t),)
        return t, tuple([build(payload, text, t) for payload in payloads])
    except _GeneralPath:
        return None
