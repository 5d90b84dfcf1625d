"""The P&L figures of one position, written once for the engine's own positions and the frozen
records rules read (``rules/api.PositionView``): both inherit them, so the formulas cannot drift."""

from __future__ import annotations

from decimal import Decimal

from risk_manager.domain.contracts import ContractSpec


class PositionFigures:
    """Mixed into a position record with these attributes; ``size`` is signed (positive long)."""

    __slots__ = ()

    size: int
    closing: int
    spec: ContractSpec | None
    average_price: Decimal

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def abs_size(self) -> int:
        return abs(self.size)

    @property
    def open_size(self) -> int:
        """Signed size still open once executions not yet in a snapshot are taken off."""
        remaining = max(abs(self.size) - self.closing, 0)
        return remaining if self.size > 0 else -remaining

    def unrealized_at(self, mark: Decimal) -> Decimal | None:
        """P&L of the open contracts if marked at ``mark``; None when the tick spec is unknown."""
        spec = self.spec
        if spec is None:
            return None
        size = self.size
        if self.closing:  # open_size, inlined: asked for every position by several rules per event
            remaining = max(abs(size) - self.closing, 0)
            size = remaining if size > 0 else -remaining
        return (mark - self.average_price) * size * spec.point_value

    def price_for_pnl(self, pnl: Decimal) -> Decimal | None:
        """The mark at which this position's unrealized P&L equals ``pnl`` (inverse of unrealized_at)."""
        size = self.open_size
        if self.spec is None or size == 0:
            return None
        return self.average_price + pnl / (size * self.spec.point_value)
