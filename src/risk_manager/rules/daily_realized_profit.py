"""RULE-013 daily_realized_profit: the day's P&L at the profit target flattens and locks until the reset."""

from __future__ import annotations

from decimal import Decimal

from pydantic import field_validator

from risk_manager.domain.actions import Action
from risk_manager.domain.events import AccountEvent, PositionEvent, QuoteEvent, TradeEvent
from risk_manager.domain.money import money
from risk_manager.domain.status import RuleGauge
from risk_manager.domain.values import ProfitTarget
from risk_manager.rules.api import QUOTE_PRICES, AccountView, Band, PositionView, Rule, RuleConfig
from risk_manager.rules.base import hard_lockout, warning_alerts
from risk_manager.rules.daily_realized_loss import (
    SOURCE,
    SUBJECT,
    PnlSource,
    day_pnl,
    day_pnl_band,
    day_pnl_reads,
    pnl_basis,
    pnl_inputs,
)

DEFAULT_MESSAGE = "Target reached - see you tomorrow"


class DailyRealizedProfitConfig(RuleConfig):
    target: ProfitTarget = Decimal(1000)
    include_unrealized: bool = False
    # Same meaning as RULE-003's: fees are a real cost, so the target is met net of them by default.
    include_fees: bool = True
    pnl_source: PnlSource = "trades"
    message: str = DEFAULT_MESSAGE

    @field_validator("message")
    @classmethod
    def _message_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                f'message must not be empty: write what the trader sees, e.g. "{DEFAULT_MESSAGE}"'
            )
        return value.strip()


class DailyRealizedProfit(Rule[DailyRealizedProfitConfig]):
    """RULE-013: flatten, cancel and lock the account until the daily reset, with the configured
    message, when the day's P&L (realized minus fees and commissions, plus unrealized if configured)
    reaches the target."""

    id = "RULE-013"
    key = "daily_realized_profit"
    config_model = DailyRealizedProfitConfig
    triggers = frozenset({TradeEvent, PositionEvent, QuoteEvent, AccountEvent})

    @property
    def quote_sensitive(self) -> bool:
        return self.config.include_unrealized

    def evaluate(self, view: AccountView) -> list[Action]:
        cfg = self.config
        if view.breached(self.id, SUBJECT):
            return []
        value, unknown = day_pnl(view, cfg.include_fees, cfg.include_unrealized, cfg.pnl_source)
        if value < cfg.target:
            return list(warning_alerts(view, self.id, SUBJECT, value, cfg.target, "day P&L"))
        why = f"{cfg.message}: day P&L {money(value)} >= target {money(cfg.target)}"
        if unknown:
            why += f" ({unknown} open position(s) without a price not counted)"
        inputs = pnl_inputs(view, value, cfg.target, unknown, cfg.include_fees, "target", cfg.pnl_source)
        return hard_lockout(view, self.id, why, inputs, SUBJECT, until=view.next_reset)

    def gauge(self, view: AccountView) -> RuleGauge:
        cfg = self.config
        value, _ = day_pnl(view, cfg.include_fees, cfg.include_unrealized, cfg.pnl_source)
        return RuleGauge.of(
            self.id,
            self.key,
            value,
            cfg.target,
            "USD",
            breached=value >= cfg.target or view.breached(self.id, SUBJECT),
        )

    @property
    def band_reads(self) -> frozenset[str]:
        return day_pnl_reads(self.config.pnl_source)

    @property
    def band_prices(self) -> frozenset[str]:
        return QUOTE_PRICES[SOURCE]

    def price_band(self, view: AccountView, position: PositionView) -> Band | None:
        cfg = self.config
        return day_pnl_band(
            view, self.id, cfg.include_fees, cfg.include_unrealized, cfg.target, position, cfg.pnl_source
        )

    def describe(self) -> str:
        cfg = self.config
        basis = pnl_basis(cfg.include_fees, cfg.include_unrealized, cfg.pnl_source)
        return (
            f"{self.id} daily_realized_profit: day P&L ({basis}) "
            f">= {money(cfg.target)} "
            f'-> flatten, cancel orders, lock account until the daily reset ("{cfg.message}")'
        )
