"""rules/base.CrossingMemo: a rule's answers to crossings by the figures they follow from."""

from __future__ import annotations

from decimal import Decimal

from risk_manager.rules.base import CrossingMemo


def test_an_answer_is_found_by_figures_equal_to_those_it_was_put_under() -> None:
    memo: CrossingMemo[str] = CrossingMemo()
    memo.put(("MNQ", Decimal("21000.25"), 1), "first")
    memo.put(("ES", Decimal("5000"), 1), "second")
    # figures made afresh, equal: the last answer (compared) and an earlier one (looked up)
    assert memo.get(("ES", Decimal("5000.00"), 1)) == "second"
    assert memo.get(("MNQ", Decimal("21000") + Decimal("0.25"), 1)) == "first"
    assert memo.get(("MNQ", Decimal("21000.25"), 1)) == "first"
    assert memo.get(("MNQ", Decimal("21000.50"), 1)) is None
    assert memo.get(("MNQ", Decimal("21000.25"), -1)) is None


def test_the_memo_starts_afresh_once_it_holds_as_many_answers_as_it_keeps() -> None:
    memo: CrossingMemo[int] = CrossingMemo(kept=2)
    for n in range(3):
        memo.put(("key", n), n)
    assert memo.get(("key", 0)) is None
    assert memo.get(("key", 1)) is None
    assert memo.get(("key", 2)) == 2


def test_nothing_is_found_in_an_empty_memo() -> None:
    memo: CrossingMemo[int] = CrossingMemo()
    assert memo.get(()) is None
    assert memo.get(None) is None
