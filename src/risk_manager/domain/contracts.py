"""Contract ids, CME roots and tick specifications.

ProjectX contract ids look like ``CON.F.US.MNQ.H26``; the fourth part is ProjectX's product code,
which is not always the CME root (``ENQ`` is NQ, ``EP`` is ES ...). Rules and config speak in CME
roots, so every contract id is reduced to its root here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

MONTH_CODES = "FGHJKMNQUVXZ"

# ProjectX product code -> CME root (PROJECTX.md §4).
PRODUCT_ALIASES: Mapping[str, str] = {
    "ENQ": "NQ",
    "EP": "ES",
    "CLE": "CL",
    "MCLE": "MCL",
    "GCE": "GC",
}
# CME root -> ProjectX product code (inverse, for building contract ids).
ROOT_TO_PRODUCT: Mapping[str, str] = {root: code for code, root in PRODUCT_ALIASES.items()}


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """Tick size and tick value (USD per tick per contract) of one root."""

    root: str
    tick_size: Decimal
    tick_value: Decimal
    description: str = ""
    # USD per full point per contract (tick value / tick size): every P&L figure multiplies by it,
    # so it is divided out once, here.
    point_value: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "point_value", self.tick_value / self.tick_size)


def _spec(root: str, size: str, value: str, description: str) -> ContractSpec:
    return ContractSpec(root, Decimal(size), Decimal(value), description)


# Fallback table (PROJECTX.md §4); the gateway's Contract/search values win at run time.
DEFAULT_SPECS: Mapping[str, ContractSpec] = {
    s.root: s
    for s in (
        _spec("MNQ", "0.25", "0.50", "Micro E-mini Nasdaq-100"),
        _spec("NQ", "0.25", "5.00", "E-mini Nasdaq-100"),
        _spec("ES", "0.25", "12.50", "E-mini S&P 500"),
        _spec("MES", "0.25", "1.25", "Micro E-mini S&P 500"),
        _spec("YM", "1.00", "5.00", "E-mini Dow"),
        _spec("MYM", "1.00", "0.50", "Micro E-mini Dow"),
        _spec("RTY", "0.10", "5.00", "E-mini Russell 2000"),
        _spec("M2K", "0.10", "0.50", "Micro E-mini Russell 2000"),
        _spec("CL", "0.01", "10.00", "Crude Oil"),
        _spec("MCL", "0.01", "1.00", "Micro WTI Crude Oil"),
        _spec("GC", "0.10", "10.00", "Gold"),
        _spec("MGC", "0.10", "1.00", "Micro Gold"),
    )
}


class ContractIdError(ValueError):
    """A contract id that is not of the form CON.F.US.<PRODUCT>.<MonthYY>."""


def canonical_root(symbol: str) -> str:
    """CME root for a root or ProjectX product code (``ENQ`` -> ``NQ``, ``mnq`` -> ``MNQ``)."""
    upper = symbol.strip().upper()
    return PRODUCT_ALIASES.get(upper, upper)


@dataclass(frozen=True, slots=True)
class ContractId:
    """A parsed ProjectX contract id."""

    raw: str
    product: str  # ProjectX product code, e.g. ENQ
    root: str  # CME root, e.g. NQ
    month: int | None  # 1..12, None when the id carries no month code
    year: int | None  # two-digit year as in the id


@lru_cache(maxsize=4096)
def parse_contract_id(contract_id: str) -> ContractId:
    """Parse ``CON.F.US.MNQ.H26``; also accepts ``F.US.MNQ`` symbol ids and bare roots.

    Raises ContractIdError for anything else, naming the value.
    """
    if not isinstance(contract_id, str) or not contract_id.strip():
        raise ContractIdError(f"contract id must be a non-empty string, got {contract_id!r}")
    parts = contract_id.strip().split(".")
    if len(parts) == 5 and parts[0] == "CON":
        product, expiry = parts[3].upper(), parts[4].upper()
        if not product:
            raise ContractIdError(f"contract id {contract_id!r} has no product code")
        month: int | None = None
        year: int | None = None
        if len(expiry) >= 2 and expiry[0] in MONTH_CODES and expiry[1:].isdigit():
            month = MONTH_CODES.index(expiry[0]) + 1
            year = int(expiry[1:])
        return ContractId(contract_id, product, canonical_root(product), month, year)
    if len(parts) == 3 and parts[0] == "F":
        product = parts[2].upper()
        return ContractId(contract_id, product, canonical_root(product), None, None)
    if len(parts) == 1 and parts[0].isalnum():
        product = parts[0].upper()
        return ContractId(contract_id, product, canonical_root(product), None, None)
    raise ContractIdError(
        f"contract id {contract_id!r} is not of the form CON.F.US.<PRODUCT>.<MonthYY>, e.g. CON.F.US.MNQ.H26"
    )


@lru_cache(maxsize=4096)  # asked for every order and position on every event: answered in one call
def root_of(contract_id: str) -> str:
    """CME root of a contract id; the raw id itself when it cannot be parsed (never raises)."""
    try:
        return parse_contract_id(contract_id).root
    except ContractIdError:
        return contract_id


def contract_id_for(root: str, month: int, year: int) -> str:
    """Build the ProjectX id of a root's contract: ('NQ', 3, 2026) -> 'CON.F.US.ENQ.H26'."""
    product = ROOT_TO_PRODUCT.get(canonical_root(root), canonical_root(root))
    return f"CON.F.US.{product}.{MONTH_CODES[month - 1]}{year % 100:02d}"


class ContractTable:
    """Tick specs by root: the built-in table, config overrides on top, gateway values on top of that."""

    __slots__ = ("_by_contract", "_specs")

    def __init__(self, overrides: Mapping[str, ContractSpec] | None = None) -> None:
        self._specs: dict[str, ContractSpec] = dict(DEFAULT_SPECS)
        for root, spec in (overrides or {}).items():
            self._specs[canonical_root(root)] = spec
        self._by_contract: dict[str, ContractSpec | None] = {}

    def set(self, spec: ContractSpec) -> None:
        """Add or replace a root's spec (config override or a gateway Contract/search answer)."""
        self._specs[canonical_root(spec.root)] = spec
        self._by_contract.clear()

    def for_root(self, root: str) -> ContractSpec | None:
        return self._specs.get(canonical_root(root))

    def for_contract(self, contract_id: str) -> ContractSpec | None:
        """Spec of a contract id, or None when its root is unknown (callers must not guess ticks)."""
        try:
            return self._by_contract[contract_id]
        except KeyError:
            spec = self._specs.get(root_of(contract_id))
            self._by_contract[contract_id] = spec
            return spec

    def roots(self) -> list[str]:
        return sorted(self._specs)
