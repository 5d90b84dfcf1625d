"""A daemon running in-process against a SimGateway on loopback, and a config written for a test.

Most daemon tests need the same set-up -- a gateway at round prices, a trader logged in over REST, a
config with the rules under test, the daemon started on it -- so :func:`guarded` builds it all and
yields a :class:`Guarded` session (the ``guard`` fixture of conftest.py binds it to ``tmp_path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from projectx_helpers import API_KEY, USER, settings
from sim_helpers import Api

from risk_manager.config.loader import load_config
from risk_manager.daemon.app import Daemon
from risk_manager.sim.app import SimGateway
from risk_manager.sim.clock import SystemClock
from risk_manager.store.rows import AuditRow
from risk_manager.store.sqlite import Store

ACCOUNT = 7
# Where each test's market starts (the ask is one tick above: a market buy of ES fills at 6000.25).
ROUND_PRICES = {"ES": "6000.00", "MNQ": "21000.00"}


class ShiftedClock:
    """The wall clock, moved forward when a test jumps: a session's end or a reset is reached at once
    instead of waited for. Shared by the gateway and the daemon, so both see the same time."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def jump_to(self, when: datetime) -> None:
        """From now on the clock reads ``when`` (plus the real time that passes); never backwards."""
        offset = when - datetime.now(UTC)
        if offset < self.offset:
            raise ValueError(f"ShiftedClock.jump_to: {when.isoformat()} is in the clock's past")
        self.offset = offset


def live_gateway(**kwargs: Any) -> SimGateway:
    """A gateway on the real clock (the daemon's clock), always open, with a still market:
    prices move only when a test moves them."""
    kwargs.setdefault("clock", SystemClock())
    kwargs.setdefault("always_open", True)
    kwargs.setdefault("market_driver", False)
    kwargs.setdefault("ping_interval", 0.05)
    kwargs.setdefault("seed", 1)
    return SimGateway(**kwargs)


def write_config(
    directory: Path,
    rules: dict[str, Any],
    gw: SimGateway | None = None,
    accounts: tuple[int, ...] = (ACCOUNT,),
    timers: dict[str, Any] | None = None,
    **risk: Any,
) -> Path:
    """A config directory; ``timers`` adds to timers.yaml (e.g. ``session_hours``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "risk_config.yaml").write_text(yaml.safe_dump({"rules": rules, **risk}))
    (directory / "accounts.yaml").write_text(
        yaml.safe_dump({"monitor": "listed", "accounts": [{"id": a, "name": f"acct {a}"} for a in accounts]})
    )
    (directory / "timers.yaml").write_text(
        yaml.safe_dump({"daily_reset": {"time": "17:00", "timezone": "America/Chicago"}, **(timers or {})})
    )
    if gw is not None:
        api = {
            "projectx": {
                "api_url": gw.base_url,
                "user_hub_url": gw.user_hub_url,
                "market_hub_url": gw.market_hub_url,
                "username": USER,
                "api_key": API_KEY,
            },
            "connection": {"request_timeout": 2},
        }
        path = directory / "api_config.yaml"
        path.write_text(yaml.safe_dump(api))
        path.chmod(0o600)
    return directory


@contextlib.asynccontextmanager
async def running(
    gw: SimGateway, config_dir: Path, data_dir: Path, *, wall: Callable[[], datetime] | None = None,
    **overrides: Any,
) -> AsyncIterator[Daemon]:
    """The daemon on ``config_dir`` guarding ``gw``; ``wall``: its clock (default: the real one)."""
    clock = {"wall": wall} if wall is not None else {}
    daemon = Daemon(load_config(config_dir), data_dir, settings=settings(gw, **overrides), **clock)
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def positions(gw: SimGateway, account: int = ACCOUNT) -> dict[str, int]:
    """contract -> signed size of the account's open positions, as the gateway holds them."""
    out = {}
    for p in gw.state()["positions"]:
        if p["accountId"] == account and p["size"]:
            out[p["contractId"]] = p["size"] * (1 if p["type"] == 1 else -1)
    return out


def working_orders(gw: SimGateway, account: int = ACCOUNT) -> list[dict[str, Any]]:
    return [o for o in gw.state()["workingOrders"] if o["accountId"] == account]


def requests(gw: SimGateway, endpoint: str) -> int:
    return int(gw.state()["requests"].get(endpoint, 0))


class Guarded:
    """A gateway, a trader logged in to it over REST, and the daemon guarding the account."""

    def __init__(
        self, gw: SimGateway, trader: Api, daemon: Daemon, clock: ShiftedClock | None = None
    ) -> None:
        self.gw = gw
        self.trader = trader
        self.daemon = daemon
        self.clock = clock  # set when the session was asked for one (``guarded(shifted_clock=True)``)

    def contract(self, root: str) -> str:
        return self.gw.contract_id(root)

    @property
    def store(self) -> Store:
        persistent = self.daemon.persistent
        assert persistent is not None, "the daemon is stopped"
        return persistent.store

    def lockouts(self, account: int = ACCOUNT) -> list[str]:
        """The rules of the account's active lockouts, as the daemon's engine holds them."""
        persistent = self.daemon.persistent
        assert persistent is not None, "the daemon is stopped"
        state = persistent.engine.accounts.get(account)
        return sorted(lo.rule for lo in state.lockouts) if state is not None else []

    def positions(self, account: int = ACCOUNT) -> dict[str, int]:
        return positions(self.gw, account)

    def working_orders(self, account: int = ACCOUNT) -> list[dict[str, Any]]:
        return working_orders(self.gw, account)

    async def trade(self, root: str, size: int, account: int = ACCOUNT) -> dict[str, Any]:
        """A market order as the trader sends it: ``size`` > 0 buys, < 0 sells."""
        side = 0 if size > 0 else 1
        contract = self.contract(root)
        return await self.trader.place(account=account, contract=contract, side=side, size=abs(size))

    async def rest_limit(self, root: str, price: str, size: int = 1, account: int = ACCOUNT) -> int:
        """A buy limit order far enough below the market to stay working; returns its id."""
        answer = await self.trader.place(account=account, contract=self.contract(root), type_=1, size=size,
                                         limitPrice=float(price))
        assert answer["success"], answer
        return int(answer["orderId"])

    def enforced(self, rule: str, kind: str, account: int = ACCOUNT) -> list[AuditRow]:
        """The audit rows of ``rule``'s ``kind`` actions that have an outcome."""
        return [r for r in self.store.audit(account, rule=rule) if r.kind == kind and r.outcome]

    async def audited(self, rule: str, kind: str, account: int = ACCOUNT) -> AuditRow:
        """The first audit row of ``rule``'s ``kind`` action once its outcome is recorded."""
        rows = await eventually(lambda: self.enforced(rule, kind, account),
                                what=f"the outcome of {rule} {kind} in the audit trail")
        return rows[0]  # type: ignore[no-any-return]


# The type of the ``guard`` fixture: ``guard(rules, **options)`` is ``guarded(tmp_path, rules, ...)``.
Guard = Callable[..., AbstractAsyncContextManager[Guarded]]


@contextlib.asynccontextmanager
async def guarded(
    tmp_path: Path,
    rules: dict[str, Any],
    *,
    prices: dict[str, str] | None = None,
    gateway: dict[str, Any] | None = None,
    client: dict[str, Any] | None = None,
    shifted_clock: bool = False,
    **config: Any,
) -> AsyncIterator[Guarded]:
    """A live gateway at ``prices`` (default :data:`ROUND_PRICES`), the daemon guarding
    :data:`ACCOUNT` under ``rules`` (``config``: more of write_config, e.g. ``timers``), and a
    trader logged in. ``gateway``: SimGateway arguments; ``client``: ProjectXSettings overrides;
    ``shifted_clock``: the gateway and the daemon share a :class:`ShiftedClock` (``Guarded.clock``)."""
    clock = ShiftedClock() if shifted_clock else None
    gateway_args = dict(gateway or {})
    if clock is not None:
        gateway_args.setdefault("clock", clock)
    async with live_gateway(**gateway_args) as gw, Api(gw) as trader:
        for root, price in (prices or ROUND_PRICES).items():
            gw.set_price(gw.contract_id(root), price)
        config_dir = write_config(tmp_path / "config", rules, **config)
        wall = clock.now if clock is not None else None
        async with running(gw, config_dir, tmp_path / "data", wall=wall, **(client or {})) as daemon:
            await trader.login()
            yield Guarded(gw, trader, daemon, clock)
