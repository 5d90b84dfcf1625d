"""The engine's implementation of ``rules.api.AccountView``: one account at one instant."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from types import MappingProxyType
from typing import Any, TypeVar

from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractSpec, ContractTable, root_of
from risk_manager.domain.events import PROTECTIVE_TYPES, Event, OrderEvent, OrderSide
from risk_manager.domain.lockouts import Lockout
from risk_manager.domain.money import ZERO
from risk_manager.domain.windows import count_sorted_in_window
from risk_manager.engine.state import AccountState, MarketQuote
from risk_manager.rules.api import DayView, PositionView

T = TypeVar("T")
_first = itemgetter(0)  # of a (time, order id) execution entry
_SELL, _BUY = OrderSide.SELL, OrderSide.BUY
# The changes of a view made for no position event (read only, like every view's): one shared, not an
# empty dict per view (a quote crossing makes a view per account crossed).
_NO_CHANGES: Mapping[str, str] = MappingProxyType({})


class AccountView:
    """What a rule may read: the account's positions, orders, day counters, lockouts, quotes, time.

    ``event`` is the event being applied (None when a timer woke the rule), ``now`` the engine time.
    ``changes`` tells what the event did to positions: contract id -> "opened" | "grew" | "reversed"
    | "reduced" | "closed" | "unchanged".
    """

    __slots__ = (
        "_memo",
        "_positions",
        "_quotes",
        "_state",
        "_totals",
        "calendar",
        "changes",
        "connection_lost_since",
        "contracts",
        "event",
        "now",
        "warn_at",
    )

    def __init__(
        self,
        state: AccountState,
        now: datetime,
        event: Event | None,
        quotes: Mapping[str, MarketQuote],
        contracts: ContractTable,
        calendar: TradingCalendar,
        warn_at: tuple[Decimal, ...],
        changes: Mapping[str, str] | None = None,
        connection_lost_since: datetime | None = None,
    ) -> None:
        self._state = state
        # What ``positions`` lists: every open position, or a subset (see ``scoped``).
        self._positions: Mapping[str, PositionView] = state.position_views
        self._quotes = quotes
        # unrealized_total by price source: a view lives for one evaluation (or one computation of
        # bands), during which the account does not change, and account-level bands ask once per
        # position.
        self._totals: dict[str, tuple[Decimal, int]] = {}
        self._memo: dict[Hashable, Any] = {}  # see memo(); emptied when decisions are committed
        self.now = now
        self.event = event
        self.contracts = contracts
        self.calendar = calendar
        self.warn_at = warn_at
        self.changes: Mapping[str, str] = changes or _NO_CHANGES
        # When the gateway connection was lost (None while connected): RULE-010 reports outages.
        self.connection_lost_since = connection_lost_since

    # ---- identity and account --------------------------------------------------------------

    @property
    def account_id(self) -> int:
        return self._state.account_id

    @property
    def can_trade(self) -> bool | None:
        return self._state.can_trade

    @property
    def day(self) -> DayView:
        return self._state.day.frozen()

    @property
    def next_reset(self) -> datetime:
        return self._state.day.end

    def realized_day(self, include_fees: bool) -> Decimal:
        return self._state.day.net_realized(include_fees)

    def realized_day_from_balance(self, include_fees: bool) -> Decimal | None:
        """The day's realized P&L as the account balance tells it: its change since the day began,
        which is net of fees and commissions (they are added back without ``include_fees``).
        None while the balance or the day's opening balance is unknown."""
        day = self._state.day
        change = day.balance_change(self._state.balance)
        if change is None:
            return None
        return change if include_fees else change + day.costs

    # ---- positions, quotes, P&L -------------------------------------------------------------

    @property
    def positions(self) -> Mapping[str, PositionView]:
        return self._positions

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per key while the account does not change (see rules.api)."""
        memo = self._memo
        if key in memo:
            return memo[key]  # type: ignore[no-any-return]
        value = memo[key] = compute()
        return value

    def decisions_committed(self) -> None:
        """The engine recorded decisions (breach markers, requested stops) since this view was made:
        what was memoized may depend on them."""
        self._memo.clear()

    def scoped(self, positions: Mapping[str, PositionView]) -> AccountView:
        """The same view listing only ``positions`` in ``positions`` (everything else, account
        sums included, unchanged): for a per-position rule (``Rule.bands_per_position``) whose
        decision on the other positions a quote cannot have changed."""
        view = AccountView.__new__(AccountView)
        view._state, view._quotes = self._state, self._quotes
        view._totals, view._memo = self._totals, self._memo
        view._positions = positions
        view.now, view.event, view.changes = self.now, self.event, self.changes
        view.contracts, view.calendar, view.warn_at = self.contracts, self.calendar, self.warn_at
        view.connection_lost_since = self.connection_lost_since
        return view

    def after_decisions(self, committed: bool) -> AccountView:
        """This view, turned into the same account at the same instant as a timer or a refresh sees
        it (no event, no changes, every position), keeping what it already computed: the engine's
        band and wake-up refresh right after an event's evaluation, when the view no longer serves
        the event (changed in place: a copy per event costs as much as a rule). ``committed``:
        decisions were recorded since this view was made (the memo is dropped; the unrealized sums
        hold: decisions move no position and no quote)."""
        if committed:
            self.decisions_committed()
        self._positions = self._state.position_views
        self.event, self.changes = None, _NO_CHANGES
        return self

    def position(self, contract_id: str) -> PositionView | None:
        return self._state.position_views.get(contract_id)

    def spec(self, contract_id: str) -> ContractSpec | None:
        return self.contracts.for_contract(contract_id)

    def quote(self, contract_id: str) -> MarketQuote | None:
        return self._quotes.get(contract_id)

    def mark(self, position: PositionView, source: str = "last") -> Decimal | None:
        quote = self._quotes.get(position.contract_id)
        return None if quote is None else quote.mark(source, position.size > 0)

    def unrealized(self, position: PositionView, source: str = "last") -> Decimal | None:
        """Position P&L at the current mark; None when unknown (no quote yet, or unknown tick spec)."""
        mark = self.mark(position, source)
        return None if mark is None else position.unrealized_at(mark)

    def unrealized_total(self, source: str = "last") -> tuple[Decimal, int]:
        """(sum of known unrealized P&L, number of positions whose P&L is unknown)."""
        cached = self._totals.get(source)
        if cached is not None:
            return cached
        total, unknown = ZERO, 0
        for position in self._state.position_views.values():
            pnl = self.unrealized(position, source)
            if pnl is None:
                unknown += 1
            else:
                total += pnl
        self._totals[source] = (total, unknown)
        return total, unknown

    # ---- orders ----------------------------------------------------------------------------

    @property
    def working_orders(self) -> Mapping[int, OrderEvent]:
        return self._state.working_orders

    def orders_in(self, contract_id: str) -> Iterable[OrderEvent]:
        return (o for o in self._state.working_orders.values() if o.contract_id == contract_id)

    def protective_stop(self, position: PositionView) -> OrderEvent | None:
        """A working Stop/TrailingStop on the position's contract, on the closing side."""
        stops = self._state.protective_stops
        if stops is None:
            # Asked for every position by RULE-008 and RULE-012, on every crossing and account
            # event, while orders change far less often: read once from the orders and kept on the
            # account until a stop order changes (Engine._apply_order drops it, or adds a new one),
            # the first matching one in order kept, as a scan would find it.
            stops = self._state.protective_stops = {}
            for order in self._state.working_orders.values():
                if order.type in PROTECTIVE_TYPES:
                    stops.setdefault((order.contract_id, order.side), order)
        return stops.get((position.contract_id, _SELL if position.size > 0 else _BUY))

    def stop_requested(self, contract_id: str) -> Decimal | None:
        """RULE-012: the last stop price the engine requested for this contract's position."""
        return self._state.stops_requested.get(contract_id)

    # ---- executions (RULE-006) ---------------------------------------------------------------

    def executions_in_last(self, window: timedelta) -> int:
        """Distinct orders first executed in the half-open window ``(now - window, now]`` (at most
        the last hour is kept)."""
        # Kept in time order, none after now (an execution is never later than the engine time it
        # was counted at).
        return count_sorted_in_window(self._state.recent_orders, self.now, window, _first)

    @property
    def executions_today(self) -> int:
        return len(self._state.day.order_first_fill)

    # ---- lockouts and breaches ----------------------------------------------------------------

    @property
    def lockouts(self) -> list[Lockout]:
        return list(self._state.lockouts)

    def locked(self, contract_id: str | None = None) -> Lockout | None:
        """The lockout forbidding trading (in ``contract_id``'s symbol when given), if any."""
        return self._state.lockouts.covering(None if contract_id is None else root_of(contract_id))

    def lockout_of(self, rule: str, scope: str = "account", symbol: str | None = None) -> Lockout | None:
        return self._state.lockouts.get((rule, scope, symbol))

    def breached(self, rule: str, subject: str) -> bool:
        """True when this breach was already enforced and has not re-armed (once per breach)."""
        return (rule, subject) in self._state.breaches
