"""RULE-011 symbol_blocks: symbols the trader may not hold or work orders in."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from risk_manager.domain.actions import Action, CancelOrders, ClosePosition, LockAccount
from risk_manager.domain.contracts import root_of
from risk_manager.domain.events import Event, OrderEvent, PositionEvent
from risk_manager.domain.lockouts import CONDITION_SYMBOL_BLOCKED, Lockout
from risk_manager.domain.values import Symbol
from risk_manager.rules.api import AccountView, Rule, RuleConfig


class SymbolBlocksConfig(RuleConfig):
    blocked_symbols: tuple[Symbol, ...] = Field(default=())

    @field_validator("blocked_symbols", mode="after")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # ENQ and NQ are the same root; keep the first mention only.
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _symbols_when_enabled(self) -> SymbolBlocksConfig:
        if self.enabled and not self.blocked_symbols:
            raise ValueError(
                "blocked_symbols is empty: list the CME roots to block, e.g. [RTY], or set enabled: false"
            )
        return self


class SymbolBlocks(Rule[SymbolBlocksConfig]):
    """RULE-011: a position or working order in a blocked symbol is closed/cancelled and the symbol locked."""

    id = "RULE-011"
    key = "symbol_blocks"
    config_model = SymbolBlocksConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({PositionEvent, OrderEvent})

    def __init__(self, config: SymbolBlocksConfig) -> None:
        super().__init__(config)
        # Asked on every position and order event: the set made once (the config is frozen).
        self._blocked = frozenset(config.blocked_symbols)

    def evaluate(self, view: AccountView) -> list[Action]:
        blocked = self._blocked
        if not blocked:
            return []
        positions: dict[str, list[str]] = {}
        for contract_id, position in view.positions.items():
            if position.root in blocked and position.size != 0:
                positions.setdefault(position.root, []).append(contract_id)
        for held in positions.values():
            held.sort()  # by contract id, whatever order the positions are listed in
        orders: dict[str, int] = {}
        for order in view.working_orders.values():
            root = root_of(order.contract_id)
            if root in blocked:
                orders[root] = orders.get(root, 0) + 1
        if not positions and not orders:
            return []  # the usual case: nothing held or working in a blocked symbol
        actions: list[Action] = []
        for root in sorted(positions.keys() | orders.keys()):
            subject = f"symbol:{root}"
            # Once the symbol lockout is in force the engine's lockout gate closes and cancels
            # whatever appears in the symbol; deciding here as well would double every action.
            if view.lockout_of(self.id, "symbol", root) is not None or view.breached(self.id, subject):
                continue
            held = positions.get(root, [])
            why = f"{root} is a blocked symbol"
            inputs = (
                ("symbol", root),
                ("positions", ",".join(held)),
                ("working_orders", str(orders.get(root, 0))),
            )
            account, rule = view.account_id, self.id
            for contract_id in held:
                actions.append(
                    ClosePosition(
                        account_id=account,
                        rule=rule,
                        reason=f"{why}: close {contract_id}",
                        inputs=inputs,
                        subject=subject,
                        contract_id=contract_id,
                    )
                )
            # Always cancel: orders placed elsewhere may not have reached us yet.
            actions.append(
                CancelOrders(
                    account_id=account,
                    rule=rule,
                    reason=f"{why}: cancel its orders",
                    inputs=inputs,
                    subject=subject,
                    symbol=root,
                )
            )
            actions.append(
                LockAccount(
                    account_id=account,
                    rule=rule,
                    reason=f"{why}: locked while it stays in blocked_symbols",
                    inputs=inputs,
                    subject=subject,
                    scope="symbol",
                    symbol=root,
                    condition=CONDITION_SYMBOL_BLOCKED,
                )
            )
        return actions

    def lockout_holds(self, lockout: Lockout) -> bool:
        """Asked by the engine on a config reload: a symbol lockout of this rule lasts exactly as
        long as its symbol stays in blocked_symbols (the engine ends it otherwise)."""
        return lockout.condition == CONDITION_SYMBOL_BLOCKED and lockout.symbol in self.config.blocked_symbols

    def describe(self) -> str:
        symbols = ", ".join(self.config.blocked_symbols) or "none"
        return f"{self.id} symbol blocks: close, cancel and lock {symbols}"
