"""The per-position rules (``Rule.bands_per_position``) decide on the positions their view lists, each
on its own: the engine does not ask one whose view would list none."""

from __future__ import annotations

from typing import Any

import pytest
from tests.engine_helpers import ES, MNQ, EngineHarness, pos, quote

from risk_manager.rules.api import Rule
from risk_manager.rules.registry import all_rule_classes, rule_class

# Each per-position rule, configured so that the positions below are past its limit or trigger.
PER_POSITION = {
    "daily_unrealized_loss": {"limit": -150, "price_source": "last"},
    "max_unrealized_profit": {"target": 200, "price_source": "last"},
    "trade_management": {
        "breakeven": {"enabled": True, "trigger_ticks": 8, "offset_ticks": 1},
        "trailing": {"enabled": True, "activation_ticks": 12, "distance_ticks": 6},
    },
}


def _rule(key: str) -> Rule[Any]:
    cls = rule_class(key)
    return cls(cls.config_model.model_validate({"enabled": True, **PER_POSITION[key]}))


def test_the_per_position_rules_are_the_ones_checked_here() -> None:
    """A new per-position rule must be added to PER_POSITION (and so to the test below)."""
    per_position = set()
    for cls in all_rule_classes():
        if cls.key in PER_POSITION:
            per_position.add(cls.key)
            assert _rule(cls.key).bands_per_position
    assert per_position == set(PER_POSITION)


@pytest.mark.parametrize("key", sorted(PER_POSITION))
def test_a_per_position_rule_listing_no_position_decides_nothing(key: str) -> None:
    # bookkeeping only (no rule runs on the events): the rule is asked directly below
    harness = EngineHarness(warn_at=("0.5", "0.75", "0.9"))
    harness.apply(pos(MNQ, 2, 21000), pos(ES, -1, 5800))
    # the long MNQ 100 points up (+$400), the short ES 50 points against it (-$2,500)
    harness.apply(quote(MNQ, 21100.0, 21099.75, 21100.0), quote(ES, 5850.0, 5849.75, 5850.0))
    rule, view = _rule(key), harness.view()
    assert rule.evaluate(view), "the positions must be past the rule's limit or trigger"
    assert rule.evaluate(view.scoped({})) == []
