"""The one object the daemon talks to: facts in, notifications out, nothing ever raised back.

The daemon calls ``on_actions`` with what the engine decided and the ``on_*`` methods for its own
facts (start, stop, connection, an enforcement that failed). Wording a notification and queueing it
both happen here, inside a guard: a bug in either must cost a message, never an enforcement.
With no channel configured every call is a cheap no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from risk_manager.config.models import NotificationsConfig
from risk_manager.domain.actions import Action
from risk_manager.notify.builder import NotificationBuilder
from risk_manager.notify.channels.base import Channel
from risk_manager.notify.notification import Notification
from risk_manager.notify.notifier import ChannelStats, Notifier
from risk_manager.notify.pacing import RetryPolicy
from risk_manager.notify.setup import channels_from_config

log = logging.getLogger("risk_manager.notify")


class Notifications:
    def __init__(
        self,
        channels: Sequence[Channel],
        zone: str,
        *,
        retry: RetryPolicy | None = None,
        flush_timeout: float = 5.0,
    ) -> None:
        self.builder = NotificationBuilder(zone)
        self.notifier = Notifier(channels, retry=retry, flush_timeout=flush_timeout)
        self._enabled = bool(channels)

    @classmethod
    def from_config(cls, config: NotificationsConfig, zone: str) -> Notifications:
        """Channels from ``general.notifications``, times shown in ``general.timezone``."""
        return cls(channels_from_config(config), zone)

    async def start(self) -> None:
        await self.notifier.start()

    async def aclose(self, timeout: float | None = None) -> None:
        await self.notifier.aclose(timeout)

    def stats(self) -> list[ChannelStats]:
        return self.notifier.stats()

    # ---- the daemon's inputs (never block, never raise) --------------------------------------

    def on_actions(self, actions: Iterable[Action], at: datetime) -> None:
        """What the engine returned for one event or timer at ``at``."""
        self._submit(lambda: self.builder.from_actions(actions, at))

    def on_started(self, at: datetime, accounts: Sequence[int] = (), detail: str = "") -> None:
        self._submit(lambda: [self.builder.daemon_started(at, accounts, detail)])

    def on_stopped(self, at: datetime, reason: str) -> None:
        self._submit(lambda: [self.builder.daemon_stopped(at, reason)])

    def on_connection_lost(self, at: datetime, hub: str | None = None) -> None:
        self._submit(lambda: [self.builder.connection_lost(at, hub)])

    def on_connection_restored(
        self, at: datetime, since: datetime | None = None, hub: str | None = None
    ) -> None:
        self._submit(lambda: [self.builder.connection_restored(at, since, hub)])

    def on_enforcement_failed(self, action: Action, at: datetime, error: str, attempts: int) -> None:
        self._submit(lambda: [self.builder.enforcement_failed(action, at, error, attempts)])

    def _submit(self, word: Callable[[], list[Notification]]) -> None:
        if not self._enabled:
            return
        try:
            notes = word()
        except Exception as exc:
            log.error("notify: could not word a notification (%s: %s)", type(exc).__name__, exc)
            return
        self.notifier.submit_all(notes)
