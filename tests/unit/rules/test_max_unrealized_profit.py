"""RULE-005 max_unrealized_profit, driven through the real engine with an explicit clock."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import ClosePosition
from risk_manager.domain.events import Event
from risk_manager.rules.max_unrealized_profit import MaxUnrealizedProfit, MaxUnrealizedProfitConfig

from engine_helpers import CL, ES, MNQ, T0, EngineHarness, flat, kinds, pos, quote, trade

RESET = T0.replace(hour=23)  # 17:00 Chicago on 2 March 2026 (CST)


def harness(warn_at: Any = (), fast_path: bool = True, **cfg: Any) -> EngineHarness:
    cfg.setdefault("target", 1000)
    rule = MaxUnrealizedProfit(MaxUnrealizedProfitConfig(enabled=True, **cfg))
    return EngineHarness(rule, warn_at=warn_at, fast_path=fast_path)


def closes(actions: list[Any]) -> list[tuple[str, int | None]]:
    return [(a.contract_id, a.size) for a in actions if isinstance(a, ClosePosition)]


def test_a_long_reaching_exactly_the_target_is_closed() -> None:
    h = harness()  # MNQ 5 contracts: $10 per point, so +1000 is 100 points over 21000
    h.apply(pos(MNQ, 5, "21000"), quote(MNQ, 21050.0))
    actions = h.apply(quote(MNQ, 21100.0))
    assert kinds(actions) == [("RULE-005", "close_position")]
    assert closes(actions) == [(MNQ, None)]
    close = actions[0]
    assert close.subject == f"pos:{MNQ}"
    assert close.reason == f"{MNQ} unrealized 1000.00 >= target 1000.00"
    assert ("target", "1000.00") in close.inputs and ("unrealized", "1000.00") in close.inputs


def test_one_tick_short_of_the_target_is_not_taken() -> None:
    h = harness()
    assert h.apply(pos(MNQ, 5, "21000"), quote(MNQ, 21099.75)) == []  # +997.50


def test_a_short_profits_when_the_price_falls() -> None:
    h = harness()  # ES short 1: $50 per point, +1000 is 20 points under 5000
    assert h.apply(pos(ES, -1, "5000"), quote(ES, 4980.25)) == []
    assert closes(h.apply(quote(ES, 4980.0))) == [(ES, None)]


def test_with_the_fast_path_the_quiet_band_ends_exactly_at_the_target_price() -> None:
    h = harness(fast_path=True)
    h.apply(pos(MNQ, 5, "21000"), quote(MNQ, 21000.0))
    band_hi = h.state.positions[MNQ].band_hi
    assert 21099.75 < band_hi < 21100  # the target price itself is outside the quiet band
    for price in (21050.0, 21099.0, 21099.5, 21099.75):
        assert h.apply(quote(MNQ, price)) == [], price
    assert closes(h.apply(quote(MNQ, 21100.0))) == [(MNQ, None)]


def test_exit_side_marks_a_long_at_the_bid() -> None:
    h = harness(price_source="exit_side")
    h.apply(pos(MNQ, 5, "21000"))
    assert h.apply(quote(MNQ, last=21100.0, bid=21099.75, ask=21100.25)) == []
    assert closes(h.apply(quote(MNQ, bid=21100.0))) == [(MNQ, None)]


def test_mid_marks_halfway_between_bid_and_ask() -> None:
    h = harness(price_source="mid")
    h.apply(pos(ES, -1, "5000"))
    assert h.apply(quote(ES, last=4900.0, bid=4979.75, ask=4980.5)) == []  # mid 4980.125
    assert closes(h.apply(quote(ES, ask=4980.25))) == [(ES, None)]  # mid 4980


def test_a_position_without_a_quote_is_unknown_not_zero() -> None:
    h = harness(target="0.01")
    assert h.apply(pos(MNQ, 1, "21000")) == []
    assert closes(h.apply(quote(MNQ, 21000.25))) == [(MNQ, None)]


def test_only_the_winning_position_is_closed_and_nothing_is_locked() -> None:
    h = harness()
    h.apply(pos(MNQ, 5, "21000"), pos(ES, 1, "5000"), quote(ES, 5010.0))
    assert closes(h.apply(quote(MNQ, 21150.0))) == [(MNQ, None)]
    assert len(h.state.lockouts) == 0


def test_no_warnings_on_the_way_to_the_target() -> None:
    h = harness(warn_at=("0.5", "0.75", "0.9"))
    h.apply(pos(MNQ, 5, "21000"))
    assert h.apply(quote(MNQ, 21050.0), quote(MNQ, 21075.0), quote(MNQ, 21095.0)) == []


def test_a_take_profit_is_decided_once_until_the_position_grows_or_reopens() -> None:
    h = harness()
    h.apply(pos(MNQ, 5, "21000"))
    assert closes(h.apply(quote(MNQ, 21100.0))) == [(MNQ, None)]
    for event in (quote(MNQ, 21200.0), quote(MNQ, 21100.0), pos(MNQ, 3, "21000")):
        assert h.apply(event) == [], event
    assert closes(h.apply(pos(MNQ, 6, "21000"))) == [(MNQ, None)]  # grew: a new decision
    h.apply(flat(MNQ))
    assert closes(h.apply(pos(MNQ, 5, "21000"))) == [(MNQ, None)]  # reopened at the same price


def test_the_days_realized_profit_does_not_count_only_the_open_position() -> None:
    h = harness()
    h.apply(trade(1, MNQ, "21000", pnl="5000", side=1))
    assert h.apply(pos(MNQ, 5, "21000"), quote(MNQ, 21099.75)) == []


def test_a_position_still_open_after_the_daily_reset_is_decided_again() -> None:
    h = harness()
    h.apply(pos(MNQ, 5, "21000"))
    assert closes(h.apply(quote(MNQ, 21100.0))) == [(MNQ, None)]
    h.tick(to=RESET + timedelta(minutes=1))  # the close never filled; markers re-arm with the day
    assert closes(h.apply(quote(MNQ, 21101.0))) == [(MNQ, None)]


def _random_session(seed: int) -> list[Event]:
    rng = random.Random(seed)
    prices = {MNQ: 21000.0, ES: 5000.0, CL: 70.0}
    ticks = {MNQ: 0.25, ES: 0.25, CL: 0.01}
    events: list[Event] = [pos(MNQ, 2, "21000"), pos(ES, -1, "5000"), pos(CL, 1, "70")]
    for _ in range(600):
        contract = rng.choice(list(prices))
        roll = rng.random()
        if roll < 0.03:
            size = rng.choice([-3, -1, 0, 1, 2, 3])
            events.append(pos(contract, size, str(prices[contract])) if size else flat(contract))
            continue
        tick = ticks[contract]
        prices[contract] = round(prices[contract] + rng.choice([-2, -1, 0, 1, 2, 3]) * tick, 2)
        p = prices[contract]
        spread = rng.choice([0, 1, 2]) * tick
        fields = {"last": p, "bid": round(p - spread, 2), "ask": round(p + spread, 2)}
        if roll < 0.5:
            del fields[rng.choice(list(fields))]  # a partial quote
        events.append(quote(contract, **fields))
    return events


@pytest.mark.parametrize("source", ["last", "mid", "exit_side"])
@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_decides_exactly_what_evaluating_every_quote_decides(seed: int, source: str) -> None:
    events = _random_session(seed)
    logs = []
    for fast in (True, False):
        h = harness(fast_path=fast, target=120, price_source=source)
        for i, event in enumerate(events):
            h.apply(event, at=T0 + timedelta(seconds=i))
        logs.append([(t, a.kind, getattr(a, "contract_id", None), a.subject) for t, a in h.log])
    assert logs[0] == logs[1]
    assert any(kind == "close_position" for _, kind, _, _ in logs[0])  # the walk did reach the target


def test_describe_names_the_target_and_price_source() -> None:
    text = MaxUnrealizedProfit(MaxUnrealizedProfitConfig(target=750, price_source="exit_side")).describe()
    assert "RULE-005" in text and "750" in text and "exit_side" in text


def test_defaults_follow_config_md() -> None:
    cfg = MaxUnrealizedProfitConfig()
    assert (cfg.enabled, cfg.target, cfg.price_source) == (False, Decimal(1000), "last")


@pytest.mark.parametrize("bad", [0, -1000, "-5"])
def test_the_target_must_be_a_profit(bad: Any) -> None:
    with pytest.raises(ValidationError, match=r"must be positive, e\.g\. 1000"):
        MaxUnrealizedProfitConfig(target=bad)


def test_an_unknown_price_source_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValidationError, match="'last', 'mid' or 'exit_side'"):
        MaxUnrealizedProfitConfig(price_source="bid")
