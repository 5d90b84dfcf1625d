"""RULE-001 max_contracts: a cap on the account's total open contracts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator

from risk_manager.domain.actions import Action, Alert, ClosePosition, Flatten
from risk_manager.domain.events import Event, PositionEvent
from risk_manager.domain.status import RuleGauge
from risk_manager.rules.api import AccountView, PositionView, Rule, RuleConfig
from risk_manager.rules.base import due_count_warning, warning_alert

# What a PositionEvent did to a position that can have pushed a count over its limit.
GROWTH = frozenset({"opened", "grew", "reversed"})


def _contract_limit(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"{value!r} is not a contract limit: use a positive whole number of contracts, e.g. 5")


# A number of contracts in config: a positive integer (YAML `5`, not `5.5`, `0` or `"5"`).
ContractLimit = Annotated[int, BeforeValidator(_contract_limit)]


def count_warnings(
    view: AccountView, rule: str, subject: str, count: int, limit: int, label: str
) -> list[Alert]:
    """At most one alert per warn_at fraction of ``limit`` per trading day, as ``count`` reaches it.

    The contract-count twin of rules.base.warning_alerts (same ``<subject>:warn:<fraction>`` subjects,
    so the engine's once-per-day markers apply), worded in contracts instead of dollars.
    """
    fraction = due_count_warning(view, rule, subject, count, limit)
    if fraction is None:
        return []
    # The real share of the limit, not the threshold crossed: 4 of 4 is 100%, not "reached 90%".
    message = f"{count} of {limit} {label}, {count * 100 // limit if limit else 100}% of the limit"
    return [
        warning_alert(view, rule, subject, fraction, message, (("value", str(count)), ("limit", str(limit))))
    ]


def grown_contract(view: AccountView, positions: dict[str, PositionView]) -> str | None:
    """The contract among ``positions`` that the current PositionEvent opened, grew or reversed."""
    for contract_id, change in view.changes.items():
        if change in GROWTH and contract_id in positions:
            return contract_id
    return None


def newest_first(positions: dict[str, PositionView]) -> list[PositionView]:
    """Positions most recently opened first (ties by contract id, so the choice is deterministic)."""
    by_id = sorted(positions.values(), key=lambda p: p.contract_id)
    return sorted(by_id, key=lambda p: p.opened_at, reverse=True)


class MaxContractsConfig(RuleConfig):
    limit: ContractLimit = 5
    count_type: Literal["gross", "net"] = "gross"
    enforcement: Literal["reduce_to_limit", "close_all"] = "reduce_to_limit"


class MaxContracts(Rule[MaxContractsConfig]):
    """RULE-001: total open contracts (gross or net) may not exceed the limit; the excess is closed."""

    id = "RULE-001"
    key = "max_contracts"
    config_model = MaxContractsConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({PositionEvent})

    def __init__(self, config: MaxContractsConfig) -> None:
        super().__init__(config)
        self._label = f"open contracts ({config.count_type})"  # the config is frozen

    def evaluate(self, view: AccountView) -> list[Action]:
        limit = self.config.limit
        if not view.positions:
            return []
        net = gross = 0
        for position in view.positions.values():
            net += position.size
            gross += abs(position.size)
        total = abs(net) if self.config.count_type == "net" else gross
        label = self._label
        actions: list[Action] = []
        if total > limit:
            if self.config.count_type == "net":
                # Only positions on the side of the net count can bring it down by closing.
                sign = 1 if net > 0 else -1
                candidates = {c: p for c, p in view.positions.items() if p.size * sign > 0}
            else:
                candidates = dict(view.positions)
            actions.extend(self._enforce(view, total, limit, candidates, label))
        actions.extend(count_warnings(view, self.id, "contracts", total, limit, label))
        return actions

    def gauge(self, view: AccountView) -> RuleGauge:
        sizes = [p.size for p in view.positions.values()]
        total = abs(sum(sizes)) if self.config.count_type == "net" else sum(abs(s) for s in sizes)
        limit = self.config.limit
        return RuleGauge.of(
            self.id, self.key, Decimal(total), Decimal(limit), "contracts", breached=total > limit
        )

    def _enforce(
        self, view: AccountView, total: int, limit: int, candidates: dict[str, PositionView], label: str
    ) -> list[Action]:
        excess = total - limit
        grown = grown_contract(view, candidates)
        if grown is not None:
            targets = [candidates[grown]]
        elif any(view.breached(self.id, f"pos:{c}") for c in view.positions):
            # Still over because an earlier reduction of ours has not been filled yet (or the count
            # rose without growth while a breach is being handled): deciding again would over-close.
            return []
        else:
            # Over the limit without a position growing: net count rose because an offsetting
            # position was reduced, or the limit was lowered. Take the excess from the newest.
            targets = newest_first(candidates)
        why = f"{label} {total} > limit {limit}"
        inputs = (("total", str(total)), ("limit", str(limit)), ("count_type", self.config.count_type))
        first = f"pos:{targets[0].contract_id}"
        if view.breached(self.id, first):
            return []
        if self.config.enforcement == "close_all":
            flatten = Flatten(
                account_id=view.account_id,
                rule=self.id,
                reason=f"{why}: flatten",
                inputs=inputs,
                subject=first,
            )
            return [flatten]
        actions: list[Action] = []
        for position in targets:
            if excess <= 0:
                break
            size = min(excess, position.abs_size)
            excess -= size
            actions.append(
                ClosePosition(
                    account_id=view.account_id,
                    rule=self.id,
                    reason=f"{why}: close {size} of {position.contract_id}",
                    inputs=(*inputs, ("contract", position.contract_id), ("close", str(size))),
                    subject=f"pos:{position.contract_id}",
                    contract_id=position.contract_id,
                    size=size,
                )
            )
        return actions

    def describe(self) -> str:
        how = "close the excess" if self.config.enforcement == "reduce_to_limit" else "flatten"
        count = self.config.count_type
        return f"{self.id} max contracts: {count} open contracts over {self.config.limit} -> {how}"
