"""The live dashboard: a read-only web page served by the daemon on 127.0.0.1 (``daemon.dashboard``).

Routes (GET only -- the page is the trader role's view: there is no route that changes anything):

- ``/``, ``/dashboard/<file>``, ``/vendor/uplot/<file>``: the page, its script and style, and the
  vendored uPlot, all read from the installed package (works offline, no CDN);
- ``/api/status``: the read model (``daemon.statuses()``), the same document as ``GET /v1/status``;
- ``/api/history[?account=ID]``: the day's P&L series (``PnlHistory``) and the enforcement markers;
- ``/api/log``: the trading day's audit rows, newest first;
- ``/events``: Server-Sent Events. ``status`` is pushed when an account's figures change (sampled at
  most every ``interval`` seconds: a burst of quotes is a few pushes a second, never a storm), ``log``
  when a decision or an outcome was recorded; a comment line every ``heartbeat`` seconds keeps
  proxies and the browser's EventSource from dropping a quiet stream (EventSource reconnects by
  itself; the page refetches the history when it does).

The pump samples the read model into the history on every tick (also with no page open), so the
curve covers the day from the daemon's start. A slow browser never holds the daemon up: each
client has a small queue and the oldest push is dropped when it is full.

Requests whose Host is not the loopback address are refused (a web page elsewhere cannot reach
the dashboard through DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import orjson
from aiohttp import web

from risk_manager.config.loader import LoadedConfig
from risk_manager.daemon.dashboard.audit import DayAudit
from risk_manager.daemon.dashboard.feeds import history_payload, log_payload, status_payload
from risk_manager.daemon.dashboard.history import PnlHistory
from risk_manager.daemon.enforcer import Outcome
from risk_manager.daemon.loopback import serve_tcp
from risk_manager.daemon.persistent import Decision, PersistentEngine
from risk_manager.daemon.supervisor import Observer
from risk_manager.domain.status import AccountStatus
from risk_manager.store.rows import AuditRow
from risk_manager.web import asset

__all__ = ["HOST", "Dashboard", "ReadModel"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
INTERVAL = 0.25  # seconds between samples while a page is open: at most 4 pushes a second
IDLE_INTERVAL = 1.0  # seconds between samples with no page open (the history still grows)
HEARTBEAT = 15.0
CLIENT_QUEUE = 8
CHUNK = 25  # accounts sampled between two yields of the loop
LOOP_SHARE = 5  # a sample waits at least this many times its own duration after the last one
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHUTDOWN_GRACE = 1.0

PAGE_FILES = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
UPLOT_FILES = {"uPlot.iife.min.js": "application/javascript", "uPlot.min.css": "text/css",
               "LICENSE": "text/plain"}


class ReadModel(Protocol):
    """What the dashboard reads of the daemon (``daemon.app.Daemon``)."""

    config: LoadedConfig
    persistent: PersistentEngine | None
    wall: Callable[[], datetime]

    def statuses(
        self, now: datetime | None = None, accounts: Iterable[int] | None = None
    ) -> list[AccountStatus]: ...


class Dashboard:
    """The dashboard's server and its pump. Also a daemon observer (``decided``/``enforced``): a
    decision or an outcome wakes the pump and marks the log for a push."""

    def __init__(self, daemon: ReadModel, *, port: int, host: str = HOST, history: PnlHistory | None = None,
                 interval: float = INTERVAL, idle_interval: float = IDLE_INTERVAL,
                 heartbeat: float = HEARTBEAT) -> None:
        self.daemon = daemon
        self.port = port
        self.host = host
        self.history = history if history is not None else PnlHistory()
        self.interval = interval
        self.idle_interval = idle_interval
        self.heartbeat = heartbeat
        self.url: str | None = None
        self.started_at = daemon.wall()
        self.pushes = 0  # status pushes so far (what the throttle bounds)
        self._zone = daemon.config.risk.general.timezone
        self._runner: web.AppRunner | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._log_dirty = True
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._status: dict[str, Any] | None = None
        self._keys: dict[int, AccountStatus] = {}  # each account's last status, as_of aside
        self._docs: dict[int, dict[str, Any]] = {}  # ... and its JSON
        self._sample_seconds = 0.0
        self._log: dict[str, Any] | None = None
        self._audit = DayAudit()

    # ---- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> str:
        """Bind, seed the history from the store, start the pump; returns the page's URL."""
        runner, port = await serve_tcp(self._app(), self.host, self.port, shutdown_timeout=SHUTDOWN_GRACE)
        self._runner = runner
        self.port = port
        self.url = f"http://{self.host}:{port}/"
        try:
            self._seed()
        except Exception:  # the curve then starts now: worth a line in the log, not a failed start
            log.exception("rebuilding the day's P&L curve from the store failed")
        self._sample()
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name="dashboard-pump")
        return self.url

    async def stop(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump_task
            self._pump_task = None
        for queue in list(self._clients):
            _offer(queue, None)  # each open stream ends its response
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- the daemon observer ------------------------------------------------------------------------

    @staticmethod
    def observing(dashboard: Dashboard | None, other: Observer | None) -> Observer | None:
        """The daemon's observer with the dashboard's added (each sees every decision and outcome)."""
        if dashboard is None:
            return other
        if other is None:
            return dashboard
        return _Both(dashboard, other)


    def decided(self, decision: Decision) -> None:
        """The account's P&L at the decision goes into the history at once (a breach and its
        enforcement can come and go between two samples), and the log is pushed."""
        self._log_dirty = True
        self._wake.set()
        for status in self.daemon.statuses(decision.t, accounts=(decision.action.account_id,)):
            self.history.add(status.account_id, status.trading_day, decision.t, status.realized, status.net)

    def enforced(self, outcome: Outcome) -> None:
        self._log_dirty = True
        self._wake.set()

    # ---- sampling and pushing ----------------------------------------------------------------------

    async def _pump(self) -> None:
        while True:
            # The throttle: at most one sample per interval, and never more than a fifth of the loop
            # (a sample of hundreds of accounts takes tens of milliseconds: bench/dashboard.py).
            await asyncio.sleep(max(self.interval, LOOP_SHARE * self._sample_seconds))
            if not self._clients and not self._wake.is_set():
                # no page open: the history is sampled less often, or when a decision wakes it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, self.idle_interval - self.interval))
            self._wake.clear()
            began = time.perf_counter()
            try:
                await self._sample_in_chunks()
            except Exception:
                log.exception("the dashboard could not read the daemon's state")
            self._sample_seconds = time.perf_counter() - began

    def _sample(self) -> None:
        """Every account at once (at start)."""
        now = self.daemon.wall()
        self._publish(now, self._take(now, self.daemon.statuses(now)))

    async def _sample_in_chunks(self) -> None:
        """Every account, ``CHUNK`` at a time with the loop let go in between: a quote that breaches
        waits for one chunk at most, never for the whole sample."""
        now = self.daemon.wall()
        persistent = self.daemon.persistent
        ids = sorted(persistent.accounts) if persistent is not None else []
        changed: list[dict[str, Any]] = []
        for i in range(0, len(ids), CHUNK):
            if i:
                await asyncio.sleep(0)
            changed += self._take(now, self.daemon.statuses(now, accounts=ids[i:i + CHUNK]))
        self._publish(now, changed)

    def _take(self, now: datetime, statuses: list[AccountStatus]) -> list[dict[str, Any]]:
        """Record the samples; the documents of the accounts that changed (``as_of`` aside)."""
        self.history.record(now, statuses)
        changed = []
        for status in statuses:
            key = replace(status, as_of=_EPOCH)
            if self._keys.get(status.account_id) != key:
                self._keys[status.account_id] = key
                doc = self._docs[status.account_id] = status.to_json()
                changed.append(doc)
        return changed

    def _publish(self, now: datetime, changed: list[dict[str, Any]]) -> None:
        """Push the accounts that changed (the page keeps the others as they were), and the log when
        a decision or an outcome was recorded since the last push."""
        docs = [self._docs[a] for a in sorted(self._docs)]
        self._status = status_payload(docs, now=now, started_at=self.started_at, pid=os.getpid(),
                                      timezone=self._zone)
        if changed:
            self.pushes += 1
            self._broadcast("status", {**self._status, "accounts": changed})
        if self._log_dirty:
            self._log_dirty = False
            self._log = log_payload(self._day_rows())
            self._broadcast("log", self._log)

    def _broadcast(self, event: str, data: dict[str, Any]) -> None:
        if not self._clients:
            return
        message = _event(event, data)
        for queue in self._clients:
            _offer(queue, message)

    # ---- store reads ---------------------------------------------------------------------------------

    def _day_start(self) -> datetime | None:
        persistent = self.daemon.persistent
        if persistent is None:
            return None
        return persistent.engine.calendar.trading_day(self.daemon.wall()).start

    def _day_rows(self) -> list[AuditRow]:
        persistent = self.daemon.persistent
        start = self._day_start()
        if persistent is None or start is None:
            return []
        return self._audit.rows(persistent.store, start)

    def _seed(self) -> None:
        """The realized curve of the day so far from the store's trades (after a restart)."""
        persistent = self.daemon.persistent
        if persistent is None:
            return
        for status in self.daemon.statuses():
            trades = [t for t in persistent.store.trades(status.account_id) if t.day == status.trading_day]
            if trades:
                self.history.seed(status.account_id, status.trading_day,
                                  ((t.t, t.pnl or Decimal(0), t.fees) for t in trades))

    # ---- the web app --------------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._loopback_only])
        app.router.add_get("/", self._page)
        app.router.add_get("/dashboard/{name}", self._page_file)
        app.router.add_get("/vendor/uplot/{name}", self._uplot_file)
        app.router.add_get("/api/status", self._api_status)
        app.router.add_get("/api/history", self._api_history)
        app.router.add_get("/api/log", self._api_log)
        app.router.add_get("/events", self._events)
        return app

    @web.middleware
    async def _loopback_only(self, request: web.Request, handler: Any) -> web.StreamResponse:
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if host not in {"127.0.0.1", "localhost"}:
            return _error(403, f"the dashboard answers on http://127.0.0.1:{self.port}/ only "
                               f"(this request named the host {host!r})")
        response: web.StreamResponse = await handler(request)
        return response

    async def _page(self, _request: web.Request) -> web.Response:
        return _file(("dashboard", "index.html"), "text/html")

    async def _page_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in PAGE_FILES:
            return _error(404, f"no dashboard file {name!r}")
        return _file(("dashboard", name), PAGE_FILES[name])

    async def _uplot_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in UPLOT_FILES:
            return _error(404, f"no uPlot file {name!r}")
        return _file(("vendor", "uplot", name), UPLOT_FILES[name])

    async def _api_status(self, _request: web.Request) -> web.Response:
        await self._sample_in_chunks()  # as of now (also pushed to the open pages if it changed)
        return _json(self._status)

    async def _api_history(self, request: web.Request) -> web.Response:
        raw = request.query.get("account")
        await self._sample_in_chunks()  # the curve up to now
        accounts = set(self._docs) | set(self.history.accounts())
        if raw is not None:
            if not raw.isdigit() or int(raw) not in accounts:
                return _error(404, f"no account {raw!r} on this dashboard; its accounts are "
                                   f"{', '.join(map(str, sorted(accounts))) or 'none yet'}")
            accounts = {int(raw)}
        rows = self._day_rows()
        return _json(history_payload(self.history, accounts, rows))

    async def _api_log(self, _request: web.Request) -> web.Response:
        return _json(log_payload(self._day_rows()))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE)
        self._clients.add(queue)
        try:
            await response.write(b"retry: 2000\n\n")
            if self._status is not None:
                await response.write(_event("status", self._status))
            await response.write(_event("log", self._log or log_payload(self._day_rows())))
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), self.heartbeat)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if message is None:
                    break
                await response.write(message)
        except (ConnectionResetError, ConnectionError):
            pass  # the page was closed
        finally:
            self._clients.discard(queue)
        return response


class _Both:
    def __init__(self, first: Observer, second: Observer) -> None:
        self.first = first
        self.second = second

    def decided(self, decision: Decision) -> None:
        try:
            self.first.decided(decision)
        finally:
            self.second.decided(decision)

    def enforced(self, outcome: Outcome) -> None:
        try:
            self.first.enforced(outcome)
        finally:
            self.second.enforced(outcome)


def _offer(queue: asyncio.Queue[bytes | None], message: bytes | None) -> None:
    """Queue a push; a full queue (a slow page) loses its oldest push, never blocks the pump."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(message)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": message}), content_type="application/json")


def _file(parts: tuple[str, ...], content_type: str) -> web.Response:
    body = asset(*parts).read_bytes()
    charset = None if content_type == "application/octet-stream" else "utf-8"
    return web.Response(body=body, content_type=content_type, charset=charset,
                        headers={"Cache-Control": "no-cache"})
