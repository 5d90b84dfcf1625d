"""The notifier the daemon owns: fan notifications out to every configured channel, never blocking.

``submit`` is called on the enforcement path. It only appends to each channel's bounded queue, so
it returns in microseconds whatever the endpoints do, and it never raises. Each channel has its
own task that batches, paces, retries and gives up with a log line. ``aclose`` flushes what is
queued within a bounded time.

Use from the daemon's event loop::

    notifier = Notifier(channels_from_config(config.risk.general.notifications))
    await notifier.start()
    notifier.submit_all(builder.from_actions(actions, now))
    ...
    await notifier.aclose()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType

from risk_manager.notify.channels.base import Channel
from risk_manager.notify.notification import Notification
from risk_manager.notify.pacing import RetryPolicy
from risk_manager.notify.worker import ChannelWorker

log = logging.getLogger("risk_manager.notify")


@dataclass(frozen=True, slots=True)
class ChannelStats:
    channel: str
    queued: int
    sent_messages: int
    failed_messages: int
    dropped: int  # notifications the full queue gave up (oldest LOW first)
    lost_at_shutdown: int


class Notifier:
    def __init__(
        self, channels: Sequence[Channel], *, retry: RetryPolicy | None = None, flush_timeout: float = 5.0
    ) -> None:
        self.flush_timeout = flush_timeout
        self._retry = retry or RetryPolicy()
        self._workers = [ChannelWorker(channel, self._retry) for channel in channels]
        self._closed = False
        self.refused_after_close = 0

    @property
    def channels(self) -> list[str]:
        return [worker.channel.name for worker in self._workers]

    async def start(self) -> None:
        for worker in self._workers:
            worker.start()
        if self._workers:
            log.info("notify: sending to %s", ", ".join(self.channels))

    def submit(self, notification: Notification) -> None:
        """Queue ``notification`` for every channel. Never blocks, never raises."""
        if self._closed:
            self.refused_after_close += 1
            return
        for worker in self._workers:
            try:
                worker.offer(notification)
            except Exception as exc:  # the caller is enforcing risk rules: nothing may reach it
                log.error(
                    "notify %s: could not queue a notification: %s", worker.channel.name, type(exc).__name__
                )

    def submit_all(self, notifications: Iterable[Notification]) -> None:
        for notification in notifications:
            self.submit(notification)

    def stats(self) -> list[ChannelStats]:
        return [
            ChannelStats(
                channel=w.channel.name,
                queued=len(w.queue),
                sent_messages=w.sent_messages,
                failed_messages=w.failed_messages,
                dropped=w.queue.dropped,
                lost_at_shutdown=w.lost_at_shutdown,
            )
            for w in self._workers
        ]

    async def aclose(self, timeout: float | None = None) -> None:
        """Flush every channel concurrently within ``timeout`` (default ``flush_timeout``), then close."""
        if self._closed:
            return
        self._closed = True
        budget = self.flush_timeout if timeout is None else timeout
        await asyncio.gather(*(worker.close(budget) for worker in self._workers))
        for worker in self._workers:
            try:
                await worker.channel.aclose()
            except Exception as exc:
                log.warning("notify %s: closing failed: %s", worker.channel.name, type(exc).__name__)
        for stats in self.stats():
            if stats.dropped or stats.failed_messages or stats.lost_at_shutdown:
                log.warning(
                    "notify %s: %d dropped when the queue was full, %d message(s) failed, "
                    "%d not sent at shutdown",
                    stats.channel,
                    stats.dropped,
                    stats.failed_messages,
                    stats.lost_at_shutdown,
                )

    async def __aenter__(self) -> Notifier:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
