"""RULE-004's crossing form (``decide_position``): the decisions ``evaluate`` makes on that position,
and the band ``price_band`` gives once they are committed (a close marks the limit, an alert its
warning)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.rules.daily_unrealized_loss import DailyUnrealizedLoss, DailyUnrealizedLossConfig

from engine_helpers import ES, MNQ, EngineHarness, pos, quote


@settings(max_examples=300, deadline=None)
@given(
    long=st.booleans(),
    size=st.integers(1, 3),
    path=st.lists(st.integers(-40, 10), min_size=1, max_size=6),
    source=st.sampled_from(["last", "mid", "exit_side"]),
    warn_at=st.sampled_from([(), ("0.5",), ("0.5", "0.75", "0.9")]),
    other=st.booleans(),
)
def test_deciding_one_position_is_evaluating_it_then_asking_its_band_after_the_commit(
    long: bool, size: int, path: list[int], source: str, warn_at: tuple[str, ...], other: bool
) -> None:
    sign = 1 if long else -1
    rule = DailyUnrealizedLoss(DailyUnrealizedLossConfig(enabled=True, limit=-100, price_source=source))
    h = EngineHarness(rule, warn_at=warn_at)
    h.apply(pos(ES, sign * size, "5000"), quote(ES, 5000.0, bid=4999.75, ask=5000.0))
    if other:
        h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20990.0, bid=20989.75, ask=20990.0))
    # the market walks (ticks against the position), each quote decided by the engine as usual
    for ticks in path[:-1]:
        price = 5000 + sign * ticks * 0.25
        h.apply(quote(ES, price, bid=price - 0.25, ask=price))
    # the last quote is set without the engine deciding on it: the test decides on it twice
    price = 5000 + sign * path[-1] * 0.25
    last = h.engine.quotes[ES]
    last.last, last.bid, last.ask = price, price - 0.25, price

    position = h.view().positions[ES]
    decided = rule.decide_position(h.view(), position)
    scoped = h.view().scoped({ES: position})
    expected = rule.evaluate(scoped)
    for action in expected:  # committed as the engine commits a breach decision
        assert action.subject is not None
        h.state.breaches.add((action.rule, action.subject))
    assert decided is not None
    assert repr(decided[0]) == repr(expected)
    assert decided[1] == rule.price_band(h.view(), position)


@settings(max_examples=200, deadline=None)
@given(
    long=st.booleans(),
    path=st.lists(st.integers(-40, 10), min_size=1, max_size=6),
    written=st.sampled_from(["5000", "5000.00"]),
    announced=st.tuples(*[st.sets(st.sampled_from(["0.5", "0.75", "0.9", "limit"]))] * 2),
)
def test_an_answer_remembered_for_one_copy_is_the_answer_for_another_with_the_same_figures(
    long: bool, path: list[int], written: str, announced: tuple[set[str], set[str]]
) -> None:
    # one rule object decides for both accounts (as for every account of a policy); the second
    # holds the same position (its entry price perhaps written differently) with its own markers
    sign = 1 if long else -1
    config = DailyUnrealizedLossConfig(enabled=True, limit=-100)
    shared = DailyUnrealizedLoss(config)
    h = EngineHarness(shared, warn_at=("0.5", "0.75", "0.9"))
    h.apply(pos(ES, sign, "5000", account=7), pos(ES, sign, written, account=8), quote(ES, 5000.0))
    for ticks in path:  # the engine decides for both copies as usual
        h.apply(quote(ES, 5000 + sign * ticks * 0.25))
    for account, markers in zip((7, 8), announced, strict=True):
        breaches = h.engine.accounts[account].breaches
        breaches.clear()
        for marker in markers:
            breaches.add(("RULE-004", "pos:" + ES + ("" if marker == "limit" else f":warn:{marker}")))
    first, second = h.view(7), h.view(8)
    shared.decide_position(first, first.positions[ES])
    remembered = shared.decide_position(second, second.positions[ES])
    expected = DailyUnrealizedLoss(config).decide_position(second, second.positions[ES])
    assert remembered is not None and expected is not None
    assert repr(remembered[0]) == repr(expected[0])
    assert remembered[1] == expected[1]
