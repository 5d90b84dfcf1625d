"""RULE-006 trade_frequency_limit, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Action, LockAccount
from risk_manager.domain.calendar import SessionWindow, TradingCalendar
from risk_manager.rules.trade_frequency_limit import TradeFrequencyLimit, TradeFrequencyLimitConfig

from engine_helpers import MNQ, T0, EngineHarness, kinds, pos, trade

RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 17:00 Chicago on T0's day
LOCK = [("RULE-006", "cancel_orders"), ("RULE-006", "lockout")]


def harness(
    *, warn_at: tuple[str, ...] = (), calendar: TradingCalendar | None = None, **config: object
) -> EngineHarness:
    cfg = TradeFrequencyLimitConfig.model_validate({"enabled": True, **config})
    return EngineHarness(TradeFrequencyLimit(cfg), warn_at=warn_at, calendar=calendar)


def execute(h: EngineHarness, order_id: int, *, after: float = 0, fills: int = 1) -> list[Action]:
    """``fills`` executions of one order, ``after`` seconds after the previous call."""
    h.tick(after)
    out: list[Action] = []
    for n in range(fills):
        out += h.apply(trade(order_id * 100 + n, MNQ, "21000", order_id=order_id))
    return [a for a in out if a.rule == "RULE-006"]


def lock_of(actions: list[Action]) -> LockAccount:
    locks = [a for a in actions if isinstance(a, LockAccount)]
    assert len(locks) == 1
    return locks[0]


# ---- per minute ---------------------------------------------------------------------------------


def test_a_fourth_order_within_a_minute_locks_for_the_minute_cooldown() -> None:
    h = harness()
    for order_id in (1, 2, 3):
        assert execute(h, order_id, after=10) == []
    actions = execute(h, 4, after=10)
    assert kinds(actions) == LOCK
    lock = lock_of(actions)
    assert (lock.scope, lock.until) == ("account", T0 + timedelta(seconds=40 + 60))
    assert lock.subject == "window:per_minute"
    assert lock.reason == "4 executions in the last 60 s > per_minute 3: locked for 1m"


def test_exactly_the_limit_within_a_minute_is_allowed() -> None:
    h = harness()
    assert [execute(h, order_id, after=5) for order_id in (1, 2, 3)] == [[], [], []]


def test_several_fills_of_one_order_count_as_one_execution() -> None:
    h = harness()
    assert execute(h, 1, fills=3) == []
    assert execute(h, 2, fills=2) == []
    assert execute(h, 3, fills=4) == []
    assert kinds(execute(h, 4)) == LOCK


def test_an_execution_exactly_60_seconds_old_is_outside_the_minute_window() -> None:
    h = harness()
    execute(h, 1)
    execute(h, 2, after=20)
    execute(h, 3, after=20)
    assert execute(h, 4, after=20) == []  # orders at 0, 20, 40, 60: the window is (0, 60]


def test_an_execution_just_under_60_seconds_old_is_inside_the_minute_window() -> None:
    h = harness()
    execute(h, 1)
    execute(h, 2, after=20)
    execute(h, 3, after=20)
    assert kinds(execute(h, 4, after=19.999999)) == LOCK


def test_an_execution_exactly_3600_seconds_old_is_outside_the_hour_window() -> None:
    h = harness(per_minute=3, per_hour=3, per_session=50)
    execute(h, 1)
    execute(h, 2, after=1200)
    execute(h, 3, after=1200)
    assert execute(h, 4, after=1200) == []  # orders at 0, 20, 40, 60 min: the window is (0, 60 min]
    h2 = harness(per_minute=3, per_hour=3, per_session=50)
    execute(h2, 1)
    execute(h2, 2, after=1200)
    execute(h2, 3, after=1200)
    assert kinds(execute(h2, 4, after=1199.999999)) == LOCK


def test_executions_spread_over_more_than_a_minute_do_not_trip_per_minute() -> None:
    h = harness()
    execute(h, 1)
    execute(h, 2, after=20)
    execute(h, 3, after=20)
    assert execute(h, 4, after=20.001) == []  # the first order left the window


def test_close_positions_flattens_before_cancelling_and_locking() -> None:
    h = harness(close_positions=True)
    for order_id in (1, 2, 3):
        execute(h, order_id)
    assert kinds(execute(h, 4)) == [("RULE-006", "flatten"), *LOCK]


def test_the_cooldown_ends_with_an_unlock_and_the_window_rearms() -> None:
    h = harness()
    for order_id in (1, 2, 3, 4):
        execute(h, order_id)
    assert [a for a in h.tick(59) if a.rule == "RULE-006"] == []
    assert kinds([a for a in h.tick(1) if a.rule == "RULE-006"]) == [("RULE-006", "unlock")]
    assert h.state.lockouts.covering(None) is None
    for order_id in (5, 6, 7):
        assert execute(h, order_id, after=1) == []  # 3 in the new minute
    assert kinds(execute(h, 8)) == LOCK


def test_more_trades_during_the_cooldown_do_not_repeat_the_enforcement() -> None:
    h = harness()
    for order_id in (1, 2, 3, 4):
        execute(h, order_id)
    assert execute(h, 5, after=5) == []
    assert execute(h, 6, after=5) == []


# ---- per hour and per session ---------------------------------------------------------------------


def test_per_hour_locks_for_its_own_cooldown() -> None:
    h = harness(per_minute=3, per_hour=5)
    for order_id in range(1, 6):
        assert execute(h, order_id, after=30) == []  # never more than 3 in a minute
    actions = execute(h, 6, after=30)
    assert kinds(actions) == LOCK
    lock = lock_of(actions)
    assert lock.subject == "window:per_hour"
    assert lock.until == h.now + timedelta(minutes=30)
    assert lock.reason == "6 executions in the last hour > per_hour 5: locked for 30m"


def test_when_several_windows_are_exceeded_at_once_the_first_in_order_wins() -> None:
    h = harness(per_minute=3, per_hour=3, per_session=3)
    for order_id in (1, 2, 3):
        execute(h, order_id)
    actions = execute(h, 4)
    assert lock_of(actions).subject == "window:per_minute"
    assert lock_of(actions).until == h.now + timedelta(seconds=60)


def test_a_longer_window_still_acts_while_a_shorter_cooldown_is_in_force() -> None:
    h = harness(per_minute=3, per_hour=4)
    for order_id in (1, 2, 3):
        execute(h, order_id)
    assert lock_of(execute(h, 4)).subject == "window:per_minute"
    actions = execute(h, 5, after=10)  # minute: already enforced; hour: 5 > 4
    assert lock_of(actions).subject == "window:per_hour"
    assert h.state.lockouts.covering(None).until == h.now + timedelta(minutes=30)


def test_per_session_locks_until_the_daily_reset_and_the_reset_unlocks() -> None:
    h = harness(per_minute=2, per_hour=4, per_session=5)
    for order_id in range(1, 6):
        assert execute(h, order_id, after=1200) == []  # one every 20 minutes: at most 4 an hour
    actions = execute(h, 6, after=1200)
    lock = lock_of(actions)
    assert (lock.subject, lock.until) == ("window:per_session", RESET)
    assert lock.reason == "6 executions this trading day > per_session 5: locked for until_reset"
    fired = h.tick(to=RESET)
    assert ("RULE-006", "unlock") in kinds(fired)


def test_counts_restart_at_the_daily_reset() -> None:
    h = harness(per_minute=2, per_hour=4, per_session=5)
    for order_id in range(1, 6):
        execute(h, order_id, after=1200)
    h.tick(to=RESET)
    for order_id in range(11, 16):
        assert execute(h, order_id, after=1200) == []  # 5 on the new day: allowed again
    assert lock_of(execute(h, 16, after=1200)).until == RESET + timedelta(days=1)


def test_the_minute_window_restarts_at_the_reset() -> None:
    h = harness()
    h.tick(to=RESET - timedelta(seconds=20))
    for order_id in (1, 2, 3):
        execute(h, order_id)
    h.tick(to=RESET)
    assert execute(h, 4, after=1) == []


def test_until_session_start_locks_until_the_next_session_opens() -> None:
    chicago = ZoneInfo("America/Chicago")
    calendar = TradingCalendar(session=SessionWindow(time(8, 30), time(15, 0), chicago))
    h = harness(calendar=calendar, cooldowns={"per_minute": "until_session_start"})
    for order_id in (1, 2, 3):
        execute(h, order_id)
    lock = lock_of(execute(h, 4))
    assert lock.until == datetime(2026, 3, 3, 14, 30, tzinfo=UTC)  # Tuesday 08:30 Chicago


# ---- warnings ------------------------------------------------------------------------------------


def test_session_count_warnings_fire_once_per_fraction() -> None:
    h = harness(per_minute=3, per_hour=10, per_session=10, warn_at=("0.5", "0.9"))
    alerts: list[Action] = []
    for order_id in range(1, 10):
        alerts += execute(h, order_id, after=120)
    assert [a.message for a in alerts] == [
        "5 executions today reached 50% of per_session 10",
        "9 executions today reached 90% of per_session 10",
    ]
    assert [a.subject for a in alerts] == ["window:per_session:warn:0.5", "window:per_session:warn:0.9"]


# ---- config and description ----------------------------------------------------------------------


def test_defaults_match_the_config_reference() -> None:
    cfg = TradeFrequencyLimitConfig()
    assert (cfg.per_minute, cfg.per_hour, cfg.per_session, cfg.close_positions) == (3, 10, 50, False)
    assert [
        str(d) for d in (cfg.cooldowns.per_minute, cfg.cooldowns.per_hour, cfg.cooldowns.per_session)
    ] == [
        "1m",
        "30m",
        "until_reset",
    ]


def test_describe_names_each_window_and_cooldown() -> None:
    text = TradeFrequencyLimit(TradeFrequencyLimitConfig(enabled=True)).describe()
    assert text == (
        "RULE-006 trade_frequency_limit: > 3/min (lock 1m), > 10/hour (lock 30m), > 50/session "
        "(lock until_reset) -> cancel orders, lock"
    )


def test_windows_that_do_not_nest_are_rejected_with_the_fix() -> None:
    with pytest.raises(
        ValidationError, match=r"per_minute \(5\) <= per_hour \(4\) <= per_session \(50\) must hold"
    ):
        TradeFrequencyLimitConfig(per_minute=5, per_hour=4)
    with pytest.raises(ValidationError, match=r"raise per_hour/per_session"):
        TradeFrequencyLimitConfig(per_hour=60, per_session=50)


@pytest.mark.parametrize("value", [0, -1, "3", 2.5, True])
def test_a_count_that_is_not_a_positive_whole_number_is_rejected(value: object) -> None:
    with pytest.raises(ValidationError, match=r"not a positive whole number of executions: use e.g. 3"):
        TradeFrequencyLimitConfig.model_validate({"per_minute": value})


def test_a_bad_cooldown_is_rejected_with_the_accepted_forms() -> None:
    with pytest.raises(ValidationError, match=r"use a positive number with s, m or h \(30s, 15m, 1h\)"):
        TradeFrequencyLimitConfig.model_validate({"cooldowns": {"per_hour": "half an hour"}})


def test_an_unknown_cooldown_window_is_an_error() -> None:
    with pytest.raises(ValidationError, match="per_day"):
        TradeFrequencyLimitConfig.model_validate({"cooldowns": {"per_day": "1h"}})


# ---- close_positions: false keeps the triggering fill (RULES.md, settled points) --------------------


def test_close_positions_false_keeps_the_position_change_of_the_fourth_order() -> None:
    h = harness()
    for order_id in (1, 2, 3):
        assert execute(h, order_id, after=1) == []
        h.apply(pos(MNQ, order_id, "21000"))
    assert kinds(execute(h, 4, after=1)) == LOCK
    h.tick(0.001)
    assert h.apply(pos(MNQ, 4, "21000")) == []  # the fourth order's own fill, a millisecond later
    assert execute(h, 5, after=1) == []  # already locked: nothing new from RULE-006
    assert kinds(h.apply(pos(MNQ, 5, "21000"))) == [("LOCKOUT", "close_position")]  # a later grow


def test_close_positions_false_does_not_keep_more_than_the_triggering_fill() -> None:
    h = harness()
    for order_id in (1, 2, 3):
        execute(h, order_id, after=1)
    assert kinds(execute(h, 4, after=1)) == LOCK  # a buy of 1, and no position seen before it
    assert kinds(h.apply(pos(MNQ, 6, "21000"))) == [("LOCKOUT", "close_position")]


def test_close_positions_true_flattens_and_the_gate_closes_the_triggering_fill_too() -> None:
    h = harness(close_positions=True)
    for order_id in (1, 2, 3):
        execute(h, order_id, after=1)
    assert [k for _, k in kinds(execute(h, 4, after=1))] == ["flatten", "cancel_orders", "lockout"]
    assert kinds(h.apply(pos(MNQ, 1, "21000"))) == [("LOCKOUT", "close_position")]
