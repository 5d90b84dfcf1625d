"""Rule registry: config name and rule id -> rule class.

Each rule lives in ``risk_manager/rules/<config name>.py`` and defines exactly one Rule subclass
whose ``key`` is that name. The order here is the order of RULES.md (and of start-up output).
"""

from __future__ import annotations

import importlib
from functools import cache

from risk_manager.rules.api import Rule, RuleConfig

RULE_KEYS: tuple[str, ...] = (
    "max_contracts",  # RULE-001
    "max_contracts_per_instrument",  # RULE-002
    "daily_realized_loss",  # RULE-003
    "daily_unrealized_loss",  # RULE-004
    "max_unrealized_profit",  # RULE-005
    "trade_frequency_limit",  # RULE-006
    "cooldown_after_loss",  # RULE-007
    "no_stop_loss_grace",  # RULE-008
    "session_block_outside",  # RULE-009
    "auth_loss_guard",  # RULE-010
    "symbol_blocks",  # RULE-011
    "trade_management",  # RULE-012
    "daily_realized_profit",  # RULE-013
)


@cache
def rule_class(key: str) -> type[Rule[RuleConfig]]:
    """The rule class for a config name ("daily_realized_loss") or id ("RULE-003")."""
    if key.upper().startswith("RULE-"):
        number = int(key.split("-", 1)[1])
        if not 1 <= number <= len(RULE_KEYS):
            raise KeyError(f"no rule {key}: ids run from RULE-001 to RULE-{len(RULE_KEYS):03d}")
        key = RULE_KEYS[number - 1]
    if key not in RULE_KEYS:
        raise KeyError(f"no rule named {key!r}; known rules: {', '.join(RULE_KEYS)}")
    module = importlib.import_module(f"risk_manager.rules.{key}")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Rule)
        and obj is not Rule
        and getattr(obj, "key", None) == key
    ]
    if len(found) != 1:
        raise RuntimeError(f"rules/{key}.py must define exactly one Rule with key {key!r}")
    return found[0]


def all_rule_classes() -> list[type[Rule[RuleConfig]]]:
    return [rule_class(key) for key in RULE_KEYS]
