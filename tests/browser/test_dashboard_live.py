"""The live dashboard in a real browser (Debian's chromium through Playwright), during a
`risk-manager demo` run as a user runs it: the demo prints the dashboard's URL, the page draws the
P&L curve, and after the daily loss limit is breached it shows the lockout with a countdown that
moves. Screenshots go to the artifacts directory."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

DEMO = ("demo", "--json", "--speed", "5", "--duration", "45", "--dashboard-port", "0")
OVERTRADER = 7  # the demo account that breaks its daily loss limit and is locked


class DemoProcess:
    """`risk-manager demo --json` in a subprocess; its JSON lines read on a thread as they come."""

    def __init__(self) -> None:
        env = {**os.environ, "NO_COLOR": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "risk_manager.cli.main", *DEMO],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self.lines.put(orjson.loads(line))

    def wait_for(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.get("type") == kind:
                return line
        stderr = self.process.stderr.read() if self.process.poll() is not None and self.process.stderr else ""
        raise AssertionError(f"the demo printed no {kind!r} line in {timeout} s; stderr: {stderr}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops cleanly
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


MARKER_AT = """([account, kind]) => {
  const chart = window.riskDashboard.charts[account], acct = window.riskDashboard.state.accounts[account];
  const marker = Object.values(acct.markers).find(m => m.kind === kind);
  let net = acct.net[0];
  acct.t.forEach((t, i) => { if (t <= marker.t) net = acct.net[i]; });
  const box = chart.over.getBoundingClientRect();
  return {x: box.left + chart.valToPos(marker.t, "x"), y: box.top + chart.valToPos(net, "y")};
}"""


def hover_marker(page: Any, account: int, kind: str) -> str:
    """Point at an enforcement marker on the chart; the tooltip's text. (The curve runs on to "now"
    each second, which moves the markers a little: a few tries.)"""
    tip = page.locator("#tip")
    for _ in range(5):
        point = page.evaluate(MARKER_AT, [account, kind])
        page.mouse.move(point["x"], point["y"])
        try:
            tip.wait_for(state="visible", timeout=500)
            return str(tip.inner_text())
        except Exception:
            page.mouse.move(0, 0)
    raise AssertionError(f"no tooltip over the {kind} marker of account {account}")


@pytest.fixture
def demo() -> Iterator[DemoProcess]:
    running = DemoProcess()
    try:
        yield running
    finally:
        running.stop()


def test_the_dashboard_draws_the_pnl_curve_and_a_lockout_countdown_that_moves(
    demo: DemoProcess, page: Any, artifacts_dir: Path
) -> None:
    url = demo.wait_for("dashboard", timeout=30)["url"]
    assert url.startswith("http://127.0.0.1:")
    page.goto(url)

    card = f"#account-{OVERTRADER}"
    page.wait_for_selector(f"{card} .chart canvas", timeout=15_000)
    page.wait_for_function(
        f"() => {{ const c = window.riskDashboard.charts[{OVERTRADER}];"
        " return c && c.data[0].length > 1 && c.data[2].some(v => v !== 0); }",
        timeout=20_000,
    )
    assert page.locator("#feed").inner_text() == "live"
    page.screenshot(path=str(artifacts_dir / "dashboard-live.png"), full_page=True)

    # the daily loss limit (RULE-003) is breached: the account is locked until the daily reset
    lockout = page.locator(f"{card} .lockout[data-rule='RULE-003']")
    lockout.wait_for(timeout=40_000)
    countdown = lockout.locator(".countdown")
    first = countdown.inner_text()
    time.sleep(1.5)
    second = countdown.inner_text()
    assert first != second, f"the lockout countdown did not move: {first!r} then {second!r}"
    assert all(part.isdigit() for part in second.split()[-1].split(":"))

    assert "halted" in (page.locator(card).get_attribute("class") or "")
    assert "g-red" in (page.locator(f"{card} .gauge[data-rule='RULE-003']").get_attribute("class") or "")
    page.wait_for_selector("#log tbody tr td:text('RULE-003')", timeout=10_000)
    markers = page.evaluate(
        f"() => Object.values(window.riskDashboard.state.accounts[{OVERTRADER}].markers).map(m => m.rule)"
    )
    assert "RULE-003" in markers  # the flatten and the lockout are marked on the curve
    tip = hover_marker(page, OVERTRADER, "flatten")
    assert "RULE-003 flatten" in tip and "limit -300" in tip  # the reason, on hover
    page.screenshot(path=str(artifacts_dir / "dashboard-lockout.png"), full_page=True)
    page.set_viewport_size({"width": 420, "height": 900})  # a phone: one column
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "dashboard-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 420  # nothing runs off the side

    assert demo.stop() == 0
