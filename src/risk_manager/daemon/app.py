"""The daemon assembled: config + data directory -> store, recovered engine, gateway client, supervisor.

``risk-manager run`` uses it, and the integration tests run it in-process against the simulated
gateway. Start-up, in order:

1. refuse a config with no rule enabled (it would guard nothing);
2. open ``<data-dir>/risk.db`` (one writer: a second daemon on the same data dir is refused) and
   ``recover``: the engine as it was, a missed daily reset applied once, lockouts that ended while
   the daemon was down closed (with audit rows);
3. log in to the gateway, subscribe each monitored account, reconcile each over REST -- a position
   opened while the daemon was down under an active lockout is closed here by the lockout gate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from risk_manager.broker.port import ConnectionState as HubState
from risk_manager.broker.projectx import ProjectXClient, ProjectXSettings, Recorder, RequestBudget
from risk_manager.config.loader import LoadedConfig
from risk_manager.daemon.control.server import ControlServer
from risk_manager.daemon.dashboard import Dashboard
from risk_manager.daemon.enforcer import AlertHook
from risk_manager.daemon.metrics import DaemonMetrics, DaemonState, MeteredObserver, MetricsServer
from risk_manager.daemon.persistent import PersistentEngine
from risk_manager.daemon.recovery import RecoveryReport, describe, recover
from risk_manager.daemon.supervisor import Observer, Supervisor
from risk_manager.domain.actions import format_time
from risk_manager.domain.status import AccountStatus, ConnectionState
from risk_manager.engine.engine import Engine
from risk_manager.notify.service import Notifications
from risk_manager.rules.api import Rule
from risk_manager.store.sqlite import Store

__all__ = ["STORE_NAME", "Daemon", "NoRuleEnabled"]

log = logging.getLogger(__name__)

STORE_NAME = "risk.db"
NOTIFY_FLUSH = 0.3  # seconds the notifier gets at stop (the whole stop stays under 2 s)


class NoRuleEnabled(ValueError):
    """The configuration enables no rule: the daemon would guard nothing."""


class Daemon:
    def __init__(
        self,
        config: LoadedConfig,
        data_dir: Path,
        *,
        settings: ProjectXSettings | None = None,
        recorder: Recorder | None = None,
        alert: AlertHook | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        budget: RequestBudget | None = None,
        notifications: Notifications | None = None,
        observer: Observer | None = None,
    ) -> None:
        if not config.risk.rules.enabled() and not any(r.enabled() for r in config.account_rules.values()):
            raise NoRuleEnabled(
                f"no rule is enabled in {config.directory or 'the config'}/risk_config.yaml: the daemon "
                "would guard nothing; set `enabled: true` on at least one rule under `rules:`"
            )
        self.config = config
        self.data_dir = data_dir
        self.settings = settings if settings is not None else ProjectXSettings.from_api_config(config.api)
        self.recorder = recorder
        self.alert = alert
        self.wall = wall
        self.budget = budget  # None: the gateway's documented limits
        # None: built from general.notifications (no channel configured: every call is a no-op)
        self.notifications = notifications
        self.observer = observer  # sees decisions and outcomes as they happen (the live demo)
        self.persistent: PersistentEngine | None = None
        self.report: RecoveryReport | None = None
        self.client: ProjectXClient | None = None
        self.supervisor: Supervisor | None = None
        dashboard = config.risk.daemon.dashboard
        self.dashboard = Dashboard(self, port=dashboard.port) if dashboard.enabled else None
        # always counted (memory only); served on 127.0.0.1 only when daemon.metrics.enabled
        self.metrics = DaemonMetrics(DaemonState(lambda: self.persistent, self._hub_states,
                                                 data_dir / STORE_NAME))
        self.metrics_server: MetricsServer | None = None
        self.control: ControlServer | None = None
        self.started_at: datetime | None = None
        # Set by request_stop() (the control API's shutdown); `run` waits on it as on SIGTERM.
        self.stopping = asyncio.Event()

    def request_stop(self) -> None:
        """Ask whoever runs the daemon to stop it gracefully (as SIGTERM does)."""
        self.stopping.set()

    def _engine(self) -> Engine:
        config = self.config
        return Engine(config.policy(), config.calendar(), config.contracts())

    async def start(self) -> list[str]:
        """Recover, connect, reconcile; returns the start-up lines (also logged)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.open(self.data_dir / STORE_NAME)
        try:
            self.persistent, self.report = recover(store, self._engine, self.wall())
        except BaseException:
            store.close()
            raise
        try:
            if self.notifications is None:
                general = self.config.risk.general
                self.notifications = Notifications.from_config(general.notifications, general.timezone)
            await self.notifications.start()
            self.client = ProjectXClient(self.settings, recorder=self.recorder, budget=self.budget)
            await self.client.start()
            self.client.on_reconnected(self.metrics.reconnected)
            self.supervisor = Supervisor(
                self.persistent, self.client, monitored=self.config.monitored,
                stale_quote_seconds=self.settings.stale_quote_seconds, alert=self.alert, wall=self.wall,
                notifications=self.notifications,
                observer=MeteredObserver(self.metrics, Dashboard.observing(self.dashboard, self.observer)),
                meter=self.metrics,
            )
            await self.supervisor.start()
            await self._start_dashboard()
            if self.config.risk.daemon.metrics.enabled:
                self.metrics_server = MetricsServer(self.metrics, self.config.risk.daemon.metrics.port)
                await self.metrics_server.start()
            self.notifications.on_started(self.wall(), self.supervisor.accounts)
            self.started_at = self.wall()
            self.control = ControlServer(self, self.data_dir)
            await self.control.start()
        except BaseException:
            await self.stop()
            raise
        lines = self.startup_lines()
        for line in lines:
            log.info("%s", line)
        return lines

    async def stop(self, reason: str = "stopped") -> None:
        """Stop the loops, close the gateway connections, flush and snapshot the store."""
        try:
            if self.dashboard is not None:
                await self.dashboard.stop()
            if self.metrics_server is not None:
                await self.metrics_server.stop()
                self.metrics_server = None
            if self.control is not None:
                await self.control.stop()  # no request reads the engine while it stops
                self.control = None
            if self.supervisor is not None:
                await self.supervisor.stop()
            if self.notifications is not None:
                self.notifications.on_stopped(self.wall(), reason)
                await self.notifications.aclose(NOTIFY_FLUSH)
        finally:
            try:
                if self.client is not None:
                    await self.client.close()
            finally:
                if self.persistent is not None:
                    self.persistent.close()
                    self.persistent = None

    @property
    def dashboard_url(self) -> str | None:
        """The live dashboard's address once it serves (None: off, or its port was taken)."""
        return self.dashboard.url if self.dashboard is not None else None

    async def _start_dashboard(self) -> None:
        """A dashboard that cannot bind is logged, never a reason not to enforce."""
        if self.dashboard is None:
            return
        try:
            await self.dashboard.start()
        except OSError as exc:
            log.error("the dashboard could not listen on 127.0.0.1:%s: %s; set daemon.dashboard.port in "
                      "risk_config.yaml to a free port (the daemon runs on without it)",
                      self.dashboard.port, exc)

    def statuses(
        self, now: datetime | None = None, accounts: Iterable[int] | None = None
    ) -> list[AccountStatus]:
        """The read model of every account the engine holds (or of ``accounts`` among them) at ``now``
        (default: the wall clock), with the gateway connection as the supervisor sees it (the worse
        of the two hubs)."""
        persistent = self.persistent
        if persistent is None:
            return []
        supervisor = self.supervisor
        connection = supervisor.feed_state if supervisor is not None else ConnectionState.CONNECTING
        at = supervisor.now(now) if supervisor is not None else (now or self.wall())
        engine = persistent.engine
        if accounts is None:
            return engine.statuses(at, connection=connection)
        return [s for a in accounts if (s := engine.status(a, at, connection)) is not None]

    def metrics_snapshot(self) -> dict[str, Any]:
        """The metrics endpoint's figures as a dict (the control API's /v1/daemon shows them)."""
        return self.metrics.snapshot()

    def _hub_states(self) -> dict[str, HubState]:
        return dict(self.supervisor.connection) if self.supervisor is not None else {}

    def startup_lines(self) -> list[str]:
        config = self.config
        lines = [f"gateway {self.settings.api_url} as {self.settings.username}"]
        if self.report is not None:
            lines.append(describe(self.report))
        supervisor = self.supervisor
        accounts = supervisor.accounts if supervisor is not None else []
        if not accounts:
            lines.append("no monitored account found on the gateway (accounts.yaml decides which)")
        engine = self.persistent.engine if self.persistent is not None else None
        for account_id in accounts:
            entry = config.accounts.entry(account_id)
            name = entry.name if entry is not None and entry.name else ""
            lines.append(f"account {account_id}{' ' + repr(name) if name else ''}: monitored")
            rules = config.rules_for(account_id)
            for rule in _rules(rules):
                lines.append(f"  {rule.describe()}")
            state = engine.accounts.get(account_id) if engine is not None else None
            for lockout in (state.lockouts if state is not None else ()):
                until = format_time(lockout.until) if lockout.until is not None else lockout.condition
                lines.append(f"  restored lockout {lockout.rule} ({lockout.scope}"
                             f"{' ' + lockout.symbol if lockout.symbol else ''}) until {until}: "
                             f"{lockout.reason}")
        if self.dashboard_url is not None:
            lines.append(f"dashboard on {self.dashboard_url} (read-only)")
        if self.metrics_server is not None:
            lines.append(f"metrics at {self.metrics_server.url}")
        calendar = config.calendar()
        lines.append(f"next daily reset {format_time(calendar.next_reset(self.wall()))}")
        return lines


def _rules(rules: Any) -> list[Rule[Any]]:
    if rules is None:
        return []
    from risk_manager.config.runtime import build_rules

    return list(build_rules(rules))
