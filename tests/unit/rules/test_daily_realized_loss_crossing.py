"""RULE-003's account form (``decide_account``): the decisions ``evaluate`` makes, and the band
``price_band`` gives every position once they are committed (a warning marks its fraction)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig

from engine_helpers import CL, ES, MNQ, EngineHarness, pos, quote, trade

ENTRY = {MNQ: 21000.0, ES: 5000.0, CL: 70.0}
TICK = {MNQ: 0.25, ES: 0.25, CL: 0.01}
# One to three positions in distinct contracts, long or short, of 1 to 3 contracts.
HELD = st.lists(
    st.tuples(st.sampled_from([MNQ, ES, CL]), st.integers(-3, 3).filter(bool)),
    min_size=1,
    max_size=3,
    unique_by=lambda held: held[0],
)



@settings(max_examples=300, deadline=None)
@given(
    held=HELD,
    walk=st.lists(st.tuples(st.integers(0, 2), st.integers(-60, 20)), min_size=1, max_size=8),
    realized=st.integers(-900, 100),
    warn_at=st.sampled_from([(), ("0.5",), ("0.5", "0.75", "0.9")]),
    fees=st.booleans(),
)
def test_deciding_for_the_account_is_evaluating_then_asking_each_band_after_the_commit(
    held: list[tuple[str, int]],
    walk: list[tuple[int, int]],
    realized: int,
    warn_at: tuple[str, ...],
    fees: bool,
) -> None:
    rule = DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-1000, include_fees=fees))
    h = EngineHarness(rule, warn_at=warn_at)
    h.apply(trade(1, MNQ, "21000", pnl=str(realized), fees="2.50"))
    for contract, size in held:
        h.apply(pos(contract, size, str(ENTRY[contract])), quote(contract, ENTRY[contract]))
    # prices walk (in ticks from entry), each quote decided by the engine as usual; the last one
    # is set without the engine deciding on it: the test decides on it twice
    for n, (which, ticks) in enumerate(walk):
        contract = held[which % len(held)][0]
        price = ENTRY[contract] + ticks * TICK[contract]
        if n < len(walk) - 1:
            h.apply(quote(contract, price))
        else:
            h.engine.quotes[contract].last = price

    decided = rule.decide_account(h.view())
    expected = rule.evaluate(h.view())
    if decided is None:  # at the limit: the lockout is left to the engine's general path
        assert any(a.kind == "lockout" for a in expected)
        return
    for action in expected:  # committed as the engine commits a breach decision
        assert action.subject is not None
        h.state.breaches.add((action.rule, action.subject))
    assert repr(decided[0]) == repr(expected)
    view = h.view()
    assert dict(decided[1]) == {cid: rule.price_band(view, p) for cid, p in view.positions.items()}


SPECS = {MNQ: ("0.25", "0.50"), ES: ("0.25", "12.50"), CL: ("0.01", "10.00")}  # tick size, value


@settings(max_examples=200, deadline=None)
@given(
    held=HELD,
    realized=st.integers(-900, 100),
)
def test_no_combination_of_quotes_inside_the_account_bands_reaches_the_limit(
    held: list[tuple[str, int]], realized: int
) -> None:
    rule = DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-1000))
    h = EngineHarness(rule, warn_at=())
    h.apply(trade(1, MNQ, "21000", pnl=str(realized), fees="0"))
    for contract, size in held:
        h.apply(pos(contract, size, str(ENTRY[contract])), quote(contract, ENTRY[contract]))
    view = h.view()
    value = Decimal(realized)
    # every position at its band's edge, the worst case for the account: what it loses there
    lost = Decimal(0)
    for contract, size in held:
        band = rule.price_band(view, view.positions[contract])
        assert band is not None
        edge = band[0] if size > 0 else band[1]
        assert edge is not None
        tick, tick_value = (Decimal(x) for x in SPECS[contract])
        lost += abs(Decimal(str(ENTRY[contract])) - edge) / tick * abs(size) * tick_value
    # (the bands' edges are exclusive; beyond 28-digit rounding, which the engine's float bands
    # shrink away by a margin of 1e-9, the shares add up to the distance at most)
    assert value - lost >= Decimal(-1000) - Decimal("1e-20")


def test_a_micro_next_to_a_full_size_contract_may_move_more_ticks_before_waking_the_account() -> None:
    rule = DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-1000))
    h = EngineHarness(rule, warn_at=())
    for contract in (MNQ, ES):
        h.apply(pos(contract, 1, str(ENTRY[contract])), quote(contract, ENTRY[contract]))
    view = h.view()
    ticks = {
        contract: (Decimal(str(ENTRY[contract])) - rule.price_band(view, view.positions[contract])[0])
        / Decimal("0.25")
        for contract in (MNQ, ES)
    }
    # a tick of MNQ moves the account 25 times less than one of ES: it gets about 25^(1/3) times
    # the ticks (the split that wakes the account least often on a walk in ticks)
    assert 2.8 < ticks[MNQ] / ticks[ES] < 3.0
    # and together they use the whole distance to the limit
    assert ticks[MNQ] * Decimal("0.50") + ticks[ES] * Decimal("12.50") == pytest.approx(Decimal(1000))


@settings(max_examples=150, deadline=None)
@given(
    walk=st.lists(st.tuples(st.integers(0, 1), st.integers(-60, 20)), min_size=1, max_size=6),
    realized=st.integers(-900, 100),
    announced=st.tuples(*[st.sets(st.sampled_from(["0.5", "0.75", "0.9"]))] * 2),
)
def test_an_answer_remembered_for_one_account_is_the_answer_for_another_with_the_same_figures(
    walk: list[tuple[int, int]], realized: int, announced: tuple[set[str], set[str]]
) -> None:
    # one rule object decides for both accounts (as for every account of a policy); the second
    # account holds the same positions at the same prices; each has its own announced warnings
    shared = DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-1000))
    harnesses = [EngineHarness(shared, warn_at=("0.5", "0.75", "0.9")) for _ in range(2)]
    for h in harnesses:
        h.apply(trade(1, MNQ, "21000", pnl=str(realized), fees="2.50"))
        for contract in (MNQ, ES):
            h.apply(pos(contract, 1, str(ENTRY[contract])), quote(contract, ENTRY[contract]))
        for which, ticks in walk:
            contract = (MNQ, ES)[which]
            h.engine.quotes[contract].last = ENTRY[contract] + ticks * TICK[contract]
    first, second = harnesses
    for h, fractions in zip(harnesses, announced, strict=True):
        for fraction in fractions:
            h.state.breaches.add(("RULE-003", f"account:warn:{fraction}"))
    shared.decide_account(first.view())
    remembered = shared.decide_account(second.view())
    fresh = DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-1000))
    expected = fresh.decide_account(second.view())
    if expected is None:
        assert remembered is None
        return
    assert remembered is not None
    assert repr(remembered[0]) == repr(expected[0])
    assert dict(remembered[1]) == dict(expected[1])
