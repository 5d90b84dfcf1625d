"""Raw gateway payloads (hub events and REST rows) -> domain events.

One set of per-kind functions serves every source: the user hub (``GatewayUserAccount``,
``GatewayUserOrder``, ``GatewayUserPosition``, ``GatewayUserTrade``), the REST searches
(``Account/search``, ``Order/searchOpen``, ``Position/searchOpen``, ``Trade/search`` rows have the same
field names) and recorded feeds. Field names are the gateway's (PROJECTX.md §2, §3).

Policy for imperfect payloads (the gateway is not ours, and it changes):

- A *required* field (ids, ``accountId``, ``contractId``, sizes, sides, prices that define the event)
  that is missing, null or of the wrong type raises ``PayloadError`` naming the target, the field and
  the value: an event we cannot read correctly must not be half-applied.
- An *optional* field that is missing or null takes its default. One that is present with a value of
  the wrong type is also a ``PayloadError``: it means our reading of the payload is wrong, and that
  must be loud, not silently zero.
- Unknown extra fields are ignored; unknown enum values are kept as the int received.
- Timestamps: ISO-8601 with ``Z`` or an offset, any number of fractional digits (7 are truncated to
  microseconds); a timestamp without an offset is UTC (the gateway speaks UTC). Always returned in UTC.
- Money and order/position prices become exact ``Decimal`` (a 9-decimal ``5138.250000000`` is exactly
  ``Decimal('5138.25')``). Quote prices stay the floats received: quotes are ~90% of the stream and
  the engine converts one only when it computes P&L with it.
- Both the bare object and the ``{"action": n, "data": {...}}`` wrapper are accepted, and a list of
  either (some gateway versions batch).

``GatewayLogout`` becomes ``ConnectionEvent("lost", hub)``: after a logout the session is gone and
no more events arrive on it, which is exactly a lost connection for the rules (RULE-010 alerts); the
runtime re-authenticates and a later ``ConnectionEvent("restored")`` ends it. Market data other than
quotes (``GatewayTrade``, ``GatewayDepth``) carries nothing the rules use and is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from risk_manager.domain.events import (
    AccountEvent,
    ConnectionEvent,
    Event,
    OrderEvent,
    PositionEvent,
    QuoteEvent,
    TradeEvent,
    new_account,
    new_order,
    new_position,
    new_quote,
    new_trade,
)
from risk_manager.domain.money import ZERO, to_decimal

__all__ = [
    "HUBS",
    "IGNORED_TARGETS",
    "MARKET_TARGETS",
    "USER_TARGETS",
    "PayloadError",
    "normalize_account",
    "normalize_message",
    "normalize_order",
    "normalize_position",
    "normalize_quote",
    "normalize_trade",
    "normalize_user",
    "parse_timestamp",
]


class PayloadError(ValueError):
    """A gateway payload that cannot be read: names the target (or REST source), the field and the value."""

    def __init__(self, target: str, field: str | None, value: object, problem: str) -> None:
        self.target = target
        self.field = field
        self.value = value
        self.problem = problem
        where = f"{target}: field {field!r}" if field else f"{target}:"
        super().__init__(f"{where} {problem}")


_MAX_NESTING = 8


# ---- field readers -----------------------------------------------------------------------------
# Each takes the payload dict, the field name and the target (for the error message).


def _shown(value: object) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _req(obj: dict[str, Any], name: str, target: str) -> Any:
    value = obj.get(name)
    if value is None:
        problem = "is missing" if name not in obj else "is null"
        raise PayloadError(target, name, value, f"{problem}; it is required")
    return value


def _as_int(value: Any, name: str, target: str) -> int:
    # JSON integers arrive as int; a float with no fractional part (2.0) is accepted, bool is not.
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise PayloadError(target, name, value, f"must be an integer, got {_shown(value)}")


# The readers below first take the common case (a value of the expected type) in one step; the
# general call behind it decides everything else, errors included.


def _int(obj: dict[str, Any], name: str, target: str) -> int:
    value = obj.get(name)
    if type(value) is int:
        return value
    return _as_int(_req(obj, name, target), name, target)


def _opt_int(obj: dict[str, Any], name: str, target: str) -> int | None:
    value = obj.get(name)
    if value is None or type(value) is int:
        return value
    return _as_int(value, name, target)


def _size(obj: dict[str, Any], name: str, target: str) -> int:
    value = _int(obj, name, target)
    if value < 0:
        raise PayloadError(target, name, value, f"must not be negative, got {value}")
    return value


def _str(obj: dict[str, Any], name: str, target: str) -> str:
    value = obj.get(name)
    if type(value) is str and value:
        return value
    value = _req(obj, name, target)
    if type(value) is not str or not value:
        raise PayloadError(target, name, value, f"must be a non-empty string, got {_shown(value)}")
    return value


def _opt_str(obj: dict[str, Any], name: str, target: str) -> str | None:
    value = obj.get(name)
    if value is None or type(value) is str:
        return value
    raise PayloadError(target, name, value, f"must be a string or null, got {_shown(value)}")


def _as_decimal(value: Any, name: str, target: str) -> Decimal:
    try:
        return to_decimal(value)
    except ValueError:
        raise PayloadError(target, name, value, f"must be a number, got {_shown(value)}") from None


def _dec(obj: dict[str, Any], name: str, target: str) -> Decimal:
    value = obj.get(name)
    if type(value) is float and value - value == 0.0:  # finite (inf - inf and nan are nan)
        return Decimal(repr(value))  # as to_decimal does
    return _as_decimal(_req(obj, name, target), name, target)


def _opt_dec(obj: dict[str, Any], name: str, target: str) -> Decimal | None:
    value = obj.get(name)
    if value is None:
        return None
    if type(value) is float and value - value == 0.0:  # finite (inf - inf and nan are nan)
        return Decimal(repr(value))  # as to_decimal does
    return _as_decimal(value, name, target)


def _opt_bool(obj: dict[str, Any], name: str, target: str) -> bool | None:
    value = obj.get(name)
    if value is None or type(value) is bool:
        return value
    raise PayloadError(target, name, value, f"must be true, false or null, got {_shown(value)}")


def parse_timestamp(value: str) -> datetime:
    """A gateway timestamp in UTC. Raises ValueError naming the value.

    Python 3.11's ``fromisoformat`` reads ``Z``, offsets and 7 fractional digits (truncating to
    microseconds); the slow path below only handles what it refuses.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = _parse_timestamp_slow(value)
    tz = parsed.tzinfo
    if tz is UTC:
        return parsed
    if tz is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC equivalent
        raise ValueError(f"{value!r} is out of the representable range of times") from None


def _parse_timestamp_slow(value: object) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        # More than 6 fractional digits on a Python that refuses them: keep the first 6.
        dot = text.find(".")
        if dot != -1:
            end = dot + 1
            while end < len(text) and text[end].isdigit():
                end += 1
            if end - dot - 1 > 6:
                text = text[: dot + 7] + text[end:]
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not an ISO-8601 timestamp (e.g. 2026-03-02T14:30:00.120Z)")


def _opt_time(obj: dict[str, Any], name: str, target: str) -> datetime | None:
    value = obj.get(name)
    if value is None:
        return None
    if type(value) is not str:
        raise PayloadError(target, name, value, f"must be an ISO-8601 string, got {_shown(value)}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise PayloadError(
            target,
            name,
            value,
            f"is not an ISO-8601 timestamp: {value!r} (expected e.g. 2026-03-02T14:30:00.120Z)",
        ) from None


# ---- per-kind normalizers (hub payloads and REST rows alike) ----------------------------------


def normalize_account(obj: dict[str, Any], target: str = "GatewayUserAccount") -> AccountEvent:
    """``GatewayUserAccount`` payload or an ``Account/search`` row."""
    return new_account(
        account_id=_int(obj, "id", target),
        name=_opt_str(obj, "name", target),
        balance=_opt_dec(obj, "balance", target),
        can_trade=_opt_bool(obj, "canTrade", target),
        is_visible=_opt_bool(obj, "isVisible", target),
        simulated=_opt_bool(obj, "simulated", target),
    )


def normalize_order(obj: dict[str, Any], target: str = "GatewayUserOrder") -> OrderEvent:
    """``GatewayUserOrder`` payload or an ``Order/search``/``Order/searchOpen`` row."""
    return new_order(
        order_id=_int(obj, "id", target),
        account_id=_int(obj, "accountId", target),
        contract_id=_str(obj, "contractId", target),
        status=_int(obj, "status", target),
        type=_int(obj, "type", target),
        side=_int(obj, "side", target),
        size=_size(obj, "size", target),
        limit_price=_opt_dec(obj, "limitPrice", target),
        stop_price=_opt_dec(obj, "stopPrice", target),
        fill_volume=_opt_int(obj, "fillVolume", target),
        filled_price=_opt_dec(obj, "filledPrice", target),
        custom_tag=_opt_str(obj, "customTag", target),
        created=_opt_time(obj, "creationTimestamp", target),
        updated=_opt_time(obj, "updateTimestamp", target),
    )


def normalize_position(obj: dict[str, Any], target: str = "GatewayUserPosition") -> PositionEvent:
    """``GatewayUserPosition`` payload or a ``Position/searchOpen`` row.

    A position going flat arrives with ``size`` 0; its ``type`` and ``averagePrice`` may then be 0 or
    null, so they are only required while the position is open (a flat update must never be lost).
    """
    size = _size(obj, "size", target)
    if size:
        type_ = _int(obj, "type", target)
        average = _dec(obj, "averagePrice", target)
    else:
        type_ = _opt_int(obj, "type", target) or 0
        average = _opt_dec(obj, "averagePrice", target) or ZERO
    return new_position(
        position_id=_int(obj, "id", target),
        account_id=_int(obj, "accountId", target),
        contract_id=_str(obj, "contractId", target),
        type=type_,
        size=size,
        average_price=average,
        created=_opt_time(obj, "creationTimestamp", target),
    )


def normalize_trade(obj: dict[str, Any], target: str = "GatewayUserTrade") -> TradeEvent:
    """``GatewayUserTrade`` payload or a ``Trade/search`` row. ``profitAndLoss`` null = opening fill.
    ``commissions`` (live, beside ``fees``) absent or null counts as none."""
    fees = _opt_dec(obj, "fees", target)
    commissions = _opt_dec(obj, "commissions", target)
    voided = _opt_bool(obj, "voided", target)
    return new_trade(
        trade_id=_int(obj, "id", target),
        account_id=_int(obj, "accountId", target),
        contract_id=_str(obj, "contractId", target),
        price=_dec(obj, "price", target),
        pnl=_opt_dec(obj, "profitAndLoss", target),
        fees=ZERO if fees is None else fees,
        side=_int(obj, "side", target),
        size=_size(obj, "size", target),
        voided=bool(voided),
        order_id=_opt_int(obj, "orderId", target),
        created=_opt_time(obj, "creationTimestamp", target),
        commissions=ZERO if commissions is None else commissions,
    )


_USER_NORMALIZERS: dict[str, Callable[[dict[str, Any], str], Event]] = {
    "GatewayUserAccount": normalize_account,
    "GatewayUserOrder": normalize_order,
    "GatewayUserPosition": normalize_position,
    "GatewayUserTrade": normalize_trade,
}

USER_TARGETS = frozenset(_USER_NORMALIZERS) | {"GatewayLogout"}
MARKET_TARGETS = frozenset({"GatewayQuote", "GatewayTrade", "GatewayDepth", "GatewayLogout"})
# Targets that are understood but carry nothing for the engine.
IGNORED_TARGETS = frozenset({"GatewayTrade", "GatewayDepth"})
HUBS = {"user": USER_TARGETS, "market": MARKET_TARGETS}


def _unwrap(payload: object, target: str, out: list[dict[str, Any]], depth: int = 0) -> None:
    """Collect the payload objects of one hub argument: bare, wrapped, or lists of either."""
    if depth > _MAX_NESTING:  # a real payload nests 2 or 3 levels; this is garbage, not recursion
        raise PayloadError(
            target, None, None, f"payload nests wrappers/lists deeper than {_MAX_NESTING} levels"
        )
    if type(payload) is dict:
        if "data" in payload and "action" in payload:
            _unwrap(payload["data"], target, out, depth + 1)
        else:
            out.append(payload)
    elif type(payload) is list:
        for item in payload:
            _unwrap(item, target, out, depth + 1)
    else:
        raise PayloadError(target, None, payload, f"payload must be a JSON object, got {_shown(payload)}")


def normalize_user(target: str, payload: object) -> list[Event]:
    """One user-hub event argument -> events (a list payload gives one event per object)."""
    normalizer = _USER_NORMALIZERS.get(target)
    if normalizer is None:
        raise PayloadError(
            target,
            None,
            payload,
            f"is not a user-hub event; expected one of {', '.join(sorted(_USER_NORMALIZERS))}",
        )
    objects: list[dict[str, Any]] = []
    _unwrap(payload, target, objects)
    return [normalizer(obj, target) for obj in objects]


_NUMBER_OR_NONE = frozenset({float, int, type(None)})
_fromisoformat = datetime.fromisoformat


_make_quote = new_quote  # QuoteEvent(...), without the frozen __init__'s cost


def normalize_quote(contract_id: object, payload: object) -> QuoteEvent:
    """``GatewayQuote`` (contractId, data) -> QuoteEvent; absent fields are None ("unchanged").

    The hot path: a few dict lookups and type checks, no Decimal, no try/except chains; anything
    unusual (wrapper, wrong types, a non-UTC timestamp) goes to the slow path, which also raises.
    """
    if type(payload) is dict and type(contract_id) is str and contract_id:
        get = payload.get
        last = get("lastPrice")
        bid = get("bestBid")
        ask = get("bestAsk")
        if (
            type(last) in _NUMBER_OR_NONE
            and type(bid) in _NUMBER_OR_NONE
            and type(ask) in _NUMBER_OR_NONE
            and (last is not None or bid is not None or ask is not None or "data" not in payload)
        ):
            stamp = get("timestamp")
            if stamp is None:
                return _make_quote(contract_id, last, bid, ask, None)
            if type(stamp) is str:
                try:
                    when = _fromisoformat(stamp)
                except ValueError:
                    when = None
                if when is not None and when.tzinfo is UTC:
                    return _make_quote(contract_id, last, bid, ask, when)
    return _quote_slow(contract_id, payload)


def _quote_slow(contract_id: object, payload: object) -> QuoteEvent:
    target = "GatewayQuote"
    if type(contract_id) is not str or not contract_id:
        raise PayloadError(
            target,
            "contractId",
            contract_id,
            f"(first argument) must be a non-empty string, got {_shown(contract_id)}",
        )
    if type(payload) is dict and "data" in payload and "action" in payload:
        data = payload["data"]
        if type(data) is dict and "data" in data and "action" in data:
            raise PayloadError(target, None, None, "quote data is a wrapper inside a wrapper; send it once")
        return normalize_quote(contract_id, data)
    if type(payload) is not dict:
        raise PayloadError(
            target,
            None,
            payload,
            f"quote data (second argument) must be a JSON object, got {_shown(payload)}",
        )
    prices: list[float | None] = []
    for name in ("lastPrice", "bestBid", "bestAsk"):
        value = payload.get(name)
        if type(value) not in _NUMBER_OR_NONE:
            raise PayloadError(target, name, value, f"must be a number or null, got {_shown(value)}")
        prices.append(value)
    return _make_quote(contract_id, prices[0], prices[1], prices[2], _opt_time(payload, "timestamp", target))


def normalize_message(hub: str, target: str, arguments: list[Any]) -> list[Event]:
    """One hub invocation (``{"type":1,"target":...,"arguments":[...]}``) -> events.

    Unknown targets on a known hub give no events (the gateway may add event kinds; the live adapter
    logs them). Raises PayloadError for an unknown hub or a payload that cannot be read.
    """
    if hub == "market":
        if target == "GatewayQuote":
            if len(arguments) != 2:
                raise PayloadError(
                    target, None, arguments, f"expects 2 arguments (contractId, data), got {len(arguments)}"
                )
            return [normalize_quote(arguments[0], arguments[1])]
        if target == "GatewayLogout":
            return [ConnectionEvent("lost", hub)]
        return []
    if hub == "user":
        if target in _USER_NORMALIZERS:
            events: list[Event] = []
            for argument in arguments:
                events.extend(normalize_user(target, argument))
            return events
        if target == "GatewayLogout":
            return [ConnectionEvent("lost", hub)]
        return []
    raise PayloadError(target, None, hub, f"arrived on unknown hub {hub!r}; hubs are 'user' and 'market'")
