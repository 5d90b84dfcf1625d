"""The one definition of a time window: ``(now - N, now]`` (RULES.md, settled points)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.domain.windows import count_in_window, count_sorted_in_window, in_window

from engine_helpers import MNQ, T0, EngineHarness, trade

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


def test_counting_entries_in_time_order_counts_exactly_what_in_window_accepts() -> None:
    times = [T0 - MINUTE - TICK, T0 - MINUTE, T0 - MINUTE, T0 - MINUTE + TICK, T0 - TICK, T0, T0]
    entries = [(t, n) for n, t in enumerate(times)]
    counted = count_sorted_in_window(entries, T0, MINUTE, lambda entry: entry[0])
    assert counted == sum(in_window(t, T0, MINUTE) for t in times) == 4


@given(st.lists(st.integers(-120, 0)), st.integers(1, 90))
def test_counting_in_time_order_agrees_with_counting_each(offsets: list[int], span: int) -> None:
    times = sorted(T0 + timedelta(seconds=s) for s in offsets)
    window = timedelta(seconds=span)
    assert count_sorted_in_window(times, T0, window, lambda t: t) == count_in_window(times, T0, window)


# (seconds after the previous execution, seconds its report says it executed before it arrived)
executions = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 200)), min_size=1, max_size=60)


@settings(max_examples=80, deadline=None)
@given(executions)
def test_executions_reported_late_and_out_of_order_count_in_the_windows_as_in_window_says(
    stream: list[tuple[int, int]],
) -> None:
    """RULE-006 counts the distinct orders first executed in the last minute and hour, whatever
    order their executions are reported in."""
    h = EngineHarness()
    for n, (gap, late) in enumerate(stream, start=1):
        at = h.now + timedelta(seconds=gap)
        h.apply(trade(n, MNQ, "21000", created=at - timedelta(seconds=late)), at=at)
        view = h.view()
        first_fills = h.state.day.order_first_fill.values()
        for span in (MINUTE, timedelta(hours=1)):
            assert view.executions_in_last(span) == sum(in_window(t, h.now, span) for t in first_fills)
