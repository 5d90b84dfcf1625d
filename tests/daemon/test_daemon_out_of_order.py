"""Out-of-order events: the gateway's user-hub events of each operation reversed (the sim's reorder
fault) -- a position update before its fill and before its order update, the account update first --
and the daemon decides what it decides when they come in the gateway's own order."""

from __future__ import annotations

from pathlib import Path

from daemon_helpers import ACCOUNT, Guarded, eventually, guarded
from sim_helpers import run

RULES = {
    "max_contracts_per_instrument": {"enabled": True, "default_limit": 3, "instrument_limits": {"MNQ": 2},
                                     "enforcement": "reduce_to_limit"},
    "daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False},
    "cooldown_after_loss": {"enabled": True, "close_positions": False,
                            "tiers": [{"loss": -100, "cooldown": "5m"}]},
}


async def trading_session(g: Guarded) -> list[tuple[str, str, str | None]]:
    """Over-size MNQ (RULE-002 reduces), then a losing ES round trip: RULE-003 flattens and locks,
    RULE-007 locks too. Returns the decisions as (rule, action, subject), in the order decided."""
    mnq, es = g.contract("MNQ"), g.contract("ES")
    await g.trade("MNQ", 4)
    await eventually(lambda: g.positions() == {mnq: 2}, what="MNQ reduced to 2")
    await g.trade("ES", 1)
    await eventually(lambda: g.positions() == {mnq: 2, es: 1}, what="ES open")
    g.gw.set_price(es, "5985.00")
    await g.trade("ES", -1)  # -15.25 points: -762.50 USD
    await eventually(lambda: g.positions() == {} and g.lockouts() == ["RULE-003", "RULE-007"],
                     what="flattened and locked")
    await g.audited("RULE-003", "flatten")
    return [(r.rule, r.kind, r.subject) for r in g.store.audit(ACCOUNT) if r.kind != "alert"]


def test_reversed_user_events_lead_to_the_same_decisions_as_the_gateways_own_order(tmp_path: Path) -> None:
    async def body() -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str, str | None]]]:
        async with guarded(tmp_path / "in-order", RULES) as g:
            in_order = await trading_session(g)
        async with guarded(tmp_path / "reversed", RULES) as g:
            # every operation's batch reversed, the daemon's own closes included
            g.gw.fault({"events": "reorder", "count": 1000})
            reversed_ = await trading_session(g)
            assert g.gw.state()["faults"]["reorderBatches"] < 1000  # the fault did act
        return in_order, reversed_

    in_order, reversed_ = run(body, timeout=40)
    assert ("RULE-002", "close_position") in [(r, k) for r, k, _ in in_order]
    assert reversed_ == in_order
