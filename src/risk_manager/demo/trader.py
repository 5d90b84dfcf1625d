"""The demo's scripted trader: REST orders through the simulated gateway's API, price moves through
its control surface -- what a trader and the market do, so the daemon sees nothing but the gateway.

The script (account 7 breaks the size and loss rules, account 8 holds a position without a stop):

1. account 8 buys 1 ES and places no stop (RULE-008 closes it when its grace period ends);
2. account 7 buys 5 MNQ, over its MNQ limit (RULE-002, reduced to 4), then 2 ES, over its account
   limit (RULE-001, reduced to 5), and sells down to 1 MNQ;
3. account 7 loses on three ES round trips in a row: the daily loss limit (RULE-003) flattens the
   account (the MNQ it still holds) and locks it;
4. account 7 buys 1 MNQ while locked: the lockout gate closes it at once.

Every pause is divided by ``speed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx

from risk_manager.sim.app import SimGateway

__all__ = ["DEMO_KEY", "DEMO_USER", "OVERTRADER", "STOPLESS", "Trader"]

DEMO_USER = "demo-trader"
DEMO_KEY = "demo-key-not-a-secret"
OVERTRADER = 7
STOPLESS = 8
BUY, SELL = 0, 1
MARKET = 2
MNQ_OPEN = Decimal("21000.00")
ES_OPEN = Decimal("6000.00")


class Trader:
    def __init__(self, gw: SimGateway, *, speed: float = 1.0,
                 say: Callable[[str], None] = lambda _text: None) -> None:
        self.gw = gw
        self.speed = speed
        self.say = say  # narrates each step (the live view's "now" line)
        self.http = httpx.AsyncClient(base_url=gw.base_url + "/", timeout=5.0, trust_env=False)
        self.token: str | None = None
        self.mnq = gw.contract_id("MNQ")
        self.es = gw.contract_id("ES")

    async def aclose(self) -> None:
        await self.http.aclose()

    def open_market(self) -> None:
        """A still market at round prices: only the script moves it."""
        self.gw.set_price(self.mnq, MNQ_OPEN)
        self.gw.set_price(self.es, ES_OPEN)

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)

    async def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(endpoint, json=body, headers=headers)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def login(self) -> None:
        data = await self._call("Auth/loginKey", {"userName": DEMO_USER, "apiKey": DEMO_KEY})
        if not data.get("success"):
            raise RuntimeError(f"the simulated gateway refused the demo login: {data.get('errorMessage')}")
        self.token = str(data["token"])

    async def order(self, account: int, contract: str, side: int, size: int) -> None:
        # A refused order (the account is locked by the gateway, say) is part of the story, not an error.
        await self._call("Order/place", {"accountId": account, "contractId": contract, "type": MARKET,
                                         "side": side, "size": size})

    async def run(self, wait: Callable[[Callable[[], bool], float], Awaitable[bool]]) -> None:
        """The whole script; ``wait(check, seconds)`` waits for the daemon to have done something."""
        await self.login()
        self.open_market()
        await self.pause(2)

        self.say("account 8 buys 1 ES and sets no stop")
        await self.order(STOPLESS, self.es, BUY, 1)
        await self.pause(3)

        self.say("account 7 buys 5 MNQ: over its MNQ limit of 4")
        await self.order(OVERTRADER, self.mnq, BUY, 5)
        await wait(lambda: self.size(OVERTRADER, self.mnq) <= 4, 10)
        await self.pause(3)

        self.say("account 7 adds 2 ES: 6 contracts, over its account limit of 5")
        await self.order(OVERTRADER, self.es, BUY, 2)
        await wait(lambda: self.gross(OVERTRADER) <= 5, 10)
        await self.pause(3)

        self.say("account 7 sells down to 1 MNQ")
        await self.trim(OVERTRADER, {self.mnq: 1, self.es: 0})
        await self.pause(3)

        for n, drop in enumerate(("5998.75", "5998.00", "5997.50"), start=1):
            self.say(f"account 7 loss {n} of 3: buys 1 ES at 6000, it drops to {drop}, sells")
            self.gw.set_price(self.es, ES_OPEN)
            await self.order(OVERTRADER, self.es, BUY, 1)
            await self.pause(2)
            self.gw.set_price(self.es, drop)
            await self.pause(1)
            await self.order(OVERTRADER, self.es, SELL, 1)
            await self.pause(3)
        await wait(lambda: self.flat(OVERTRADER), 10)
        self.gw.set_price(self.es, ES_OPEN)
        await self.pause(4)

        self.say("account 7 is locked and buys 2 MNQ anyway")
        await self.order(OVERTRADER, self.mnq, BUY, 2)
        await wait(lambda: self.flat(OVERTRADER), 10)
        await self.pause(3)
        self.say("the script is done; the daemon keeps guarding")

    # ---- what the gateway holds ---------------------------------------------------------------------

    def size(self, account: int, contract: str) -> int:
        for p in self.gw.state()["positions"]:
            if p["accountId"] == account and p["contractId"] == contract:
                return int(p["size"])
        return 0

    def gross(self, account: int) -> int:
        return sum(int(p["size"]) for p in self.gw.state()["positions"] if p["accountId"] == account)

    async def trim(self, account: int, targets: dict[str, int]) -> None:
        """Sell each (long) position down to its target size."""
        for contract, target in targets.items():
            excess = self.size(account, contract) - target
            if excess > 0:
                await self.order(account, contract, SELL, excess)

    def flat(self, account: int) -> bool:
        return not any(p["accountId"] == account and p["size"] for p in self.gw.state()["positions"])
