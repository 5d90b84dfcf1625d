"""The decisions the daemon takes live equal those `risk-manager replay` takes on its own recording."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, write_config
from projectx_helpers import settings
from sim_helpers import Api, run

from risk_manager.broker.projectx import Recorder
from risk_manager.config.loader import load_config
from risk_manager.daemon.app import Daemon
from risk_manager.engine.engine import Engine
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay

RULES = {
    "max_contracts": {"enabled": True, "limit": 3, "count_type": "gross", "enforcement": "reduce_to_limit"},
    "daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False},
    "symbol_blocks": {"enabled": True, "blocked_symbols": ["RTY"]},
}


def key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record["account"],
        record["rule"],
        record["action"],
        record.get("contract"),
        record.get("size"),
        record.get("scope"),
    )


def test_live_decisions_equal_the_replay_of_the_daemons_own_recording(tmp_path: Path) -> None:
    recording = tmp_path / "session.jsonl"
    config_dir = write_config(tmp_path / "c", RULES)

    async def body() -> list[tuple[Any, ...]]:
        async with live_gateway() as gw, Api(gw) as trader:
            es, mnq, rty = gw.contract_id("ES"), gw.contract_id("MNQ"), gw.contract_id("RTY")
            for contract, price in ((es, "6000.00"), (mnq, "21000.00"), (rty, "2400.00")):
                gw.set_price(contract, price)
            daemon = Daemon(
                load_config(config_dir), tmp_path / "d", settings=settings(gw), recorder=Recorder(recording)
            )
            await daemon.start()
            try:
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=5)  # over-size: reduced to 3
                await eventually(lambda: positions(gw) == {mnq: 3})
                await trader.place(account=ACCOUNT, contract=rty, size=1)  # blocked: closed, symbol locked
                await eventually(lambda: rty not in positions(gw))
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: es in positions(gw))
                gw.set_price(es, "5985.00")
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)  # daily loss: flatten, lock
                await eventually(lambda: positions(gw) == {})
                await trader.place(account=ACCOUNT, contract=mnq, size=1)  # while locked: closed
                await eventually(lambda: positions(gw) == {} and len(gw.state()["trades"]) >= 8)
                await asyncio.sleep(0.5)
                store = daemon.persistent.store  # type: ignore[union-attr]
                return [key(row.record) for row in store.audit() if row.rule != "BALANCE"]
            finally:
                await daemon.stop()

    live = run(body, timeout=60)
    loaded = load_config(config_dir)
    engine = Engine(loaded.policy(), loaded.calendar(), loaded.contracts())
    replayed = [key(a.record(t)) for t, a in replay(read_recording(recording), engine) if a.rule != "BALANCE"]
    assert live == replayed
    kinds = {(k[1], k[2]) for k in live}
    assert {
        ("RULE-001", "close_position"),
        ("RULE-011", "lockout"),
        ("RULE-003", "flatten"),
        ("RULE-003", "lockout"),
        ("LOCKOUT", "close_position"),
    } <= kinds
