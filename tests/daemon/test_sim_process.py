"""`risk-manager sim-gateway --still --no-rate-limits` in its own process, as the load test uses it:
prices move only when the control API moves them, and no request is refused for its rate."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sim_helpers import Api, run
from sim_process import SimProcess


def test_a_still_gateway_without_rate_limits_holds_its_prices_and_answers_every_request(
    tmp_path: Path,
) -> None:
    async def body(sim: SimProcess) -> None:
        async with sim, Api(sim) as trader:  # type: ignore[arg-type]  (Api needs only the REST URL)
            mnq = await sim.contract_id("MNQ")
            await sim.set_price(mnq, "21000.00")
            before = (await sim.state())["quotes"][mnq]
            await asyncio.sleep(0.5)
            assert (await sim.state())["quotes"][mnq]["lastPrice"] == before["lastPrice"] == 21000.0
            await trader.login()
            answers = [await trader.post("Account/search", {"onlyActiveAccounts": True}) for _ in range(210)]
            assert {a.status_code for a in answers} == {200}  # the gateway's 200 per 60 s is off

    with SimProcess(tmp_path, "--no-rate-limits") as sim:
        banner = sim.output.read_text()
        assert "still: prices move only through the control API" in banner
        assert "rate limits off" in banner
        run(lambda: body(sim), timeout=30)
