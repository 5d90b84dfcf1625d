"""The daemon's read model carries the gateway connection state as the supervisor sees it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from daemon_helpers import ACCOUNT, eventually, live_gateway, running, write_config
from projectx_helpers import FAST_HUB
from sim_helpers import run

from risk_manager.domain.status import ConnectionState

RULES = {"daily_realized_loss": {"enabled": True, "limit": -500}}
# a first reconnect attempt about a second after the loss: long enough to read the state meanwhile
SLOW_RECONNECT = replace(FAST_HUB, backoff_initial=2.0, backoff_max=2.0)


def test_statuses_report_connected_then_reconnecting_after_a_hub_drop_then_connected_again(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "c", RULES)
            async with running(gw, config, tmp_path / "d", hub=SLOW_RECONNECT) as daemon:

                def connection() -> ConnectionState:
                    statuses = daemon.statuses()
                    assert [s.account_id for s in statuses] == [ACCOUNT]
                    return statuses[0].connection

                await eventually(lambda: connection() is ConnectionState.CONNECTED, what="connected")
                gw.fault({"hub": "user", "action": "drop"})
                await eventually(lambda: connection() is ConnectionState.RECONNECTING, what="reconnecting")
                await eventually(lambda: connection() is ConnectionState.CONNECTED, timeout=10,
                                 what="connected again")
                assert gw.state()["hubConnections"].get("user", 0) >= 2

    run(body, timeout=30)
