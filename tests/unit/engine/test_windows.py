"""The one definition of a time window: ``(now - N, now]`` (RULES.md, settled points)."""

from __future__ import annotations

from datetime import timedelta

from risk_manager.domain.windows import count_in_window, in_window

from engine_helpers import T0

MINUTE = timedelta(seconds=60)
TICK = timedelta(microseconds=1)


def test_exactly_the_span_old_is_outside_the_window() -> None:
    assert not in_window(T0 - MINUTE, T0, MINUTE)


def test_just_under_the_span_old_is_inside_the_window() -> None:
    assert in_window(T0 - MINUTE + TICK, T0, MINUTE)


def test_now_itself_is_inside_and_the_future_outside() -> None:
    assert in_window(T0, T0, MINUTE)
    assert not in_window(T0 + TICK, T0, MINUTE)


def test_counting_a_window_counts_exactly_what_in_window_accepts() -> None:
    times = [T0 - MINUTE - TICK, T0 - MINUTE, T0 - MINUTE + TICK, T0 - TICK, T0, T0 + TICK]
    assert count_in_window(times, T0, MINUTE) == sum(in_window(t, T0, MINUTE) for t in times) == 3
