"""RULE-007 cooldown_after_loss: a losing closing execution locks the account for its tier's cooldown."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, model_validator

from risk_manager.domain.actions import Action, Alert
from risk_manager.domain.events import TradeEvent
from risk_manager.domain.money import money
from risk_manager.domain.values import Duration, DurationField, LossLimit
from risk_manager.rules.api import AccountView, Rule, RuleConfig
from risk_manager.rules.base import hard_lockout
from risk_manager.rules.trade_frequency_limit import cooldown_end


class LossTier(BaseModel):
    """A loss on one execution at or below ``loss`` starts a cooldown of ``cooldown``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loss: LossLimit
    cooldown: DurationField


def _default_tiers() -> tuple[LossTier, ...]:
    return (
        LossTier(loss=Decimal(-100), cooldown=Duration(seconds=300)),
        LossTier(loss=Decimal(-200), cooldown=Duration(seconds=900)),
    )


class CooldownAfterLossConfig(RuleConfig):
    close_positions: bool = True
    tiers: tuple[LossTier, ...] = _default_tiers()

    @model_validator(mode="after")
    def _tiers_ordered(self) -> CooldownAfterLossConfig:
        losses = [tier.loss for tier in self.tiers]
        if not losses:
            raise ValueError(
                "tiers must list at least one {loss, cooldown}, e.g. [{loss: -100, cooldown: 5m}]"
            )
        if len(set(losses)) != len(losses):
            raise ValueError(
                f"tiers have duplicate losses {[str(v) for v in losses]}: give each tier its own loss"
            )
        if losses != sorted(losses, reverse=True):
            wanted = ", ".join(str(v) for v in sorted(losses, reverse=True))
            raise ValueError(
                "tiers must go from the smallest loss to the largest (e.g. -100 then -200): "
                f"order them {wanted}"
            )
        return self


class CooldownAfterLoss(Rule[CooldownAfterLossConfig]):
    """RULE-007: after a losing closing execution, cancel orders (and flatten) and lock the account for
    the cooldown of the most severe loss tier reached, never shortening a longer cooldown in force."""

    id = "RULE-007"
    key = "cooldown_after_loss"
    config_model = CooldownAfterLossConfig
    triggers = frozenset({TradeEvent})

    def evaluate(self, view: AccountView) -> list[Action]:
        trade = view.event
        if not isinstance(trade, TradeEvent) or trade.voided or trade.pnl is None or trade.pnl >= 0:
            return []
        subject = f"trade:{trade.trade_id}"
        if view.breached(self.id, subject):
            return []
        reached = [tier for tier in self.config.tiers if trade.pnl <= tier.loss]
        if not reached:
            return []
        tier = reached[-1]  # tiers go from the smallest loss to the largest: the last is the most severe
        until = cooldown_end(view, tier.cooldown)
        why = (
            f"loss {money(trade.pnl)} on trade {trade.trade_id} <= tier {money(tier.loss)}: "
            f"cooldown {tier.cooldown}"
        )
        inputs = (
            ("trade", str(trade.trade_id)),
            ("pnl", money(trade.pnl)),
            ("tier", money(tier.loss)),
            ("cooldown", str(tier.cooldown)),
        )
        aid, rule = view.account_id, self.id
        active = view.lockout_of(self.id)
        if active is not None and (active.until is None or active.until >= until):
            # A cooldown at least as long is in force: the lockout gate already holds the account,
            # and a shorter lockout must never look like it replaced the longer one.
            held = "a condition" if active.until is None else view.calendar.show(active.until)
            message = f"{why}; the cooldown in force until {held} stays"
            return [
                Alert(
                    account_id=aid,
                    rule=rule,
                    reason=why,
                    inputs=inputs,
                    subject=subject,
                    level="info",
                    message=message,
                )
            ]
        return hard_lockout(
            view, rule, why, inputs, subject, until=until, flatten=self.config.close_positions
        )

    def describe(self) -> str:
        tiers = ", ".join(f"{money(t.loss)} -> {t.cooldown}" for t in self.config.tiers)
        then = "flatten, cancel orders, lock" if self.config.close_positions else "cancel orders, lock"
        return f"{self.id} cooldown_after_loss: losing trade at tiers {tiers} -> {then} for the cooldown"
