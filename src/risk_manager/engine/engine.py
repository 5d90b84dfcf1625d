"""The deterministic risk engine: ``apply(event, now)``, ``advance(now)``, ``next_deadline()``.

Pure: no I/O, no asyncio, no clock reads. It keeps per-account state, runs the rules of each
account's RuleSet on the events that concern them, and returns actions. Beside the rules it owns
the mechanisms every rule relies on:

- bookkeeping (positions, working orders, quotes, trading-day P&L deduplicated by trade id,
  distinct-order execution windows) and the daily reset;
- once per breach: an action with a ``subject`` marks (rule, subject); the marker re-arms when the
  subject changes (position closes, grows or reverses), at the daily reset, or when a lockout of
  that rule ends;
- lockouts: LockAccount actions enter the account's LockoutBook (a longer lockout is never
  shortened); each ends at its ``until`` or when its condition clears, emitting ``unlock``;
- the lockout gate: a position that opens or grows, or an order that starts working, while a
  lockout covers it is closed / cancelled (rule ``LOCKOUT``);
- fail closed: everything the engine does for one account — an event, a quote, a timer, its part
  of the daily reset, an admin clear, a config reload — runs inside one boundary (``_guarded``); if
  anything raises there, the account is locked (condition ``evaluation_error``), its orders are
  cancelled, an alert says why, and the other accounts go on;
- timers: daily reset, lockout ends and rule wake-ups are deadlines in one heap; ``next_deadline()``
  tells the runtime when to call ``advance``. Deadlines due at the same instant all fire, in a fixed
  order: rule wake-ups (session-end flatten, grace expiry), then lockout ends, then the daily reset
  (what belongs to the closing trading day first);
- the quote fast path: after evaluating an account, each quote-sensitive rule gives a quiet price
  band per position; a quote whose prices stay inside every band (strictly, unless an edge is
  ``Inclusive``) cannot change a decision, so only quotes that leave a band re-run the rules. The
  bands' edges sit in a per-contract index (band_index.py): a quote inside every band costs O(1),
  one that crosses k bands re-evaluates those k accounts only. ``fast_path=False`` evaluates every
  quote fully (the reference the property tests compare against).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

from risk_manager.domain.actions import (
    BALANCE_RULE,
    INPUT_RULE,
    LOCKOUT_RULE,
    RESET_RULE,
    Action,
    Alert,
    CancelOrders,
    ClosePosition,
    Flatten,
    LockAccount,
    ModifyStop,
    PlaceStop,
    Unlock,
)
from risk_manager.domain.calendar import DayBounds, TradingCalendar
from risk_manager.domain.contracts import ContractTable, root_of
from risk_manager.domain.events import (
    OUTCOME_FAILED,
    PROTECTIVE_TYPES,
    AccountEvent,
    ClockEvent,
    ConnectionEvent,
    EnforcementOutcome,
    Event,
    OrderEvent,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionEvent,
    PositionType,
    QuoteEvent,
    TradeEvent,
)
from risk_manager.domain.lockouts import CONDITION_CAN_TRADE, Lockout
from risk_manager.domain.money import ZERO, money, to_decimal
from risk_manager.domain.status import AccountStatus, ConnectionState
from risk_manager.domain.windows import in_window
from risk_manager.engine.band_index import BandIndex, ContractIndex
from risk_manager.engine.best_prices import BestPrices, LastPrices
from risk_manager.engine.changes import NO_CHANGES, ChangeLog, Changes, DayFigures, EndCause
from risk_manager.engine.policy import DEFAULT_BALANCE_TOLERANCE, Policy, RuleSet
from risk_manager.engine.state import (
    AccountState,
    CloseRetry,
    CountedTrade,
    KeptFill,
    MarketQuote,
    Position,
    TradingDayStats,
)
from risk_manager.engine.status import account_status, enforcement_status
from risk_manager.engine.timers import Timer, TimerKind
from risk_manager.engine.view import AccountView
from risk_manager.rules.api import (
    BAND_ACCOUNT,
    BAND_DAY,
    BAND_INPUTS,
    BAND_MARKERS,
    BAND_ORDERS,
    BAND_STOPS,
    Band,
    Inclusive,
    PositionView,
    Rule,
)

ENGINE_RULE = "ENGINE"
CONDITION_EVALUATION_ERROR = "evaluation_error"
GROWING_CHANGES = frozenset({"opened", "grew", "reversed"})
_HOUR = timedelta(hours=1)
# Working, but not yet in the market: the lockout gate leaves these alone. Live, every market order is
# Pending on its way to Filled (and every refused order on its way to Rejected), and a bracket leg is
# Suspended until its entry fills (PROJECTX.md §2b). Each leaves that state through an event the gate
# does act on (the order turning Open, or the fill's position), so cancelling now would only race it.
_NOT_YET_WORKING = frozenset({OrderStatus.PENDING, OrderStatus.SUSPENDED})
# The events of one account (a tuple: ``A | B`` would build a union on every test).
_ACCOUNT_EVENTS = (AccountEvent, OrderEvent, PositionEvent, TradeEvent)
# The position update of an execution follows its trade event within milliseconds (PROJECTX.md);
# one arriving later than this is not that execution's own change but a later open or grow.
_KEPT_FILL_WINDOW = timedelta(seconds=5)
# How long after the enforcer gave up on a close or flatten (its own attempts took a few seconds) the
# engine decides it again, while the breach that decided it still stands: a gateway that refused
# for a while is asked again, without a storm of requests.
CLOSE_RETRY_AFTER = timedelta(seconds=30)
_RETRIED_ACTIONS = frozenset({Flatten.kind, ClosePosition.kind})
_INF = math.inf
_MAX_LOCK_TEXTS = 1024  # lockout descriptions kept (see Engine._describe_lock)
# Quiet bands are shrunk by this relative margin when turned into floats, so that float rounding
# of a received price can never put a quote "inside" a band it is exactly on the edge of.
_BAND_MARGIN = 1e-9

# Timers sort by (time, kind, sequence): deadlines due at the same instant fire in TimerKind order
# (engine/timers.py) -- wake-ups, then lockout ends, then the daily reset.

# Enum values whose meaning is certain; anything else is reported, never guessed (RULES.md).
_NO_TIMER = datetime.max.replace(tzinfo=UTC)  # Engine._first_due of an empty timer heap
_POSITION_TYPES = frozenset({PositionType.LONG, PositionType.SHORT})
_ORDER_STATUSES = frozenset(OrderStatus) - {OrderStatus.NONE}


@dataclass(frozen=True, slots=True)
class _Dispatch:
    """A RuleSet's rules grouped by what wakes them, computed once per RuleSet."""

    by_trigger: Mapping[type, tuple[Rule[Any], ...]]
    # by_trigger with each rule's index among the per-position quote rules (None: not one of them)
    triggered: Mapping[type, tuple[tuple[Rule[Any], int | None], ...]]
    quote_rules: tuple[Rule[Any], ...]
    clock_rules: tuple[Rule[Any], ...]
    # Per quote rule: is its band tested against the last price / against bid and ask? Does a
    # position's band depend on that position only?
    on_last: tuple[bool, ...]
    on_book: tuple[bool, ...]
    per_position: tuple[bool, ...]
    every_rule: frozenset[int]  # indices of all quote rules
    last_rules: tuple[int, ...]  # indices of the rules tested against the last price
    book_rules: tuple[int, ...]  # ... against bid and ask
    readers: Mapping[str, frozenset[int]]  # BAND_INPUTS name -> the quote rules whose band reads it
    quote_rule_index: Mapping[str, int]  # rule id -> its index, of the quote rules

    @classmethod
    def of(cls, rule_set: RuleSet) -> _Dispatch:
        by_trigger: dict[type, list[Rule[Any]]] = {}
        for rule in rule_set.rules:
            for trigger in rule.triggers:
                by_trigger.setdefault(trigger, []).append(rule)
        quote_rules = tuple(r for r in by_trigger.get(QuoteEvent, ()) if r.quote_sensitive)
        position_rule_index = {id(r): i for i, r in enumerate(quote_rules) if r.bands_per_position}
        return cls(
            {k: tuple(v) for k, v in by_trigger.items()},
            {k: tuple((r, position_rule_index.get(id(r))) for r in v) for k, v in by_trigger.items()},
            quote_rules,
            tuple(by_trigger.get(ClockEvent, ())),
            tuple("last" in r.band_prices for r in quote_rules),
            tuple(bool(r.band_prices & {"bid", "ask"}) for r in quote_rules),
            tuple(r.bands_per_position for r in quote_rules),
            frozenset(range(len(quote_rules))),
            tuple(i for i, r in enumerate(quote_rules) if "last" in r.band_prices),
            tuple(i for i, r in enumerate(quote_rules) if r.band_prices & {"bid", "ask"}),
            {k: frozenset(i for i, r in enumerate(quote_rules) if k in r.band_reads) for k in BAND_INPUTS},
            {r.id: i for i, r in enumerate(quote_rules)},
        )


class Engine:
    def __init__(
        self,
        policy: Policy,
        calendar: TradingCalendar,
        contracts: ContractTable | None = None,
        *,
        fast_path: bool = True,
        close_retry_after: timedelta = CLOSE_RETRY_AFTER,
    ) -> None:
        self.policy = policy
        self.calendar = calendar
        self.contracts = contracts if contracts is not None else ContractTable()
        self.fast_path = fast_path
        self.close_retry_after = close_retry_after
        self._accounts: dict[int, AccountState] = {}
        self._unmonitored: set[int] = set()
        self._quotes: dict[str, MarketQuote] = {}
        # Open positions by contract with their quiet bands' edges (the quote fan-out), and the
        # last prices that keep their best_price exact.
        self._bands: BandIndex[AccountState, Position] = BandIndex()
        self._best = BestPrices()
        # Per contract with open positions, its band index and last-price record: what every quote
        # of the contract reads, found with one lookup (kept by _watch and _drop_position).
        self._watched: dict[str, tuple[ContractIndex[AccountState, Position], LastPrices]] = {}
        self._dispatch: dict[int, _Dispatch] = {}
        # (sort key, timer): the heap compares the plain key tuples (C speed), never the Timers
        self._heap: list[tuple[tuple[datetime, int, int, str, int], Timer]] = []
        # Never later than the heap's first due time (_NO_TIMER: empty): asked on every event, and
        # cheaper to compare than the heap's top (lowered by _push, raised after timers fire).
        self._first_due = _NO_TIMER
        # How many timers were ever scheduled (read it, never set it). While it does not change,
        # the timer heap only shrinks, so a deadline ``next_deadline`` returned is a lower bound of
        # every later one: a caller (the replay loop) may skip asking again until it reaches that
        # deadline. A plain attribute, not a property: the replay loop reads it on every line.
        self.timers_pushed = 0
        self._wakeups: dict[tuple[int, str], datetime] = {}
        self._reset_at: datetime | None = None
        self._now: datetime | None = None
        self.connection_lost_since: datetime | None = None
        # With record_changes on, each state-changing call leaves what it changed in last_changes
        # (the persistence layer reads it; off by default: nothing to pay on the quote path).
        self.record_changes = False
        self._log: ChangeLog | None = None  # this call's changes, made on the first one
        self._lock_texts: dict[int, tuple[Lockout, TradingCalendar, str]] = {}  # see _describe_lock

    # ---- public API ------------------------------------------------------------------------

    @property
    def now(self) -> datetime | None:
        return self._now

    @property
    def accounts(self) -> Mapping[int, AccountState]:
        return self._accounts

    @property
    def quotes(self) -> Mapping[str, MarketQuote]:
        return self._quotes

    @property
    def last_changes(self) -> Changes:
        """What the last ``apply``/``advance``/``clear_lockout``/``update_policy`` changed (counted and
        voided executions, day figures, resets, lockouts taken and ended); empty unless
        ``record_changes`` is on."""
        log = self._log
        return NO_CHANGES if log is None else log.freeze()

    def _changelog(self) -> ChangeLog | None:
        """This call's change log (made now if it is the first change), or None when not recording."""
        if not self.record_changes:
            return None
        log = self._log
        if log is None:
            log = self._log = ChangeLog()
        return log

    # ---- persistence interface (engine/snapshot.py holds the format) --------------------------

    def export_state(self) -> dict[str, Any]:
        """Everything the engine decides from, as JSON-able data; :meth:`restore` reads it back."""
        from risk_manager.engine.snapshot import snapshot

        return snapshot(self)

    def restore(self, state: dict[str, Any]) -> None:
        """Load :meth:`export_state` data into this fresh engine (same policy, calendar and contracts
        as the one that exported it); raises SnapshotError if it cannot be read."""
        from risk_manager.engine.snapshot import restore

        restore(self, state)

    def reinstate_lockout(self, lockout: Lockout, now: datetime) -> bool:
        """Put back a lockout held outside the engine (the persisted lockout table) that this engine's
        state does not hold, with its end timer. False if its account is not monitored by the current
        policy. A longer lockout of the same key already held wins, as in the engine's own book. Not
        reported in ``last_changes``: the caller, who holds the record, already knows."""
        account = self._accounts.get(lockout.account_id)
        if account is None:
            account = self._account(lockout.account_id, now)
            if account is None:
                return False
        if account.lockouts.add(lockout) is lockout and lockout.until is not None:
            self._push(lockout.until, TimerKind.LOCKOUT_END, account.account_id, lockout.key)
        return True

    def timers(self) -> list[Timer]:
        """The pending timers, in the order they fire (stale entries left out)."""
        return sorted(entry[1] for entry in self._heap if self._is_live(entry[1]))

    def status(
        self, account_id: int, now: datetime, connection: ConnectionState = ConnectionState.REPLAY
    ) -> AccountStatus | None:
        """The read model of one account at ``now`` (None for an account the engine has not seen):
        positions marked at the last price, day P&L, each enabled rule's gauge, lockouts. Reading
        it changes no decision."""
        account = self._accounts.get(account_id)
        if account is None:
            return None
        found = self._rules(account)
        rules = found[0].rules if found is not None else ()
        return account_status(account, self._view(account, now, None), rules, now, connection)

    def day_figures(self, account_id: int) -> DayFigures | None:
        """The current trading day's counters of one account (None for an account the engine has
        not seen): the part of ``status`` a caller following the day's P&L trade by trade needs,
        without marking positions or reading every rule's gauge."""
        account = self._accounts.get(account_id)
        return None if account is None else DayFigures.of(account_id, account.day)

    def statuses(
        self, now: datetime, connection: ConnectionState = ConnectionState.REPLAY
    ) -> list[AccountStatus]:
        """The read model of every account the engine holds, by account id."""
        out = []
        for account_id in sorted(self._accounts):
            status = self.status(account_id, now, connection)
            assert status is not None
            out.append(status)
        return out

    def settle_best_prices(self) -> None:
        """Bring every position's ``best_price`` up to date before it is read outside the rules
        (a snapshot): the engine updates it lazily, when the position's account is evaluated."""
        for account in self._accounts.values():
            for position in account.positions.values():
                self._best.settle(position)

    def next_deadline(self) -> datetime | None:
        """The earliest time at which ``advance`` has something to do."""
        heap = self._heap
        while heap and not self._is_live(heap[0][1]):
            heapq.heappop(heap)
        self._first_due = heap[0][1].when if heap else _NO_TIMER
        return heap[0][1].when if heap else None

    def advance(self, now: datetime) -> list[Action]:
        """Fire every timer due at or before ``now`` (each at its own due time)."""
        self._log = None
        now = self._tick(now)
        out: list[Action] = []
        if self._first_due <= now:
            self._fire_due(now, out)
        return out

    def apply(self, event: Event, now: datetime) -> list[Action]:
        """Apply one event at time ``now`` (timers due first) and return the decisions."""
        self._log = None
        previous = self._now
        if now is not previous:
            # _tick's usual case written out (every replayed line brings a later time): one call
            # less on each of a busy day's million quotes
            if now.tzinfo is not None and previous is not None and now > previous and self._reset_at:
                self._now = now
            else:
                now = self._tick(now)
        out: list[Action] = []
        if self._first_due <= now:
            self._fire_due(now, out)
        if type(event) is QuoteEvent:
            self._on_quote(event, now, out)
        elif isinstance(event, _ACCOUNT_EVENTS):
            account = self._account(event.account_id, now)
            if account is not None:
                self._on_account_event(account, event, now, out)
        elif isinstance(event, ConnectionEvent):
            self._on_connection(event, now, out)
        elif type(event) is EnforcementOutcome:
            self._on_enforcement(event, now)
        elif not isinstance(event, ClockEvent):
            raise TypeError(f"not an engine event: {event!r}")
        return out

    def clear_lockout(
        self, account_id: int, now: datetime, by: str, why: str, rule: str | None = None
    ) -> list[Action]:
        """Admin clear (audited by the caller): end the account's lockouts (of ``rule`` only if given)."""
        self._log = None
        now = self._tick(now)
        account = self._accounts.get(account_id)
        out: list[Action] = []
        if account is None:
            return out
        with self._guarded(account, now, out):
            for lockout in account.lockouts:
                if rule is None or lockout.rule == rule:
                    self._end_lockout(account, lockout, now, f"cleared by {by}: {why}", out, EndCause.ADMIN)
            if rule in (None, ENGINE_RULE):
                account.failed = None
            self._refresh(account, now)
        return out

    def update_policy(self, policy: Policy, now: datetime) -> list[Action]:
        """Hot reload: new rules from now on; condition lockouts whose rule no longer holds them end."""
        self._log = None
        now = self._tick(now)
        self.policy = policy
        self._dispatch.clear()
        self._unmonitored.clear()
        out: list[Action] = []
        for account in self._accounts.values():
            with self._guarded(account, now, out):
                self._reload_account(account, now, out)
        return out

    def update_calendar(self, calendar: TradingCalendar, now: datetime) -> None:
        """Hot reload of timers.yaml: the next daily reset and the session windows follow the new
        calendar from ``now``; the trading day in progress keeps its start, and a lockout already
        taken keeps its end. Call ``update_policy`` next (it refreshes every account)."""
        now = self._tick(now)
        self.calendar = calendar
        reset_at = calendar.next_reset(now)
        if reset_at != self._reset_at:
            self._reset_at = reset_at
            self._push(reset_at, TimerKind.RESET, 0, None)

    def _reload_account(self, account: AccountState, now: datetime, out: list[Action]) -> None:
        rule_set = self.policy.rules_for(account.account_id)
        rules = {r.id: r for r in rule_set.rules} if rule_set is not None else {}
        for lockout in account.lockouts:
            if lockout.condition is None or lockout.rule in (ENGINE_RULE, LOCKOUT_RULE):
                continue
            rule = rules.get(lockout.rule)
            if rule is None or not rule.lockout_holds(lockout):
                self._end_lockout(
                    account, lockout, now, "no longer required by the configuration", out, EndCause.CONFIG
                )
        self._refresh(account, now)

    # ---- the fail-closed boundary ------------------------------------------------------------

    def _guarded(self, account: AccountState, now: datetime, out: list[Action]) -> _AccountGuard:
        """``with self._guarded(account, now, out):`` around everything done for one account: if it
        raises, the account fails closed and the caller goes on with the other accounts."""
        return _AccountGuard(self, account, now, out)

    # ---- time ------------------------------------------------------------------------------

    def _tick(self, now: datetime) -> datetime:
        """Engine time never goes backwards: an older timestamp is taken as the current time."""
        if now is self._now:
            return now  # the time of the previous event (a replayed line's events share one)
        if now.tzinfo is None:
            raise ValueError(f"engine time must be timezone-aware UTC, got naive {now!r}")
        if self._now is not None and now < self._now:
            return self._now
        self._now = now
        if self._reset_at is None:
            self._reset_at = self.calendar.next_reset(now)
            self._push(self._reset_at, TimerKind.RESET, 0, None)
        return now

    def _push(self, when: datetime, kind: TimerKind, account_id: int, key: Any) -> None:
        self.timers_pushed += 1
        timer = Timer.of(when, kind, account_id, key, self.timers_pushed)
        heapq.heappush(self._heap, (timer.sort_key, timer))
        if when < self._first_due:
            self._first_due = when

    def _is_live(self, entry: Timer) -> bool:
        when, kind, account_id, key = entry.when, entry.kind, entry.account_id, entry.key
        if kind == TimerKind.RESET:
            return when == self._reset_at
        if kind == TimerKind.WAKE:
            return self._wakeups.get((account_id, key)) == when
        account = self._accounts.get(account_id)
        if kind == TimerKind.CLOSE_RETRY:
            retry = account.close_retries.get(key) if account is not None else None
            return retry is not None and retry.due == when
        lockout = account.lockouts.get(key) if account is not None else None
        return lockout is not None and lockout.until == when

    def _fire_due(self, now: datetime, out: list[Action]) -> None:
        heap = self._heap
        while heap and heap[0][1].when <= now:
            entry = heapq.heappop(heap)[1]
            if not self._is_live(entry):
                continue
            when, kind, account_id, key = entry.when, entry.kind, entry.account_id, entry.key
            if kind == TimerKind.RESET:
                self._daily_reset(when, now, out)
                continue
            account = self._accounts[account_id]
            with self._guarded(account, when, out):
                if kind == TimerKind.LOCKOUT_END:
                    lockout = account.lockouts.get(key)
                    if lockout is not None:
                        emitted = len(out)
                        self._end_lockout(account, lockout, when, "its time ran out", out, EndCause.TIMER)
                        self._refresh_after(account, when, out[emitted:])
                elif kind == TimerKind.CLOSE_RETRY:
                    self._retry_close(account, key, when, out)
                else:
                    del self._wakeups[(account_id, key)]
                    self._wake_rule(account, key, when, out)
        self._first_due = heap[0][1].when if heap else _NO_TIMER

    def _daily_reset(self, when: datetime, now: datetime, out: list[Action]) -> None:
        """Start the trading day that contains ``now``: one reset however many were missed
        (a daemon down over a weekend applies the missed reset once, at start-up)."""
        bounds = self.calendar.trading_day(now)
        self._reset_at = bounds.end
        self._push(bounds.end, TimerKind.RESET, 0, None)
        for account in self._accounts.values():
            with self._guarded(account, now, out):
                self._start_day(account, bounds, now, out)

    def _start_day(self, account: AccountState, bounds: DayBounds, now: datetime, out: list[Action]) -> None:
        """One account's part of the daily reset (the counters first: a rule that raises in the
        refresh at the end cannot keep the account in the old trading day)."""
        previous = account.day
        account.day = TradingDayStats(bounds.label, bounds.start, bounds.end)
        log = self._changelog()
        if log is not None:
            log.rolled.append((account.account_id, previous, account.day))
            log.day(account.account_id, previous)
            log.day(account.account_id, account.day)
        account.day.opening_balance = account.balance  # the new day starts from the last balance
        account.breaches.clear()
        account.recent_orders.clear()
        # retries already decided: a new day counts its own (one still waiting stays, e.g. for a
        # lockout that outlives the reset)
        account.close_retries = {k: r for k, r in account.close_retries.items() if r.due > now}
        oldest_kept = previous.label
        account.seen_trades = {t: d for t, d in account.seen_trades.items() if d >= oldest_kept}
        message = (
            f"daily reset: trading day {bounds.label.isoformat()} begins; "
            f"{previous.label.isoformat()} closed with realized P&L {money(previous.realized)}"
            f" and fees + commissions {money(previous.costs)}"
        )
        out.append(
            Alert(
                account_id=account.account_id,
                rule=RESET_RULE,
                level="info",
                message=message,
                reason=message,
                inputs=(("realized", money(previous.realized)), ("fees", money(previous.costs))),
            )
        )
        self._refresh(account, now)

    # ---- accounts --------------------------------------------------------------------------

    def _account(self, account_id: int, now: datetime) -> AccountState | None:
        account = self._accounts.get(account_id)
        if account is not None:
            return account
        if account_id in self._unmonitored:
            return None
        if self.policy.rules_for(account_id) is None:
            self._unmonitored.add(account_id)
            return None
        bounds = self.calendar.trading_day(now)
        account = AccountState(account_id, TradingDayStats(bounds.label, bounds.start, bounds.end))
        self._accounts[account_id] = account
        return account

    def _rules(self, account: AccountState) -> tuple[RuleSet, _Dispatch] | None:
        rule_set = self.policy.rules_for(account.account_id)
        if rule_set is None:
            return None
        dispatch = self._dispatch.get(id(rule_set))
        if dispatch is None:
            dispatch = self._dispatch[id(rule_set)] = _Dispatch.of(rule_set)
        return rule_set, dispatch

    def _view(
        self,
        account: AccountState,
        now: datetime,
        event: Event | None,
        changes: Mapping[str, str] | None = None,
        rules: RuleSet | None = None,
    ) -> AccountView:
        """The account as rules see it (``rules``: its RuleSet when the caller has it at hand)."""
        if rules is None:
            rules = self.policy.rules_for(account.account_id)
        warn_at = rules.warn_at if rules is not None else ()
        settle = self._best.settle
        for position in account.positions.values():
            settle(position)  # rules read best_price: make it exact first (republishes)
        return AccountView(
            account,
            now,
            event,
            self._quotes,
            self.contracts,
            self.calendar,
            warn_at,
            changes,
            self.connection_lost_since,
        )

    def _on_account_event(
        self,
        account: AccountState,
        event: AccountEvent | OrderEvent | PositionEvent | TradeEvent,
        now: datetime,
        out: list[Action],
    ) -> None:
        # The fail-closed boundary (Engine._guarded) written out: an account event is the commonest
        # of the account's work after quotes, and the guard object costs as much as its body here.
        try:
            undefined = _undefined_value(event)
            if undefined is not None:
                self._commit(account, [_undefined_alert(account.account_id, event, *undefined)], now, out)
                return  # its meaning is not certain: apply nothing rather than guess
            changes: dict[str, str] | None = None
            kept: KeptFill | None = None
            locked_before = False
            # The contracts whose positions' inputs the event changes (None: the whole account).
            touched = None if isinstance(event, AccountEvent) else {event.contract_id}
            # For the quiet bands (see _stale_bands): the positions the event changed, and what
            # else it changed (a BAND_INPUTS name; None: nothing else, or everything when no
            # position is listed either).
            moved: set[str] = set()
            changed: str | None = None
            ended: list[Action] = []  # the lockouts the event's own change ended (Unlock)
            if isinstance(event, PositionEvent):
                kept = account.kept_fills.pop(event.contract_id, None)
                changes = self._apply_position(account, event, now)
                moved.add(event.contract_id)
            elif isinstance(event, OrderEvent):
                replaced = account.working_orders.get(event.order_id)
                if replaced is not None and touched is not None:
                    touched.add(replaced.contract_id)  # an order id seen in another contract
                self._apply_order(account, event)
                changed = BAND_ORDERS
            elif isinstance(event, TradeEvent):
                locked_before = account.lockouts.covering(root_of(event.contract_id)) is not None
                before = account.position_views.get(event.contract_id)
                if not self._apply_trade(account, event, now):
                    return  # a duplicate or an earlier day's execution: nothing to decide
                if account.position_views.get(event.contract_id) is not before:
                    moved.add(event.contract_id)  # contracts marked closing: its open size changed
                changed = BAND_DAY
            else:
                emitted = len(out)
                self._apply_account(account, event, now, out)
                ended = out[emitted:]  # canTrade back ended lockouts: their rules' markers re-arm
                changed = BAND_ACCOUNT
            actions = self._gate(account, event, changes, now, kept)
            if changes:
                actions.extend(self._unknown_contracts(account, changes))
            found = self._rules(account)
            view: AccountView | None = None
            if found is not None:
                view = self._view(account, now, event, changes, found[0])
                dispatch = found[1]
                for rule, i in dispatch.triggered.get(type(event), ()):
                    if i is None or touched is None:
                        actions.extend(rule.evaluate(view))
                    else:
                        # a per-position rule: the event changed the inputs of its contract's
                        # position only (see _due); with none due, a view listing no position
                        # decides nothing (Rule.bands_per_position)
                        due = self._due(account, touched, dispatch, i)
                        if not due:
                            continue
                        everything = len(due) == len(account.position_views)
                        actions.extend(rule.evaluate(view if everything else view.scoped(due)))
            if actions:  # most events decide nothing
                self._commit(account, actions, now, out)
                if isinstance(event, TradeEvent) and not locked_before:
                    self._keep_triggering_fill(account, event, actions, now)
            stale = None
            if self.fast_path and (moved or changed is not None) and found is not None:
                decided = [*actions, *ended] if ended else actions
                stale = _stale_bands(found[1], moved, changed, touched or _NO_CONTRACTS, decided)
            self._refresh(
                account,
                now,
                concerned=None if stale is None else stale[1],
                only=None if stale is None else stale[0],
                view=None if view is None else view.after_decisions(bool(actions)),
                found=found,
            )
        except Exception as exc:
            self._fail_closed(account, exc, now, out)

    @staticmethod
    def _keep_triggering_fill(
        account: AccountState, trade: TradeEvent, actions: list[Action], now: datetime
    ) -> None:
        """A lockout that keeps positions (RULE-006/007 with ``close_positions: false``) started on
        this execution: its own position change, whose update arrives a few ms later, is not undone
        by the lockout gate. Only the size this fill reaches is kept; more is a later open or grow."""
        if trade.voided or any(isinstance(a, Flatten) for a in actions):
            return
        if not any(
            isinstance(a, LockAccount) and account.lockouts.get((a.rule, a.scope, a.symbol)) is not None
            for a in actions
        ):
            return
        position = account.positions.get(trade.contract_id)
        before = position.size if position is not None else 0
        change = trade.size if trade.side == OrderSide.BUY else -trade.size
        account.kept_fills[trade.contract_id] = KeptFill(before + change, now)

    @staticmethod
    def _unknown_contracts(account: AccountState, changes: Mapping[str, str]) -> list[Action]:
        """One warning per contract and trading day for a position whose tick spec is unknown."""
        actions: list[Action] = []
        for cid, change in changes.items():
            position = account.positions.get(cid)
            if position is None or position.spec is not None:
                continue
            subject = f"no_tick_spec:{cid}"
            if (INPUT_RULE, subject) in account.breaches:
                continue
            root = position.root
            message = (
                f"no tick spec for contract {cid} (symbol {root}): its unrealized P&L is unknown and left "
                f"out of every limit; add it to risk_config.yaml under `instruments:`, e.g. "
                f"instruments: {{{root}: {{tick_size: 0.25, tick_value: 0.5}}}} with the exchange's values"
            )
            actions.append(
                Alert(
                    account_id=account.account_id,
                    rule=INPUT_RULE,
                    level="warning",
                    message=message,
                    reason=message,
                    subject=subject,
                    inputs=(("contract", cid), ("change", change), ("config_key", "instruments")),
                )
            )
        return actions

    def _apply_position(self, account: AccountState, event: PositionEvent, now: datetime) -> dict[str, str]:
        cid = event.contract_id
        previous = account.positions.get(cid)
        signed = event.signed_size
        if signed == 0:
            if previous is None:
                return {cid: "unchanged"}
            self._drop_position(account, previous)
            self._clear_markers(account, f"pos:{cid}", prefix=True)
            account.stops_requested.pop(cid, None)
            return {cid: "closed"}
        if previous is None or (previous.size > 0) != (signed > 0):
            change = "opened" if previous is None else "reversed"
            if previous is not None:
                self._drop_position(account, previous)
                self._clear_markers(account, f"pos:{cid}", prefix=True)
                account.stops_requested.pop(cid, None)
            position = Position(
                contract_id=cid,
                root=root_of(cid),
                spec=self.contracts.for_contract(cid),
                size=signed,
                average_price=event.average_price,
                opened_at=now,
                position_id=event.position_id,
                best_price=event.average_price,
            )
            account.positions[cid] = position
            self._watch(account, position)
            return {cid: change}
        previous.closing = 0  # the snapshot is the gateway's settled view of the position
        grew = abs(signed) > abs(previous.size)
        change = "grew" if grew else "reduced" if abs(signed) < abs(previous.size) else "unchanged"
        if grew:
            self._clear_markers(account, f"pos:{cid}", prefix=False)
        previous.size = signed
        previous.average_price = event.average_price
        previous.position_id = event.position_id
        account.position_views[cid] = previous.frozen()
        return {cid: change}

    def _watch(self, account: AccountState, position: Position) -> None:
        """Route the position's contract's quotes to it (a new position is evaluated on every quote
        until its bands are computed)."""
        views, cid = account.position_views, position.contract_id
        views[cid] = position.frozen()

        def republish() -> None:  # best_price moved: the rules' copy follows
            views[cid] = position.frozen()

        self._bands.add(cid, account, position)
        self._best.watch(position, republish)
        if cid not in self._watched:
            index = self._bands.contract(cid)
            assert index is not None  # just added
            self._watched[cid] = (index, self._best.record_of(cid))

    def _drop_position(self, account: AccountState, position: Position) -> None:
        del account.positions[position.contract_id]
        del account.position_views[position.contract_id]
        self._bands.remove(position)
        self._best.forget(position)
        if self._bands.contract(position.contract_id) is None:
            del self._watched[position.contract_id]  # the contract's last position closed

    @staticmethod
    def _apply_order(account: AccountState, event: OrderEvent) -> None:
        working = account.working_orders
        if event.is_working:
            replaced = working.get(event.order_id)
            working[event.order_id] = event
        else:
            replaced = working.pop(event.order_id, None)
            if account.breaches:
                # The lockout gate's marker for this order (_gate): an order that stopped working
                # never works again, and a day's markers would pile up (every position update scans
                # them, _clear_markers).
                account.breaches.discard((LOCKOUT_RULE, f"order:{event.order_id}"))
        stops = account.protective_stops
        if stops is None or (
            event.type not in PROTECTIVE_TYPES and (replaced is None or replaced.type not in PROTECTIVE_TYPES)
        ):
            return  # most order updates are entries and limits: the stops read from the orders hold
        if replaced is None and event.is_working:
            # a new stop, last in the orders: a scan would keep it only where none came before
            stops.setdefault((event.contract_id, event.side), event)
        else:
            account.protective_stops = None  # read again from the orders when next asked

    def _apply_trade(self, account: AccountState, event: TradeEvent, now: datetime) -> bool:
        """Count an execution in the trading day it belongs to, or take a voided one back out.
        False when nothing changed (a duplicate, an earlier day's execution, a void of nothing)."""
        log = self._changelog()
        if event.trade_id in account.seen_trades:
            if not event.voided:
                amended = self._late_pnl(account, event)
                if amended and log is not None:
                    log.day(account.account_id, account.day)
                return amended
            voided = self._void_trade(account, event.trade_id, now)
            if voided and log is not None:
                log.voided.append((account.account_id, event.trade_id))
                log.day(account.account_id, account.day)
            return voided
        executed = event.created if event.created is not None and event.created <= now else now
        day = account.day
        if executed < day.start:
            account.seen_trades[event.trade_id] = day.label - timedelta(days=1)
            return False
        account.seen_trades[event.trade_id] = day.label
        if event.voided:
            return False  # busted before we counted it: it never enters the day
        self._mark_closing(account, event)
        counted = CountedTrade(
            pnl=event.pnl if event.pnl is not None else ZERO,
            fees=event.fees,
            order_id=event.order_id,
            executed=executed,
            commissions=event.commissions,
        )
        day.counted[event.trade_id] = counted
        day.realized += counted.pnl
        day.fees += counted.fees
        day.commissions += counted.commissions
        day.trade_count += 1
        if event.order_id is not None and event.order_id not in day.order_first_fill:
            day.order_first_fill[event.order_id] = executed
            recent = account.recent_orders
            entry = (executed, event.order_id)
            if recent and entry < recent[-1]:
                recent.insert(bisect.bisect(recent, entry), entry)  # reported late: kept in time order
            else:
                recent.append(entry)
            while recent and not in_window(recent[0][0], now, _HOUR):
                recent.popleft()
        if log is not None:
            log.counted.append((account.account_id, event.trade_id))
            log.day(account.account_id, day)
        return True

    @staticmethod
    def _late_pnl(account: AccountState, event: TradeEvent) -> bool:
        """A closing execution arriving after its P&L-less repeat (the gateway repeats a close at the
        opening price with no P&L, maybe with the same trade id, PROJECTX.md §2b; events can come
        out of order): the execution was counted once, with no P&L; its P&L is counted now. Any other
        repeat of a counted id changes nothing."""
        counted = account.day.counted.get(event.trade_id)
        if counted is None or counted.pnl or not event.pnl:
            return False
        account.day.counted[event.trade_id] = CountedTrade(
            event.pnl, counted.fees, counted.order_id, counted.executed, counted.commissions
        )
        account.day.realized += event.pnl
        Engine._mark_closing(account, event)
        return True

    @staticmethod
    def _mark_closing(account: AccountState, event: TradeEvent) -> None:
        """A closing execution (pnl set, on the side that reduces the position) marks the closed
        contracts as ``closing`` until the position snapshot that reflects it arrives."""
        position = account.positions.get(event.contract_id)
        if position is not None and event.pnl is not None and event.side == (1 if position.size > 0 else 0):
            position.closing = min(position.closing + event.size, position.abs_size)
            account.position_views[position.contract_id] = position.frozen()

    @staticmethod
    def _void_trade(account: AccountState, trade_id: int, now: datetime) -> bool:
        """A counted execution re-sent voided: remove exactly what it added to today (P&L, fees, its
        order's place in the execution windows when no other fill of that order remains). One counted
        in a trading day already closed is left there: that day's figures are history."""
        day = account.day
        counted = day.counted.pop(trade_id, None)
        if counted is None:
            return False
        day.realized -= counted.pnl
        day.fees -= counted.fees
        day.commissions -= counted.commissions
        day.trade_count -= 1
        order_id = counted.order_id
        if order_id is not None:
            fills = [c.executed for c in day.counted.values() if c.order_id == order_id]
            kept = [entry for entry in account.recent_orders if entry[1] != order_id]
            if fills:
                first = day.order_first_fill[order_id] = min(fills)
                if in_window(first, now, _HOUR):
                    kept.append((first, order_id))
                    kept.sort()
            else:
                day.order_first_fill.pop(order_id, None)
            account.recent_orders = deque(kept)
        return True

    def _apply_account(
        self, account: AccountState, event: AccountEvent, now: datetime, out: list[Action]
    ) -> None:
        if event.name is not None:
            account.name = event.name
        if event.balance is not None:
            account.balance = event.balance
            self._reconcile_balance(account, out)
        if event.can_trade is not None:
            account.can_trade = event.can_trade
            if event.can_trade:
                for lockout in account.lockouts.with_condition(CONDITION_CAN_TRADE):
                    self._end_lockout(
                        account, lockout, now, "the gateway reports canTrade: true", out, EndCause.CONDITION
                    )

    def _reconcile_balance(self, account: AccountState, out: list[Action]) -> None:
        """The day's net realized P&L (after fees and commissions) must equal the balance change
        since the day began: the gateway gives us that invariant for free. One alert when they part
        by more than the tolerance; another only after they agreed again."""
        day = account.day
        balance = account.balance
        assert balance is not None
        net = day.net_realized(True)
        if day.opening_balance is None:
            # First balance of the day: whatever was counted before it is already in it.
            day.opening_balance = balance - net
            return
        change = balance - day.opening_balance
        found = self._rules(account)
        tolerance = found[0].balance_tolerance if found is not None else DEFAULT_BALANCE_TOLERANCE
        off = abs(change - net) > tolerance
        if off and not day.balance_off:
            message = (
                f"balance check: day net realized P&L {money(net)} from trades, but the balance moved "
                f"{money(change)} since the day began ({money(day.opening_balance)} -> {money(balance)}); "
                f"difference {money(change - net)} exceeds the tolerance {money(tolerance)}"
            )
            out.append(
                Alert(
                    account_id=account.account_id,
                    rule=BALANCE_RULE,
                    level="warning",
                    message=message,
                    reason=message,
                    inputs=(
                        ("trades_net", money(net)),
                        ("balance_change", money(change)),
                        ("difference", money(change - net)),
                        ("tolerance", money(tolerance)),
                    ),
                )
            )
        day.balance_off = off

    # ---- quotes ----------------------------------------------------------------------------

    def _on_quote(self, event: QuoteEvent, now: datetime, out: list[Action]) -> None:
        cid = event.contract_id
        quote = self._quotes.get(cid)
        if quote is None:
            quote = self._quotes[cid] = MarketQuote()
        # a partial quote carries the other prices over
        last = event.last
        if last is not None:
            quote.last = last
        else:
            last = quote.last
        bid = event.bid
        if bid is not None:
            quote.bid = bid
        else:
            bid = quote.bid
        ask = event.ask
        if ask is not None:
            quote.ask = ask
        else:
            ask = quote.ask
        if event.timestamp is not None:
            quote.timestamp = event.timestamp
        watched = self._watched.get(cid)
        if watched is None:
            return  # no open position in the contract (one opening later ignores earlier quotes)
        index, prices = watched
        if last is not None:  # LastPrices.record written out (a call costs as much as its body)
            if last > prices.high:
                prices.high = last
            if last < prices.low:
                prices.low = last
        if not self.fast_path:
            for entry in index:
                self._evaluate_quote(entry.account, cid, event, now, out, None)
            return
        # ContractIndex.quiet written out (nearly every quote stops here, and the call and the
        # book's tuple cost as much as the test): every price strictly inside both bands' live tops
        # is inside every band, O(1) whatever the number of positions; any other crosses one
        last_bands, book_bands = index.last, index.book
        if (
            (last is None or last_bands.floor < last < last_bands.ceiling)
            and (bid is None or book_bands.floor < bid < book_bands.ceiling)
            and (ask is None or book_bands.floor < ask < book_bands.ceiling)
        ):
            return
        # bid and ask are tested together: the lower against lower edges, the higher against upper
        book: tuple[float, float] | None = None
        if bid is not None and ask is not None:
            book = (bid, ask) if bid <= ask else (ask, bid)
        elif bid is not None or ask is not None:
            only = bid if bid is not None else ask
            assert only is not None
            book = (only, only)
        # A breakout crosses the bands of every copy of a copied trade at once: what the loop needs
        # of the engine is looked up once.
        reindex = self._bands.update
        rules_for, dispatches = self.policy.rules_for, self._dispatch
        # the RuleSet of the previous entry, with its dispatch: the copies share one
        seen: RuleSet | None = None
        dispatch = None
        count = 0
        last_rules: tuple[int, ...] = ()
        book_rules: tuple[int, ...] = ()
        # the prices tested (read only by the rules of a price the quote has)
        at = last if last is not None else 0.0
        low, high = book if book is not None else (0.0, 0.0)
        for entry in index.crossed(last, book):
            account, position = entry.account, entry.position
            rule_set = rules_for(account.account_id)
            if rule_set is not seen or rule_set is None:
                dispatch = None if rule_set is None else dispatches.get(id(rule_set))
                if rule_set is None or dispatch is None:
                    found = self._rules(account)
                    if found is None:
                        self._evaluate_quote(account, cid, event, now, out, None, None)
                        reindex(position)
                        continue
                    rule_set, dispatch = found
                seen, count = rule_set, len(dispatch.quote_rules)
                last_rules = dispatch.last_rules if last is not None else ()
                book_rules = dispatch.book_rules if book is not None else ()
            assert dispatch is not None
            # the rules whose band the quote left, as bits (1 << index): a set made per crossing
            # costs as much as the tests themselves, and one rule is the usual answer
            left = 0
            bands = position.rule_bands
            if len(bands) == count:
                # those marking at last against the last price, those marking at bid/ask against
                # the book
                for i in last_rules:
                    lo, hi = bands[i]
                    if not lo < at < hi:
                        left |= 1 << i
                for i in book_rules:
                    lo, hi = bands[i]
                    if not (lo < low and high < hi):
                        left |= 1 << i
            else:  # bands not computed yet for every rule: those it has
                on_last, on_book = dispatch.on_last, dispatch.on_book
                for i, (lo, hi) in enumerate(bands):
                    if (on_last[i] and last is not None and not lo < last < hi) or (
                        on_book[i] and book is not None and not (lo < book[0] and book[1] < hi)
                    ):
                        left |= 1 << i
            one = left.bit_length() - 1  # the rule left, when it is the only one
            if left and left == 1 << one and dispatch.per_position[one]:
                try:
                    done = self._evaluate_one(account, position, event, now, out, one, rule_set, dispatch)
                except Exception as exc:  # the account fails closed; the others go on
                    self._fail_closed(account, exc, now, out)
                    done = True
                if not done:
                    self._evaluate_quote(account, cid, event, now, out, {one}, (rule_set, dispatch))
            else:
                self._evaluate_quote(account, cid, event, now, out, _bits(left), (rule_set, dispatch))
            reindex(position)  # back into the index, with the bands the evaluation left

    def _evaluate_quote(
        self,
        account: AccountState,
        cid: str,
        event: QuoteEvent,
        now: datetime,
        out: list[Action],
        left: set[int] | None,
        found: tuple[RuleSet, _Dispatch] | None = None,
    ) -> None:
        """Run the quote-sensitive rules whose band the quote left (``left``; None = all of them).

        A per-position rule re-run because the quote left its band on the quoted position is run on
        that position, and on any other whose band does not hold its own contract's quote (a band
        a non-quote event moved): on every other position its decision cannot have changed.

        The fail-closed boundary of ``_guarded``, written as a try (no guard object per crossing)."""
        try:
            if found is None:
                found = self._rules(account)
            actions: list[Action] = []
            if found is not None and found[1].quote_rules:
                dispatch = found[1]
                quote_rules, per_position = dispatch.quote_rules, dispatch.per_position
                view = self._view(account, now, event, None, found[0])
                if left is not None and len(left) == 1 and self._decide_account(
                    account, view, dispatch, left, now, out
                ):
                    return
                for i, rule in enumerate(quote_rules):
                    if left is None:
                        actions.extend(rule.evaluate(view))
                    elif i in left:
                        if per_position[i]:
                            due = self._due(account, (cid,), dispatch, i)
                            scoped = view if len(due) == len(account.position_views) else view.scoped(due)
                            actions.extend(rule.evaluate(scoped))
                        else:
                            actions.extend(rule.evaluate(view))
                if left is not None and not any(isinstance(a, LockAccount) for a in actions):
                    # No lockout started, so nothing another rule reads has changed: only the re-run
                    # rules' own bands (and breach markers) move — and of a per-position rule only
                    # on the positions the quote or a decision concerns. The view still holds: the
                    # decisions changed no position and no quote (markers and stops are read live).
                    self._commit(account, actions, now, out)
                    if actions:
                        view.decisions_committed()
                    self._compute_bands(account, view, dispatch, left, _concerned((cid,), actions))
                    return
            self._commit(account, actions, now, out)
            self._refresh(account, now)
        except Exception as exc:  # the account fails closed; the others go on
            self._fail_closed(account, exc, now, out)

    def _evaluate_one(
        self,
        account: AccountState,
        position: Position,
        event: QuoteEvent,
        now: datetime,
        out: list[Action],
        i: int,
        rules: RuleSet,
        dispatch: _Dispatch,
    ) -> bool:
        """The usual crossing on a busy day (a trailing stop's edge): the quote left the band of
        one per-position rule (quote rule ``i``) on the quoted position only, and every other
        position's band for that rule holds. Decide as ``_evaluate_quote`` would, touching that one
        position: its best price settled (the others' stay lazily pending: settling later gives the
        same price), the rule run on it alone, its one band recomputed. False (nothing done) when
        the case is another. ``position``: the quoted one (the account's position in the quoted
        contract).
        """
        if len(position.rule_bands) != len(dispatch.quote_rules):
            return False
        cid = position.contract_id
        self._best.settle(position)  # first: it republishes the position's view
        views = account.position_views
        if len(views) > 1 and not self._others_hold(account, cid, dispatch, i):
            return False
        view = AccountView(
            account,
            now,
            event,
            self._quotes,
            self.contracts,
            self.calendar,
            rules.warn_at,
            None,
            self.connection_lost_since,
        )
        rule = dispatch.quote_rules[i]
        decided = rule.decide_position(view, views[cid])
        if decided is None:
            scoped = view if len(views) == 1 else view.scoped({cid: views[cid]})
            actions, band = rule.evaluate(scoped), None
        else:
            actions, band = decided
        if actions:
            for action in actions:
                if type(action) is LockAccount:
                    self._commit(account, actions, now, out)
                    self._refresh(account, now)
                    return True
            self._commit(account, actions, now, out)
            # the view's memo is dropped before the view is read again (below), not otherwise
            if decided is None:
                view.decisions_committed()
            for action in actions:
                subject = action.subject
                if getattr(action, "contract_id", cid) != cid or (
                    subject is not None and (decided is None or _subject_contract(subject) != cid)
                ):
                    # a decision naming another contract, or a breach marker the rule did not band
                    # for: recompute as the general path does
                    view.decisions_committed()
                    self._compute_bands(account, view, dispatch, {i}, _concerned((cid,), actions))
                    return True
        if decided is None:
            band = rule.price_band(view, views[cid])
        bands = position.rule_bands
        bands[i] = _float_band(band)
        _intersect(position, bands, dispatch)  # the caller (_on_quote) re-indexes the position
        return True

    def _decide_account(
        self,
        account: AccountState,
        view: AccountView,
        dispatch: _Dispatch,
        left: set[int],
        now: datetime,
        out: list[Action],
    ) -> bool:
        """The quote left one account-level rule's band (RULE-003's day P&L): its decisions and every
        position's band for it from the rule's one reading of the account (``Rule.decide_account``),
        as evaluating, committing and recomputing that rule's bands would give. False (nothing done)
        when the rule does not offer it for this case."""
        (i,) = left
        if dispatch.per_position[i]:
            return False
        count = len(dispatch.quote_rules)
        positions = account.positions
        for position in positions.values():
            if len(position.rule_bands) != count:
                return False  # a position without bands yet: the general path computes all of them
        decided = dispatch.quote_rules[i].decide_account(view)
        if decided is None:
            return False
        actions, bands = decided
        if actions:
            self._commit(account, actions, now, out)
            if any(isinstance(a, _LOCK_ACTIONS) for a in actions):
                self._refresh(account, now)  # against the rule's word: recompute everything
                return True
            if any(getattr(a, "contract_id", None) is not None for a in actions):
                view.decisions_committed()
                self._compute_bands(account, view, dispatch, left, _concerned((), actions))
                return True
        update = self._bands.update
        for contract_id, position in positions.items():
            rule_bands = position.rule_bands
            rule_bands[i] = _float_band(bands[contract_id])
            _intersect(position, rule_bands, dispatch)
            update(position)
        return True

    def _others_hold(self, account: AccountState, cid: str, dispatch: _Dispatch, i: int) -> bool:
        """True when every position but ``cid``'s is quiet for quote rule ``i`` (``_due`` would list
        ``cid`` alone): ``_due``'s quiet test on each, unrolled (asked on every crossing of an account
        holding several positions)."""
        count = len(dispatch.quote_rules)
        on_last, on_book = dispatch.on_last[i], dispatch.on_book[i]
        quotes = self._quotes
        for contract_id, position in account.positions.items():
            if contract_id == cid:
                continue
            bands = position.rule_bands
            if len(bands) != count:
                return False
            band = bands[i]
            if band is _NEVER_QUIET:
                return False
            quote = quotes.get(contract_id)
            if quote is None:
                continue
            lo, hi = band
            if on_last:
                price = quote.last
                if price is not None and not lo < price < hi:
                    return False
            if on_book:
                price = quote.bid
                if price is not None and not lo < price < hi:
                    return False
                price = quote.ask
                if price is not None and not lo < price < hi:
                    return False
        return True

    def _due(
        self, account: AccountState, touched: Collection[str], dispatch: _Dispatch, i: int
    ) -> dict[str, PositionView]:
        """The positions on which quote rule ``i`` (a per-position rule) must be re-run after a quote
        or an event that changed the positions of the ``touched`` contracts: those, and any whose
        band for the rule does not hold its contract's current quote (in account order, as the rule
        would list them). A position without a band for the rule is due; one whose contract has had
        no quote yet is not (re-running the rule there cannot change anything)."""
        count = len(dispatch.quote_rules)
        on_last, on_book = dispatch.on_last[i], dispatch.on_book[i]
        positions, quotes = account.positions, self._quotes
        due: dict[str, PositionView] = {}
        for contract_id, view in account.position_views.items():
            if contract_id not in touched:
                bands = positions[contract_id].rule_bands
                if len(bands) == count and bands[i] is not _NEVER_QUIET:
                    quote = quotes.get(contract_id)
                    if quote is None or _holds(bands[i], quote, on_last, on_book):
                        continue  # quiet for the rule: its decision there cannot have changed
            due[contract_id] = view
        return due

    # ---- connection ------------------------------------------------------------------------

    def _on_connection(self, event: ConnectionEvent, now: datetime, out: list[Action]) -> None:
        if event.state == "lost" and self.connection_lost_since is None:
            self.connection_lost_since = now
        for account in list(self._accounts.values()):
            found = self._rules(account)
            if found is None:
                continue
            with self._guarded(account, now, out):
                view = self._view(account, now, event)
                actions = [a for r in found[1].by_trigger.get(ConnectionEvent, ()) for a in r.evaluate(view)]
                self._commit(account, actions, now, out)
        if event.state == "restored":
            self.connection_lost_since = None

    # ---- enforcement outcomes --------------------------------------------------------------

    def _on_enforcement(self, event: EnforcementOutcome, now: datetime) -> None:
        """The enforcer's report on a decided action: kept as the account's last enforcement for the
        read model. A close or flatten it gave up on is decided again ``close_retry_after`` later
        (``_retry_close``), and again after each retry that fails, for as long as it is needed: a
        lock must hold, and nothing else would close what the failed action left open (the rule's
        marker keeps it from deciding the same breach twice; the lockout gate acts only on what
        opens or grows). A partial close (a size) is not retried: its size was right only then."""
        account = self._accounts.get(event.account_id)
        if account is None:
            return
        account.last_enforcement = enforcement_status(event, now)
        if event.action not in _RETRIED_ACTIONS or event.size is not None:
            return
        if event.action == ClosePosition.kind:
            if event.contract_id is None:
                return  # written before outcomes named their contract: nothing to retry with
            key = event.contract_id
        else:
            key = ""
        earlier = account.close_retries.get(key)
        if event.outcome != OUTCOME_FAILED:
            if earlier is not None and earlier.due <= now:
                del account.close_retries[key]  # a retry that took effect: the count starts over
            return
        # A retry already decided (due passed) that failed too counts on; one still waiting is
        # replaced by this later failure, at the same count.
        attempt = 1 if earlier is None else earlier.attempt + (earlier.due <= now)
        retry = CloseRetry(
            due=now + self.close_retry_after,
            rule=event.rule,
            action=event.action,
            contract_id=event.contract_id if key else None,
            failed_action_id=event.action_id,
            detail=event.detail,
            attempt=attempt,
        )
        account.close_retries[key] = retry
        self._push(retry.due, TimerKind.CLOSE_RETRY, account.account_id, key)

    def _retry_close(self, account: AccountState, key: str, now: datetime, out: list[Action]) -> None:
        """A failed close or flatten, due again: decided again if the breach that decided it still
        stands (``_close_still_needed``): for a flatten, anything still open and a breach marker of
        the rule still set (they go when its lockout ends, and at the daily reset); for a close,
        the same position still open (its ``pos:`` marker of the rule goes when it closes or
        reverses)."""
        retry = account.close_retries.get(key)
        if retry is None:
            return
        # Kept once decided (its due time passed), so that a retry failing again counts on; dropped
        # when nothing is left to do, or by the outcome of a retry that took effect.
        if not self._close_still_needed(account, retry):
            del account.close_retries[key]
            return
        rule, aid = retry.rule, account.account_id
        lockout = next((lo for lo in account.lockouts if lo.rule == rule), None)
        why = (
            f"retry {retry.attempt}: the {retry.action} decided by {rule} did not take effect "
            f"({retry.detail})"
        )
        inputs = (
            ("retry", str(retry.attempt)),
            ("failed_action", retry.failed_action_id),
            ("failure", retry.detail),
        )
        action: Action
        if retry.contract_id is None:
            held = ", ".join(f"{p.size:+d} {cid}" for cid, p in account.positions.items()) or "none"
            state = self._describe_lock(lockout) if lockout is not None else f"{rule} still breached"
            action = Flatten(
                account_id=aid,
                rule=rule,
                reason=f"{why}; still open: {held}; {state}",
                inputs=(*inputs, ("open_positions", str(len(account.positions)))),
            )
        else:
            cid = retry.contract_id
            position = account.positions[cid]
            action = ClosePosition(
                account_id=aid,
                rule=rule,
                contract_id=cid,
                reason=f"{why}; {position.size:+d} {cid} still open",
                inputs=(*inputs, ("contract", cid), ("size", str(position.size))),
            )
        self._commit(account, [action], now, out)

    @staticmethod
    def _close_still_needed(account: AccountState, retry: CloseRetry) -> bool:
        rule = retry.rule
        if retry.contract_id is None:
            if not account.positions and not account.working_orders:
                return False
            # the rule's markers go when its lockout ends (timer, admin), and at the daily reset
            return any(marker[0] == rule for marker in account.breaches)
        cid = retry.contract_id
        if cid not in account.positions:
            return False
        if rule == LOCKOUT_RULE and account.lockouts.covering(root_of(cid)) is None:
            return False  # the lockout gate's close: the lockout has ended since
        return any(r == rule and _subject_contract(subject) == cid for r, subject in account.breaches)

    # ---- timers ----------------------------------------------------------------------------

    def _wake_rule(self, account: AccountState, rule_id: str, now: datetime, out: list[Action]) -> None:
        found = self._rules(account)
        actions: list[Action] = []
        view: AccountView | None = None
        if found is not None:
            view = self._view(account, now, None, None, found[0])
            for rule in found[1].clock_rules:
                if rule.id == rule_id:
                    actions.extend(rule.evaluate(view))
        self._commit(account, actions, now, out)
        self._refresh_after(account, now, actions, woken=rule_id, view=view, found=found)

    def _refresh_after(
        self,
        account: AccountState,
        now: datetime,
        decided: list[Action],
        woken: str | None = None,
        view: AccountView | None = None,
        found: tuple[RuleSet, _Dispatch] | None = None,
    ) -> None:
        """``_refresh`` after a timer, which moves no position and changes no input of a band: only
        what its decisions (``decided``, lockouts ended included) changed is recomputed (see
        _stale_bands). ``view``: the one the decisions were made on, if any."""
        if found is None:
            found = self._rules(account)
        stale = None
        if self.fast_path and found is not None:
            stale = _stale_bands(found[1], frozenset(), None, frozenset(), decided)
        self._refresh(
            account,
            now,
            woken=woken,
            concerned=None if stale is None else stale[1],
            only=None if stale is None else stale[0],
            view=None if view is None else view.after_decisions(bool(decided)),
            found=found,
        )

    # ---- decisions -------------------------------------------------------------------------

    def _gate(
        self,
        account: AccountState,
        event: Event,
        changes: Mapping[str, str] | None,
        now: datetime,
        kept: KeptFill | None = None,
    ) -> list[Action]:
        """The lock holds outside the tool: undo whatever opens while a lockout covers it.

        ``kept``: the signed size the execution that triggered the lockout brings this contract to
        (see _keep_triggering_fill); a position update within it is that fill's own, and stays."""
        if not account.lockouts:
            return []
        actions: list[Action] = []
        if changes:
            for cid, change in changes.items():
                if change not in GROWING_CHANGES:
                    continue
                lockout = account.lockouts.covering(root_of(cid))
                if lockout is None:
                    continue
                subject = f"pos:{cid}"
                if (LOCKOUT_RULE, subject) in account.breaches:
                    continue
                position = account.positions[cid]
                if (
                    kept is not None
                    and in_window(kept.executed, now, _KEPT_FILL_WINDOW)
                    and (kept.size > 0) == (position.size > 0)
                    and position.abs_size <= abs(kept.size)
                ):
                    continue  # the triggering execution's own change: close_positions false keeps it
                lock_text = self._describe_lock(lockout)
                reason = f"position {change} ({position.size:+d} {cid}) while locked: {lock_text}"
                actions.append(_close(account.account_id, LOCKOUT_RULE, cid, reason, subject, lockout))
        elif (
            isinstance(event, OrderEvent)
            and event.is_working
            and event.status not in _NOT_YET_WORKING
            and not _closes_only(account, event)
        ):
            lockout = account.lockouts.covering(root_of(event.contract_id))
            subject = "" if lockout is None else f"order:{event.order_id}"
            if lockout is not None and (LOCKOUT_RULE, subject) not in account.breaches:
                reason = (
                    f"order {event.order_id} in {event.contract_id} working while locked: "
                    + self._describe_lock(lockout)
                )
                actions.append(
                    CancelOrders(
                        account_id=account.account_id,
                        rule=LOCKOUT_RULE,
                        contract_id=event.contract_id,
                        reason=reason,
                        subject=subject,
                        inputs=(("order", str(event.order_id)), ("lockout_rule", lockout.rule)),
                    )
                )
        return actions

    def _describe_lock(self, lockout: Lockout) -> str:
        # Asked on every order and position event while locked (each is cancelled or closed), and
        # showing a time is slow: written once per lockout and calendar. The entry keeps both, so
        # that the lockout's id cannot be reused while it is cached.
        cached = self._lock_texts.get(id(lockout))
        if cached is not None and cached[0] is lockout and cached[1] is self.calendar:
            return cached[2]
        scope = f"{lockout.symbol} " if lockout.scope == "symbol" else ""
        if lockout.until is not None:
            end = f"until {self.calendar.show(lockout.until)}"
        else:
            end = f"until {lockout.condition} clears"
        text = f"{scope}lockout by {lockout.rule} {end} ({lockout.reason})"
        if len(self._lock_texts) >= _MAX_LOCK_TEXTS:
            self._lock_texts.clear()
        self._lock_texts[id(lockout)] = (lockout, self.calendar, text)
        return text

    def _commit(self, account: AccountState, actions: list[Action], now: datetime, out: list[Action]) -> None:
        """Record what the decisions change in the engine's own state, then emit them."""
        for action in actions:
            if isinstance(action, LockAccount):
                if action.until is not None and action.until <= now:
                    continue  # already over: nothing to lock
                lockout = Lockout(
                    account_id=account.account_id,
                    rule=action.rule,
                    reason=action.reason or "",
                    since=now,
                    scope=action.scope,
                    symbol=action.symbol,
                    until=action.until,
                    condition=action.condition,
                )
                replaced = account.lockouts.get(lockout.key)
                if account.lockouts.add(lockout) is not lockout:
                    continue  # a lockout of this rule that lasts longer is already active
                log = self._changelog()
                if log is not None:
                    log.locked(lockout, replaced)
                if lockout.until is not None:
                    self._push(lockout.until, TimerKind.LOCKOUT_END, account.account_id, lockout.key)
            elif isinstance(action, _STOP_ACTIONS):
                account.stops_requested[action.contract_id] = action.stop_price
            if action.subject is not None:
                account.breaches.add((action.rule, action.subject))
            out.append(action)

    def _end_lockout(
        self,
        account: AccountState,
        lockout: Lockout,
        now: datetime,
        why: str,
        out: list[Action],
        cause: EndCause,
    ) -> None:
        if account.lockouts.remove(lockout.key) is None:
            return
        log = self._changelog()
        if log is not None:
            log.ended(lockout, cause)
        self._clear_rule_markers(account, lockout.rule)
        reason = (
            f"{lockout.rule} lockout ended ({why}); it began {self.calendar.show(lockout.since)} "
            f"({lockout.reason})"
        )
        # An unlock row must not read as "free to trade" while another lockout still holds.
        remaining = account.lockouts.covering(lockout.symbol)
        if remaining is not None:
            end = (
                f"until {self.calendar.show(remaining.until)}"
                if remaining.until is not None
                else f"until {remaining.condition} clears"
            )
            reason += f"; still locked by {remaining.rule} {end}"
        out.append(
            Unlock(
                account_id=account.account_id,
                rule=lockout.rule,
                scope=lockout.scope,
                symbol=lockout.symbol,
                reason=reason,
            )
        )

    def _fail_closed(self, account: AccountState, exc: Exception, now: datetime, out: list[Action]) -> None:
        """Evaluation raised: treat the account as locked until an admin clears it, and say why."""
        error = f"{type(exc).__name__}: {exc}"
        first = account.failed is None
        account.failed = error
        if not first:
            return
        reason = f"evaluation failed, account locked (fail closed): {error}"
        actions: list[Action] = [
            Alert(
                account_id=account.account_id,
                rule=ENGINE_RULE,
                level="critical",
                message=reason,
                reason=reason,
            ),
            CancelOrders(account_id=account.account_id, rule=ENGINE_RULE, reason=reason),
            LockAccount(
                account_id=account.account_id,
                rule=ENGINE_RULE,
                condition=CONDITION_EVALUATION_ERROR,
                reason=reason,
            ),
        ]
        try:
            self._commit(account, actions, now, out)
        except Exception:  # pragma: no cover - bookkeeping of plain data cannot fail twice
            out.extend(actions)

    # ---- markers, bands and wake-ups ---------------------------------------------------------

    @staticmethod
    def _clear_markers(account: AccountState, subject: str, *, prefix: bool) -> None:
        # In place: most calls find nothing to remove, and rebuilding the set costs as much as
        # scanning it.
        if prefix:
            # the subject and those nested under it; the one test first rules out nearly every marker
            nested = subject + ":"
            cleared = [
                b
                for b in account.breaches
                if b[1].startswith(subject) and (b[1] == subject or b[1].startswith(nested))
            ]
        else:
            cleared = [b for b in account.breaches if b[1] == subject]
        account.breaches.difference_update(cleared)

    @staticmethod
    def _clear_rule_markers(account: AccountState, rule: str) -> None:
        account.breaches = {b for b in account.breaches if b[0] != rule}

    def _refresh(
        self,
        account: AccountState,
        now: datetime,
        woken: str | None = None,
        concerned: set[str] | None = None,
        only: Set[int] | None = None,
        view: AccountView | None = None,
        found: tuple[RuleSet, _Dispatch] | None = None,
    ) -> None:
        """Recompute the account's quiet bands and rule wake-ups after its state changed.

        ``woken`` is the rule just evaluated by its own timer: asking again for a time not after
        ``now`` would loop forever, so such an answer means "nothing more to wait for".
        ``only``: the quote rules (indices) whose bands the change can have moved (None: every band
        of the account is recomputed); the others keep theirs.
        ``concerned``: with ``only``, the contracts whose positions the change can have touched (see
        _stale_bands); the other positions keep the bands of their per-position rules (None: every
        position's bands of ``only`` are recomputed).
        ``view``: the account as it is now, when the caller has one (AccountView.after_decisions).
        ``found``: the account's rules (Engine._rules), when the caller has them at hand.
        """
        if found is None:
            found = self._rules(account)
        dispatch = found[1] if found is not None else None
        clock_rules = dispatch.clock_rules if dispatch is not None else ()
        if dispatch is None or (not dispatch.quote_rules and not clock_rules):
            for position in account.positions.values():
                position.band_lo, position.band_hi = -_INF, _INF
                position.book_lo, position.book_hi = -_INF, _INF
                position.rule_bands = []
                self._bands.update(position)
            return
        if view is None:
            view = self._view(account, now, None, None, found[0] if found is not None else None)
        if only is None:
            self._compute_bands(account, view, dispatch, None)
        elif only:
            self._compute_bands(account, view, dispatch, only, concerned)
        for rule in clock_rules:
            key = (account.account_id, rule.id)
            current = self._wakeups.get(key)
            if current is not None and current <= now:
                # Already due and not fired yet (another deadline at the same instant went first):
                # it fires, then asks again. Replacing it with a later time would drop it.
                continue
            when = rule.next_wakeup(view)
            if when is not None and when <= now:
                when = None if rule.id == woken else now
            if when != current:
                if when is None:
                    self._wakeups.pop(key, None)
                else:
                    self._wakeups[key] = when
                    self._push(when, TimerKind.WAKE, account.account_id, rule.id)

    def _compute_bands(
        self,
        account: AccountState,
        view: AccountView,
        dispatch: _Dispatch,
        only: Set[int] | None,
        concerned: set[str] | None = None,
    ) -> None:
        """Store each quote-sensitive rule's quiet band per position (all rules, or those in ``only``)
        and their intersections, the bands the quote fast path tests: one for the last price (rules
        marking at last), one for bid and ask (rules marking at mid or the exit side).

        ``concerned``: the contracts whose positions may have moved; the bands of per-position rules
        (``Rule.bands_per_position``) on other positions are kept (None: every position moved)."""
        quote_rules = dispatch.quote_rules
        count = len(quote_rules)
        views = account.position_views
        update = self._bands.update
        shared: list[int] | None = None  # the rules of ``only`` whose bands span the account
        for position in account.positions.values():
            frozen = views[position.contract_id]
            bands = position.rule_bands
            if only is None or len(bands) != count:
                bands = position.rule_bands = [_NEVER_QUIET] * count
                for i in range(count):
                    bands[i] = _float_band(quote_rules[i].price_band(view, frozen))
                _intersect(position, bands, dispatch)
                update(position)
                continue
            if concerned is None or position.contract_id in concerned:
                todo: Iterable[int] = only
            else:
                if shared is None:
                    per_position = dispatch.per_position
                    shared = [i for i in only if not per_position[i]]
                todo = shared
                if not todo:
                    continue
            moved = False
            for i in todo:
                band = _float_band(quote_rules[i].price_band(view, frozen))
                if band != bands[i]:
                    bands[i] = band
                    moved = True
            if moved:  # else the intersections and the index already hold these bands
                _intersect(position, bands, dispatch)
                update(position)


_NEVER_QUIET = (_INF, -_INF)
_NO_CONTRACTS: frozenset[str] = frozenset()
_STOP_ACTIONS = (PlaceStop, ModifyStop)  # a tuple: ``A | B`` would build a union per test
_LOCK_ACTIONS = (LockAccount, Unlock)


def _intersect(position: Position, bands: list[tuple[float, float]], dispatch: _Dispatch) -> None:
    """Store the intersections of a position's rule bands: one for the last price (rules marking at
    last), one for bid and ask (rules marking at mid or the exit side)."""
    last_lo = book_lo = -_INF
    last_hi = book_hi = _INF
    for i in dispatch.last_rules:
        lo, hi = bands[i]
        if lo > last_lo:
            last_lo = lo
        if hi < last_hi:
            last_hi = hi
    for i in dispatch.book_rules:
        lo, hi = bands[i]
        if lo > book_lo:
            book_lo = lo
        if hi < book_hi:
            book_hi = hi
    position.band_lo, position.band_hi = last_lo, last_hi
    position.book_lo, position.book_hi = book_lo, book_hi


def _bits(mask: int) -> set[int]:
    """The indices of the bits set in ``mask`` (the quote rules a crossing left, see _on_quote)."""
    return {i for i in range(mask.bit_length()) if mask >> i & 1}


def _concerned(touched: Iterable[str], actions: list[Action]) -> set[str] | None:
    """The contracts an event that touched ``touched`` and the decisions it led to concern (None:
    the account).

    A per-position band reads its position, its contract's quote and orders, the stop requested
    for it and the breach markers whose subject names it (``pos:<contract>...``): an action naming
    no contract (an account alert, a flatten or cancel of every order, executed later through
    events) changes none of them. Lockouts taken or ended are treated as concerning everything."""
    contracts = set(touched)
    for action in actions:
        if isinstance(action, _LOCK_ACTIONS):
            return None
        contract_id = _contract_named(action)
        if contract_id is not None:
            contracts.add(contract_id)
    return contracts


def _contract_named(action: Action) -> str | None:
    """The contract an action names: its own, or the one its breach subject is about."""
    contract_id: str | None = getattr(action, "contract_id", None)
    if contract_id is None and action.subject is not None:
        return _subject_contract(action.subject)
    return contract_id


def _subject_contract(subject: str) -> str | None:
    """The contract a breach subject is about (``pos:<contract>...``); None for the account's."""
    return subject.split(":", 2)[1] if subject.startswith("pos:") else None


def _stale_bands(
    dispatch: _Dispatch, moved: Set[str], changed: str | None, orders: Set[str], actions: Iterable[Action]
) -> tuple[set[int], set[str] | None]:
    """The quote rules (indices) whose quiet bands an account event (or a timer) can have moved,
    and the contracts on which the per-position ones can have moved (None: every contract).

    ``moved``: the contracts whose position the event changed (every band reads the positions: a
    per-position band its own, an account-level band all of them); ``changed``: what else the event
    changed (a BAND_INPUTS name: the rules reading it), with ``orders`` the contracts of the orders
    an order update changed. A decision changes its rule's breach markers (and other rules'
    markers, for a band reading them), a requested stop the stops; one naming a contract concerns
    it. A lockout taken is such a decision: no band reads the lockouts (they are no BAND_INPUTS
    name), only its marker changes. A lockout ended (``Unlock``) clears its rule's markers on every
    contract: that rule's bands, and those reading markers, on every position. A band that reads
    nothing the event changed is kept: it was computed from the same inputs, but for quotes still
    inside it."""
    readers = dispatch.readers
    rules: set[int] = set(dispatch.every_rule) if moved else set()
    contracts = set(moved)
    if changed is not None:
        rules |= readers[changed]
        if changed == BAND_ORDERS:
            contracts |= orders
    kinds: set[str] = set()
    everywhere = False
    for action in actions:
        contract_id = _contract_named(action)
        if contract_id is not None:
            contracts.add(contract_id)
        ended = isinstance(action, Unlock)  # its rule's markers are cleared on every contract
        if ended:
            everywhere = True
        if ended or action.subject is not None:
            kinds.add(BAND_MARKERS)
            own = dispatch.quote_rule_index.get(action.rule)
            if own is not None:
                rules.add(own)
        if isinstance(action, _STOP_ACTIONS):
            kinds.add(BAND_STOPS)
    for kind in kinds:
        rules |= readers[kind]
    return rules, None if everywhere else contracts


def _holds(band: tuple[float, float], quote: MarketQuote, on_last: bool, on_book: bool) -> bool:
    """True when ``quote`` lies inside ``band`` as the index tests it (Engine._on_quote)."""
    lo, hi = band
    if on_last and quote.last is not None and not lo < quote.last < hi:
        return False
    if on_book:
        bid, ask = quote.bid, quote.ask
        if bid is not None and not lo < bid < hi:
            return False
        if ask is not None and not lo < ask < hi:
            return False
    return True


def _float_band(band: Band | None) -> tuple[float, float]:
    """A rule's band as floats, tested strictly (lo < price < hi) against received prices (None: no
    quote is ever quiet). An exclusive edge is shrunk inwards by a tiny margin, so that float rounding
    can never put a price exactly on it "inside"; an inclusive edge becomes the next float beyond the
    last received price whose exact value is on or inside it (see _inclusive_hi)."""
    if band is _FLOATED[0]:
        # the same band object again: every copy of a copied trade crosses it
        remembered: tuple[float, float] = _FLOATED[1]
        return remembered
    if band is _FLOATED[2]:  # the one before (a copy holding two contracts crosses two bands)
        remembered = _FLOATED[3]
        return remembered
    if band is None:
        return _NEVER_QUIET
    lo, hi = band
    lo_f, hi_f = -_INF, _INF
    if lo is not None:
        if type(lo) is Inclusive:
            lo_f = -_inclusive_hi(-lo.price)
        else:
            f = float(lo)  # type: ignore[arg-type]
            lo_f = f + abs(f) * _BAND_MARGIN + _BAND_MARGIN
    if hi is not None:
        if type(hi) is Inclusive:
            hi_f = _inclusive_hi(hi.price)
        else:
            f = float(hi)  # type: ignore[arg-type]
            hi_f = f - abs(f) * _BAND_MARGIN - _BAND_MARGIN
    floats = (lo_f, hi_f)
    _FLOATED[2], _FLOATED[3] = _FLOATED[0], _FLOATED[1]
    _FLOATED[0], _FLOATED[1] = band, floats
    return floats


# _float_band's last two answers, [band, floats, band before, its floats]: a pure function's memo of
# two, by the band's identity (a rule that remembers a crossing hands the same bands to each copy of
# a copied trade, one per contract held). Two slots: a miss, the usual case, costs four stores.
_FLOATED: list[Any] = [None, _NEVER_QUIET, None, _NEVER_QUIET]


def _inclusive_hi(edge: Decimal) -> float:
    """The float h such that a received price p is strictly below h exactly when its exact value
    (``to_decimal(p)``, the shortest repr) is at most ``edge``: one step above the largest such p.
    (Rounding to the nearest float is monotonic, so the largest such p is float(edge) or the float
    just below it.) Remembered per edge: the trailing edges of a contract's positions repeat."""
    h = _INCLUSIVE_HI.get(edge)
    if h is None:
        f = float(edge)
        if to_decimal(f) > edge:
            f = math.nextafter(f, -_INF)
        h = math.nextafter(f, _INF)
        if len(_INCLUSIVE_HI) >= _INCLUSIVE_HI_KEPT:
            _INCLUSIVE_HI.clear()
        _INCLUSIVE_HI[edge] = h
    return h


# _inclusive_hi's answers by edge (a pure function's memo: equal Decimals give the same float).
_INCLUSIVE_HI: dict[Decimal, float] = {}
_INCLUSIVE_HI_KEPT = 4096


def _closes_only(account: AccountState, order: OrderEvent) -> bool:
    """A market order that can only reduce the open position: the flatten itself (closeContract
    creates one), which the gate must not cancel. Resting orders are cancelled even when they would
    reduce: a stop or limit can outlive the position and open a new one."""
    position = account.positions.get(order.contract_id)
    if position is None or order.type != OrderType.MARKET:
        return False
    closing_side = OrderSide.SELL if position.size > 0 else OrderSide.BUY
    return order.side == closing_side and order.size <= position.abs_size


def _close(account_id: int, rule: str, cid: str, reason: str, subject: str, lockout: Lockout) -> Action:
    return ClosePosition(
        account_id=account_id,
        rule=rule,
        contract_id=cid,
        size=None,
        reason=reason,
        subject=subject,
        inputs=(("lockout_rule", lockout.rule), ("lockout_reason", lockout.reason)),
    )


class _AccountGuard:
    """The fail-closed boundary around one account's work (see Engine._guarded).

    A class rather than a contextmanager generator: it is entered on every evaluated quote."""

    __slots__ = ("account", "engine", "now", "out")

    def __init__(self, engine: Engine, account: AccountState, now: datetime, out: list[Action]) -> None:
        self.engine = engine
        self.account = account
        self.now = now
        self.out = out

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if not isinstance(exc, Exception):
            return False  # no error (or KeyboardInterrupt / SystemExit: not ours to swallow)
        self.engine._fail_closed(self.account, exc, self.now, self.out)
        return True


def _undefined_value(event: Event) -> tuple[str, str, int, str] | None:
    """(target, field, value, what it would have meant) of an enum value whose meaning is not
    certain, or None. A flat position (size 0) is certain whatever its type says."""
    if isinstance(event, PositionEvent) and event.size and event.type not in _POSITION_TYPES:
        return "GatewayUserPosition", "type", event.type, "long or short"
    if isinstance(event, OrderEvent) and event.status not in _ORDER_STATUSES:
        return "GatewayUserOrder", "status", event.status, "working or done"
    return None


def _undefined_alert(
    account_id: int,
    event: PositionEvent | OrderEvent | AccountEvent | TradeEvent,
    target: str,
    field: str,
    value: int,
    meaning: str,
) -> Alert:
    if isinstance(event, PositionEvent):
        subject = f"position {event.position_id} ({event.size} {event.contract_id})"
        known = "type is 1 (long) or 2 (short)"
    else:
        assert isinstance(event, OrderEvent)
        subject = f"order {event.order_id} in {event.contract_id}"
        known = "status is one of " + ", ".join(
            f"{s.value} ({s.name.lower()})" for s in sorted(_ORDER_STATUSES)
        )
    message = (
        f"{target} for {subject} has field {field} = {value}, which does not say {meaning}: the update is "
        f"not applied (nothing is guessed); the engine keeps what it knew until an update whose {known}"
    )
    return Alert(
        account_id=account_id,
        rule=INPUT_RULE,
        level="warning",
        message=message,
        reason=message,
        inputs=(("target", target), ("field", field), ("value", str(value))),
    )
