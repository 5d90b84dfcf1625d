"""Small validated value types shared by config models and rules (durations, clock times, symbols, money)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from risk_manager.domain.contracts import canonical_root

UNTIL_RESET = "until_reset"
UNTIL_SESSION_START = "until_session_start"

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True, slots=True)
class Duration:
    """A cooldown length: a fixed time, or until the next daily reset / session start."""

    seconds: int | None = None  # None for the symbolic kinds
    until: str | None = None  # UNTIL_RESET | UNTIL_SESSION_START

    @property
    def delta(self) -> timedelta | None:
        return None if self.seconds is None else timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        if self.until is not None:
            return self.until
        assert self.seconds is not None
        for unit, size in (("h", 3600), ("m", 60)):
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"


def parse_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in (UNTIL_RESET, UNTIL_SESSION_START):
            return Duration(until=text)
        match = _DURATION.match(text)
        if match and int(match.group(1)) > 0:
            return Duration(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(
        f"{value!r} is not a duration: use a positive number with s, m or h (30s, 15m, 1h), "
        "or until_reset, or until_session_start"
    )


DurationField = Annotated[Duration, BeforeValidator(parse_duration), PlainSerializer(str)]

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 17:00 as the sexagesimal integer 1020.
        hours, minutes = divmod(value, 60)
        if 0 <= hours < 24:
            return time(hours, minutes)
    if isinstance(value, str) and (m := _HHMM.match(value.strip())):
        return time(int(m.group(1)), int(m.group(2)))
    raise ValueError(f'{value!r} is not a time: use 24-hour HH:MM in quotes, e.g. "17:00"')


ClockTime = Annotated[time, BeforeValidator(parse_hhmm), PlainSerializer(lambda t: t.strftime("%H:%M"))]


def parse_zone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a time zone: use an IANA name, e.g. America/Chicago")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not an IANA time zone: use a name like America/Chicago or Europe/London"
        ) from None
    return value.strip()


TimeZoneName = Annotated[str, BeforeValidator(parse_zone)]


def parse_symbol(value: Any) -> str:
    if not isinstance(value, str) or not value.strip().isalnum():
        raise ValueError(f"{value!r} is not a symbol: use a CME root such as NQ, ES or MNQ")
    return canonical_root(value)


Symbol = Annotated[str, BeforeValidator(parse_symbol)]


def _negative(value: Decimal) -> Decimal:
    if value >= 0:
        raise ValueError(f"limit must be negative (a loss), e.g. -500; got {value}")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be positive, e.g. 1000; got {value}")
    return value


# YAML 1.1 booleans (and 1/0): refused, with the true/false they were meant as.
_LOOKS_TRUE = {"yes", "y", "on", "1", "true"}
_LOOKS_FALSE = {"no", "n", "off", "0", "false"}


def true_or_false(value: Any) -> bool:
    """Only ``true``/``false`` are booleans: YAML 1.1's ``no`` would otherwise silently disable a rule."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in _LOOKS_TRUE | _LOOKS_FALSE:
        raise ValueError("must be true or false")
    meant = "true" if word in _LOOKS_TRUE else "false"
    raise ValueError(
        f"not a boolean: write {meant} (only true and false are booleans here, not yes/no, on/off or 1/0)"
    )


class TrueFalseOnly(BaseModel):
    """Base for config models: every ``bool`` field takes only ``true`` or ``false``."""

    @field_validator("*", mode="before")
    @classmethod
    def _true_false_only(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and field.annotation is bool:
            return true_or_false(value)
        return value


def _cents(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{value} has more than two decimals: money is in dollars and cents, e.g. -500.25")
    return value


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{value!r} is not an amount: use a number, e.g. -500")
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"{value!r} is not an amount: use a number, e.g. -500") from None
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return result


# Money in config: exact Decimal, written as a plain number in YAML.
Money = Annotated[Decimal, BeforeValidator(_decimal), PlainSerializer(str)]
# Limits and targets are money: at most two decimals, never rounded (CONFIG.md).
LossLimit = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    AfterValidator(_cents),
    AfterValidator(_negative),
    PlainSerializer(str),
]
ProfitTarget = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    AfterValidator(_cents),
    AfterValidator(_positive),
    PlainSerializer(str),
]
