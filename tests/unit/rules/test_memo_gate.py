"""GatedMemo: a crossing memo that rests (is not asked) while it rarely answers, and only then."""

from __future__ import annotations

from risk_manager.rules import memo_gate
from risk_manager.rules.memo_gate import GatedMemo


def _ask(memo: GatedMemo[str], key: object) -> str | None:
    """One crossing as a rule asks: ``asking()`` first, then get (and put on a miss)."""
    if not memo.asking():
        return None
    found = memo.get(key)
    if found is None:
        memo.put(key, f"answer {key}")
    return found


def test_a_memo_that_never_answers_rests_for_the_rest_period_then_is_asked_again() -> None:
    memo: GatedMemo[str] = GatedMemo()
    for i in range(memo_gate._WINDOW):
        assert memo.asking()
        assert memo.get(("never", i)) is None
    asked = [memo.asking() for _ in range(memo_gate._REST)]
    assert not any(asked)
    assert memo.asking()


def test_a_memo_answering_the_copies_of_a_copied_trade_never_rests() -> None:
    memo: GatedMemo[str] = GatedMemo()
    answers = [_ask(memo, ("breakout", i // 10)) for i in range(10 * memo_gate._WINDOW)]
    # every copy after the first of each group of ten is answered, and every crossing was asked
    assert sum(a is not None for a in answers) == 9 * memo_gate._WINDOW


def test_answers_stay_what_was_put_while_resting_and_after() -> None:
    memo: GatedMemo[str] = GatedMemo()
    memo.put("kept", "the answer")
    for i in range(memo_gate._WINDOW - 1):
        memo.get(("miss", i))
    assert memo.get("kept") == "the answer"  # one answer in a window: still rare, it rests
    assert not memo.asking()
    for _ in range(memo_gate._REST - 1):
        memo.asking()
    assert memo.asking()
    assert memo.get("kept") == "the answer"
