"""RULE-002 max_contracts_per_instrument: a cap on open contracts per symbol (CME root)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from risk_manager.domain.actions import Action, ClosePosition
from risk_manager.domain.contracts import canonical_root
from risk_manager.domain.events import Event, PositionEvent
from risk_manager.domain.status import RuleGauge
from risk_manager.domain.values import Symbol
from risk_manager.rules.api import AccountView, PositionView, Rule, RuleConfig
from risk_manager.rules.max_contracts import ContractLimit, count_warnings, grown_contract, newest_first

_LIMIT_N = re.compile(r"^limit:\s*(\d+)$")
UNKNOWN_ACTION_HELP = "use allow, block or limit:N with N a positive whole number, e.g. limit:1"


class MaxContractsPerInstrumentConfig(RuleConfig):
    default_limit: ContractLimit | None = None
    instrument_limits: dict[Symbol, ContractLimit] = Field(default_factory=dict)
    # For symbols with no instrument limit when there is no default_limit either.
    unknown_symbol_action: str = "allow"
    enforcement: Literal["reduce_to_limit", "close_all"] = "reduce_to_limit"

    @field_validator("instrument_limits", mode="before")
    @classmethod
    def _one_limit_per_root(cls, value: Any) -> Any:
        # ENQ and NQ name the same root: two limits for it would make one silently win.
        if isinstance(value, dict):
            seen: dict[str, Any] = {}
            for key in value:
                root = canonical_root(key) if isinstance(key, str) else key
                if root in seen:
                    raise ValueError(
                        f"{seen[root]!r} and {key!r} are the same symbol {root}: keep one limit for it"
                    )
                seen[root] = key
        return value

    @field_validator("unknown_symbol_action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> str:
        text = value.strip().lower() if isinstance(value, str) else value
        if text in ("allow", "block"):
            return str(text)
        match = _LIMIT_N.match(text) if isinstance(text, str) else None
        if match and int(match.group(1)) > 0:
            return f"limit:{int(match.group(1))}"
        raise ValueError(f"{value!r} is not an unknown_symbol_action: {UNKNOWN_ACTION_HELP}")

    @model_validator(mode="after")
    def _some_limit_when_enabled(self) -> MaxContractsPerInstrumentConfig:
        if (
            self.enabled
            and self.default_limit is None
            and not self.instrument_limits
            and self.unknown_symbol_action == "allow"
        ):
            raise ValueError(
                "no limit is configured: set default_limit (e.g. 3) and/or instrument_limits "
                "(e.g. {MNQ: 2}), or unknown_symbol_action block or limit:N"
            )
        return self

    def limit_for(self, root: str) -> int | None:
        """Most contracts allowed in ``root``: 0 = blocked, None = no limit."""
        if root in self.instrument_limits:
            return self.instrument_limits[root]
        if self.default_limit is not None:
            return self.default_limit
        if self.unknown_symbol_action == "allow":
            return None
        if self.unknown_symbol_action == "block":
            return 0
        return int(self.unknown_symbol_action.split(":", 1)[1])


class MaxContractsPerInstrument(Rule[MaxContractsPerInstrumentConfig]):
    """RULE-002: open contracts in one symbol (all its contract months) may not exceed its limit."""

    id = "RULE-002"
    key = "max_contracts_per_instrument"
    config_model = MaxContractsPerInstrumentConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({PositionEvent})

    def __init__(self, config: MaxContractsPerInstrumentConfig) -> None:
        super().__init__(config)
        # root -> (its limit, its breach subject, its label): asked on every position event
        self._roots: dict[str, tuple[int | None, str, str]] = {}

    def _root(self, root: str) -> tuple[int | None, str, str]:
        found = self._roots.get(root)
        if found is None:
            found = self._roots[root] = (self.config.limit_for(root), f"symbol:{root}", f"{root} contracts")
        return found

    def evaluate(self, view: AccountView) -> list[Action]:
        # Calendar spreads count in full: every contract month open in the root is exposure.
        totals: dict[str, int] = {}
        for position in view.positions.values():
            root = position.root
            totals[root] = totals.get(root, 0) + abs(position.size)
        actions: list[Action] = []
        for root in sorted(totals):
            limit, subject, label = self._root(root)
            if limit is None:
                continue
            total = totals[root]
            if total > limit:
                positions = {c: p for c, p in view.positions.items() if p.root == root}
                actions.extend(self._enforce(view, root, total, limit, positions))
            if limit > 0:
                actions.extend(count_warnings(view, self.id, subject, total, limit, label))
        return actions

    def gauge(self, view: AccountView) -> RuleGauge | None:
        """The symbol closest to its limit (a blocked symbol held counts as over it); None without
        positions in a limited symbol."""
        totals: dict[str, int] = {}
        for position in view.positions.values():
            totals[position.root] = totals.get(position.root, 0) + position.abs_size
        worst: tuple[Decimal, str, int, int] | None = None
        for root in sorted(totals):
            limit = self.config.limit_for(root)
            if limit is None:
                continue
            share = Decimal(totals[root]) / limit if limit else Decimal("Infinity")
            if worst is None or share > worst[0]:
                worst = (share, root, totals[root], limit)
        if worst is None:
            return None
        _, root, total, limit = worst
        if limit == 0:
            return RuleGauge(self.id, self.key, Decimal(total), Decimal(0), None, "contracts", True, root)
        return RuleGauge.of(
            self.id,
            self.key,
            Decimal(total),
            Decimal(limit),
            "contracts",
            breached=total > limit,
            subject=root,
        )

    def _enforce(
        self, view: AccountView, root: str, total: int, limit: int, positions: dict[str, PositionView]
    ) -> list[Action]:
        grown = grown_contract(view, positions)
        if grown is not None:
            targets = [positions[grown]]
        elif any(view.breached(self.id, f"pos:{c}") for c in positions):
            return []  # an earlier decision for this symbol is still being carried out
        else:
            targets = newest_first(positions)  # over without growth: the limit was lowered
        if view.breached(self.id, f"pos:{targets[0].contract_id}"):
            return []
        blocked = limit == 0
        why = f"{root} contracts {total} > limit {limit}" + (" (symbol not allowed)" if blocked else "")
        inputs = (("symbol", root), ("total", str(total)), ("limit", str(limit)))
        if self.config.enforcement == "close_all":
            targets, excess = sorted(positions.values(), key=lambda p: p.contract_id), total
        else:
            excess = total - limit
        actions: list[Action] = []
        for position in targets:
            if excess <= 0:
                break
            size = min(excess, position.abs_size)
            excess -= size
            whole = blocked or self.config.enforcement == "close_all"
            actions.append(
                ClosePosition(
                    account_id=view.account_id,
                    rule=self.id,
                    reason=f"{why}: close {'all' if whole else size} of {position.contract_id}",
                    inputs=(*inputs, ("contract", position.contract_id), ("close", str(size))),
                    subject=f"pos:{position.contract_id}",
                    contract_id=position.contract_id,
                    size=None if whole else size,
                )
            )
        return actions

    def describe(self) -> str:
        limits = ", ".join(f"{root} {n}" for root, n in sorted(self.config.instrument_limits.items()))
        parts = [f"limits {limits}"] if limits else []
        if self.config.default_limit is not None:
            parts.append(f"default {self.config.default_limit}")
        else:
            parts.append(f"other symbols {self.config.unknown_symbol_action}")
        how = "close the excess" if self.config.enforcement == "reduce_to_limit" else "close the symbol"
        return f"{self.id} max contracts per symbol: {'; '.join(parts)} -> {how}"
