"""Time windows ("the last 60 s", "the last hour"): one definition for every rule and the engine.

A window of span N at time ``now`` is half-open, ``(now - N, now]``: an execution exactly N old is
outside it, one at ``now`` inside (RULES.md, settled points). Every window test in the code goes
through ``in_window`` so that no two rules can disagree about an edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta


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


def count_newest_in_window(newest_first: Iterable[datetime], now: datetime, span: timedelta) -> int:
    """``count_in_window`` of times given newest first, none after ``now``: counted until the first
    one out of the window, so that a window holding a few of many times costs a few steps."""
    start = now - span
    count = 0
    for t in newest_first:
        if t <= start:
            break
        count += 1
    return count
