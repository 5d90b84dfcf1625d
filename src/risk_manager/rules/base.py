"""What every rule is: a config model, a pure ``evaluate`` returning actions, a ``describe`` line.

Rules read one account through an AccountView and return decisions; the engine records breaches
(once per breach), applies lockouts and schedules wake-ups; the daemon's enforcer executes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from risk_manager.config.types import TrueFalseOnly
from risk_manager.domain.actions import Action, Alert, CancelOrders, Flatten, Inputs, LockAccount
from risk_manager.domain.events import Event
from risk_manager.domain.lockouts import Lockout
from risk_manager.domain.money import money
from risk_manager.engine.state import Position
from risk_manager.engine.view import AccountView

PRICE_SOURCES = ("last", "mid", "exit_side")
# The quote prices a mark of each price source is made of: a band is tested against these only.
QUOTE_PRICES: dict[str, frozenset[str]] = {
    "last": frozenset({"last"}),
    "mid": frozenset({"bid", "ask"}),
    "exit_side": frozenset({"bid", "ask"}),
}
ALL_QUOTE_PRICES = frozenset({"last", "bid", "ask"})

# A quiet band: (lowest, highest) mark price of one position strictly inside which the rule's
# decision cannot change on a quote; None on a side means unbounded. A rule that cannot say
# returns None instead of a band and is then evaluated on every quote of the contract.
Band = tuple[Decimal | None, Decimal | None]


class RuleConfig(TrueFalseOnly, BaseModel):
    """Base of every rule's config: unknown keys are errors (a typo must not disable a rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False


C = TypeVar("C", bound=RuleConfig)


class Rule(ABC, Generic[C]):
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

    def price_band(self, view: AccountView, position: Position) -> Band | None:
        """Quiet band of ``position`` for this rule (quote-sensitive rules only)."""
        return (None, None)

    @property
    def bands_per_position(self) -> bool:
        """True when a position's band depends only on that position (its contract's quote, its
        orders, its breach markers): a quote of another contract cannot move it. False for sums
        over the account (RULE-003/013), whose bands share the distance to the limit."""
        return False

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


# ---- helpers shared by the limit rules ----------------------------------------------------------


def hard_lockout(
    view: AccountView,
    rule: str,
    reason: str,
    inputs: Inputs,
    subject: str,
    *,
    until: datetime | None = None,
    condition: str | None = None,
    flatten: bool = True,
) -> list[Action]:
    """An account-lockout decision: flatten (hard lockouts, or cooldowns set to close positions),
    cancel every order, lock the account."""
    aid = view.account_id
    closing: list[Action] = [
        Flatten(account_id=aid, rule=rule, reason=reason, inputs=inputs, subject=subject)
    ]
    return [
        *(closing if flatten else []),
        CancelOrders(account_id=aid, rule=rule, reason=reason, inputs=inputs, subject=subject),
        LockAccount(
            account_id=aid,
            rule=rule,
            reason=reason,
            inputs=inputs,
            subject=subject,
            scope="account",
            until=until,
            condition=condition,
        ),
    ]


def due_warning(
    view: AccountView, rule: str, subject: str, reached: Callable[[Decimal], bool]
) -> Decimal | None:
    """The warning fraction to announce now: the highest one ``reached`` that has not been passed.

    A fraction counts as passed once it or a higher one was announced today, so a jump across
    several thresholds gives one alert (for the highest), not a burst, and none is repeated.
    """
    due: Decimal | None = None
    for fraction in sorted(view.warn_at):
        if view.breached(rule, f"{subject}:warn:{fraction}"):
            due = None  # announced: it and everything below it are passed
        elif reached(fraction):
            due = fraction
    return due


def warning_alert(
    view: AccountView, rule: str, subject: str, fraction: Decimal, message: str, inputs: Inputs
) -> Alert:
    return Alert(
        account_id=view.account_id,
        rule=rule,
        level="warning",
        message=message,
        reason=message,
        subject=f"{subject}:warn:{fraction}",
        inputs=(*inputs, ("fraction", str(fraction))),
    )


def warning_alerts(
    view: AccountView,
    rule: str,
    subject: str,
    value: Decimal,
    limit: Decimal,
    label: str,
) -> list[Alert]:
    """At most one alert per configured fraction of ``limit`` per day, as ``value`` reaches it.

    Works for loss limits (negative: reached when value <= fraction * limit) and targets (positive:
    value >= fraction * limit). ``subject`` is the breach subject the warning belongs to.
    """
    fraction = due_warning(
        view, rule, subject, lambda f: value <= limit * f if limit < 0 else value >= limit * f
    )
    if fraction is None:
        return []
    of = "limit" if limit < 0 else "target"
    message = f"{label} {money(value)} reached {int(fraction * 100)}% of {of} {money(limit)}"
    return [
        warning_alert(
            view, rule, subject, fraction, message, (("value", money(value)), ("limit", money(limit)))
        )
    ]


def next_threshold(view: AccountView, rule: str, subject: str, value: Decimal, limit: Decimal) -> Decimal:
    """The nearest level ahead of ``value`` that would produce a decision: the limit itself or an
    unfired warning threshold. Used to compute quiet bands."""
    announced = [f for f in view.warn_at if view.breached(rule, f"{subject}:warn:{f}")]
    passed = max(announced, default=Decimal(0))
    levels = [limit] + [limit * f for f in view.warn_at if f > passed]
    if limit < 0:
        ahead = [lv for lv in levels if lv < value]
        return max(ahead) if ahead else limit
    ahead = [lv for lv in levels if lv > value]
    return min(ahead) if ahead else limit


def band_for_pnl(
    position: Position, pnl_now: Decimal, pnl_low: Decimal | None, pnl_high: Decimal | None, mark_now: Decimal
) -> Band:
    """Translate a quiet range of one position's P&L (pnl_low, pnl_high) into a mark-price band."""
    if position.spec is None or position.open_size == 0:
        return (None, None)
    per_point = position.open_size * position.spec.point_value  # signed: P&L change per point of price
    lo: Decimal | None = None
    hi: Decimal | None = None
    for pnl_edge in (pnl_low, pnl_high):
        if pnl_edge is None:
            continue
        price = mark_now + (pnl_edge - pnl_now) / per_point
        if (pnl_edge < pnl_now) == (per_point > 0):
            lo = price if lo is None else max(lo, price)
        else:
            hi = price if hi is None else min(hi, price)
    return (lo, hi)
