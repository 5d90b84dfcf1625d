"""What a rule is and what it may read: the ``Rule`` base, its quiet ``Band``, and the read-only
``AccountView`` protocol with frozen ``PositionView``/``DayView`` records.

Rules import only ``risk_manager.domain`` and this module (plus the helpers in ``rules/base.py``).
The engine implements ``AccountView`` (engine/view.py) and hands rules ``PositionView`` records,
never its own mutable positions (which carry the quote fast path's band fields): a rule cannot
change engine state, and the engine is free to change how it keeps it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from risk_manager.domain.actions import Action
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractSpec, ContractTable
from risk_manager.domain.events import Event, OrderEvent
from risk_manager.domain.lockouts import Lockout
from risk_manager.domain.position_figures import PositionFigures
from risk_manager.domain.records import fast_init
from risk_manager.domain.status import RuleGauge
from risk_manager.domain.values import TrueFalseOnly

PRICE_SOURCES = ("last", "mid", "exit_side")
# The quote prices a mark of each price source is made of: a band is tested against these only.
QUOTE_PRICES: dict[str, frozenset[str]] = {
    "last": frozenset({"last"}),
    "mid": frozenset({"bid", "ask"}),
    "exit_side": frozenset({"bid", "ask"}),
}
ALL_QUOTE_PRICES = frozenset({"last", "bid", "ask"})

# What a quiet band may read besides the positions, their quotes and its own rule's breach markers
# (``Rule.band_reads``): after an event that changed none of what a band reads, the engine keeps it.
BAND_ORDERS = "orders"  # the working orders
BAND_STOPS = "stops"  # the stops the engine requested (stop_requested)
BAND_DAY = "day"  # the trading day's counters: realized P&L, fees, executions
BAND_ACCOUNT = "account"  # the balance (and the day's opening balance), canTrade
BAND_MARKERS = "markers"  # other rules' breach markers
BAND_INPUTS = frozenset({BAND_ORDERS, BAND_STOPS, BAND_DAY, BAND_ACCOUNT, BAND_MARKERS})


@fast_init
@dataclass(frozen=True, slots=True)
class Inclusive:
    """A band edge that is itself quiet: a mark exactly at ``price`` cannot change the decision,
    only one beyond it can (RULE-012's trailing edge: the stop moves once the best price passes it).
    A plain Decimal edge is exclusive: the decision may change at the edge itself (a limit reached)."""

    price: Decimal


# A quiet band: (lowest, highest) mark price of one position inside which the rule's decision
# cannot change on a quote; None on a side means unbounded. An edge is exclusive (a mark on it is
# not quiet) unless wrapped in ``Inclusive``. A rule that cannot say returns None instead of a band
# and is then evaluated on every quote of the contract.
Edge = Decimal | Inclusive | None
Band = tuple[Edge, Edge]


@fast_init
@dataclass(frozen=True, slots=True)
class PositionView(PositionFigures):
    """One open position as a rule sees it. ``size`` is signed: positive long, negative short."""

    contract_id: str
    root: str
    spec: ContractSpec | None
    size: int
    average_price: Decimal
    opened_at: datetime
    position_id: int = 0
    # Most favourable last price since entry (RULE-012 trailing).
    best_price: Decimal | None = None
    # Contracts closed by executions whose position update has not arrived yet (see engine/state.py).
    closing: int = 0


@dataclass(frozen=True, slots=True)
class DayView:
    """The trading day's counters: [start, end) between two daily resets, labelled by its date."""

    label: date
    start: datetime
    end: datetime
    realized: Decimal  # sum of profitAndLoss; fees and commissions not deducted
    fees: Decimal
    commissions: Decimal
    trade_count: int

    @property
    def costs(self) -> Decimal:
        return self.fees + self.commissions


T = TypeVar("T")


class AccountView(Protocol):
    """What a rule may read of one account at one instant (the engine's view implements it).

    ``event`` is the event being applied (None when a timer woke the rule), ``now`` the engine time,
    ``changes`` what the event did to positions: contract id -> "opened" | "grew" | "reversed" |
    "reduced" | "closed" | "unchanged".
    """

    @property
    def account_id(self) -> int: ...
    @property
    def now(self) -> datetime: ...
    @property
    def event(self) -> Event | None: ...
    @property
    def changes(self) -> Mapping[str, str]: ...
    @property
    def calendar(self) -> TradingCalendar: ...
    @property
    def contracts(self) -> ContractTable: ...
    @property
    def warn_at(self) -> tuple[Decimal, ...]: ...
    @property
    def connection_lost_since(self) -> datetime | None: ...
    @property
    def can_trade(self) -> bool | None: ...
    @property
    def day(self) -> DayView: ...
    @property
    def next_reset(self) -> datetime: ...
    def realized_day(self, include_fees: bool) -> Decimal: ...
    def realized_day_from_balance(self, include_fees: bool) -> Decimal | None: ...

    @property
    def positions(self) -> Mapping[str, PositionView]: ...
    def position(self, contract_id: str) -> PositionView | None: ...
    def spec(self, contract_id: str) -> ContractSpec | None: ...
    def mark(self, position: PositionView, source: str = "last") -> Decimal | None: ...
    def unrealized(self, position: PositionView, source: str = "last") -> Decimal | None: ...
    def unrealized_total(self, source: str = "last") -> tuple[Decimal, int]: ...

    @property
    def working_orders(self) -> Mapping[int, OrderEvent]: ...
    def orders_in(self, contract_id: str) -> Iterable[OrderEvent]: ...
    def protective_stop(self, position: PositionView) -> OrderEvent | None: ...
    def stop_requested(self, contract_id: str) -> Decimal | None: ...

    def executions_in_last(self, window: timedelta) -> int: ...
    @property
    def executions_today(self) -> int: ...

    @property
    def lockouts(self) -> list[Lockout]: ...
    def locked(self, contract_id: str | None = None) -> Lockout | None: ...
    def lockout_of(self, rule: str, scope: str = "account", symbol: str | None = None) -> Lockout | None: ...
    def breached(self, rule: str, subject: str) -> bool: ...

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per ``key`` for this view (a view lives for one evaluation or one
        computation of bands): an account-level band asks the same sums for every position."""
        ...


class RuleConfig(TrueFalseOnly, BaseModel):
    """Base of every rule's config: unknown keys are errors (a typo must not disable a rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False


C = TypeVar("C", bound=RuleConfig)


class Rule(ABC, Generic[C]):
    """A config model, a pure ``evaluate`` returning actions, a ``describe`` line, a ``gauge``.

    Rules read one account through an AccountView and return decisions; the engine records breaches
    (once per breach), applies lockouts and schedules wake-ups; the daemon's enforcer executes.
    """

    id: ClassVar[str]  # "RULE-003"
    key: ClassVar[str]  # config name, "daily_realized_loss"
    config_model: ClassVar[type[RuleConfig]]
    # Event types that wake the rule. ClockEvent here means "evaluate me at next_wakeup()".
    triggers: ClassVar[frozenset[type[Event]]]

    def __init__(self, config: C) -> None:
        self.config: C = config

    @property
    def quote_sensitive(self) -> bool:
        """True when a quote can change this rule's decision (then it must give price bands)."""
        return False

    @abstractmethod
    def evaluate(self, view: AccountView) -> list[Action]:
        """Decisions for the account as it is now (after the event was applied)."""

    @abstractmethod
    def describe(self) -> str:
        """One line for start-up and `config check`: id, what it does, with which limits."""

    def gauge(self, view: AccountView) -> RuleGauge | None:
        """Where the account stands against this rule's limit now (the read model), or None for a
        rule without a running value (windows, blocks, grace periods)."""
        return None

    def price_band(self, view: AccountView, position: PositionView) -> Band | None:
        """Quiet band of ``position`` for this rule (quote-sensitive rules only)."""
        return (None, None)

    def decide_position(
        self, view: AccountView, position: PositionView
    ) -> tuple[list[Action], Band | None] | None:
        """Optional, for a per-position rule (``bands_per_position``) whose band a quote left: its
        decisions on ``position`` alone — what ``evaluate`` returns on a view listing only that
        position — and the band ``price_band`` will give the position once the engine has committed
        them (breach markers, requested stops). The engine's crossing path uses it to read the same
        figures once instead of twice. None (the default): not offered; the engine evaluates,
        commits, then asks ``price_band``."""
        return None

    def decide_account(self, view: AccountView) -> tuple[list[Action], Mapping[str, Band | None]] | None:
        """Optional, for an account-level rule (not ``bands_per_position``) whose band a quote left:
        ``evaluate``'s decisions and, by contract, the band ``price_band`` will give every listed
        position once the engine has committed them, from one reading of the account. None (the
        default, or a decision that changes more than this rule's bands, such as a lockout): the
        engine evaluates, commits, then asks ``price_band`` of each position."""
        return None

    @property
    def bands_per_position(self) -> bool:
        """True when a position's band depends only on that position (its contract's quote, its
        orders, its breach markers): a quote of another contract cannot move it. False for sums
        over the account (RULE-003/013), whose bands share the distance to the limit. Such a rule
        decides on the positions its view lists, each on its own: listing none, it decides nothing
        (the engine does not ask it then)."""
        return False

    @property
    def band_reads(self) -> frozenset[str]:
        """What the rule's quiet band reads (``BAND_INPUTS`` names) besides the positions (its own,
        or all of them for an account-level band), their quotes and the rule's own breach markers.
        The engine recomputes a band after an account event only when the event or its decisions
        changed one of these, a position the band reads, or the rule's markers: a rule that leaves
        one out must not read it. Default: everything."""
        return BAND_INPUTS

    @property
    def band_prices(self) -> frozenset[str]:
        """The quote prices ("last", "bid", "ask") the rule's marks are made of: its band is tested
        against these only (a last-price rule is not woken by the book moving)."""
        return ALL_QUOTE_PRICES

    def next_wakeup(self, view: AccountView) -> datetime | None:
        """When this rule must be evaluated again without an event (timers), or None."""
        return None

    def lockout_holds(self, lockout: Lockout) -> bool:
        """Asked on a config reload for this rule's condition lockouts: False ends the lockout."""
        return True
