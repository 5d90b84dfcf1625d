"""The enforcer: turns the engine's decisions into broker calls, verifies them, records the outcome.

One ``execute(decision)`` per decided action, keyed by its audit id (idempotent: a second call with
the same id returns the first outcome, or waits for the running one). What each action does:

- ``Flatten``: cancel every working order, close every position, read both back, repeat until the
  account is flat (at most ``max_rounds`` rounds), then report.
- ``ClosePosition``: close the contract's position, or ``size`` contracts of it (RULE-001's reduce:
  the position is read first, so a retry after an ambiguous error knows what is left to do). With
  ``verify_no_stop`` (RULE-008) the open orders are searched first: a protective stop that arrived
  meanwhile cancels the close.
- ``CancelOrders``: the working orders of the account, one contract, or one symbol (root).
- ``PlaceStop`` / ``ModifyStop``: RULE-012's protective stop (tagged ``rm-<audit id>``, so a retry
  can find a stop the gateway placed although its answer was lost). A stop that no longer exists
  -- its order event said cancelled or filled (``order_update``), or the gateway refused the move
  with errorCode 2 / 3 and a read confirms it is not working -- is forgotten: later moves of it are
  skipped without a call (a flatten cancels the stop while trailing quotes keep arriving). When a
  read, not an event, showed it gone, the ``vanished`` hook is told, so the engine stops counting
  it as the position's protective stop (RULE-008 / RULE-012 judge the position as the gateway holds it).
- ``Alert``: to the log, and to the alert hook (notifications).

Where the gateway refuses a cancel or a partial close (errorCode 6 / 9: live-funded and follower
accounts, PROJECTX.md §2b) the whole position of that contract is closed instead, with an alert.

A mutating call that timed out, got a 5xx or a 429 may or may not have been carried out. It is never
sent again blindly: the next attempt reads the account first and acts only if still needed.

Latency is measured from when the triggering event was received to the broker's acknowledgement of
the first mutating call that did the job (a flatten: the last close of its first round).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from risk_manager.broker.errors import GatewayError, GatewayRejected, RateLimited
from risk_manager.broker.models import Order, Position
from risk_manager.broker.port import Broker
from risk_manager.domain.actions import (
    Action,
    Alert,
    CancelOrders,
    ClosePosition,
    Flatten,
    ModifyStop,
    PlaceStop,
)
from risk_manager.domain.contracts import root_of
from risk_manager.domain.events import (
    OUTCOME_FAILED,
    OUTCOME_OK,
    OUTCOME_REFUSED,
    PROTECTIVE_TYPES,
    WORKING_STATUSES,
    OrderEvent,
    OrderSide,
    OrderStatus,
    PositionType,
)

__all__ = ["STOP_TAG_PREFIX", "Enforcer", "Outcome"]

log = logging.getLogger(__name__)

# errorCodes of PROJECTX.md §2b: live-funded / follower accounts refuse these operations.
CANCEL_REFUSED = 6
PARTIAL_CLOSE_REFUSED = 9
# Order/modify refusals that may mean the order is gone (ModifyOrderErrorCode: 2 OrderNotFound,
# 3 Rejected -- also what a cancelled or filled order answers; a read tells which).
ORDER_MAYBE_GONE = frozenset({2, 3})
STOP_TAG_PREFIX = "rm-"
KEEP_OUTCOMES = 100_000
KEEP_GONE_ORDERS = 10_000
BROKER_KINDS = (Flatten, ClosePosition, CancelOrders, PlaceStop, ModifyStop)

RecordOutcome = Callable[[int, str, "float | None", datetime], None]
AlertHook = Callable[[Alert], None]
FailedHook = Callable[[Action, str, int], None]  # action, why, attempts
VanishedHook = Callable[[int, int], None]  # account id, order id: a read confirmed it is not working


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action came to: ``status`` is done | skipped | fallback | failed | logged."""

    audit_id: int
    action: Action
    status: str
    detail: str
    latency_ms: float | None = None
    refused: bool = False  # the gateway refused the call (``success: false``) and nothing made up for it

    @property
    def kind(self) -> str:
        """What ``EnforcementOutcome.outcome`` says: ok (done, or nothing left to do), refused (the
        gateway said no; a fallback may have closed the position instead), failed."""
        if self.refused or self.status == "fallback":
            return OUTCOME_REFUSED
        return OUTCOME_FAILED if self.status == "failed" else OUTCOME_OK

    @property
    def text(self) -> str:
        """The audit row's ``outcome`` column: "done: flat", "failed: ..."."""
        return f"{self.status}: {self.detail}" if self.detail else self.status


@dataclass(slots=True)
class _Run:
    """The state of one action while it runs: the first acknowledgement and the alerts raised."""

    received: float | None
    acked: float | None = None
    fallback: bool = False

    def ack(self, clock: Callable[[], float]) -> None:
        if self.acked is None:
            self.acked = clock()


def covered_closes(actions: Sequence[Action]) -> dict[int, str]:
    """The closes of one event's decisions that another decision of the same event already covers,
    by index, with why.

    Every close decided on one event is sized against the same position, so two reduce decisions on
    one contract (RULE-001 "close 1", RULE-002 "close 2") mean "close 2", not 3: only the largest is
    sent (a whole close beats any reduce). A flatten of the account covers every close of it.
    """
    flattens: dict[int, Action] = {}
    largest: dict[tuple[int, str], tuple[int, ClosePosition]] = {}
    for i, action in enumerate(actions):
        if isinstance(action, Flatten):
            flattens.setdefault(action.account_id, action)
        elif isinstance(action, ClosePosition):
            key = (action.account_id, action.contract_id)
            first = largest.get(key)
            if first is None or _closes_more(action, first[1]):
                largest[key] = (i, action)
    covered: dict[int, str] = {}
    for i, action in enumerate(actions):
        if not isinstance(action, ClosePosition):
            continue
        flatten = flattens.get(action.account_id)
        if flatten is not None:
            covered[i] = f"covered by the {flatten.rule} flatten decided on the same event"
            continue
        j, kept = largest[(action.account_id, action.contract_id)]
        if j != i:
            what = "whole close" if kept.size is None else f"close of {kept.size}"
            covered[i] = f"covered by the {kept.rule} {what} of {kept.contract_id} decided on the same event"
    return covered


def _status_name(status: int) -> str:
    try:
        return OrderStatus(status).name.lower()
    except ValueError:
        return f"in status {status}"


def _closes_more(action: ClosePosition, than: ClosePosition) -> bool:
    """``action`` closes more of the position than ``than`` (size None: all of it)."""
    if than.size is None:
        return False
    return action.size is None or action.size > than.size


class Enforcer:
    def __init__(
        self,
        broker: Broker,
        *,
        record: RecordOutcome | None = None,
        alert: AlertHook | None = None,
        failed: FailedHook | None = None,
        clock: Callable[[], float] = time.perf_counter,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_rounds: int = 5,
        retry_delay: float = 0.25,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        observe: Callable[[Outcome], None] | None = None,
        vanished: VanishedHook | None = None,
    ) -> None:
        self.broker = broker
        # Told when a read confirms that an order the engine may hold as working is gone and no event
        # said so (the supervisor feeds the engine a cancel, as the gateway's own event would have).
        self.vanished_hook = vanished
        self.observe = observe  # sees each outcome once known (the live demo's view)
        self.record = record
        self.alert_hook = alert
        self.failed_hook = failed
        self.clock = clock
        self.wall = wall
        self.max_rounds = max_rounds
        self.retry_delay = retry_delay
        self._sleep = sleep
        # Recent outcomes by audit id (a repeat of an old id is long past: the oldest are dropped).
        self._outcomes: OrderedDict[int, Outcome] = OrderedDict()
        self._running: dict[int, asyncio.Task[Outcome]] = {}
        # Orders known to be cancelled, filled, expired or rejected (by event or by a refused move):
        # a stop move for one of them is skipped (oldest dropped: order ids are not reused).
        self._gone_orders: OrderedDict[int, str] = OrderedDict()

    # ---- entry point --------------------------------------------------------------------------------

    async def execute(self, audit_id: int, action: Action, received: float | None = None) -> Outcome:
        """Carry out ``action`` once per ``audit_id``; ``received`` is the ``clock()`` reading taken
        when the triggering event arrived (for the latency)."""
        done = self._outcomes.get(audit_id)
        if done is not None:
            return done
        running = self._running.get(audit_id)
        if running is None:
            running = asyncio.get_running_loop().create_task(self._run(audit_id, action, received))
            self._running[audit_id] = running
        return await asyncio.shield(running)

    def skip(self, audit_id: int, action: Action, why: str) -> Outcome:
        """Record ``action`` as not sent (another decision covers it, see ``covered_closes``)."""
        outcome = Outcome(audit_id, action, "skipped", why)
        self._outcomes[audit_id] = outcome
        self._report(outcome)
        return outcome

    @property
    def outcomes(self) -> OrderedDict[int, Outcome]:
        return self._outcomes

    def order_update(self, event: OrderEvent) -> None:
        """Told of every order event: an order no longer working is never moved again."""
        if event.status not in WORKING_STATUSES:
            self._forget_order(event.order_id, f"order {event.order_id} is {_status_name(event.status)}")

    def _vanished(self, account_id: int, order_id: int, why: str) -> None:
        """A read, not an event, showed the order gone: forget it and tell the engine's side."""
        self._forget_order(order_id, why)
        if self.vanished_hook is not None:
            try:
                self.vanished_hook(account_id, order_id)
            except Exception as exc:  # the stop is forgotten here anyway; the next reconcile catches up
                log.error("reporting order %s as gone failed: %s", order_id, exc)

    def _forget_order(self, order_id: int, why: str) -> None:
        self._gone_orders[order_id] = why
        self._gone_orders.move_to_end(order_id)
        if len(self._gone_orders) > KEEP_GONE_ORDERS:
            self._gone_orders.popitem(last=False)

    async def _run(self, audit_id: int, action: Action, received: float | None) -> Outcome:
        run = _Run(received)
        refused = False
        try:
            status, detail = await self._dispatch(audit_id, action, run)
        except Exception as exc:  # fail loudly, never silently: the account may still be at risk
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
            refused = isinstance(exc, GatewayRejected)
        latency = None
        if run.received is not None and run.acked is not None:
            latency = round((run.acked - run.received) * 1000, 3)
        outcome = Outcome(audit_id, action, status, detail, latency, refused)
        self._outcomes[audit_id] = outcome
        if len(self._outcomes) > KEEP_OUTCOMES:
            self._outcomes.popitem(last=False)
        self._running.pop(audit_id, None)
        self._report(outcome)
        return outcome

    def _report(self, outcome: Outcome) -> None:
        action = outcome.action
        if isinstance(action, BROKER_KINDS):
            level = logging.ERROR if outcome.status == "failed" else logging.INFO
            log.log(level, "account %s %s %s (%s): %s, latency %s ms", action.account_id, action.rule,
                    action.kind, action.reason or "", outcome.text, outcome.latency_ms)
            if outcome.status == "failed" and self.failed_hook is not None:
                try:
                    self.failed_hook(action, outcome.detail, self.max_rounds)
                except Exception as exc:
                    log.error("the failure hook failed: %s", exc)
            if outcome.status == "failed":
                self._raise(Alert(account_id=action.account_id, rule=action.rule, level="critical",
                                  message=f"could not enforce {action.kind}: {outcome.detail}",
                                  reason=action.reason))
        if self.observe is not None:
            try:
                self.observe(outcome)
            except Exception as exc:
                log.error("the outcome observer failed: %s", exc)
        if self.record is not None and isinstance(action, (*BROKER_KINDS, Alert)):
            try:
                self.record(outcome.audit_id, outcome.text, outcome.latency_ms, self.wall())
            except Exception as exc:  # the store is not the broker: the action happened anyway
                log.error("recording the outcome of audit row %s failed: %s", outcome.audit_id, exc)

    def _raise(self, alert: Alert) -> None:
        level = {"info": logging.INFO, "critical": logging.CRITICAL}.get(alert.level, logging.WARNING)
        log.log(level, "ALERT account %s %s: %s", alert.account_id, alert.rule, alert.message or alert.reason)
        if self.alert_hook is not None:
            try:
                self.alert_hook(alert)
            except Exception as exc:
                log.error("the alert hook failed: %s", exc)

    async def _dispatch(self, audit_id: int, action: Action, run: _Run) -> tuple[str, str]:
        if isinstance(action, Flatten):
            return await self._flatten(action.account_id, run)
        if isinstance(action, ClosePosition):
            if action.verify_no_stop and await self._has_stop(action.account_id, action.contract_id):
                return "skipped", "a protective stop is working now"
            if action.size is None:
                return await self._close(action.account_id, action.contract_id, run)
            return await self._reduce(action.account_id, action.contract_id, action.size, run)
        if isinstance(action, CancelOrders):
            return await self._cancel(action, run)
        if isinstance(action, PlaceStop):
            return await self._place_stop(audit_id, action, run)
        if isinstance(action, ModifyStop):
            return await self._modify_stop(action, run)
        if isinstance(action, Alert):
            self._raise(action)
            return "logged", ""
        log.info("account %s %s %s: %s", action.account_id, action.rule, action.kind, action.reason or "")
        return "logged", ""

    # ---- one mutating call -------------------------------------------------------------------------

    async def _send(self, call: Awaitable[Any], run: _Run, what: str) -> bool:
        """Send one mutating call. True: acknowledged. False: it failed in a way that may be
        temporary or may even have been carried out -- the caller re-reads before acting again.
        A plain refusal (``success: false``) is raised."""
        try:
            await call
        except GatewayRejected:
            raise
        except RateLimited as exc:
            log.warning("%s: rate limited; re-reading before acting again", what)
            await self._sleep(exc.retry_after if exc.retry_after is not None else self.retry_delay)
            return False
        except GatewayError as exc:
            log.warning("%s: %s; re-reading before acting again", what, exc)
            await self._sleep(self.retry_delay)
            return False
        run.ack(self.clock)
        return True

    # ---- reads ---------------------------------------------------------------------------------------

    async def _positions(self, account_id: int) -> Sequence[Position]:
        return [p for p in await self.broker.search_open_positions(account_id, urgent=True) if p.size != 0]

    async def _orders(self, account_id: int) -> Sequence[Order]:
        orders = await self.broker.search_open_orders(account_id, urgent=True)
        return [o for o in orders if o.status in WORKING_STATUSES]

    async def _position(self, account_id: int, contract_id: str) -> Position | None:
        return next((p for p in await self._positions(account_id) if p.contract_id == contract_id), None)

    async def _holds(self, account_id: int, contract_id: str) -> bool:
        return await self._position(account_id, contract_id) is not None

    async def _has_stop(self, account_id: int, contract_id: str) -> bool:
        """A protective stop (RULE-008): a working Stop or TrailingStop on the contract, on the side
        that closes the position (a sell protects a long)."""
        stops = [o for o in await self._orders(account_id)
                 if o.contract_id == contract_id and o.type in PROTECTIVE_TYPES]
        if not stops:
            return False
        position = await self._position(account_id, contract_id)
        if position is None:
            return False  # nothing to protect: the close finds it flat
        closing_side = OrderSide.SELL if position.type == PositionType.LONG else OrderSide.BUY
        return any(o.side == closing_side for o in stops)

    # ---- closing -------------------------------------------------------------------------------------

    async def _close(self, account_id: int, contract_id: str, run: _Run) -> tuple[str, str]:
        what = f"account {account_id} close {contract_id}"
        for attempt in range(self.max_rounds):
            if attempt > 0 and not await self._holds(account_id, contract_id):
                return ("fallback" if run.fallback else "done"), "closed"
            try:
                if await self._send(self.broker.close_position(account_id, contract_id), run, what):
                    return ("fallback" if run.fallback else "done"), "closed"
            except GatewayRejected as exc:
                if not await self._holds(account_id, contract_id):
                    return "done", "already flat"
                raise exc
        return "failed", f"{contract_id} still open after {self.max_rounds} attempts"

    async def _reduce(self, account_id: int, contract_id: str, size: int, run: _Run) -> tuple[str, str]:
        position = await self._position(account_id, contract_id)
        if position is None:
            return "skipped", f"no open {contract_id} position"
        if size >= position.size:
            return await self._close(account_id, contract_id, run)
        target = position.size - size
        what = f"account {account_id} reduce {contract_id} by {size}"
        for attempt in range(self.max_rounds):
            if attempt > 0:
                now = await self._position(account_id, contract_id)
                if now is None or now.size <= target:
                    return "done", f"reduced to {0 if now is None else now.size}"
                size = now.size - target
            try:
                call = self.broker.partial_close_position(account_id, contract_id, size)
                if await self._send(call, run, what):
                    return "done", f"reduced to {target}"
            except GatewayRejected as exc:
                if exc.error_code != PARTIAL_CLOSE_REFUSED:
                    raise
                self._fallback(run, account_id, "partial close", contract_id, exc)
                return await self._close(account_id, contract_id, run)
        return "failed", f"{contract_id} not reduced after {self.max_rounds} attempts"

    def _fallback(
        self, run: _Run, account_id: int, what: str, contract_id: str, exc: GatewayRejected
    ) -> None:
        run.fallback = True
        self._raise(Alert(account_id=account_id, rule="ENFORCER", level="critical",
                          message=f"the gateway refuses {what} on this account ({exc.error_message}); "
                                  f"closing the whole {contract_id} position instead"))

    async def _flatten(self, account_id: int, run: _Run) -> tuple[str, str]:
        refused: set[int] = set()  # orders this account cannot cancel (live / follower)
        closed_at: float | None = None  # the latency of a flatten ends with its first round of closes
        for _ in range(self.max_rounds):
            orders = [o for o in await self._orders(account_id) if o.id not in refused]
            await asyncio.gather(*(self._cancel_one(o, run, refused) for o in orders))
            positions = await self._positions(account_id)
            closes = (self._close_once(account_id, p.contract_id, run) for p in positions)
            acks = await asyncio.gather(*closes)
            if closed_at is None and any(acks):
                closed_at = self.clock()
                run.acked = closed_at
            if not orders and not positions:
                return ("fallback" if refused else "done"), "flat"
        positions = await self._positions(account_id)
        orders = [o for o in await self._orders(account_id) if o.id not in refused]
        if not positions and not orders:
            return ("fallback" if refused else "done"), "flat"
        return "failed", (f"still {len(positions)} position(s) and {len(orders)} working order(s) "
                          f"after {self.max_rounds} rounds")

    async def _close_once(self, account_id: int, contract_id: str, run: _Run) -> bool:
        """One close within a flatten: any failure is settled by the next round's read."""
        try:
            return await self._send(self.broker.close_position(account_id, contract_id), run,
                                    f"account {account_id} close {contract_id}")
        except GatewayRejected as exc:  # e.g. closed meanwhile by another action
            log.info("account %s close %s refused: %s", account_id, contract_id, exc)
            return False

    async def _cancel_one(self, order: Order, run: _Run, refused: set[int]) -> None:
        try:
            await self._send(self.broker.cancel_order(order.account_id, order.id), run,
                             f"account {order.account_id} cancel order {order.id}")
        except GatewayRejected as exc:
            if exc.error_code == CANCEL_REFUSED:
                refused.add(order.id)
                self._fallback(run, order.account_id, "cancelling orders", order.contract_id, exc)
            else:
                log.warning("account %s cancel order %s refused: %s", order.account_id, order.id, exc)

    # ---- orders --------------------------------------------------------------------------------------

    async def _cancel(self, action: CancelOrders, run: _Run) -> tuple[str, str]:
        account_id = action.account_id

        def wanted(order: Order) -> bool:
            if action.contract_id is not None and order.contract_id != action.contract_id:
                return False
            return action.symbol is None or root_of(order.contract_id) == action.symbol

        refused: set[int] = set()
        cancelled = 0
        for _ in range(self.max_rounds):
            orders = [o for o in await self._orders(account_id) if wanted(o) and o.id not in refused]
            if not orders:
                break
            before = len(refused)
            await asyncio.gather(*(self._cancel_one(o, run, refused) for o in orders))
            cancelled += len(orders) - (len(refused) - before)
        else:
            return "failed", f"orders still working after {self.max_rounds} rounds"
        if refused:
            # Closing the position is the next best thing: the orders stay, the exposure does not.
            contracts = sorted({o.contract_id for o in await self._orders(account_id) if o.id in refused})
            for contract_id in contracts:
                if await self._holds(account_id, contract_id):
                    await self._close(account_id, contract_id, run)
            return "fallback", f"cancel refused; closed {', '.join(contracts) or 'nothing'}"
        return "done", f"cancelled {cancelled}"

    async def _place_stop(self, audit_id: int, action: PlaceStop, run: _Run) -> tuple[str, str]:
        account_id, tag = action.account_id, f"{STOP_TAG_PREFIX}{audit_id}"
        what = f"account {account_id} place stop {action.contract_id} @ {action.stop_price}"
        for attempt in range(self.max_rounds):
            if attempt > 0:
                orders = await self._orders(account_id)
                if any(o.custom_tag == tag for o in orders):
                    return "done", "stop placed"
                if not await self._holds(account_id, action.contract_id):
                    return "skipped", "the position closed meanwhile"
            call = self.broker.place_stop(account_id, action.contract_id, action.side, action.size,
                                          action.stop_price, custom_tag=tag)
            if await self._send(call, run, what):
                return "done", f"stop placed at {action.stop_price}"
        return "failed", f"no stop placed after {self.max_rounds} attempts"

    async def _modify_stop(self, action: ModifyStop, run: _Run) -> tuple[str, str]:
        account_id, order_id = action.account_id, action.order_id
        what = f"account {account_id} move stop {order_id} to {action.stop_price}"
        for attempt in range(self.max_rounds):
            gone = self._gone_orders.get(order_id)
            if gone is not None:
                return "skipped", f"the stop no longer exists ({gone})"
            if attempt > 0:
                order = next((o for o in await self._orders(account_id) if o.id == order_id), None)
                if order is None:
                    self._vanished(account_id, order_id, f"order {order_id} is not working")
                    return "skipped", "the stop is no longer working"
                if order.stop_price == action.stop_price:
                    return "done", f"stop at {action.stop_price}"
            call = self.broker.modify_stop(account_id, order_id, action.stop_price)
            try:
                if await self._send(call, run, what):
                    return "done", f"stop moved to {action.stop_price}"
            except GatewayRejected as exc:
                if exc.error_code not in ORDER_MAYBE_GONE:
                    raise
                if any(o.id == order_id for o in await self._orders(account_id)):
                    raise  # the order is there: refused for another reason (a price), a real failure
                why = f"errorCode {exc.error_code}: {exc.error_message}"
                self._vanished(account_id, order_id, f"order {order_id} is not working, {why}")
                return "skipped", f"the stop no longer exists ({why})"
        return "failed", f"stop not moved after {self.max_rounds} attempts"
