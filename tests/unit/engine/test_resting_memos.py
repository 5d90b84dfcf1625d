"""The rules' crossing memos rest on a busy day (GatedMemo): whether they are asked or not, the
band index decides exactly as full evaluation. With a window of two questions the memos rest after
almost every miss, so streams of a few hundred events cross both states many times."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_fast_path_equivalence import QUOTE_RULES, busy_streams, copier_streams, run

from risk_manager.rules import memo_gate


def decides_as_full_evaluation_with_memos_resting_often(stream: list[tuple[int, Any]]) -> bool:
    keys = list(QUOTE_RULES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memo_gate, "_WINDOW", 2)
        patch.setattr(memo_gate, "_REST", 3)
        fast = run(stream, True, keys)
    return fast == run(stream, False, keys)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(busy_streams())
def test_on_busy_streams_resting_memos_change_no_decision(stream: list[tuple[int, Any]]) -> None:
    assert decides_as_full_evaluation_with_memos_resting_often(stream)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copier_streams())
def test_on_copier_streams_resting_memos_change_no_decision(stream: list[tuple[int, Any]]) -> None:
    assert decides_as_full_evaluation_with_memos_resting_often(stream)
