"""A snapshot restored into a fresh engine continues exactly as the original would have."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from test_engine_mechanisms import CloseWhenLarge, WakeAfter, lock_rule

from risk_manager.engine.engine import Engine
from risk_manager.engine.snapshot import SnapshotError, restore, snapshot
from risk_manager.rules.api import RuleConfig

from engine_helpers import ES, MNQ, T0, EngineHarness, kinds, order, pos, quote, trade


def _harness() -> EngineHarness:
    return EngineHarness(
        lock_rule(minutes=30), CloseWhenLarge(RuleConfig(enabled=True)), WakeAfter(RuleConfig(enabled=True))
    )


def _clone(h: EngineHarness) -> EngineHarness:
    copy = _harness()
    data = orjson.loads(orjson.dumps(snapshot(h.engine)))  # through JSON, as the store keeps it
    restore(copy.engine, data)
    copy.now = h.now
    return copy


def test_a_restored_engine_has_the_same_state_and_makes_the_same_decisions() -> None:
    h = _harness()
    h.apply(quote(MNQ, 21000.25, 21000.0, 21000.25), pos(MNQ, 3, 21000), order(5, ES, stop_price=5790))
    h.apply(trade(1, MNQ, 21000, pnl="-125.50", fees="0.74", order_id=9))
    h.tick(seconds=3)
    copy = _clone(h)
    assert snapshot(copy.engine) == snapshot(h.engine)
    assert copy.engine.next_deadline() == h.engine.next_deadline()
    later = [trade(1, MNQ, 21000, pnl="-125.50"), pos(ES, 1, 5800), pos(MNQ, 4, 21000)]
    for event in later:
        assert kinds(copy.apply(event)) == kinds(h.apply(event))
    assert kinds(copy.tick(hours=10)) == kinds(h.tick(hours=10))
    assert snapshot(copy.engine) == snapshot(h.engine)


def test_a_lockout_that_ended_while_down_is_unlocked_at_start_up() -> None:
    h = _harness()
    h.apply(trade(1, MNQ, 21000))
    copy = _clone(h)
    actions = copy.tick(to=T0 + timedelta(hours=1))  # the daemon comes back an hour later
    assert ("RULE-900", "unlock") in kinds(actions)


def test_restoring_a_newer_snapshot_version_is_a_clear_error() -> None:
    data = snapshot(_harness().engine) | {"version": 99}
    with pytest.raises(SnapshotError, match="version 99"):
        restore(_harness().engine, data)


def test_restoring_into_a_used_engine_is_refused() -> None:
    h = _harness()
    h.apply(trade(1, MNQ, 21000))
    with pytest.raises(SnapshotError, match="fresh engine"):
        restore(h.engine, snapshot(h.engine))


def test_a_damaged_snapshot_is_a_clear_error() -> None:
    h = _harness()
    h.apply(trade(1, MNQ, 21000))
    data = snapshot(h.engine)
    del data["accounts"][0]["day"]
    fresh: Engine = _harness().engine
    with pytest.raises(SnapshotError, match="damaged snapshot"):
        restore(fresh, data)


def test_a_version_1_snapshot_with_working_orders_as_positional_lists_still_restores() -> None:
    h = _harness()
    h.apply(quote(MNQ, 21000.25, 21000.0, 21000.25), pos(MNQ, 3, 21000), order(5, ES, stop_price=5790))
    data = orjson.loads(orjson.dumps(snapshot(h.engine)))
    [working] = [o for a in data["accounts"] for o in a["working_orders"]]
    assert isinstance(working, dict) and working["order_id"] == 5  # by field name now
    # as version 1 wrote it: the fields in declaration order, times as ISO text
    [held] = [o for a in h.engine.accounts.values() for o in a.working_orders.values()]
    positional = [
        None
        if value is None
        else value.isoformat()
        if hasattr(value, "isoformat")
        else str(value)
        if isinstance(value, Decimal)
        else value
        for value in (getattr(held, f.name) for f in fields(held))
    ]
    for account in data["accounts"]:
        account["working_orders"] = [positional] if account["working_orders"] else []
    data["version"] = 1
    copy = _harness()
    restore(copy.engine, data)
    assert snapshot(copy.engine) == snapshot(h.engine)
