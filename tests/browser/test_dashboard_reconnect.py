"""The live dashboard across a daemon restart, in a real browser: `risk-manager run` (a subprocess,
against the simulated gateway in a process of its own) serves the dashboard on a fixed loopback
port; the page shows the feed live, says it is reconnecting while the daemon is down, and is live
again with the history fetched anew once the daemon is back, without a reload."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from sim_process import SimProcess, stop_gracefully  # (importable once the path above is set)

ACCOUNT = 7


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(directory: Path, sim: SimProcess, port: int) -> Path:
    directory.mkdir(parents=True)
    risk = {"rules": {"daily_realized_loss": {"enabled": True, "limit": -500}},
            "daemon": {"dashboard": {"enabled": True, "port": port}}}
    (directory / "risk_config.yaml").write_text(yaml.safe_dump(risk))
    accounts = {"monitor": "listed", "accounts": [{"id": ACCOUNT, "name": "acct 7"}]}
    (directory / "accounts.yaml").write_text(yaml.safe_dump(accounts))
    timers = {"daily_reset": {"time": "17:00", "timezone": "America/Chicago"}}
    (directory / "timers.yaml").write_text(yaml.safe_dump(timers))
    api = {"projectx": {"api_url": sim.base_url, "user_hub_url": sim.user_hub_url,
                        "market_hub_url": sim.market_hub_url, "username": "trader",
                        "api_key": "pk-TEST-0123456789abcdef"}}
    path = directory / "api_config.yaml"
    path.write_text(yaml.safe_dump(api))
    path.chmod(0o600)
    return directory


class RunProcess:
    """`risk-manager run` as a user runs it; ``start`` waits until its dashboard answers."""

    def __init__(self, config: Path, data: Path, url: str) -> None:
        self.config, self.data, self.url = config, data, url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        out = (self.data.parent / "run.out").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "risk_manager.cli.main", "run", "--config", str(self.config),
             "--data-dir", str(self.data)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.data.parent / "run.out").read_text(errors="replace")
            try:
                if httpx.get(self.url + "api/history", timeout=1.0, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the daemon's dashboard did not answer in {timeout} s")

    def stop(self) -> None:
        stop_gracefully(self.process, timeout=20)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunProcess]:
    with SimProcess(tmp_path / "sim") as sim:
        port = free_port()
        config = write_config(tmp_path / "config", sim, port)
        run = RunProcess(config, tmp_path / "data", f"http://127.0.0.1:{port}/")
        try:
            yield run
        finally:
            run.stop()


def feed(page: Any) -> str:
    return str(page.locator("#feed").inner_text())


def test_the_dashboard_says_it_reconnects_while_the_daemon_is_down_and_is_live_again_after_a_restart(
    browser: Any, daemon: RunProcess, artifacts_dir: Path
) -> None:
    daemon.start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        history: list[str] = []  # the page's requests for the day's history

        def seen(request: Any) -> None:
            if "/api/history" in request.url:
                history.append(request.url)

        page.on("request", seen)
        page.goto(daemon.url)
        page.wait_for_function("document.getElementById('feed').textContent === 'live'", timeout=15_000)
        page.locator(".account").first.wait_for(timeout=15_000)
        fetched = len(history)
        assert fetched >= 1

        daemon.stop()
        page.wait_for_function("document.getElementById('feed').textContent !== 'live'", timeout=15_000)
        assert feed(page) in ("reconnecting…", "disconnected")
        # the cards hold the last figures received: shown dimmed, not as the present
        assert page.evaluate("document.body.classList.contains('feed-down')")
        assert float(page.locator(".account").first.evaluate("e => getComputedStyle(e).opacity")) < 1
        page.screenshot(path=str(artifacts_dir / "dashboard-reconnecting.png"))

        daemon.start()
        # EventSource retries by itself (every few seconds): no reload, the same page
        page.wait_for_function("document.getElementById('feed').textContent === 'live'", timeout=30_000)
        page.wait_for_function(f"window.performance.getEntriesByType('resource').filter("
                               f"e => e.name.includes('/api/history')).length > {fetched}", timeout=15_000)
        assert len(history) > fetched  # the history fetched anew: a gap in the stream leaves no gap
        assert not page.evaluate("document.body.classList.contains('feed-down')")
        page.locator(".account").first.wait_for(timeout=15_000)
        page.screenshot(path=str(artifacts_dir / "dashboard-reconnected.png"))
    finally:
        page.close()
