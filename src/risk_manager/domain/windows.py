"""Time windows ("the last 60 s", "the last hour"): one definition for every rule and the engine.

A window of span N at time ``now`` is half-open, ``(now - N, now]``: an execution exactly N old is
outside it, one at ``now`` inside (RULES.md, settled points). Every window test in the code goes
through ``in_window`` so that no two rules can disagree about an edge.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

T = TypeVar("T")


def in_window(t: datetime, now: datetime, span: timedelta) -> bool:
    """True when ``t`` lies in the last ``span`` at ``now``: ``now - span < t <= now``."""
    return now - span < t <= now


def count_in_window(times: Iterable[datetime], now: datetime, span: timedelta) -> int:
    """How many of ``times`` lie in the last ``span`` at ``now`` (``in_window`` of each, with the
    window's start computed once: RULE-006 counts on every execution)."""
    start = now - span
    count = 0
    for t in times:
        if start < t <= now:
            count += 1
    return count


def count_sorted_in_window(
    oldest_first: Sequence[T], now: datetime, span: timedelta, time_of: Callable[[T], datetime]
) -> int:
    """``count_in_window`` of entries in time order (``time_of`` each, oldest first), none after
    ``now``: the window is the entries after the last one at or before its start, found by
    bisection (RULE-006 counts the last hour's executions on every execution)."""
    return len(oldest_first) - bisect_right(oldest_first, now - span, key=time_of)
