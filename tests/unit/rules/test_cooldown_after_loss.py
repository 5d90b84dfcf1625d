"""RULE-007 cooldown_after_loss, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Action, Alert, LockAccount
from risk_manager.rules.cooldown_after_loss import CooldownAfterLoss, CooldownAfterLossConfig

from engine_helpers import ES, MNQ, T0, EngineHarness, OrderSide, kinds, pos, trade

RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 17:00 Chicago on T0's day
ENFORCED = [("RULE-007", "flatten"), ("RULE-007", "cancel_orders"), ("RULE-007", "lockout")]


def harness(**config: object) -> EngineHarness:
    return EngineHarness(
        CooldownAfterLoss(CooldownAfterLossConfig.model_validate({"enabled": True, **config}))
    )


def close(h: EngineHarness, trade_id: int, pnl: str | None, **kw: object) -> list[Action]:
    actions = h.apply(trade(trade_id, MNQ, "21000", pnl=pnl, side=OrderSide.SELL, **kw))  # type: ignore[arg-type]
    return [a for a in actions if a.rule == "RULE-007"]


def lock_of(actions: list[Action]) -> LockAccount:
    locks = [a for a in actions if isinstance(a, LockAccount)]
    assert len(locks) == 1
    return locks[0]


# ---- tiers ----------------------------------------------------------------------------------------


def test_a_loss_exactly_at_the_first_tier_locks_for_its_cooldown() -> None:
    h = harness()
    actions = close(h, 1, "-100")
    assert kinds(actions) == ENFORCED
    lock = lock_of(actions)
    assert (lock.scope, lock.until, lock.subject) == ("account", T0 + timedelta(minutes=5), "trade:1")
    assert lock.reason == "loss -100.00 on trade 1 <= tier -100.00: cooldown 5m"
    assert dict(lock.inputs) == {"trade": "1", "pnl": "-100.00", "tier": "-100.00", "cooldown": "5m"}


def test_a_loss_one_cent_short_of_the_first_tier_does_nothing() -> None:
    assert close(harness(), 1, "-99.99") == []


@pytest.mark.parametrize(("pnl", "minutes"), [("-199.99", 5), ("-200", 15), ("-1000", 15)])
def test_the_most_severe_tier_reached_wins(pnl: str, minutes: int) -> None:
    h = harness()
    assert lock_of(close(h, 1, pnl)).until == T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize("pnl", [None, "0", "250"])
def test_opening_fills_and_non_losing_closes_do_nothing(pnl: str | None) -> None:
    assert close(harness(), 1, pnl) == []


def test_a_voided_execution_does_not_count() -> None:
    assert close(harness(), 1, "-500", voided=True) == []


def test_fees_do_not_make_a_close_losing() -> None:
    # The tier compares the execution's profitAndLoss, as RULES.md says; fees are not part of it.
    assert close(harness(), 1, "-95", fees="10") == []


def test_a_duplicate_execution_does_not_lock_twice() -> None:
    h = harness()
    close(h, 1, "-150")
    h.tick(minutes=6)  # the cooldown has ended
    assert close(h, 1, "-150") == []  # the same execution replayed after a reconnect


# ---- enforcement ----------------------------------------------------------------------------------


def test_without_close_positions_orders_are_cancelled_and_the_account_locked_only() -> None:
    h = harness(close_positions=False)
    assert kinds(close(h, 1, "-150")) == [("RULE-007", "cancel_orders"), ("RULE-007", "lockout")]


def test_the_cooldown_ends_with_an_unlock_at_its_time() -> None:
    h = harness()
    close(h, 1, "-150")
    assert [a for a in h.tick(minutes=4, seconds=59) if a.rule == "RULE-007"] == []
    assert kinds([a for a in h.tick(seconds=1) if a.rule == "RULE-007"]) == [("RULE-007", "unlock")]
    assert [(t, a.kind) for t, a in h.log if a.kind == "unlock"] == [(T0 + timedelta(minutes=5), "unlock")]


def test_a_position_opened_during_the_cooldown_is_closed_by_the_lockout_gate() -> None:
    h = harness()
    close(h, 1, "-150")
    h.tick(minutes=1)
    assert kinds(h.apply(pos(ES, 1, "5000"))) == [("LOCKOUT", "close_position")]


def test_each_losing_close_after_the_cooldown_locks_again() -> None:
    h = harness()
    close(h, 1, "-150")
    h.tick(minutes=10)
    assert lock_of(close(h, 2, "-120")).until == h.now + timedelta(minutes=5)


def test_a_longer_cooldown_in_force_is_never_shortened() -> None:
    h = harness()
    first_until = lock_of(close(h, 1, "-250")).until  # 15 minutes
    h.tick(minutes=2)
    actions = close(h, 2, "-120")  # would be 5 minutes: ends before the one in force
    assert kinds(actions) == [("RULE-007", "alert")]
    alert = actions[0]
    assert isinstance(alert, Alert) and alert.level == "info"
    assert alert.message == (
        "loss -120.00 on trade 2 <= tier -100.00: cooldown 5m; the cooldown in force until "
        "2026-03-02 08:45:00 CST stays"
    )
    assert h.state.lockouts.covering(None).until == first_until
    h.tick(to=first_until - timedelta(seconds=1))
    assert h.state.lockouts.covering(None) is not None


def test_a_more_severe_loss_during_a_cooldown_extends_it() -> None:
    h = harness()
    close(h, 1, "-120")  # until T0 + 5m
    h.tick(minutes=1)
    actions = close(h, 2, "-300")
    assert kinds(actions) == ENFORCED
    assert h.state.lockouts.covering(None).until == T0 + timedelta(minutes=16)
    assert [a.kind for a in h.tick(minutes=5) if a.rule == "RULE-007"] == []  # the 5m end is gone


# ---- daily reset ----------------------------------------------------------------------------------


def test_a_cooldown_running_over_the_daily_reset_keeps_its_own_end() -> None:
    h = harness()
    h.tick(to=RESET - timedelta(minutes=2))
    close(h, 1, "-150")  # until reset + 3 minutes
    fired = h.tick(to=RESET)
    assert ("RULE-007", "unlock") not in kinds(fired)
    assert h.state.lockouts.covering(None).until == RESET + timedelta(minutes=3)
    assert kinds([a for a in h.tick(minutes=3) if a.rule == "RULE-007"]) == [("RULE-007", "unlock")]


# ---- config and description ----------------------------------------------------------------------


def test_defaults_match_the_config_reference() -> None:
    cfg = CooldownAfterLossConfig()
    assert cfg.close_positions is True
    assert [(str(t.loss), str(t.cooldown)) for t in cfg.tiers] == [("-100", "5m"), ("-200", "15m")]


def test_describe_lists_the_tiers() -> None:
    text = CooldownAfterLoss(CooldownAfterLossConfig(enabled=True)).describe()
    assert text == (
        "RULE-007 cooldown_after_loss: losing trade at tiers -100.00 -> 5m, -200.00 -> 15m "
        "-> flatten, cancel orders, lock for the cooldown"
    )


def test_tiers_out_of_order_are_rejected_with_the_order_to_use() -> None:
    with pytest.raises(
        ValidationError, match=r"from the smallest loss to the largest .*order them -100, -200"
    ):
        CooldownAfterLossConfig.model_validate(
            {"tiers": [{"loss": -200, "cooldown": "15m"}, {"loss": -100, "cooldown": "5m"}]}
        )


def test_duplicate_tier_losses_are_rejected() -> None:
    with pytest.raises(ValidationError, match=r"duplicate losses .*give each tier its own loss"):
        CooldownAfterLossConfig.model_validate(
            {"tiers": [{"loss": -100, "cooldown": "5m"}, {"loss": -100, "cooldown": "15m"}]}
        )


def test_a_tier_with_a_positive_loss_is_rejected_with_the_fix() -> None:
    with pytest.raises(ValidationError, match=r"limit must be negative \(a loss\), e.g. -500"):
        CooldownAfterLossConfig.model_validate({"tiers": [{"loss": 100, "cooldown": "5m"}]})


def test_a_tier_with_a_bad_cooldown_is_rejected_with_the_accepted_forms() -> None:
    with pytest.raises(ValidationError, match=r"is not a duration: use a positive number with s, m or h"):
        CooldownAfterLossConfig.model_validate({"tiers": [{"loss": -100, "cooldown": "5 minutes"}]})


def test_an_empty_tier_list_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"at least one \{loss, cooldown\}"):
        CooldownAfterLossConfig.model_validate({"tiers": []})


def test_an_unknown_tier_key_is_an_error() -> None:
    with pytest.raises(ValidationError, match="minutes"):
        CooldownAfterLossConfig.model_validate({"tiers": [{"loss": -100, "minutes": 5}]})


# ---- close_positions: false keeps the triggering fill (RULES.md, settled points) --------------------


def test_close_positions_false_keeps_the_position_change_of_the_losing_execution() -> None:
    h = harness(close_positions=False)
    h.apply(pos(MNQ, 2, "21000"))
    # sell 3 against a long 2: closes 2 at a loss and opens a short 1 (a reversal)
    actions = h.apply(trade(1, MNQ, "20900", pnl="-200", side=OrderSide.SELL, size=3))
    assert kinds(actions) == [("RULE-007", "cancel_orders"), ("RULE-007", "lockout")]
    h.tick(0.001)
    assert h.apply(pos(MNQ, -1, "20900")) == []  # that execution's own update arrives: it stays
    h.tick(1)
    h.apply(trade(2, MNQ, "20900", side=OrderSide.SELL))
    assert kinds(h.apply(pos(MNQ, -2, "20900"))) == [("LOCKOUT", "close_position")]  # a later grow


def test_close_positions_false_keeps_only_the_size_the_triggering_execution_brings() -> None:
    h = harness(close_positions=False)
    h.apply(pos(MNQ, 2, "21000"))
    h.apply(trade(1, MNQ, "20900", pnl="-200", side=OrderSide.SELL, size=3))
    # the update shows more than that execution explains: another fill grew it as well
    assert kinds(h.apply(pos(MNQ, -2, "20900"))) == [("LOCKOUT", "close_position")]


def test_a_position_update_long_after_the_losing_execution_is_a_later_open() -> None:
    h = harness(close_positions=False)
    h.apply(pos(MNQ, 2, "21000"))
    h.apply(trade(1, MNQ, "20900", pnl="-200", side=OrderSide.SELL, size=3))
    h.tick(10)  # a position update follows its execution within milliseconds, not seconds
    assert kinds(h.apply(pos(MNQ, -1, "20900"))) == [("LOCKOUT", "close_position")]
