"""One channel's delivery loop: gather a burst, pack it, pace it, retry it, or give up and log.

Each channel has its own queue and task, so a slow or dead endpoint only ever delays its own
messages; the caller's ``offer`` is a non-blocking append.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from risk_manager.notify.batch import Message, render_batch
from risk_manager.notify.channels.base import Channel, DeliveryError
from risk_manager.notify.notification import Notification
from risk_manager.notify.pacing import RetryPolicy, SlidingWindowLimit
from risk_manager.notify.queue import NotificationQueue
from risk_manager.notify.redact import mask

log = logging.getLogger("risk_manager.notify")


class ChannelWorker:
    def __init__(self, channel: Channel, retry: RetryPolicy) -> None:
        self.channel = channel
        self.retry = retry
        self.queue = NotificationQueue(channel.limits.queue_capacity)
        self.sent_messages = 0
        self.failed_messages = 0  # given up after retries, or refused for good
        self.lost_at_shutdown = 0
        self._in_flight = 0  # notifications of the batch being delivered now
        self._limit = SlidingWindowLimit(channel.limits.max_requests, channel.limits.per_seconds)
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def offer(self, notification: Notification) -> None:
        self.queue.put(notification)

    def start(self) -> None:
        if self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"notify {self.channel.name}")

    async def close(self, timeout: float) -> None:
        """Send what is queued, for at most ``timeout`` seconds; then stop and count what is left."""
        self._closing.set()
        self.queue.wake()
        if self._task is None:  # never started: nothing was sent
            self.lost_at_shutdown = len(self.queue)
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self.lost_at_shutdown = len(self.queue) + self._in_flight
            log.warning(
                "notify %s: still delivering after %.1f s at shutdown; %d queued notification(s) not sent",
                self.channel.name,
                timeout,
                self.lost_at_shutdown,
            )
        except Exception as exc:  # the task died of a bug: report it, never raise into shutdown
            self.lost_at_shutdown = len(self.queue)
            log.error("notify %s: the delivery task had failed: %s", self.channel.name, type(exc).__name__)

    async def _run(self) -> None:
        limits = self.channel.limits
        while True:
            await self.queue.wait()
            if not self.queue:
                return  # woken by close with nothing left to send
            if not self._closing.is_set():
                # Gather the rest of the burst; closing cuts the wait short.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), limits.batch_window)
            batch = self.queue.drain()
            try:
                messages = render_batch(batch, limits.max_chars, limits.max_messages_per_batch)
            except Exception as exc:  # never let one bad batch end the channel
                self.failed_messages += 1
                log.error(
                    "notify %s: could not word %d notification(s): %s",
                    self.channel.name,
                    len(batch),
                    type(exc).__name__,
                )
                continue
            self._in_flight = len(batch)
            for message in messages:
                await self._deliver(message, len(batch))
            self._in_flight = 0

    async def _deliver(self, message: Message, items: int) -> None:
        name = self.channel.name
        for attempt in range(1, self.retry.attempts + 1):
            await self._limit.acquire()
            try:
                await self.channel.send(message)
            except DeliveryError as exc:
                detail = mask(exc.detail)
                if exc.permanent or attempt == self.retry.attempts:
                    self.failed_messages += 1
                    log.error(
                        "notify %s: gave up on a message of %d notification(s) after %d attempt(s): %s",
                        name,
                        items,
                        attempt,
                        detail,
                    )
                    return
                wait = self.retry.wait_before(attempt, exc.retry_after)
                log.warning("notify %s: send failed (%s); retry %d in %.1f s", name, detail, attempt, wait)
                await asyncio.sleep(wait)
            except Exception as exc:  # a fault in a channel must never end the worker or reach a caller
                self.failed_messages += 1
                log.error("notify %s: message dropped after an unexpected %s", name, type(exc).__name__)
                return
            else:
                self.sent_messages += 1
                return
