"""The engine's timer entries: what is due when, in the order things due at one instant happen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from risk_manager.domain.records import fast_init


class TimerKind(IntEnum):
    """What a timer does when due. The values order deadlines due at the same instant: what belongs
    to the closing trading day (rule wake-ups such as a session-end flatten or a grace expiry, then
    lockout ends) before the daily reset that starts the next one."""

    WAKE = 0  # a clock rule asked to be evaluated again (key: the rule id)
    LOCKOUT_END = 1  # a timed lockout's end (key: the lockout key)
    RESET = 2  # the daily reset (account 0, key None)
    # A failed close or flatten tried again (key: the contract, "" for a flatten). After the reset
    # at the same instant: a lockout that ended with the day has nothing left to hold.
    CLOSE_RETRY = 3


@fast_init  # one per lockout taken and per wake-up asked
@dataclass(frozen=True, slots=True, order=True)
class Timer:
    """A heap entry. Sorts by (when, kind, account, what): a total order that depends on the
    state only, not on the order timers were pushed in, so an engine restored from a snapshot fires
    deadlines due at the same instant in the same order as the one that exported it (and a recovery
    gives the same decisions the same action ids). ``seq`` (push order) only separates a deadline
    pushed twice."""

    when: datetime
    kind: TimerKind
    account_id: int
    # the key as text: rule id (wake-up), "rule/scope/symbol" (lockout end), "" (reset), the
    # contract or "" (close retry)
    what: str
    seq: int
    key: Any = field(compare=False)

    @property
    def sort_key(self) -> tuple[datetime, int, int, str, int]:
        return (self.when, self.kind, self.account_id, self.what, self.seq)

    @classmethod
    def of(cls, when: datetime, kind: TimerKind, account_id: int, key: Any, seq: int) -> Timer:
        if key is None:
            what = ""
        elif isinstance(key, tuple):
            what = "/".join("" if part is None else str(part) for part in key)
        else:
            what = str(key)
        return cls(when, kind, account_id, what, seq, key)
