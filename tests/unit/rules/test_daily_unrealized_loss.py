"""RULE-004 daily_unrealized_loss, driven through the real engine with an explicit clock."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Alert, ClosePosition
from risk_manager.domain.events import Event
from risk_manager.rules.daily_unrealized_loss import DailyUnrealizedLoss, DailyUnrealizedLossConfig

from engine_helpers import CL, ES, MNQ, T0, EngineHarness, flat, kinds, pos, quote, trade

RESET = T0.replace(hour=23)  # 17:00 Chicago on 2 March 2026 (CST)
WARN = ("0.5", "0.75", "0.9")


def harness(warn_at: Any = (), fast_path: bool = True, **cfg: Any) -> EngineHarness:
    cfg.setdefault("limit", -300)
    rule = DailyUnrealizedLoss(DailyUnrealizedLossConfig(enabled=True, **cfg))
    return EngineHarness(rule, warn_at=warn_at, fast_path=fast_path)


def closes(actions: list[Any]) -> list[tuple[str, int | None]]:
    return [(a.contract_id, a.size) for a in actions if isinstance(a, ClosePosition)]


def test_a_long_losing_exactly_the_limit_is_closed() -> None:
    h = harness()  # MNQ: $2 per point, so -300 is 150 points under 21000
    h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20900.0))
    actions = h.apply(quote(MNQ, 20850.0))
    assert kinds(actions) == [("RULE-004", "close_position")]
    assert closes(actions) == [(MNQ, None)]
    close = actions[0]
    assert close.subject == f"pos:{MNQ}"
    assert close.reason == f"{MNQ} unrealized -300.00 <= limit -300.00"
    assert ("mark", "20850.0") in close.inputs and ("price_source", "last") in close.inputs


def test_one_tick_short_of_the_limit_is_not_a_breach() -> None:
    h = harness()
    assert h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20850.25)) == []  # -299.50


def test_a_short_loses_when_the_price_rises() -> None:
    h = harness()  # ES short 2: $100 per point, so -300 is 3 points over 5000
    assert h.apply(pos(ES, -2, "5000"), quote(ES, 5002.75)) == []
    assert closes(h.apply(quote(ES, 5003.0))) == [(ES, None)]


def test_with_the_fast_path_the_quiet_band_ends_exactly_at_the_trigger_price() -> None:
    h = harness(fast_path=True)
    h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20900.0))
    band_lo = h.state.positions[MNQ].band_lo
    assert 20850 < band_lo < 20850.25  # the trigger price itself is outside the quiet band
    for price in (20870.0, 20851.0, 20850.5, 20850.25):
        assert h.apply(quote(MNQ, price)) == [], price
    assert closes(h.apply(quote(MNQ, 20850.0))) == [(MNQ, None)]


def test_exit_side_marks_a_long_at_the_bid_and_a_short_at_the_ask() -> None:
    h = harness(price_source="exit_side")
    h.apply(pos(MNQ, 1, "21000"), pos(ES, -2, "5000"))
    assert h.apply(quote(MNQ, last=20900.0, bid=20850.25, ask=20850.5)) == []
    assert closes(h.apply(quote(MNQ, bid=20850.0))) == [(MNQ, None)]
    assert h.apply(quote(ES, last=5000.0, bid=5003.0, ask=5002.75)) == []
    assert closes(h.apply(quote(ES, ask=5003.0))) == [(ES, None)]


def test_mid_marks_halfway_between_bid_and_ask() -> None:
    h = harness(price_source="mid")
    h.apply(pos(MNQ, 1, "21000"))
    assert h.apply(quote(MNQ, last=20700.0, bid=20849.75, ask=20851.0)) == []  # mid 20850.375
    assert closes(h.apply(quote(MNQ, ask=20850.25))) == [(MNQ, None)]  # mid 20850


def test_a_position_without_a_quote_is_unknown_not_zero() -> None:
    h = harness(limit=-1)
    assert h.apply(pos(MNQ, 1, "21000")) == []
    unknown = "CON.F.US.ZZZ.H26"  # no tick spec: its P&L cannot be known either
    # no tick spec: one warning naming the contract and the config key (no decision, no guess)
    assert kinds(h.apply(pos(unknown, 1, "100"), quote(unknown, 1.0))) == [("INPUT", "alert")]
    assert closes(h.apply(quote(MNQ, 20999.5))) == [(MNQ, None)]


def test_a_position_opened_already_beyond_the_limit_is_closed_on_its_position_event() -> None:
    h = harness()
    h.apply(quote(MNQ, 20800.0))
    assert closes(h.apply(pos(MNQ, 1, "21000"))) == [(MNQ, None)]


def test_only_the_losing_position_is_closed() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"), pos(ES, 1, "5000"), quote(ES, 4999.0))
    actions = h.apply(quote(MNQ, 20800.0))
    assert closes(actions) == [(MNQ, None)]
    assert len(h.state.lockouts) == 0


def test_a_breach_is_decided_once_until_the_position_grows_or_reopens() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"))
    assert closes(h.apply(quote(MNQ, 20850.0))) == [(MNQ, None)]  # 2 contracts: -600
    for event in (quote(MNQ, 20800.0), quote(MNQ, 20700.0), pos(MNQ, 1, "21000")):
        assert h.apply(event) == [], event
    assert closes(h.apply(pos(MNQ, 3, "21000"))) == [(MNQ, None)]  # grew: a new decision
    assert h.apply(flat(MNQ)) == []
    assert closes(h.apply(pos(MNQ, 1, "20800"), quote(MNQ, 20650.0))) == [(MNQ, None)]


def test_warnings_per_position_once_per_threshold() -> None:
    h = harness(warn_at=WARN)
    h.apply(pos(MNQ, 1, "21000"), pos(ES, 1, "5000"))
    actions = h.apply(quote(MNQ, 20925.0))  # -150: 50%
    assert [(a.subject, a.message) for a in actions if isinstance(a, Alert)] == [
        (f"pos:{MNQ}:warn:0.5", f"{MNQ} unrealized -150.00 reached 50% of limit -300.00")
    ]
    assert h.apply(quote(MNQ, 20925.25), quote(MNQ, 20925.0)) == []
    # past 75% and 90% in one move: one alert, for the highest
    assert [a.subject for a in h.apply(quote(MNQ, 20865.0))] == [f"pos:{MNQ}:warn:0.9"]
    assert h.apply(quote(MNQ, 20900.0), quote(MNQ, 20865.0)) == []  # 75% counts as passed
    # Another position has its own thresholds.
    assert [a.subject for a in h.apply(quote(ES, 4997.0))] == [f"pos:{ES}:warn:0.5"]
    # A closed and reopened position starts over.
    h.apply(flat(MNQ))
    assert [a.subject for a in h.apply(pos(MNQ, 1, "20940"))] == [f"pos:{MNQ}:warn:0.5"]  # -150 at 20865


def test_warnings_with_the_fast_path_fire_at_each_threshold_exactly() -> None:
    h = harness(warn_at=WARN, fast_path=True)
    h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20990.0))
    assert h.apply(quote(MNQ, 20925.25)) == []
    assert kinds(h.apply(quote(MNQ, 20925.0))) == [("RULE-004", "alert")]
    assert h.apply(quote(MNQ, 20887.75)) == []  # -224.50
    assert kinds(h.apply(quote(MNQ, 20887.5))) == [("RULE-004", "alert")]  # -225


def test_the_days_realized_losses_do_not_count_only_the_open_position() -> None:
    h = harness()
    h.apply(trade(1, MNQ, "21000", pnl="-5000", side=1))
    assert h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20850.25)) == []


def test_a_position_held_over_the_daily_reset_is_warned_again_and_rechecked() -> None:
    h = harness(warn_at=("0.5",))
    h.apply(pos(MNQ, 1, "21000"))
    assert kinds(h.apply(quote(MNQ, 20920.0))) == [("RULE-004", "alert")]
    assert h.apply(quote(MNQ, 20910.0)) == []
    h.tick(to=RESET + timedelta(minutes=1))
    assert kinds(h.apply(quote(MNQ, 20905.0))) == [("RULE-004", "alert")]
    assert closes(h.apply(quote(MNQ, 20850.0))) == [(MNQ, None)]
    h.tick(to=RESET + timedelta(days=1, minutes=1))
    # Still open a trading day later (the close never filled): markers re-arm, it is decided again.
    assert closes(h.apply(quote(MNQ, 20849.0))) == [(MNQ, None)]


def _random_session(seed: int) -> list[Event]:
    """Positions in three contracts and a random walk of (partial) quotes around their P&L limits."""
    rng = random.Random(seed)
    prices = {MNQ: 21000.0, ES: 5000.0, CL: 70.0}
    ticks = {MNQ: 0.25, ES: 0.25, CL: 0.01}
    sizes = {MNQ: 2, ES: -1, CL: 1}
    events: list[Event] = [pos(c, s, str(prices[c])) for c, s in sizes.items()]
    for _ in range(600):
        contract = rng.choice(list(prices))
        roll = rng.random()
        if roll < 0.03:
            size = rng.choice([-3, -1, 0, 1, 2, 3])
            events.append(pos(contract, size, str(prices[contract])) if size else flat(contract))
            continue
        tick = ticks[contract]
        prices[contract] = round(prices[contract] + rng.choice([-3, -2, -1, 0, 1, 2]) * tick, 2)
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
        h = harness(warn_at=WARN, fast_path=fast, limit=-120, price_source=source)
        for i, event in enumerate(events):
            h.apply(event, at=T0 + timedelta(seconds=i))
        logs.append([(t, a.kind, getattr(a, "contract_id", None), a.subject) for t, a in h.log])
    assert logs[0] == logs[1]
    assert any(kind == "close_position" for _, kind, _, _ in logs[0])  # the walk did reach the limit


def test_describe_names_the_limit_and_price_source() -> None:
    text = DailyUnrealizedLoss(DailyUnrealizedLossConfig(limit=-250, price_source="mid")).describe()
    assert "RULE-004" in text and "-250" in text and "mid" in text


def test_defaults_follow_config_md() -> None:
    cfg = DailyUnrealizedLossConfig()
    assert (cfg.enabled, cfg.limit, cfg.price_source) == (False, Decimal(-300), "last")


@pytest.mark.parametrize("bad", [0, 300, "0"])
def test_the_limit_must_be_a_loss(bad: Any) -> None:
    with pytest.raises(ValidationError, match="limit must be negative"):
        DailyUnrealizedLossConfig(limit=bad)


def test_a_limit_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValidationError, match="is not an amount: use a number"):
        DailyUnrealizedLossConfig(limit="lots")


def test_an_unknown_price_source_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValidationError, match="'last', 'mid' or 'exit_side'"):
        DailyUnrealizedLossConfig(price_source="close")
