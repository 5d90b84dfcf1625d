"""The engine's timer entries: what is due when, in the order things due at one instant happen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class TimerKind(IntEnum):
    """What a timer does when due. The values order deadlines due at the same instant: what belongs
    to the closing trading day (rule wake-ups such as a session-end flatten or a grace expiry, then
    lockout ends) before the daily reset that starts the next one."""

    WAKE = 0  # a clock rule asked to be evaluated again (key: the rule id)
    LOCKOUT_END = 1  # a timed lockout's end (key: the lockout key)
    RESET = 2  # the daily reset (account 0, key None)


@dataclass(frozen=True, slots=True, order=True)
class Timer:
    """A heap entry: sorts by (when, kind, seq); ``seq`` (push order) breaks the remaining ties."""

    when: datetime
    kind: TimerKind
    seq: int
    account_id: int = field(compare=False)
    key: Any = field(compare=False)
