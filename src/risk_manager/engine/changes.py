"""What one engine call changed, for the caller that persists it (the engine says; nobody diffs).

With ``Engine.record_changes`` on, every call that can change state (``apply``, ``advance``,
``clear_lockout``, ``update_policy``, ``reinstate_lockout``) leaves a :class:`Changes` in
``Engine.last_changes``: executions counted or voided, trading days whose figures changed (with
their figures after the call), days rolled by a reset, lockouts taken, replaced and ended (and why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from risk_manager.domain.lockouts import Lockout
from risk_manager.engine.state import TradingDayStats


class EndCause(StrEnum):
    """Why a lockout ended."""

    TIMER = "timer"  # its until passed
    CONDITION = "condition"  # the condition it waited for cleared (canTrade: true)
    ADMIN = "admin"  # an audited admin clear
    CONFIG = "config reload"  # the new configuration no longer holds it


@dataclass(frozen=True, slots=True)
class DayFigures:
    """A trading day's counters as they stand after the call (a closed day keeps its final ones)."""

    account_id: int
    label: date
    start: datetime
    end: datetime
    realized: Decimal
    costs: Decimal  # fees + commissions
    trade_count: int

    @classmethod
    def of(cls, account_id: int, day: TradingDayStats) -> DayFigures:
        return cls(account_id, day.label, day.start, day.end, day.realized, day.costs, day.trade_count)


@dataclass(frozen=True, slots=True)
class DayRoll:
    """A daily reset of one account: the day it closed (None: the account had none) and the new one."""

    account_id: int
    closed: DayFigures | None
    opened: DayFigures


@dataclass(frozen=True, slots=True)
class LockoutEnd:
    lockout: Lockout
    cause: EndCause


@dataclass(frozen=True, slots=True)
class LockoutStep:
    """One lockout taken or ended, in the order it happened within the call."""

    lockout: Lockout
    cause: EndCause | None  # None: taken
    replaced: Lockout | None = None  # taken: the shorter lockout of the same key it replaced

    @property
    def taken(self) -> bool:
        return self.cause is None


@dataclass(frozen=True, slots=True)
class Changes:
    counted: tuple[tuple[int, int], ...] = ()  # (account, trade id) counted into the day
    voided: tuple[tuple[int, int], ...] = ()  # (account, trade id) taken back out of the day
    days: tuple[DayFigures, ...] = ()  # every day whose figures changed, as they are now
    rolled: tuple[DayRoll, ...] = ()
    locked: tuple[Lockout, ...] = ()  # lockouts taken (as the engine holds them: exact since)
    superseded: tuple[tuple[Lockout, Lockout], ...] = ()  # (old, the longer one replacing it)
    ended: tuple[LockoutEnd, ...] = ()
    lockout_steps: tuple[LockoutStep, ...] = ()  # locked/superseded/ended, in the order they happened

    @property
    def critical(self) -> bool:
        """Lockout or trading-day boundaries: state a crash must never lose (commit with fsync)."""
        return bool(self.rolled or self.locked or self.ended)

    def was_counted(self, account_id: int, trade_id: int) -> bool:
        return (account_id, trade_id) in self.counted


NO_CHANGES = Changes()


@dataclass(slots=True)
class ChangeLog:
    """The engine's scratch record during one call (turned into :class:`Changes` when read)."""

    counted: list[tuple[int, int]] = field(default_factory=list)
    voided: list[tuple[int, int]] = field(default_factory=list)
    # (account, day label) -> the day object: the engine swaps in a new object at a reset and leaves
    # the old one as it was, so reading the figures at the end of the call gives each day's final ones.
    days: dict[tuple[int, date], TradingDayStats] = field(default_factory=dict)
    rolled: list[tuple[int, TradingDayStats | None, TradingDayStats]] = field(default_factory=list)
    steps: list[LockoutStep] = field(default_factory=list)

    def day(self, account_id: int, day: TradingDayStats) -> None:
        self.days[(account_id, day.label)] = day

    def locked(self, lockout: Lockout, replaced: Lockout | None) -> None:
        self.steps.append(LockoutStep(lockout, None, replaced))

    def ended(self, lockout: Lockout, cause: EndCause) -> None:
        self.steps.append(LockoutStep(lockout, cause))

    def freeze(self) -> Changes:
        return Changes(
            tuple(self.counted),
            tuple(self.voided),
            tuple(DayFigures.of(a, d) for (a, _label), d in self.days.items()),
            tuple(
                DayRoll(a, None if old is None else DayFigures.of(a, old), DayFigures.of(a, new))
                for a, old, new in self.rolled
            ),
            tuple(step.lockout for step in self.steps if step.cause is None),
            tuple(
                (step.replaced, step.lockout)
                for step in self.steps
                if step.cause is None and step.replaced is not None
            ),
            tuple(LockoutEnd(step.lockout, step.cause) for step in self.steps if step.cause is not None),
            tuple(self.steps),
        )
