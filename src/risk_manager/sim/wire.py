"""Wire format of the ProjectX Gateway: field lists, timestamps, numbers, request-body validation.

Field names are the gateway's exactly (PROJECTX.md §2-§3); tests compare these tuples with the doc so
the fake cannot drift. Prices and money are Decimal inside the simulator and become JSON numbers only
here, at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

# ---- wire enums (PROJECTX.md §2 "Enums"; deliberately not the engine's domain enums: the simulator
# speaks the gateway's protocol, and must not change when our own model of it does) ------------------


class OrderSide(IntEnum):
    BUY = 0  # "Bid"
    SELL = 1  # "Ask"


class OrderType(IntEnum):
    UNKNOWN = 0
    LIMIT = 1
    MARKET = 2
    STOP_LIMIT = 3
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7


class OrderStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6
    PENDING_CANCELLATION = 7
    SUSPENDED = 8


class PositionType(IntEnum):
    UNDEFINED = 0
    LONG = 1
    SHORT = 2


# User-hub wrapper actions seen live (PROJECTX.md §2b): 0 for a new trade, 1 for an update.
ACTION_NEW = 0
ACTION_UPDATE = 1

# ---- payload field lists (REST models and hub events) ---------------------------------------------

ACCOUNT_FIELDS = ("id", "name", "balance", "canTrade", "isVisible", "simulated")
POSITION_FIELDS = ("id", "accountId", "contractId", "creationTimestamp", "type", "size", "averagePrice")
ORDER_FIELDS = (
    "id",
    "accountId",
    "contractId",
    "symbolId",
    "creationTimestamp",
    "updateTimestamp",
    "status",
    "type",
    "side",
    "size",
    "limitPrice",
    "stopPrice",
    "fillVolume",
    "filledPrice",
    "customTag",
)
TRADE_FIELDS = (
    "id",
    "accountId",
    "contractId",
    "creationTimestamp",
    "price",
    "profitAndLoss",
    "fees",
    "side",
    "size",
    "voided",
    "orderId",
)
CONTRACT_FIELDS = ("id", "name", "description", "tickSize", "tickValue", "activeContract", "symbolId")
BAR_FIELDS = ("t", "o", "h", "l", "c", "v")
QUOTE_FIELDS = (
    "symbol",
    "symbolName",
    "lastPrice",
    "bestBid",
    "bestAsk",
    "change",
    "changePercent",
    "open",
    "high",
    "low",
    "volume",
    "lastUpdated",
    "timestamp",
)
MARKET_TRADE_FIELDS = ("symbolId", "price", "timestamp", "type", "volume")
DEPTH_FIELDS = ("timestamp", "type", "price", "volume", "currentVolume")
RESULT_FIELDS = ("success", "errorCode", "errorMessage")

# Fields the live gateway adds to the documented models (PROJECTX.md §2b "Commissions", "Extra fields");
# sent by the live-like simulator only, never by --bare.
LIVE_EXTRA_FIELDS: Mapping[str, tuple[str, ...]] = {
    "position": ("contractDisplayName",),
    "order": ("trailPrice", "trailDistance", "parentOrderId", "linkedOrderId"),
    "trade": ("commissions",),
}

Stamp = Callable[[datetime], str]

# ---- formatting -----------------------------------------------------------------------------------


def iso(when: datetime) -> str:
    """ISO-8601 UTC, microseconds, ``+00:00``, as the gateway sends: ``2025-04-21T19:45:52.105808+00:00``."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def iso7(when: datetime) -> str:
    """.NET round-trip style as the live gateway sends it (PROJECTX.md §2b): 7 fractional digits with
    the trailing zeros dropped (no fraction at all on a whole second), ``+00:00``:
    ``2026-05-06T14:30:00.12+00:00``."""
    text = when.astimezone(UTC).isoformat(timespec="microseconds")  # 2026-05-06T14:30:00.120000+00:00
    fraction = text[20:26].rstrip("0")  # the 7th digit would be a zero: microseconds are all we have
    return f"{text[:19]}.{fraction}+00:00" if fraction else f"{text[:19]}+00:00"


def hub_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A hub event body as the live gateway sends it: fields with no value left out (§2b)."""
    return {k: v for k, v in payload.items() if v is not None}


def num(value: Decimal | int | None) -> float | int | None:
    """A Decimal as a JSON number. Integers stay integers; the rest become the nearest float, which
    for prices on a tick grid and cents prints back as the same short decimal."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return float(value)


def parse_time(value: str, field: str) -> datetime:
    """Tolerant ISO-8601 parse (``Z``, 7 fractional digits, no offset = UTC). Raises BadRequest."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python < 3.11 style limits aside, fromisoformat takes up to 6 fractional digits reliably;
    # trim longer fractions (.NET sends 7).
    if "." in text:
        head, _, tail = text.partition(".")
        digits = ""
        rest = tail
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6]}{rest}" if digits else head + rest
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(field, f"The value '{value}' is not a valid ISO-8601 date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# ---- request bodies -------------------------------------------------------------------------------


class BadRequest(Exception):
    """A request body the real gateway's model binding would refuse with HTTP 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def problem(self) -> dict[str, Any]:
        """ASP.NET ProblemDetails body, as ``[ApiController]`` returns for validation errors."""
        return {
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "errors": {self.field: [self.message]},
        }


_MISSING = object()


class Body:
    """Typed access to a JSON request body; every failure names the field and what was expected."""

    __slots__ = ("_data",)

    def __init__(self, data: object) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise BadRequest("$", "The request body must be a JSON object.")
        self._data = data

    def _get(self, name: str, required: bool) -> Any:
        value = self._data.get(name, _MISSING)
        if value is _MISSING or (value is None and required):
            if required:
                raise BadRequest(name, f"The {name} field is required.")
            return None
        return value

    def integer(self, name: str, *, required: bool = True) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise BadRequest(name, f"The JSON value {value!r} could not be converted to an integer.")
        return value

    def flag(self, name: str, *, required: bool = True) -> bool | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise BadRequest(name, f"The JSON value {value!r} could not be converted to a boolean.")
        return value

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise BadRequest(name, f"The JSON value {value!r} could not be converted to a string.")
        return value

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(name, f"The JSON value {value!r} could not be converted to a number.")
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise BadRequest(name, f"The JSON value {value!r} is not a finite number.")
        return Decimal(value) if isinstance(value, int) else Decimal(repr(value))

    def time(self, name: str, *, required: bool = True) -> datetime | None:
        value = self.text(name, required=required)
        return None if value is None else parse_time(value, name)

    def obj(self, name: str) -> Body | None:
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise BadRequest(name, f"The JSON value {value!r} could not be converted to an object.")
        return Body(value)
