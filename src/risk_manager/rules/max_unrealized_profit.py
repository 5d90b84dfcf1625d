"""RULE-005 max_unrealized_profit: a take-profit in dollars on each open position."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from risk_manager.domain.actions import Action, ClosePosition
from risk_manager.domain.events import Event, PositionEvent, QuoteEvent
from risk_manager.domain.money import money
from risk_manager.domain.status import RuleGauge
from risk_manager.domain.values import ProfitTarget
from risk_manager.rules.api import QUOTE_PRICES, AccountView, Band, PositionView, Rule, RuleConfig
from risk_manager.rules.base import band_for_pnl
from risk_manager.rules.daily_unrealized_loss import PriceSource, position_inputs, worst_position


class MaxUnrealizedProfitConfig(RuleConfig):
    target: ProfitTarget = Decimal(1000)
    price_source: PriceSource = "last"


class MaxUnrealizedProfit(Rule[MaxUnrealizedProfitConfig]):
    """RULE-005: a position whose unrealized P&L reaches the (positive) target is closed (take profit)."""

    id = "RULE-005"
    key = "max_unrealized_profit"
    config_model = MaxUnrealizedProfitConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({PositionEvent, QuoteEvent})

    @property
    def quote_sensitive(self) -> bool:
        return True

    def evaluate(self, view: AccountView) -> list[Action]:
        target = self.config.target
        source = self.config.price_source
        actions: list[Action] = []
        for contract_id, position in sorted(view.positions.items()):
            mark = view.mark(position, source)
            pnl = None if mark is None else position.unrealized_at(mark)
            if mark is None or pnl is None:
                continue  # no quote yet (or unknown tick value): unknown is not zero, decide nothing
            subject = f"pos:{contract_id}"
            if pnl >= target and not view.breached(self.id, subject):
                actions.append(
                    ClosePosition(
                        account_id=view.account_id,
                        rule=self.id,
                        reason=f"{contract_id} unrealized {money(pnl)} >= target {money(target)}",
                        inputs=(*position_inputs(position, mark, pnl, source), ("target", money(target))),
                        subject=subject,
                        contract_id=contract_id,
                        size=None,
                    )
                )
        return actions

    def gauge(self, view: AccountView) -> RuleGauge | None:
        """The best open position (highest unrealized P&L); None without positions."""
        best = worst_position(view, self.config.price_source, lowest=False)
        if best is None:
            return None
        cid, pnl = best
        return RuleGauge.of(self.id, self.key, pnl, self.config.target, "USD", subject=cid)

    @property
    def bands_per_position(self) -> bool:
        return True

    @property
    def band_reads(self) -> frozenset[str]:
        return frozenset()  # the position, its quote and this rule's markers only

    @property
    def band_prices(self) -> frozenset[str]:
        return QUOTE_PRICES[self.config.price_source]

    def price_band(self, view: AccountView, position: PositionView) -> Band | None:
        target = self.config.target
        if view.breached(self.id, f"pos:{position.contract_id}"):
            return (None, None)  # nothing left to decide until a position event re-arms the breach
        mark = view.mark(position, self.config.price_source)
        pnl = None if mark is None else position.unrealized_at(mark)
        if mark is None or pnl is None:
            return None
        if pnl >= target:
            return None  # the target is reached at this very price: no quiet band
        return band_for_pnl(position, pnl, None, target, mark)

    def describe(self) -> str:
        return (
            f"{self.id} max unrealized profit: close a position at unrealized >= {self.config.target} "
            f"({self.config.price_source} price)"
        )
