"""The ``rules:`` section of risk_config.yaml, built from the rule registry, and cross-rule checks.

Each rule module owns its config model (``RuleClass.config_model``); here they become the fields of
one ``RulesConfig`` model (one optional field per registry key, unknown keys forbidden), so pydantic
reports errors at ``rules.<key>.<field>``. A rule missing from the section is disabled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, cast

from pydantic import ConfigDict, Field, create_model

from risk_manager.config.models import AdminConfig, DaemonConfig, GeneralConfig, InstrumentSpec, StrictModel
from risk_manager.domain.values import Symbol
from risk_manager.rules.api import RuleConfig
from risk_manager.rules.registry import RULE_KEYS, rule_class


class RulesBase(StrictModel):
    """Typed access to the dynamic rules model: one optional RuleConfig per registry key."""

    def get(self, key: str) -> RuleConfig | None:
        return cast("RuleConfig | None", getattr(self, key, None))

    def enabled(self) -> list[tuple[str, RuleConfig]]:
        """(key, config) of the enabled rules, in RULES.md order."""
        out = []
        for key in RULE_KEYS:
            config = self.get(key)
            if config is not None and config.enabled:
                out.append((key, config))
        return out


class RiskConfigBase(StrictModel):
    general: GeneralConfig = GeneralConfig()
    instruments: dict[Symbol, InstrumentSpec] = Field(default_factory=dict)
    rules: RulesBase = RulesBase()
    daemon: DaemonConfig = DaemonConfig()
    admin: AdminConfig = AdminConfig()


@cache
def rules_model() -> type[RulesBase]:
    """The RulesConfig model: a field per rule, typed by that rule's own config model."""
    fields: dict[str, Any] = {key: (rule_class(key).config_model | None, None) for key in RULE_KEYS}
    model = create_model("RulesConfig", __base__=RulesBase, __module__=__name__, **fields)
    model.model_config = ConfigDict(extra="forbid", frozen=True)
    return cast("type[RulesBase]", model)


@cache
def risk_config_model() -> type[RiskConfigBase]:
    """The model of risk_config.yaml, whose ``rules`` field is ``rules_model()``."""
    rules = rules_model()
    model = create_model("RiskConfig", __base__=RiskConfigBase, __module__=__name__, rules=(rules, rules()))
    return cast("type[RiskConfigBase]", model)


# ---- cross-rule checks ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrossRuleProblem:
    """Two settings of two enabled rules that contradict each other. Paths are within ``rules``."""

    path: tuple[str, str]  # (rule key, field) of the setting reported
    other: tuple[str, str]  # (rule key, field) it conflicts with
    value: Decimal | int
    other_value: Decimal | int
    message: str


def _setting(rules: RulesBase, key: str, name: str) -> Any:
    config = rules.get(key)
    if config is None or not config.enabled:
        return None
    return getattr(config, name, None)


def cross_rule_problems(rules: RulesBase) -> Iterator[CrossRuleProblem]:
    """RULES.md "Config validation": each check only when both rules involved are enabled.

    Messages name both settings, so they read right whichever of the two keys they are attached to.
    """
    day_loss = _setting(rules, "daily_realized_loss", "limit")
    position_loss = _setting(rules, "daily_unrealized_loss", "limit")
    if day_loss is not None and position_loss is not None and not position_loss > day_loss:
        yield CrossRuleProblem(
            ("daily_unrealized_loss", "limit"),
            ("daily_realized_loss", "limit"),
            position_loss,
            day_loss,
            f"daily_unrealized_loss.limit ({position_loss}) must be above daily_realized_loss.limit "
            f"({day_loss}): one position's loss limit is closer to zero than the whole day's, "
            f"e.g. {_example_between(day_loss)}",
        )
    total = _setting(rules, "max_contracts", "limit")
    per_symbol = _setting(rules, "max_contracts_per_instrument", "default_limit")
    if isinstance(total, int) and isinstance(per_symbol, int) and per_symbol > total:
        yield CrossRuleProblem(
            ("max_contracts_per_instrument", "default_limit"),
            ("max_contracts", "limit"),
            per_symbol,
            total,
            f"max_contracts_per_instrument.default_limit ({per_symbol}) may not exceed max_contracts.limit "
            f"({total}): one symbol cannot hold more than the whole account; use {total} or less",
        )
    position_target = _setting(rules, "max_unrealized_profit", "target")
    day_target = _setting(rules, "daily_realized_profit", "target")
    if position_target is not None and day_target is not None and position_target > day_target:
        yield CrossRuleProblem(
            ("max_unrealized_profit", "target"),
            ("daily_realized_profit", "target"),
            position_target,
            day_target,
            f"max_unrealized_profit.target ({position_target}) may not exceed daily_realized_profit.target "
            f"({day_target}): one position's target is at most the whole day's; use {day_target} or less",
        )


def _example_between(day_loss: Decimal) -> str:
    half = (Decimal(day_loss) / 2).quantize(Decimal(1))
    return str(half if half < 0 else Decimal(-1))
