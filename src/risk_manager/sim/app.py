"""The simulated gateway as one object: REST, both hubs and the control routes on one aiohttp port.

aiohttp serves plain HTTP and WebSocket upgrades from the same router, which is what a ProjectX client
expects of the real hosts (REST and ``/hubs/...`` side by side), and it is already a dependency; the
market, the broker and the hubs share one asyncio loop, so every operation is atomic by construction.

Use in tests::

    async with SimGateway(always_open=True, ping_interval=0.05) as gw:
        ...  # gw.base_url, gw.user_hub_url, gw.market_hub_url, gw.set_price(...), gw.state()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from .broker import PaperBroker, SimAccount
from .clock import Clock, ManualClock, SystemClock
from .control import apply_fault, control_routes, is_loopback
from .faults import FaultBook
from .hours import MarketHours
from .hub import HubSettings, MarketHub, UserHub
from .market import MarketSimulator, MarketUpdate, build_contracts
from .rest import DEFAULT_LIMITS, Limit, RateLimiter, RestApi
from .stats import Stats
from .tokens import TokenBook, TokenInfo
from .wire import iso, iso7

log = logging.getLogger(__name__)

FIRST_ACCOUNT_ID = 7
STARTING_BALANCE = Decimal("50000")


class SimGateway:
    """A ProjectX-compatible gateway on loopback. Construct, then ``await start()`` or ``async with``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: int = 2,
        seed: int = 0,
        always_open: bool = False,
        clock: Clock | None = None,
        credentials: Mapping[str, str] | None = None,
        token_lifetime: float | timedelta = timedelta(hours=24),
        ping_interval: float = 15.0,
        client_timeout: float = 30.0,
        handshake_timeout: float = 15.0,
        rate_limits: bool | Mapping[str, Limit] = True,
        market_driver: bool | None = None,
        driver_interval: float = 0.01,
        partial_quotes: bool | None = None,
        allow_remote: bool = False,
        fees: Mapping[str, Decimal] | None = None,
        commissions: Mapping[str, Decimal] | None = None,
        starting_balance: Decimal = STARTING_BALANCE,
        bare: bool = False,
        repeat_new_id: bool = False,
    ) -> None:
        """``bare=True`` keeps the simulator's original, simpler behaviour (for debugging a client):
        bare hub payloads with explicit nulls, one event per change, no commissions, no Pending or
        Suspended orders, full quotes. The default behaves like the live gateway (PROJECTX.md §2b).
        ``partial_quotes`` defaults to the mode (partial live, full bare). ``repeat_new_id`` gives the
        repeated trade after a close a new id instead of the closing trade's (live, unknown which)."""
        if not is_loopback(host) and not allow_remote:
            raise ValueError(
                f"refusing to bind the simulated gateway to non-loopback address {host!r}; "
                "it has no real authentication. Pass allow_remote=True (--allow-remote) if you mean it."
            )
        if accounts < 1:
            raise ValueError(f"accounts must be at least 1, got {accounts}")
        if ping_interval <= 0 or client_timeout <= 0 or handshake_timeout <= 0:
            raise ValueError("ping_interval, client_timeout and handshake_timeout must be positive")
        self.host = host
        self.port = port
        self.clock: Clock = clock or SystemClock()
        self.hours = MarketHours(always_open)
        self.stats = Stats()
        self.faults = FaultBook()
        lifetime = (
            token_lifetime if isinstance(token_lifetime, timedelta) else timedelta(seconds=token_lifetime)
        )
        self.tokens = TokenBook(self.clock, lifetime)
        contracts = build_contracts(self.hours.session_date(self.clock.now()))
        self.bare = bare
        self.market = MarketSimulator(contracts, self.clock, self.hours, seed, stamp=iso if bare else iso7)
        self.broker = PaperBroker(
            self.market,
            self.clock,
            fees=fees,
            commissions=commissions,
            live=not bare,
            repeat_new_id=repeat_new_id,
        )
        for i in range(accounts):
            account_id = FIRST_ACCOUNT_ID + i
            self.broker.add_account(account_id, f"SIM-50K-{account_id}", starting_balance)
        settings = HubSettings(ping_interval, client_timeout, handshake_timeout)
        self.user_hub = UserHub(self.tokens, self.stats, settings, self.faults, live=not bare)
        partial = not bare if partial_quotes is None else partial_quotes
        self.market_hub = MarketHub(self.tokens, self.stats, settings, self.market, partial)
        self.market.on_update = self._on_market_update
        self.broker.emit = self.user_hub.publish
        limits = DEFAULT_LIMITS if isinstance(rate_limits, bool) else rate_limits
        self.limiter = RateLimiter(self.clock, limits, enabled=rate_limits is not False)
        self.rest = RestApi(
            clock=self.clock,
            tokens=self.tokens,
            broker=self.broker,
            market=self.market,
            faults=self.faults,
            stats=self.stats,
            limiter=self.limiter,
            credentials=credentials,
        )
        self.rest.on_logout = self._on_logout
        self.market_driver = (
            market_driver if market_driver is not None else not isinstance(self.clock, ManualClock)
        )
        self.driver_interval = driver_interval
        self._runner: web.AppRunner | None = None
        self._driver: asyncio.Task[None] | None = None
        self.app = self._build_app()

    # ---- lifecycle --------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.add_routes(self.rest.routes())
        for hub in (self.user_hub, self.market_hub):
            app.add_routes(
                [
                    web.post(f"/hubs/{hub.name}/negotiate", hub.negotiate),
                    web.get(f"/hubs/{hub.name}", hub.websocket),
                ]
            )
        app.add_routes(control_routes(self))
        return app

    async def start(self) -> SimGateway:
        if self._runner is not None:
            raise RuntimeError("SimGateway already started")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        if self.market_driver:
            self._driver = asyncio.create_task(self._drive(), name="sim-market-driver")
        return self

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        hubs = (self.user_hub, self.market_hub)
        for hub in hubs:
            hub.close_all("Server is shutting down.", True)
        for _ in range(50):  # up to ~0.5 s for clients to finish the close handshake
            if not any(h.connections for h in hubs):
                break
            await asyncio.sleep(0.01)
        for hub in hubs:
            hub.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimGateway:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _drive(self) -> None:
        while True:
            await asyncio.sleep(self.driver_interval)
            try:
                self.market.step()
            except Exception:  # keep the market alive; a bug shows in the log, not as a silent halt
                log.exception("market step failed")

    def _on_market_update(self, update: MarketUpdate) -> None:
        self.market_hub.publish(update)  # the quote first, then what it caused
        self.broker.on_market(update)

    def _on_logout(self, info: TokenInfo) -> None:
        """Nothing to do for hubs: like ASP.NET, open connections outlive the token they opened with."""

    # ---- addresses ----------------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """REST base, like ``https://api.topstepx.com/api``."""
        return f"{self.root_url}/api"

    api_url = base_url

    @property
    def user_hub_url(self) -> str:
        return f"{self.root_url}/hubs/user"

    @property
    def market_hub_url(self) -> str:
        return f"{self.root_url}/hubs/market"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}/__sim__"

    # ---- Python control API (same as the /__sim__ routes) ---------------------------------------

    @property
    def account_ids(self) -> list[int]:
        return sorted(self.broker.accounts)

    def contract_id(self, root: str) -> str:
        """The listed (front-month) contract id of a CME root: 'MNQ' -> 'CON.F.US.MNQ.H26'."""
        for cid, c in self.market.contracts.items():
            if c.root == root.upper():
                return cid
        raise KeyError(
            f"no listed contract for root {root!r}; "
            f"roots: {sorted(c.root for c in self.market.contracts.values())}"
        )

    def set_price(
        self,
        contract_id: str,
        price: Decimal | float | str,
        *,
        bid: Decimal | float | str | None = None,
        ask: Decimal | float | str | None = None,
    ) -> dict[str, Any]:
        """Move the market of a contract now: quote pushed, resting orders that cross fill.
        Bid defaults to the price and ask to one tick above it."""
        update = self.market.set_price(
            contract_id,
            _dec(price),
            bid=None if bid is None else _dec(bid),
            ask=None if ask is None else _dec(ask),
        )
        return update.book.quote_payload()

    def set_account(
        self,
        account_id: int,
        *,
        can_trade: bool | None = None,
        balance: Decimal | float | str | None = None,
        is_visible: bool | None = None,
        kind: str | None = None,
        position_brackets: bool | None = None,
    ) -> dict[str, object]:
        """Change an account; ``kind`` is practice | live | follower (live-funded and follower
        accounts refuse cancel and partial close), ``position_brackets`` refuses order brackets."""
        acct: SimAccount = self.broker.set_account(
            account_id,
            can_trade=can_trade,
            balance=None if balance is None else _dec(balance),
            is_visible=is_visible,
            kind=kind,
            position_brackets=position_brackets,
        )
        return acct.payload()

    def fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return apply_fault(self, dict(spec))

    def set_quote_rate(self, contract_id: str, rate: float | None) -> None:
        self.market.set_rate(contract_id, rate)

    def advance(self, seconds: float) -> int:
        """With a ManualClock: move time forward and generate the market for it; returns quotes made."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a ManualClock; this gateway runs on the system clock")
        self.clock.advance(seconds)
        return self.market.step()

    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "time": iso(now),
            "mode": "bare" if self.bare else "live",
            "marketOpen": self.hours.is_open(now),
            "marketHours": self.hours.describe(),
            **self.broker.state(),
            "contracts": sorted(self.market.contracts),
            "quotes": {
                cid: b.quote_payload(self.market.stamp) for cid, b in sorted(self.market.books.items())
            },
            **self.stats.snapshot(),
            "hubs": {"user": self.user_hub.describe(), "market": self.market_hub.describe()},
            "faults": self.faults.describe(),
            "activeTokens": self.tokens.active_count(),
        }


def _dec(value: Decimal | float | str | int) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def load_credentials(path: str | Path) -> dict[str, str]:
    """A YAML or JSON mapping userName -> apiKey; errors name the file and what is wrong."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read credentials file {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"credentials file {p} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f"credentials file {p} must be a non-empty mapping of userName: apiKey")
    out: dict[str, str] = {}
    for user, key in data.items():
        if not isinstance(user, str) or not isinstance(key, str) or not user or not key:
            raise ValueError(
                f"credentials file {p}: entry {user!r}: {key!r} must map a userName string "
                "to an apiKey string"
            )
        out[user] = key
    return out
