"""The daemon's asyncio runtime: gateway events in, engine decisions out, enforcement alongside.

- ``start()``: the monitored accounts (``Account/search`` filtered by the config), their user-hub
  subscriptions, then a reconcile of each over REST (reconcile.py), so the engine starts from what
  the gateway holds -- including positions opened while the daemon was down under a lockout, which
  the engine's lockout gate closes.
- The event loop takes each hub message, normalizes it (``broker/normalize``) and decides it
  (``PersistentEngine.decide``) at its receive time. The engine is synchronous and single-threaded,
  so decisions of one account are taken in order; each broker action is handed to the enforcer as
  its own task, so a slow broker call never holds up the events of other accounts.
- The timer loop wakes at the engine's next deadline (``next_deadline()``), at most a second
  apart, fires it (``tick``), commits quiet journal rows, and checks the quote feed (feed_health.py).
- A user hub connected again after a loss triggers a reconcile of every account (the gateway does
  not replay what was missed), and the engine sees the loss and the restoration as events.
- Quotes are subscribed for every contract a monitored position holds, as soon as it opens.
- Fail closed: a message that cannot be processed is logged with a summary of its payload and
  skipped; nothing in one message stops the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from risk_manager.broker.normalize import PayloadError, normalize_account, normalize_message
from risk_manager.broker.port import ConnectionChange, ConnectionState, HubMessage
from risk_manager.broker.projectx.client import ProjectXClient
from risk_manager.daemon.enforcer import BROKER_KINDS, AlertHook, Enforcer, Outcome, covered_closes
from risk_manager.daemon.feed_health import FeedHealth
from risk_manager.daemon.persistent import Decision, PersistentEngine
from risk_manager.daemon.reconcile import reconcile_events, trading_day_start, vanished_order_events
from risk_manager.domain.actions import Action, Alert, ClosePosition
from risk_manager.domain.events import (
    ConnectionEvent,
    EnforcementOutcome,
    Event,
    OrderEvent,
    PositionEvent,
    QuoteEvent,
)
from risk_manager.domain.status import ConnectionState as FeedState
from risk_manager.notify.service import Notifications

__all__ = ["EventMeter", "Observer", "Supervisor"]

log = logging.getLogger(__name__)

TIMER_MAX_SLEEP = 1.0
TIMER_MIN_SLEEP = 0.001
STALE_RULE = "FEED"


class Observer(Protocol):
    """Sees every decision as it is taken and every enforcement outcome as it is known (the live
    demo's view). Called on the daemon's loop; it must not block, and what it raises is logged."""

    def decided(self, decision: Decision) -> None: ...

    def enforced(self, outcome: Outcome) -> None: ...


class EventMeter(Protocol):
    """Counts each decided event and how long deciding it took (daemon/metrics.py); memory only."""

    def event(self, event_type: type, started: float, ended: float) -> None: ...


class Supervisor:
    def __init__(
        self,
        persistent: PersistentEngine,
        client: ProjectXClient,
        *,
        monitored: Callable[[int], bool] = lambda _account: True,
        stale_quote_seconds: float = 10.0,
        alert: AlertHook | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        perf: Callable[[], float] = time.perf_counter,
        enforcer: Enforcer | None = None,
        notifications: Notifications | None = None,
        observer: Observer | None = None,
        meter: EventMeter | None = None,
    ) -> None:
        self.persistent = persistent
        self.meter = meter
        self.observer = observer
        self.client = client
        self.monitored = monitored
        self.wall = wall
        self.perf = perf
        self.notifications = notifications
        self.alert_hook = alert
        self.enforcer = enforcer or Enforcer(client, record=persistent.record_outcome, alert=self._alert,
                                             failed=self._failed, clock=perf, wall=wall,
                                             observe=self._enforced, vanished=self._order_vanished)
        self._action_ids: dict[int, str] = {}  # audit id -> action id of broker actions under way
        self._lost_at: dict[str, datetime] = {}
        self.feed = FeedHealth(stale_quote_seconds)
        self.accounts: list[int] = []
        self.connection: dict[str, ConnectionState] = {"user": ConnectionState.CONNECTING,
                                                       "market": ConnectionState.CONNECTING}
        self.subscribed_contracts: set[str] = set()
        self.processed = 0  # messages decided
        self.failed_messages = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
        self._wake = asyncio.Event()
        self._waiting_for: datetime | None = None

    # ---- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Accounts, subscriptions, the start-up reconcile; then the event and timer loops."""
        accounts = await self.client.search_accounts()
        self.accounts = sorted(a.id for a in accounts if self.monitored(a.id))
        for account in accounts:
            if account.id in self.accounts:
                self._decide([normalize_account(dict(account.raw), "Account/search")], None)
        for account_id in self.accounts:
            await self.client.subscribe_account(account_id)
        self.client.on_reconnected(self._on_reconnected)
        self._loops = [asyncio.get_running_loop().create_task(self._event_loop(), name="daemon-events"),
                       asyncio.get_running_loop().create_task(self._timer_loop(), name="daemon-timers")]
        await self.reconcile_all("start-up")

    async def stop(self, grace: float = 1.0) -> None:
        """Stop the loops; give running enforcement up to ``grace`` seconds; commit what is staged."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
        self.persistent.flush(durable=True)

    # ---- time ------------------------------------------------------------------------------------------

    def now(self, at: datetime | None = None) -> datetime:
        """``at`` (default: the wall clock), never earlier than the engine's clock."""
        t = at if at is not None else self.wall()
        engine_now = self.persistent.now
        return engine_now if engine_now is not None and t < engine_now else t

    def _received(self, at: datetime) -> float:
        """The perf-clock reading of a wall-clock receive time (latency starts there)."""
        return self.perf() - max(0.0, (self.wall() - at).total_seconds())

    # ---- events ----------------------------------------------------------------------------------------

    async def _event_loop(self) -> None:
        async for item in self.client.events():
            if isinstance(item, HubMessage):
                self.handle_message(item)
            else:
                self.handle_change(item)

    def handle_message(self, message: HubMessage) -> None:
        """Normalize and decide one hub message; a failure is logged and the message skipped."""
        try:
            events = normalize_message(message.hub, message.target, message.arguments)
            self._decide(events, message.received_at, self._received(message.received_at))
            self.processed += 1
        except PayloadError as exc:
            self.failed_messages += 1
            log.error("skipped a %s message: %s; payload %s", message.target, exc,
                      _summary(message.arguments))
        except Exception:
            self.failed_messages += 1
            log.exception("processing a %s message failed; payload %s", message.target,
                          _summary(message.arguments))

    def handle_change(self, change: ConnectionChange) -> None:
        self.connection[change.hub] = change.state
        notifications = self.notifications
        try:
            if change.lost:
                self._lost_at[change.hub] = change.at
                if notifications is not None:
                    notifications.on_connection_lost(change.at, change.hub)
                self._decide([ConnectionEvent("lost", change.hub)], change.at)
            elif change.restored:
                if notifications is not None:
                    notifications.on_connection_restored(change.at, self._lost_at.pop(change.hub, None),
                                                         change.hub)
                self._decide([ConnectionEvent("restored", change.hub)], change.at)
        except Exception:
            log.exception("processing the %s hub's %s failed", change.hub, change.state.value)

    def _on_reconnected(self, change: ConnectionChange) -> None:
        if change.hub == "user":  # account events may have been missed: read them over REST
            self._spawn(self.reconcile_all(f"user hub restored ({change.reason or 'reconnected'})"))

    def _decide(self, events: Iterable[Event], at: datetime | None, received: float | None = None) -> None:
        persistent = self.persistent
        for event in events:
            if type(event) is QuoteEvent and self.feed.quote(event.contract_id, self.perf()):
                log.info("quotes of %s are back", event.contract_id)
            started = self.perf()
            decisions = persistent.decide(event, self.now(at))
            if self.meter is not None:
                self.meter.event(type(event), started, self.perf())
            if decisions:
                self._dispatch(decisions, received)
            if type(event) is PositionEvent and event.size:
                self._subscribe_contract(event.contract_id)
            elif type(event) is OrderEvent:
                self.enforcer.order_update(event)  # a stop cancelled or filled is never moved again
        due = persistent.next_deadline()
        if due is not None and (self._waiting_for is None or due < self._waiting_for):
            self._wake.set()

    def _dispatch(self, decisions: Sequence[Decision], received: float | None) -> None:
        if self.notifications is not None:  # never raises, never blocks (notify/service.py)
            self.notifications.on_actions([d.action for d in decisions], decisions[0].t)
        covered = covered_closes([d.action for d in decisions])
        for i, decision in enumerate(decisions):
            action = decision.action
            if isinstance(action, BROKER_KINDS):
                self._action_ids[decision.audit_id] = decision.action_id
            if self.observer is not None:
                try:
                    self.observer.decided(decision)
                except Exception:
                    log.exception("the decision observer failed")
            if i in covered:
                self.enforcer.skip(decision.audit_id, action, covered[i])
            elif isinstance(action, (*BROKER_KINDS, Alert)):
                self._spawn(self.enforcer.execute(decision.audit_id, action, received))
            else:
                log.info("account %s %s %s: %s", action.account_id, action.rule, action.kind,
                         action.reason or "")

    def _enforced(self, outcome: Outcome) -> None:
        """An enforcement outcome: shown to the observer, and fed back to the engine as an
        ``EnforcementOutcome`` event (journaled; the read model's last enforcement)."""
        if self.observer is not None:
            try:
                self.observer.enforced(outcome)
            except Exception:
                log.exception("the outcome observer failed")
        action_id = self._action_ids.pop(outcome.audit_id, None)
        action = outcome.action
        if action_id is None or not isinstance(action, BROKER_KINDS):
            return
        # a close names its position and size: the engine retries a failed one (not a partial one)
        close = action if isinstance(action, ClosePosition) else None
        event = EnforcementOutcome(action_id, action.account_id, action.rule, action.kind, outcome.kind,
                                   outcome.text, outcome.latency_ms,
                                   contract_id=None if close is None else close.contract_id,
                                   size=None if close is None else close.size)
        try:
            self._decide([event], None)
        except Exception:  # the store may be closing at stop: the audit row has the outcome anyway
            log.exception("feeding the outcome of %s back to the engine failed", action_id)

    def _order_vanished(self, account_id: int, order_id: int) -> None:
        """The enforcer read that an order is gone (a stop move refused with errorCode 2 / 3): the
        engine gets the cancel event it missed, so a position whose stop vanished counts as
        unprotected (RULE-008's grace, RULE-012 placing a new stop) as the gateway holds it."""
        events = vanished_order_events(self.persistent.accounts.get(account_id), order_id)
        if events:
            log.info("account %s order %s is gone at the gateway without an event: told the engine",
                     account_id, order_id)
            self._decide(events, None, self.perf())

    def _alert(self, alert: Alert) -> None:
        """An alert of the enforcer or the feed check (the engine's own go out with its actions)."""
        if self.alert_hook is not None:
            self.alert_hook(alert)

    def _failed(self, action: Action, why: str, attempts: int) -> None:
        if self.notifications is not None:
            self.notifications.on_enforcement_failed(action, self.wall(), why, attempts)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a daemon task failed: %r", task.exception())

    def _subscribe_contract(self, contract_id: str) -> None:
        if contract_id in self.subscribed_contracts:
            return
        self.subscribed_contracts.add(contract_id)

        async def subscribe() -> None:
            try:
                await self.client.subscribe_contract(contract_id)
            except Exception as exc:
                self.subscribed_contracts.discard(contract_id)  # tried again at the next position event
                log.error("subscribing to the quotes of %s failed: %s", contract_id, exc)

        self._spawn(subscribe())

    # ---- reconcile ------------------------------------------------------------------------------------

    async def reconcile_all(self, why: str) -> None:
        log.info("reconciling %d account(s) over REST: %s", len(self.accounts), why)
        for account_id in self.accounts:
            try:
                await self.reconcile(account_id)
            except Exception as exc:
                log.error("reconciling account %s failed: %s (tried again at the next reconnect)",
                          account_id, exc)

    async def reconcile(self, account_id: int) -> None:
        """Positions, open orders and the day's trades of one account, fed to the engine; then the
        engine evaluates at once (the events themselves trigger the evaluation)."""
        client = self.client
        account = self.persistent.accounts.get(account_id)
        since = trading_day_start(account, self.now())
        trades = await client.search_trades(account_id, since)
        orders = await client.search_open_orders(account_id)
        positions = await client.search_open_positions(account_id)
        account = self.persistent.accounts.get(account_id)  # the state may have moved meanwhile
        events = reconcile_events(account_id, account, positions, orders, trades)
        self._decide(events, None, self.perf())

    # ---- timers and feed health -----------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        persistent = self.persistent
        while True:
            due = persistent.next_deadline()
            self._waiting_for = due
            wait = TIMER_MAX_SLEEP
            if due is not None:
                # a floor: a deadline the engine did not consume must not spin the loop
                wait = min(wait, max(TIMER_MIN_SLEEP, (due - self.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            try:
                self.tick()
            except Exception:
                log.exception("the timer tick failed")

    def tick(self) -> None:
        """Fire the deadlines that are due, commit quiet rows, check the quote feed."""
        persistent = self.persistent
        due = persistent.next_deadline()
        now = self.now()
        if due is not None and due <= now:
            decisions = persistent.tick(now)
            if decisions:
                self._dispatch(decisions, self.perf())
        persistent.flush()
        self._check_feed()

    def _check_feed(self) -> None:
        open_contracts = {c for a in self.persistent.accounts.values() for c in a.positions}
        newly, due = self.feed.check(open_contracts, self.perf())
        for contract_id in newly:
            alert = Alert(account_id=0, rule=STALE_RULE, level="warning",
                          message=f"no quote for {contract_id} in {self.feed.stale_after:g} s while "
                                  "positions are open; valuing them from REST bars until quotes return")
            log.warning("ALERT %s", alert.message)
            with contextlib.suppress(Exception):
                self._alert(alert)
        for contract_id in due:
            self._spawn(self._value_from_bars(contract_id))

    async def _value_from_bars(self, contract_id: str) -> None:
        end = self.wall()
        try:
            bars = await self.client.retrieve_bars(contract_id, end - timedelta(minutes=30), end, unit=2,
                                                   limit=1)
        except Exception as exc:
            log.error("valuing %s from REST bars failed: %s", contract_id, exc)
            return
        if not bars or contract_id not in self.feed.stale:
            return
        close = float(bars[0].close)
        self._decide([QuoteEvent(contract_id, last=close)], None, self.perf())

    # ---- state ----------------------------------------------------------------------------------------

    @property
    def connection_state(self) -> ConnectionState:
        """The worst of the two hubs' states."""
        states = set(self.connection.values())
        for state in (ConnectionState.STOPPED, ConnectionState.RECONNECTING, ConnectionState.CONNECTING):
            if state in states:
                return state
        return ConnectionState.CONNECTED

    @property
    def feed_state(self) -> FeedState:
        """The read model's connection state: the worst hub's, a hub closed on purpose is lost."""
        return _FEED_STATES[self.connection_state]


_FEED_STATES = {
    ConnectionState.CONNECTING: FeedState.CONNECTING,
    ConnectionState.CONNECTED: FeedState.CONNECTED,
    ConnectionState.RECONNECTING: FeedState.RECONNECTING,
    ConnectionState.STOPPED: FeedState.LOST,
}


def _summary(arguments: list[Any], limit: int = 300) -> str:
    text = repr(arguments)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
