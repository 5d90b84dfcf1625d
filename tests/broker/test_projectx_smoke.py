from __future__ import annotations

from projectx_helpers import Events, client, connected, target
from sim_helpers import MNQ, Api, gateway, run


def test_smoke() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            px = client(gw)
            events = Events(px)
            async with px:
                await px.subscribe_account(7)
                await px.subscribe_contract(MNQ)
                await events.wait_for(connected("user"))
                await events.wait_for(connected("market"))
                accounts = await px.search_accounts()
                print(accounts)
                await api.login()
                await api.place(size=1)
                await events.wait_for(target("GatewayUserPosition"))
                positions = await px.search_open_positions(7)
                print(positions)
                await px.close_position(7, MNQ)
                print(await px.search_open_positions(7))
                print([ (e.target if hasattr(e,'target') else e) for e in events.items])
            events.stop()

    run(body)
