"""`risk-manager sim-gateway` in a process of its own, on a free loopback port, driven through its
control API: for tests whose load would otherwise make the simulator and the daemon compete for one
event loop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

# The listed contract of a root is CON.F.US.<product>.<month>; ProjectX spells ES as EP.
PRODUCTS = {"ES": "EP", "MNQ": "MNQ", "NQ": "ENQ"}


def stop_gracefully(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM, as a service manager stops a process, then a kill if it has not exited in
    ``timeout`` seconds; nothing when it is not running."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class SimProcess:
    """The simulated gateway as a user runs it. ``with SimProcess(dir, "--accounts", "200") as sim``;
    ``await sim.state()``, ``await sim.set_price(...)`` over HTTP."""

    def __init__(self, workdir: Path, *options: str, start_timeout: float = 20.0) -> None:
        self.output = workdir / "sim-gateway.out"
        self.options = options
        self.start_timeout = start_timeout
        self.base_url = self.user_hub_url = self.market_hub_url = self.root_url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._http: httpx.AsyncClient | None = None

    def __enter__(self) -> SimProcess:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with self.output.open("wb") as out:  # a file, not a pipe: a full pipe would block the sim
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "risk_manager.cli.main", "sim-gateway", "--port", "0", "--seed", "1",
                 "--always-open", "--still", "--ping-interval", "0.05", *self.options],  # (later options win)
                stdout=out, stderr=subprocess.STDOUT,
            )
        try:
            banner = self._banner()
            self.base_url = _url(banner, "REST")
            self.user_hub_url = _url(banner, "user hub")
            self.market_hub_url = _url(banner, "market hub")
            self.root_url = self.base_url.removesuffix("/api")
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    async def __aenter__(self) -> SimProcess:
        self._http = httpx.AsyncClient(base_url=self.root_url, timeout=10.0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _banner(self) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            text = self.output.read_text(errors="replace")
            if "Ctrl-C to stop." in text:
                return text
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise AssertionError(f"sim-gateway exited with {self._proc.returncode}:\n{text}")
            time.sleep(0.05)
        text = self.output.read_text(errors="replace")
        raise AssertionError(f"sim-gateway did not start in {self.start_timeout} s:\n{text}")

    def _stop(self) -> None:
        stop_gracefully(self._proc, timeout=10)

    # ---- the control API ------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        assert self._http is not None, "use `async with sim:` for the control API"
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def state(self) -> dict[str, Any]:
        return await self._call("GET", "/__sim__/state")

    async def set_price(self, contract_id: str, price: str) -> dict[str, Any]:
        return await self._call("POST", "/__sim__/price", {"contractId": contract_id, "price": float(price)})

    async def contract_id(self, root: str) -> str:
        product = PRODUCTS.get(root, root)
        return next(c for c in (await self.state())["contracts"] if c.split(".")[3] == product)

    async def account_ids(self) -> list[int]:
        return [a["id"] for a in (await self.state())["accounts"]]


def _url(banner: str, label: str) -> str:
    found = re.search(rf"^\s*{label}\s+(\S+)\s*$", banner, re.MULTILINE)
    assert found is not None, f"no {label} URL in the sim-gateway banner:\n{banner}"
    return found.group(1)


def positions_in(state: dict[str, Any], account: int) -> dict[str, int]:
    """contract -> signed size of one account's open positions in a state read."""
    return {p["contractId"]: p["size"] * (1 if p["type"] == 1 else -1)
            for p in state["positions"] if p["accountId"] == account and p["size"]}
