"""A hot reload changes the rules from that moment; condition lockouts the new config no longer
requires end with an unlock, and the others stay."""

from __future__ import annotations

from typing import Any

from risk_manager.engine.policy import Policy
from risk_manager.rules.registry import rule_class

from engine_helpers import ES, RTY, EngineHarness, kinds, pos


def rule(key: str, **cfg: Any) -> Any:
    cls = rule_class(key)
    return cls(cls.config_model.model_validate({"enabled": True, **cfg}))


def test_unblocking_a_symbol_in_config_ends_its_symbol_lockout() -> None:
    h = EngineHarness(rule("symbol_blocks", blocked_symbols=["RTY", "ES"]))
    h.apply(pos(RTY, 1, "2100"), pos(ES, 1, "5800", pid=2))
    assert {lo.symbol for lo in h.state.lockouts} == {"RTY", "ES"}
    actions = h.engine.update_policy(Policy.uniform([rule("symbol_blocks", blocked_symbols=["ES"])]), h.now)
    assert kinds(actions) == [("RULE-011", "unlock")]
    assert actions[0].record(h.now)["symbol"] == "RTY"
    assert {lo.symbol for lo in h.state.lockouts} == {"ES"}
    assert h.apply(pos(RTY, 1, "2100")) == []  # trading RTY is allowed again


def test_disabling_the_rule_ends_its_condition_lockouts() -> None:
    h = EngineHarness(rule("symbol_blocks", blocked_symbols=["RTY"]))
    h.apply(pos(RTY, 1, "2100"))
    actions = h.engine.update_policy(Policy.uniform([]), h.now)
    assert kinds(actions) == [("RULE-011", "unlock")]
    assert not h.state.lockouts
