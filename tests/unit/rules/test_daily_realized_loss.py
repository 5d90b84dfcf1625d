"""RULE-003 daily_realized_loss, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from risk_manager.domain.actions import Action, LockAccount
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig

from engine_helpers import ES, MNQ, EngineHarness, OrderSide, flat, kinds, pos, quote, trade

# T0 is Monday 2026-03-02 08:30 Chicago; the trading day ends at 17:00 CST = 23:00 UTC.
RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
BREACH = [("RULE-003", "flatten"), ("RULE-003", "cancel_orders"), ("RULE-003", "lockout")]


def harness(*, warn_at: tuple[str, ...] = (), fast_path: bool = True, **config: object) -> EngineHarness:
    cfg = DailyRealizedLossConfig.model_validate({"enabled": True, "limit": -500, **config})
    return EngineHarness(DailyRealizedLoss(cfg), warn_at=warn_at, fast_path=fast_path)


def rule_actions(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.rule == "RULE-003"]


# ---- realized P&L ---------------------------------------------------------------------------------


def test_a_losing_trade_then_a_second_crossing_the_limit_trips_once() -> None:
    h = harness(include_unrealized=False)
    assert h.apply(trade(1, MNQ, "21000", pnl="-300")) == []
    actions = h.apply(trade(2, MNQ, "21000", pnl="-250"))
    assert kinds(actions) == BREACH
    assert actions[0].reason == "day P&L -550.00 <= limit -500.00"
    assert all(a.subject == "account" for a in actions)
    # later losses the same day do not enforce again: the lockout already holds
    assert h.apply(trade(3, MNQ, "21000", pnl="-100")) == []
    assert h.apply(trade(4, MNQ, "21000", pnl="-100")) == []


def test_a_loss_exactly_at_the_limit_counts() -> None:
    h = harness(include_unrealized=False)
    assert kinds(h.apply(trade(1, MNQ, "21000", pnl="-500"))) == BREACH


def test_one_cent_short_of_the_limit_does_nothing() -> None:
    h = harness(include_unrealized=False)
    assert h.apply(trade(1, MNQ, "21000", pnl="-499.99")) == []


def test_fees_count_towards_the_loss_by_default() -> None:
    h = harness(include_unrealized=False)
    actions = h.apply(trade(1, MNQ, "21000", pnl="-497", fees="3"))
    assert kinds(actions) == BREACH
    assert actions[0].reason == "day P&L -500.00 <= limit -500.00"


def test_fees_are_ignored_when_include_fees_is_false() -> None:
    h = harness(include_unrealized=False, include_fees=False)
    assert h.apply(trade(1, MNQ, "21000", pnl="-497", fees="3")) == []


def test_a_duplicate_execution_counts_once() -> None:
    h = harness(include_unrealized=False)
    h.apply(trade(1, MNQ, "21000", pnl="-300"))
    assert h.apply(trade(1, MNQ, "21000", pnl="-300")) == []  # replayed after a reconnect


def test_a_voided_execution_does_not_count() -> None:
    h = harness(include_unrealized=False)
    h.apply(trade(1, MNQ, "21000", pnl="-300"))
    assert h.apply(trade(2, MNQ, "21000", pnl="-300", voided=True)) == []


# ---- enforcement --------------------------------------------------------------------------------


def test_the_breach_flattens_cancels_and_locks_the_account_until_the_next_reset() -> None:
    h = harness(include_unrealized=False)
    actions = h.apply(trade(1, MNQ, "21000", pnl="-600"))
    lock = actions[2]
    assert isinstance(lock, LockAccount)
    assert (lock.scope, lock.symbol, lock.until, lock.condition) == ("account", None, RESET, None)
    assert dict(lock.inputs)["day_pnl"] == "-600.00"
    assert dict(lock.inputs)["limit"] == "-500.00"
    assert h.state.lockouts.covering(None).rule == "RULE-003"


def test_a_position_opened_while_locked_is_closed_by_the_lockout_gate() -> None:
    h = harness(include_unrealized=False)
    h.apply(trade(1, MNQ, "21000", pnl="-600"))
    h.tick(minutes=5)
    assert kinds(h.apply(pos(ES, 1, "5000"))) == [("LOCKOUT", "close_position")]


# ---- daily reset --------------------------------------------------------------------------------


def test_the_lockout_ends_at_the_daily_reset_with_an_unlock() -> None:
    h = harness(include_unrealized=False)
    h.apply(trade(1, MNQ, "21000", pnl="-600"))
    assert rule_actions(h.tick(to=RESET - timedelta(seconds=1))) == []
    fired = h.tick(to=RESET)
    unlocks = [(t, a.kind) for t, a in h.log if a.rule == "RULE-003" and a.kind == "unlock"]
    assert unlocks == [(RESET, "unlock")]
    assert ("RESET", "alert") in kinds(fired)
    assert h.state.lockouts.covering(None) is None


def test_the_day_pnl_restarts_at_the_reset_and_a_new_day_can_breach_again() -> None:
    h = harness(include_unrealized=False)
    h.apply(trade(1, MNQ, "21000", pnl="-450"))
    h.tick(to=RESET)
    assert h.apply(trade(2, MNQ, "21000", pnl="-450")) == []  # -450 today, not -900
    assert kinds(h.apply(trade(3, MNQ, "21000", pnl="-50"))) == BREACH
    lock = h.log[-1][1]
    assert isinstance(lock, LockAccount) and lock.until == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)


def test_a_breach_rearms_after_the_reset() -> None:
    h = harness(include_unrealized=False)
    h.apply(trade(1, MNQ, "21000", pnl="-600"))
    h.tick(to=RESET)
    assert kinds(h.apply(trade(2, MNQ, "21000", pnl="-700"))) == BREACH


# ---- unrealized P&L -------------------------------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["fast_path", "every_quote"])
def fast_path(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_open_losses_count_by_default_and_a_quote_can_trip_the_limit(fast_path: bool) -> None:
    h = harness(fast_path=fast_path)
    h.apply(trade(1, MNQ, "21000", pnl="-100"))
    h.apply(pos(MNQ, 2, "21000"))
    assert rule_actions(h.apply(quote(MNQ, 20900.25))) == []  # -100 - 399.00 = -499.00
    actions = h.apply(quote(MNQ, 20900.0))  # -100 - 400.00: exactly the limit
    assert kinds(actions) == BREACH
    assert actions[0].reason == "day P&L -500.00 <= limit -500.00"


def test_a_short_position_loses_when_the_price_rises(fast_path: bool) -> None:
    h = harness(fast_path=fast_path)
    h.apply(pos(ES, -1, "5000"))  # $50 per point
    assert rule_actions(h.apply(quote(ES, 5009.75))) == []  # -487.50
    assert kinds(h.apply(quote(ES, 5010.0))) == BREACH  # -500.00


def test_several_positions_sum_and_slack_is_shared(fast_path: bool) -> None:
    h = harness(fast_path=fast_path)
    h.apply(pos(MNQ, 1, "21000"), pos(ES, 1, "5000"))
    h.apply(quote(MNQ, 21000.0), quote(ES, 5000.0))
    assert rule_actions(h.apply(quote(ES, 4994.0))) == []  # -300
    assert rule_actions(h.apply(quote(MNQ, 20900.5))) == []  # -300 - 199 = -499
    assert kinds(h.apply(quote(MNQ, 20900.0))) == BREACH  # -300 - 200 = -500


def test_a_position_without_a_quote_is_not_counted_as_zero_but_left_out_and_reported() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"), pos(ES, 1, "5000"))
    h.apply(quote(ES, 4995.0))  # ES -250; MNQ has no price yet
    actions = h.apply(trade(1, MNQ, "21000", pnl="-250"))
    assert kinds(actions) == BREACH
    assert actions[0].reason == (
        "day P&L -500.00 <= limit -500.00 (1 open position(s) without a price not counted)"
    )
    assert dict(actions[0].inputs)["unknown_positions"] == "1"


def test_the_first_quote_of_an_unpriced_position_is_evaluated(fast_path: bool) -> None:
    h = harness(fast_path=fast_path)
    h.apply(trade(1, MNQ, "21000", pnl="-400"))
    h.apply(pos(MNQ, 1, "21000"))
    assert kinds(h.apply(quote(MNQ, 20950.0))) == BREACH  # -400 - 100


def test_quotes_are_ignored_when_include_unrealized_is_false(fast_path: bool) -> None:
    h = harness(include_unrealized=False, fast_path=fast_path)
    h.apply(pos(MNQ, 1, "21000"))
    assert h.apply(quote(MNQ, 20000.0)) == []  # -2000 open, nothing realized
    assert not DailyRealizedLoss(DailyRealizedLossConfig(include_unrealized=False)).quote_sensitive


def test_a_closing_execution_is_not_counted_twice_before_its_position_snapshot() -> None:
    # The gateway sends the closing trade before the position update: the loss is realized while
    # the position still shows the contract. -100 earlier, -300 on this close: -400, not -700.
    h = harness()
    h.apply(trade(1, MNQ, "21000", pnl="-100"))
    h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20850.0))  # open -300
    assert h.apply(trade(2, MNQ, "20850", pnl="-300", side=OrderSide.SELL)) == []
    assert h.apply(flat(MNQ)) == []


def test_a_quote_between_a_closing_trade_and_its_position_snapshot_does_not_count_the_loss_twice() -> None:
    h = harness()
    h.apply(trade(1, MNQ, "21000", pnl="-100"))
    h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 20850.0))
    h.apply(trade(2, MNQ, "20850", pnl="-300", side=OrderSide.SELL))  # day P&L is now -400
    assert rule_actions(h.apply(quote(MNQ, 20850.25))) == []


def test_a_partial_close_keeps_the_unrealized_of_the_contracts_still_open() -> None:
    # long 2 at 21000, mark 20877.50: -245 each (-490, inside the limit). Selling 1 realizes -245
    # and pays 10 in fees; the other -245 stays open: -500, the limit.
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), quote(MNQ, 20877.5))
    actions = h.apply(trade(1, MNQ, "20877.5", pnl="-245", fees="10", side=OrderSide.SELL, size=1))
    assert kinds(actions) == BREACH
    assert actions[0].reason == "day P&L -500.00 <= limit -500.00"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-12, max_value=12), min_size=1, max_size=40))
def test_the_quote_fast_path_decides_exactly_as_evaluating_every_quote(steps: list[int]) -> None:
    logs = []
    for fast in (True, False):
        h = harness(fast_path=fast, warn_at=("0.5", "0.75", "0.9"))
        h.apply(trade(1, MNQ, "21000", pnl="-120"))
        h.apply(pos(MNQ, 2, "21000"), pos(ES, -1, "5000"))
        mnq, es = Decimal("21000"), Decimal("5000")
        h.apply(quote(MNQ, float(mnq)), quote(ES, float(es)))
        for i, step in enumerate(steps):
            if i % 2:
                mnq += Decimal("6.25") * step
                h.apply(quote(MNQ, float(mnq)))
            else:
                es += Decimal("0.25") * step
                h.apply(quote(ES, float(es)))
        logs.append([(a.kind, a.reason) for _, a in h.log if a.rule == "RULE-003"])
    assert logs[0] == logs[1]


# ---- warnings -----------------------------------------------------------------------------------


def test_warnings_fire_once_per_fraction_per_day() -> None:
    h = harness(include_unrealized=False, warn_at=("0.5", "0.75", "0.9"))
    first = h.apply(trade(1, MNQ, "21000", pnl="-250"))
    assert kinds(first) == [("RULE-003", "alert")]
    assert first[0].message == "day P&L -250.00 reached 50% of limit -500.00"
    assert first[0].subject == "account:warn:0.5"
    assert h.apply(trade(2, MNQ, "21000", pnl="-10")) == []
    jumped = h.apply(trade(3, MNQ, "21000", pnl="-200"))  # -460: past 75% and 90% at once
    assert [a.message for a in jumped] == ["day P&L -460.00 reached 90% of limit -500.00"]  # one alert
    assert kinds(h.apply(trade(4, MNQ, "21000", pnl="-40"))) == BREACH  # no more warnings at the breach


def test_warnings_rearm_at_the_reset() -> None:
    h = harness(include_unrealized=False, warn_at=("0.5",))
    h.apply(trade(1, MNQ, "21000", pnl="-250"))
    h.tick(to=RESET)
    assert kinds(h.apply(trade(2, MNQ, "21000", pnl="-260"))) == [("RULE-003", "alert")]


def test_a_warning_from_an_open_loss_fires_on_the_quote_that_reaches_it(fast_path: bool) -> None:
    h = harness(fast_path=fast_path, warn_at=("0.5",))
    h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 21000.0))
    assert rule_actions(h.apply(quote(MNQ, 20875.25))) == []  # -249.50
    assert kinds(h.apply(quote(MNQ, 20875.0))) == [("RULE-003", "alert")]  # -250.00


# ---- config and description ----------------------------------------------------------------------


def test_describe_names_the_limit_and_what_is_counted() -> None:
    text = DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-750)).describe()
    assert "RULE-003" in text and "-750.00" in text
    assert "minus fees" in text and "plus unrealized" in text and "until the daily reset" in text


def test_defaults_match_the_config_reference() -> None:
    cfg = DailyRealizedLossConfig()
    assert (cfg.enabled, cfg.limit, cfg.include_unrealized, cfg.include_fees) == (
        False,
        Decimal(-500),
        True,
        True,
    )


@pytest.mark.parametrize("limit", [500, 0, "0"])
def test_a_limit_that_is_not_a_loss_is_rejected_with_the_fix(limit: object) -> None:
    with pytest.raises(ValidationError, match=r"limit must be negative \(a loss\), e.g. -500"):
        DailyRealizedLossConfig(limit=limit)


def test_a_limit_that_is_not_a_number_is_rejected_with_the_fix() -> None:
    with pytest.raises(ValidationError, match=r"use a number, e.g. -500"):
        DailyRealizedLossConfig.model_validate({"limit": "five hundred"})


def test_an_unknown_key_is_an_error_not_silently_ignored() -> None:
    with pytest.raises(ValidationError, match="include_unrealised"):
        DailyRealizedLossConfig.model_validate({"limit": -500, "include_unrealised": False})
