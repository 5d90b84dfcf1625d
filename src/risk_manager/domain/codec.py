"""One codec for domain records (events, journal control entries), by field name.

A record becomes a dict ``{field name: value}`` built from ``dataclasses.fields`` and the field
types, never from a hand-kept list of positions, so adding a field (with a default) cannot shift
anything: old data without it decodes to the default, and a name this program does not know is
refused (written by a newer program). Values are exact and JSON-ready:

- ``Decimal`` (money, prices): its ``str``, read back with ``Decimal(str)``;
- ``datetime``: integer microseconds since the Unix epoch, UTC (exact and compact);
- everything else (int, str, bool, float quote prices, None) as is -- orjson writes the shortest
  float repr, which reads back bit-identical.

:func:`from_positional` reads the older positional encodings (a list of values in field declaration
order, possibly shorter: fields added later take their defaults), which the journal and the engine
snapshot wrote before this codec existed.
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class CodecError(ValueError):
    """Data that does not decode to the record asked for (says which field and why)."""


def to_us(t: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    return (t - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _dec_decimal(v: Any) -> Decimal:
    if not isinstance(v, str | int):
        raise TypeError(f"expected a decimal as text, got {type(v).__name__}")
    return Decimal(v)


def _dec_time(v: Any) -> datetime:
    if type(v) is not int:
        raise TypeError(f"expected integer microseconds, got {type(v).__name__}")
    return from_us(v)


# (encode, decode) of one field's non-None values; None: passed through unchanged
_Conv = tuple[Callable[[Any], Any], Callable[[Any], Any]] | None


def _conv_of(annotation: Any) -> _Conv:
    args = set(typing.get_args(annotation)) - {type(None)} or {annotation}
    if args == {Decimal}:
        return (str, _dec_decimal)
    if args == {datetime}:
        return (to_us, _dec_time)
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
    fields: tuple[tuple[str, _Conv], ...]
    names: frozenset[str]
    required: frozenset[str]
    ordered: tuple[str, ...]  # field names in declaration order
    values: Callable[[Any], Any]  # record -> its values in that order (operator.attrgetter)
    encoded: tuple[tuple[str, Callable[[Any], Any]], ...]  # the fields whose values are converted
    decoded: tuple[tuple[str, Callable[[Any], Any]], ...]


_SPECS: dict[type, _Spec] = {}


def _spec(cls: type) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = _build_spec(cls)
    return spec


def _build_spec(cls: type) -> _Spec:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass record")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    convs = tuple((f.name, _conv_of(hints[f.name])) for f in fields)
    ordered = tuple(f.name for f in fields)
    getter = operator.attrgetter(*ordered) if len(ordered) > 1 else None
    return _Spec(
        convs,
        frozenset(f.name for f in fields),
        frozenset(
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ),
        ordered,
        getter if getter is not None else (lambda record: tuple(getattr(record, n) for n in ordered)),
        tuple((name, conv[0]) for name, conv in convs if conv is not None),
        tuple((name, conv[1]) for name, conv in convs if conv is not None),
    )


def to_fields(record: Any) -> dict[str, Any]:
    """``{field name: JSON-ready value}`` of a dataclass record."""
    spec = _spec(type(record))
    # (the journal encodes every event with this: one C-level getter and zip, then only the few
    # Decimal and datetime fields are converted)
    out = dict(zip(spec.ordered, spec.values(record), strict=True))
    for name, encode in spec.encoded:
        value = out[name]
        if value is not None:
            out[name] = encode(value)
    return out


def from_fields(cls: type[T], data: Mapping[str, Any]) -> T:
    """The record of ``cls`` from :func:`to_fields` data (missing fields take their defaults)."""
    spec = _spec(cls)
    if len(data) == len(spec.ordered) and data.keys() == spec.names:
        # every field present (what to_fields writes): convert the few that need it
        present: dict[str, Any] = dict(data)
        try:
            for name, decode in spec.decoded:
                value = present[name]
                if value is not None:
                    present[name] = decode(value)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise CodecError(f"{cls.__name__}.{name} = {data[name]!r}: {exc}") from None
        return cls(**present)
    unknown = data.keys() - spec.names
    if unknown:
        raise CodecError(
            f"{cls.__name__} has no field {', '.join(sorted(unknown))} (written by a newer program?)"
        )
    missing = spec.required - data.keys()
    if missing:
        raise CodecError(f"{cls.__name__} lacks required field {', '.join(sorted(missing))}")
    kwargs: dict[str, Any] = {}
    for name, conv in spec.fields:
        if name not in data:
            continue
        value = data[name]
        if conv is not None and value is not None:
            try:
                value = conv[1](value)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise CodecError(f"{cls.__name__}.{name} = {value!r}: {exc}") from None
        kwargs[name] = value
    return cls(**kwargs)


def from_positional(cls: type[T], values: Sequence[Any], time: Callable[[Any], datetime] = _dec_time) -> T:
    """The record of ``cls`` from an older positional encoding: values in field declaration order
    (a shorter list: later fields take their defaults). ``time`` reads a datetime value (the
    journal wrote microseconds, the engine snapshot ISO text)."""
    spec = _spec(cls)
    if len(values) > len(spec.fields):
        raise CodecError(f"{cls.__name__} has {len(spec.fields)} fields, got {len(values)} values")
    data: dict[str, Any] = {}
    for (name, conv), value in zip(spec.fields, values, strict=False):
        if conv is not None and value is not None and conv[1] is _dec_time:
            data[name] = to_us(time(value))
        else:
            data[name] = value
    return from_fields(cls, data)
