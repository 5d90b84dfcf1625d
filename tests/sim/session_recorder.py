"""Record one scripted trading session from the simulated gateway, in the live shape or bare.

The script drives the simulator through the REST API exactly as a trader's platform would, while two
bare WebSocket clients (user and market hub) record every event in the recording format of
FORMATS.md (``t`` is the simulator's clock). The same script in both modes gives the twin recordings
under ``tests/data/live-session/``: the live one has wrapped arguments, absent fields, repeated trades
and account updates, Pending orders, Suspended bracket legs, a rejected order and commissions.

Regenerate the committed files after a deliberate change of the simulator::

    .venv/bin/python tests/sim/session_recorder.py
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sim_helpers import ES, MNQ, START, Api, Hub, user_hub  # noqa: E402

from risk_manager.sim.app import SimGateway  # noqa: E402
from risk_manager.sim.clock import ManualClock  # noqa: E402

DATA = HERE.parent / "data" / "live-session"
FILES = {"live": DATA / "live.jsonl", "bare": DATA / "bare.jsonl"}


def _t(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class Recorder:
    def __init__(self, gw: SimGateway, clock: ManualClock, user: Hub, market: Hub) -> None:
        self.gw, self.clock, self.user, self.market = gw, clock, user, market
        self.lines: list[dict[str, Any]] = []

    async def collect(self) -> None:
        """Everything both hubs sent for the last step, market first (the quote comes before its fills).

        No waiting for silence: a harmless invocation with an id is sent on each hub, and its completion
        comes after every event queued before it (one FIFO queue per connection)."""
        t = _t(self.clock.now())
        for name, hub, barrier in (
            ("market", self.market, ("UnsubscribeContractTrades", MNQ)),
            ("user", self.user, ("SubscribeAccounts",)),
        ):
            await hub.invoke(*barrier, invocation_id="barrier")
            while (message := await hub.next(5.0)).get("invocationId") != "barrier":
                if message.get("type") == 1:
                    self.lines.append(
                        {"t": t, "hub": name, "target": message["target"], "arguments": message["arguments"]}
                    )

    async def step(self, seconds: float) -> None:
        await self.collect()
        self.clock.advance(timedelta(seconds=seconds))


async def record(bare: bool) -> list[dict[str, Any]]:
    clock = ManualClock(START)
    gw = SimGateway(clock=clock, ping_interval=30, seed=1, bare=bare, always_open=True)
    async with gw, Api(gw) as api:
        token = await api.login()
        user = await user_hub(gw, token)
        market = await Hub.open(gw.market_hub_url, token)
        await market.invoke("SubscribeContractQuotes", MNQ)
        await market.invoke("SubscribeContractQuotes", ES, invocation_id="q")
        await market.until("GatewayQuote")
        while (await market.next()).get("invocationId") != "q":  # the ES snapshot, then the completion
            pass
        rec = Recorder(gw, clock, user, market)
        close = {"accountId": 7}

        gw.set_account(7, can_trade=True)  # the day's first account update: the opening balance
        gw.set_price(MNQ, 21000)
        await rec.step(1.5)
        await api.place(size=2)  # market entry, 2 MNQ at 21000.25
        await rec.step(20.25)
        await api.place(type_=1, limitPrice=20985.0)  # rests
        gw.set_price(MNQ, 20990)
        await rec.step(15)
        gw.set_price(MNQ, 20984)  # the limit fills: 3 MNQ (over a max_contracts of 2)
        await rec.step(30)
        gw.set_price(MNQ, 20950)
        await api.call("Position/closeContract", close | {"contractId": MNQ})  # a loss of ~271
        await rec.step(45.5)
        gw.set_price(ES, 6000)
        await api.place(
            contract=ES, stopLossBracket={"ticks": -8, "type": 4}, takeProfitBracket={"ticks": 8, "type": 1}
        )
        await rec.step(12)
        gw.set_price(ES, 5997)  # the stop leg exits: -112.50 more, the day is past -300
        await rec.step(61)
        await api.place(type_=1)  # refused: no limitPrice (live: created, Pending -> Rejected)
        await rec.step(5)
        gw.set_price(MNQ, 20960)
        await api.place(size=2, takeProfitBracket={"ticks": 20, "type": 1})
        await rec.step(7.125)
        gw.set_price(MNQ, 20966)  # the take profit exits
        await rec.step(30)
        await api.place(size=2)
        await rec.step(3)
        await api.call("Position/partialCloseContract", close | {"contractId": MNQ, "size": 1})
        await rec.step(3)
        await api.call("Position/closeContract", close | {"contractId": MNQ})
        await rec.collect()
        await user.close()
        await market.close()
        return rec.lines


def dump(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


async def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for mode, path in FILES.items():
        path.write_bytes(dump(await record(bare=mode == "bare")))
        print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
