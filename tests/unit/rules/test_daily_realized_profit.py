"""RULE-013 daily_realized_profit, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from risk_manager.domain.actions import Action, LockAccount
from risk_manager.rules.daily_realized_profit import DailyRealizedProfit, DailyRealizedProfitConfig

from engine_helpers import ES, MNQ, EngineHarness, OrderSide, kinds, pos, quote, trade

# T0 is Monday 2026-03-02 08:30 Chicago; the trading day ends at 17:00 CST = 23:00 UTC.
RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
BREACH = [("RULE-013", "flatten"), ("RULE-013", "cancel_orders"), ("RULE-013", "lockout")]
MESSAGE = "Target reached - see you tomorrow"


def harness(*, warn_at: tuple[str, ...] = (), fast_path: bool = True, **config: object) -> EngineHarness:
    cfg = DailyRealizedProfitConfig.model_validate({"enabled": True, "target": 1000, **config})
    return EngineHarness(DailyRealizedProfit(cfg), warn_at=warn_at, fast_path=fast_path)


def rule_actions(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.rule == "RULE-013"]


@pytest.fixture(params=[True, False], ids=["fast_path", "every_quote"])
def fast_path(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


# ---- realized P&L ---------------------------------------------------------------------------------


def test_winning_trades_reaching_the_target_flatten_cancel_and_lock_with_the_message() -> None:
    h = harness()
    assert h.apply(trade(1, MNQ, "21000", pnl="600")) == []
    actions = h.apply(trade(2, MNQ, "21000", pnl="450"))
    assert kinds(actions) == BREACH
    assert actions[0].reason == f"{MESSAGE}: day P&L 1050.00 >= target 1000.00"
    assert all(a.subject == "account" for a in actions)
    lock = actions[2]
    assert isinstance(lock, LockAccount)
    assert (lock.scope, lock.until, lock.condition) == ("account", RESET, None)
    assert MESSAGE in (h.state.lockouts.covering(None).reason)
    assert h.apply(trade(3, MNQ, "21000", pnl="200")) == []  # once per breach


def test_profit_exactly_at_the_target_counts() -> None:
    assert kinds(harness().apply(trade(1, MNQ, "21000", pnl="1000"))) == BREACH


def test_one_cent_short_of_the_target_does_nothing() -> None:
    assert harness().apply(trade(1, MNQ, "21000", pnl="999.99")) == []


def test_fees_are_deducted_by_default() -> None:
    h = harness()
    assert h.apply(trade(1, MNQ, "21000", pnl="1002", fees="2.01")) == []  # 999.99 net
    assert kinds(h.apply(trade(2, MNQ, "21000", pnl="0.01"))) == BREACH  # 1000.00 net


def test_fees_are_ignored_when_include_fees_is_false() -> None:
    h = harness(include_fees=False)
    assert kinds(h.apply(trade(1, MNQ, "21000", pnl="1000", fees="5"))) == BREACH


def test_the_configured_message_is_in_the_reason() -> None:
    h = harness(message="Done for today, well traded")
    actions = h.apply(trade(1, MNQ, "21000", pnl="1200"))
    assert actions[2].reason == "Done for today, well traded: day P&L 1200.00 >= target 1000.00"


def test_a_loss_after_a_win_keeps_the_day_below_the_target() -> None:
    h = harness()
    h.apply(trade(1, MNQ, "21000", pnl="900"))
    h.apply(trade(2, MNQ, "21000", pnl="-100"))
    assert h.apply(trade(3, MNQ, "21000", pnl="150")) == []  # 950


# ---- unrealized P&L -------------------------------------------------------------------------------


def test_open_profit_is_ignored_by_default(fast_path: bool) -> None:
    h = harness(fast_path=fast_path)
    h.apply(pos(ES, 1, "5000"))
    assert h.apply(quote(ES, 5100.0)) == []  # +5000 open, nothing realized
    assert not DailyRealizedProfit(DailyRealizedProfitConfig()).quote_sensitive


def test_with_include_unrealized_a_quote_reaching_the_target_trips(fast_path: bool) -> None:
    h = harness(include_unrealized=True, fast_path=fast_path)
    h.apply(trade(1, MNQ, "21000", pnl="500"))
    h.apply(pos(ES, 1, "5000"))
    assert rule_actions(h.apply(quote(ES, 5009.75))) == []  # 500 + 487.50
    actions = h.apply(quote(ES, 5010.0))  # 500 + 500.00
    assert kinds(actions) == BREACH
    assert actions[0].reason == f"{MESSAGE}: day P&L 1000.00 >= target 1000.00"


def test_a_short_gains_when_the_price_falls(fast_path: bool) -> None:
    h = harness(include_unrealized=True, fast_path=fast_path)
    h.apply(pos(MNQ, -2, "21000"), quote(MNQ, 21000.0))
    assert rule_actions(h.apply(quote(MNQ, 20750.25))) == []  # 2 * 249.75 * 2 = 999
    assert kinds(h.apply(quote(MNQ, 20750.0))) == BREACH  # 1000


def test_a_closing_win_is_not_counted_twice_before_its_position_snapshot() -> None:
    h = harness(include_unrealized=True)
    h.apply(pos(ES, 1, "5000"), quote(ES, 5012.0))  # +600 open
    assert h.apply(trade(1, ES, "5012", pnl="600", side=OrderSide.SELL)) == []  # 600, not 1200


def test_an_unpriced_position_is_left_out_not_counted_as_zero() -> None:
    h = harness(include_unrealized=True)
    h.apply(pos(ES, 1, "5000"))  # no quote yet
    actions = h.apply(trade(1, MNQ, "21000", pnl="1000"))
    assert actions[0].reason == (
        f"{MESSAGE}: day P&L 1000.00 >= target 1000.00 (1 open position(s) without a price not counted)"
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-12, max_value=12), min_size=1, max_size=40))
def test_the_quote_fast_path_decides_exactly_as_evaluating_every_quote(steps: list[int]) -> None:
    logs = []
    for fast in (True, False):
        h = harness(include_unrealized=True, fast_path=fast, warn_at=("0.5", "0.75", "0.9"))
        h.apply(trade(1, MNQ, "21000", pnl="240"))
        h.apply(pos(MNQ, -3, "21000"), pos(ES, 1, "5000"))
        mnq, es = Decimal("21000"), Decimal("5000")
        h.apply(quote(MNQ, float(mnq)), quote(ES, float(es)))
        for i, step in enumerate(steps):
            if i % 2:
                mnq += Decimal("6.25") * step
                h.apply(quote(MNQ, float(mnq)))
            else:
                es += Decimal("0.75") * step
                h.apply(quote(ES, float(es)))
        logs.append([(a.kind, a.reason) for _, a in h.log if a.rule == "RULE-013"])
    assert logs[0] == logs[1]


# ---- warnings and reset ---------------------------------------------------------------------------


def test_warnings_fire_once_per_fraction_of_the_target() -> None:
    h = harness(warn_at=("0.5", "0.75", "0.9"))
    first = h.apply(trade(1, MNQ, "21000", pnl="500"))
    assert [a.message for a in first] == ["day P&L 500.00 reached 50% of target 1000.00"]
    assert h.apply(trade(2, MNQ, "21000", pnl="100")) == []
    assert kinds(h.apply(trade(3, MNQ, "21000", pnl="150"))) == [("RULE-013", "alert")]  # 750
    assert kinds(h.apply(trade(4, MNQ, "21000", pnl="300"))) == BREACH  # 1050: no 90% alert now


def test_the_lockout_ends_at_the_reset_and_the_new_day_starts_from_zero() -> None:
    h = harness()
    h.apply(trade(1, MNQ, "21000", pnl="1000"))
    assert rule_actions(h.tick(to=RESET - timedelta(seconds=1))) == []
    assert kinds(rule_actions(h.tick(to=RESET))) == [("RULE-013", "unlock")]
    assert h.state.lockouts.covering(None) is None
    assert h.apply(trade(2, MNQ, "21000", pnl="900")) == []  # 900 today
    assert kinds(h.apply(trade(3, MNQ, "21000", pnl="100"))) == BREACH  # re-armed on the new day


# ---- config and description ----------------------------------------------------------------------


def test_describe_names_the_target_and_the_message() -> None:
    text = DailyRealizedProfit(DailyRealizedProfitConfig(enabled=True, target=1500)).describe()
    assert "RULE-013" in text and "1500.00" in text and MESSAGE in text and "minus fees" in text


def test_defaults_match_the_config_reference() -> None:
    cfg = DailyRealizedProfitConfig()
    assert (cfg.enabled, cfg.target, cfg.include_unrealized, cfg.include_fees, cfg.message) == (
        False,
        Decimal(1000),
        False,
        True,
        MESSAGE,
    )


@pytest.mark.parametrize("target", [-1000, 0])
def test_a_target_that_is_not_a_profit_is_rejected_with_the_fix(target: int) -> None:
    with pytest.raises(ValidationError, match=r"must be positive, e.g. 1000"):
        DailyRealizedProfitConfig(target=target)


def test_an_empty_message_is_rejected_with_the_fix() -> None:
    with pytest.raises(ValidationError, match=r"message must not be empty: write what the trader sees"):
        DailyRealizedProfitConfig(message="  ")


def test_an_unknown_key_is_an_error() -> None:
    with pytest.raises(ValidationError, match="targett"):
        DailyRealizedProfitConfig.model_validate({"targett": 1000})
