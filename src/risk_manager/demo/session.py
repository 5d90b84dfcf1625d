"""One live demo session: the simulated gateway on a free loopback port, the daemon on a temporary
data directory with the bundled live-demo config, and the scripted trader, all on one event loop.

What the daemon decides and what the enforcer achieves reach the ``Journal`` through the daemon's
observer hook; the view (view.py) and the JSON lines read it. The session ends after ``duration``
seconds, or at once when ``stop`` is set (Ctrl-C), and always stops the trader, the daemon and the
gateway in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from risk_manager.config.loader import LoadedConfig, load_config_texts
from risk_manager.daemon.app import Daemon
from risk_manager.daemon.enforcer import BROKER_KINDS, Outcome
from risk_manager.daemon.persistent import Decision
from risk_manager.demo.figures import account_statuses
from risk_manager.demo.trader import DEMO_KEY, DEMO_USER, Trader
from risk_manager.domain.actions import Alert, LockAccount
from risk_manager.domain.status import AccountStatus
from risk_manager.sim.app import SimGateway
from risk_manager.sim.clock import SystemClock

__all__ = ["CONFIG_PACKAGE_DIR", "Entry", "Journal", "Session", "demo_config"]

CONFIG_PACKAGE_DIR = "live-demo-config"
CONFIG_FILES = ("risk_config.yaml", "accounts.yaml", "timers.yaml")
GRACE_SECONDS = 8  # RULE-008's grace period at speed 1 (the bundled config's value)


@dataclass(slots=True)
class Entry:
    """One decision of the daemon, and its outcome once the enforcer knows it."""

    audit_id: int
    t: datetime
    account_id: int
    rule: str
    kind: str
    reason: str
    level: str = ""  # alerts: info | warning | critical
    outcome: str | None = None
    latency_ms: float | None = None

    @property
    def enforcement(self) -> bool:
        return self.kind != "alert"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                               "account": self.account_id, "rule": self.rule, "action": self.kind,
                               "reason": self.reason}
        if self.level:
            out["level"] = self.level
        if self.outcome is not None:
            out["outcome"] = self.outcome
            out["latency_ms"] = self.latency_ms
        return out


@dataclass(slots=True)
class Journal:
    """Every decision in order, with outcomes filled in; ``emit`` sees each decision and outcome."""

    entries: list[Entry] = field(default_factory=list)
    by_id: dict[int, Entry] = field(default_factory=dict)
    emit: Callable[[str, Entry], None] | None = None

    def decided(self, decision: Decision) -> None:
        action = decision.action
        level = action.level if isinstance(action, Alert) else ""
        reason = (action.message if isinstance(action, Alert) else None) or action.reason or ""
        entry = Entry(decision.audit_id, decision.t, action.account_id, action.rule, action.kind, reason,
                      level)
        if isinstance(action, Alert):
            entry.outcome = action.level
        elif not isinstance(action, BROKER_KINDS):
            entry.outcome = "locked" if isinstance(action, LockAccount) else "done"
        self.entries.append(entry)
        self.by_id[decision.audit_id] = entry
        if self.emit is not None:
            self.emit("decision", entry)

    def enforced(self, outcome: Outcome) -> None:
        entry = self.by_id.get(outcome.audit_id)
        if entry is None or isinstance(outcome.action, Alert):
            return
        entry.outcome = outcome.text
        entry.latency_ms = outcome.latency_ms
        if self.emit is not None:
            self.emit("outcome", entry)

    def enforcements(self) -> list[Entry]:
        return [e for e in self.entries if e.enforcement]


def demo_config(gw: SimGateway, speed: float, dashboard_port: int | None = None) -> LoadedConfig:
    """The bundled live-demo config, pointed at ``gw``; RULE-008's grace period shortened by ``speed``;
    the live dashboard on ``dashboard_port`` (None: off; 0: any free port)."""
    folder = files("risk_manager") / "examples" / CONFIG_PACKAGE_DIR
    texts = {name: (folder / name).read_text(encoding="utf-8") for name in CONFIG_FILES}
    risk = yaml.safe_load(texts["risk_config.yaml"])
    grace = risk["rules"]["no_stop_loss_grace"]
    grace["grace_period_seconds"] = max(1, round(int(grace["grace_period_seconds"]) / speed))
    if dashboard_port is not None:
        risk.setdefault("daemon", {})["dashboard"] = {"enabled": True, "port": dashboard_port}
    texts["risk_config.yaml"] = yaml.safe_dump(risk)
    texts["api_config.yaml"] = yaml.safe_dump({
        "projectx": {"api_url": gw.base_url, "user_hub_url": gw.user_hub_url,
                     "market_hub_url": gw.market_hub_url, "username": DEMO_USER, "api_key": DEMO_KEY},
        "connection": {"request_timeout": 5},
    })
    return load_config_texts(texts)


class Session:
    def __init__(self, *, duration: float, speed: float, journal: Journal,
                 stop: asyncio.Event | None = None, dashboard_port: int | None = None) -> None:
        self.duration = duration
        self.speed = speed
        self.journal = journal
        self.stop = stop or asyncio.Event()
        self.dashboard_port = dashboard_port  # None: no dashboard
        self.dashboard_url: str | None = None  # once the daemon serves it
        self.now_doing = "starting the simulated gateway and the daemon"
        self.started = time.monotonic()
        self.gw: SimGateway | None = None
        self.daemon: Daemon | None = None
        self.script_error: BaseException | None = None
        # the read model of each account, refreshed at each tick and kept after the daemon stops
        self.accounts: list[AccountStatus] = []
        self.zone: tzinfo = UTC  # the config's display zone, once loaded

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        self.now_doing = text

    async def run(self, on_tick: Callable[[], None] = lambda: None, tick: float = 0.25,
                  on_started: Callable[[], None] = lambda: None) -> None:
        """The whole session; ``on_tick`` is called every ``tick`` seconds (the live view's refresh),
        ``on_started`` once the daemon runs (the dashboard's URL is known then)."""
        with tempfile.TemporaryDirectory(prefix="risk-manager-demo-") as data, \
                _logs_to(Path(data) / "daemon.log"):
            gw = SimGateway(clock=SystemClock(), always_open=True, market_driver=False, seed=11,
                            credentials={DEMO_USER: DEMO_KEY}, ping_interval=1.0)
            async with gw:
                self.gw = gw
                daemon = Daemon(demo_config(gw, self.speed, self.dashboard_port), Path(data) / "data",
                                observer=self.journal,
                                wall=lambda: datetime.now(UTC))
                self.daemon = daemon
                self.zone = ZoneInfo(daemon.config.risk.general.timezone)
                await daemon.start()
                self.dashboard_url = daemon.dashboard_url
                on_started()
                trader = Trader(gw, speed=self.speed, say=self.say)
                script = asyncio.get_running_loop().create_task(self._script(trader), name="demo-trader")
                try:
                    self.started = time.monotonic()
                    while self.elapsed < self.duration and not self.stop.is_set():
                        self.accounts = account_statuses(daemon, datetime.now(UTC))
                        on_tick()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.stop.wait(), tick)
                finally:
                    script.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await script
                    await trader.aclose()
                    self.accounts = account_statuses(daemon, datetime.now(UTC))
                    await daemon.stop("demo over")
                on_tick()

    async def _script(self, trader: Trader) -> None:
        async def wait(check: Callable[[], bool], seconds: float) -> bool:
            deadline = time.monotonic() + seconds / max(1.0, self.speed / 4)
            while not check():
                if time.monotonic() > deadline:
                    return False
                await asyncio.sleep(0.02)
            return True

        try:
            await trader.run(wait)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown in the summary: the demo itself must still stop cleanly
            self.script_error = exc
            self.say(f"the scripted trader stopped: {exc}")


@contextlib.contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """The daemon's log lines go to a file in the temporary directory, not over the live view."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
