"""Per account figures for the live view: the engine's read model (``Engine.statuses``), taken on
the daemon's loop at each refresh and kept after the daemon stops (for the summary)."""

from __future__ import annotations

from datetime import datetime

from risk_manager.broker.port import ConnectionState as HubState
from risk_manager.daemon.app import Daemon
from risk_manager.domain.status import AccountStatus, ConnectionState

__all__ = ["account_statuses"]

_CONNECTION = {
    HubState.CONNECTING: ConnectionState.CONNECTING,
    HubState.CONNECTED: ConnectionState.CONNECTED,
    HubState.RECONNECTING: ConnectionState.RECONNECTING,
    HubState.STOPPED: ConnectionState.LOST,
}


def account_statuses(daemon: Daemon | None, now: datetime) -> list[AccountStatus]:
    persistent = daemon.persistent if daemon is not None else None
    if daemon is None or persistent is None:
        return []
    supervisor = daemon.supervisor
    hubs = supervisor.connection_state if supervisor is not None else HubState.CONNECTING
    engine = persistent.engine
    return engine.statuses(max(now, persistent.now or now), _CONNECTION[hubs])
