"""Exact decimal conversion of gateway numbers and fixed formatting of money."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

ZERO = Decimal(0)
CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    """Exact Decimal of a JSON number or numeric string.

    Floats go through ``repr`` (the shortest string that round-trips), so ``21000.1`` becomes
    ``Decimal('21000.1')`` and not the binary approximation. Raises ValueError on anything else.
    """
    if type(value) is float and value - value == 0.0:  # the engine's case, first: a finite float
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite number, got {value!r}")
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"expected a finite number, got {value!r}")
        return result
    raise ValueError(f"expected a number, got {value!r}")


def written_alike(a: Decimal, b: Decimal) -> bool:
    """Two equal Decimals (a memo's key) also written alike: 2.5 and 2.50 are equal but print
    differently, and a remembered reason text shows them. Same exponent and sign: the same text."""
    return a.same_quantum(b) and a.is_signed() == b.is_signed()


def money(value: Decimal) -> str:
    """Two-decimal string of an amount: Decimal('-512.5') -> '-512.50'."""
    return str(value.quantize(CENT))
