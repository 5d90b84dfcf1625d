"""Which rules apply to which account. The config layer builds one from the YAML files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from risk_manager.rules.api import BAND_INPUTS, Rule

DEFAULT_WARN_AT = (Decimal("0.5"), Decimal("0.75"), Decimal("0.9"))
# How far the day's net P&L from trades may differ from the balance change before an alert: a cent
# of rounding between the gateway's per-trade figures and its balance is not news.
DEFAULT_BALANCE_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The enabled rules of one account, in RULES.md order, its warning fractions and the balance
    reconciliation tolerance."""

    rules: tuple[Rule[Any], ...]
    warn_at: tuple[Decimal, ...] = DEFAULT_WARN_AT
    balance_tolerance: Decimal = DEFAULT_BALANCE_TOLERANCE

    def __post_init__(self) -> None:
        for rule in self.rules:
            unknown = rule.band_reads - BAND_INPUTS
            if unknown:  # a misspelt input is changed by no event: the rule's bands would go stale
                raise ValueError(
                    f"{rule.id} band_reads names {sorted(unknown)}: use names from {sorted(BAND_INPUTS)}"
                )


class Policy:
    """Maps an account id to its RuleSet; None means the account is not monitored."""

    def __init__(self, resolve: Callable[[int], RuleSet | None]) -> None:
        self._resolve = resolve
        self._cache: dict[int, RuleSet | None] = {}

    def rules_for(self, account_id: int) -> RuleSet | None:
        try:
            return self._cache[account_id]
        except KeyError:
            result = self._cache[account_id] = self._resolve(account_id)
            return result

    @classmethod
    def uniform(
        cls,
        rules: Sequence[Rule[Any]],
        warn_at: Sequence[Decimal] = DEFAULT_WARN_AT,
        balance_tolerance: Decimal = DEFAULT_BALANCE_TOLERANCE,
    ) -> Policy:
        """The same rules for every account (tests, simple set-ups)."""
        rule_set = RuleSet(tuple(rules), tuple(warn_at), balance_tolerance)
        return cls(lambda _account: rule_set)
