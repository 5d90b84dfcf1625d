"""RULE-001 max_contracts, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Alert, ClosePosition, Flatten
from risk_manager.rules.max_contracts import MaxContracts, MaxContractsConfig

from engine_helpers import ES, MNQ, RTY, T0, EngineHarness, flat, kinds, pos, quote, trade

RESET = T0.replace(hour=23)  # 17:00 Chicago on 2 March 2026 (CST)


def harness(warn_at: Any = (), **cfg: Any) -> EngineHarness:
    return EngineHarness(MaxContracts(MaxContractsConfig(enabled=True, **cfg)), warn_at=warn_at)


def closes(actions: list[Any]) -> list[tuple[str, int | None]]:
    return [(a.contract_id, a.size) for a in actions if isinstance(a, ClosePosition)]


def test_going_over_the_limit_closes_the_excess_from_the_position_that_grew() -> None:
    h = harness(limit=5)
    assert h.apply(pos(ES, 2, "5000"), pos(MNQ, 3, "21000")) == []
    actions = h.apply(pos(MNQ, 5, "21000"))
    assert kinds(actions) == [("RULE-001", "close_position")]
    assert closes(actions) == [(MNQ, 2)]
    close = actions[0]
    assert close.subject == f"pos:{MNQ}"
    assert close.reason == f"open contracts (gross) 7 > limit 5: close 2 of {MNQ}"
    assert ("total", "7") in close.inputs and ("limit", "5") in close.inputs


def test_exactly_at_the_limit_is_allowed_one_contract_more_is_not() -> None:
    h = harness(limit=5)
    assert h.apply(pos(MNQ, 5, "21000")) == []
    assert closes(h.apply(pos(MNQ, 6, "21000"))) == [(MNQ, 1)]


def test_gross_counts_shorts_and_longs_alike() -> None:
    h = harness(limit=4)
    assert h.apply(pos(MNQ, 2, "21000"), pos(ES, -2, "5000")) == []
    assert closes(h.apply(pos(ES, -3, "5000"))) == [(ES, 1)]


def test_a_position_that_opens_over_the_limit_is_reduced_to_the_limit() -> None:
    h = harness(limit=3)
    assert closes(h.apply(pos(MNQ, 10, "21000"))) == [(MNQ, 7)]


def test_a_reversal_counts_as_growth() -> None:
    h = harness(limit=4)
    assert h.apply(pos(MNQ, 3, "21000")) == []
    assert closes(h.apply(pos(MNQ, -6, "21010"))) == [(MNQ, 2)]


def test_the_excess_closed_is_capped_at_the_size_of_the_position_that_grew() -> None:
    h = harness(limit=5)
    assert closes(h.apply(pos(MNQ, 7, "21000"))) == [(MNQ, 2)]
    # Before our reduction is filled, another position opens: 8 > 5 but only ES's 1 can be taken.
    assert closes(h.apply(pos(ES, 1, "5000"))) == [(ES, 1)]


def test_net_count_offsets_longs_against_shorts() -> None:
    h = harness(limit=3, count_type="net")
    assert h.apply(pos(MNQ, 3, "21000"), pos(ES, -3, "5000")) == []  # net 0
    assert h.apply(pos(MNQ, 6, "21000")) == []  # gross 9, net 3: at the limit
    actions = h.apply(pos(MNQ, 7, "21000"))  # net 4
    assert closes(actions) == [(MNQ, 1)]
    assert "open contracts (net) 4 > limit 3" in (actions[0].reason or "")


def test_net_count_rising_because_a_hedge_was_reduced_is_taken_from_the_net_side() -> None:
    h = harness(limit=3, count_type="net")
    assert h.apply(pos(MNQ, 3, "21000"), pos(ES, -2, "5000"), pos(MNQ, 5, "21000")) == []  # net 3
    # Closing the hedge grows no position but lifts the net count to 5: the long side pays.
    assert closes(h.apply(flat(ES))) == [(MNQ, 2)]


def test_close_all_flattens_the_account() -> None:
    h = harness(limit=5, enforcement="close_all")
    assert h.apply(pos(ES, 2, "5000"), pos(MNQ, 3, "21000")) == []
    actions = h.apply(pos(MNQ, 4, "21000"))
    assert kinds(actions) == [("RULE-001", "flatten")]
    assert isinstance(actions[0], Flatten) and actions[0].subject == f"pos:{MNQ}"


def test_no_lockout_follows_a_breach() -> None:
    h = harness(limit=1, enforcement="close_all")
    h.apply(pos(MNQ, 2, "21000"))
    assert h.state.lockouts.covering("MNQ") is None
    assert h.apply(flat(MNQ), pos(MNQ, 1, "21000")) == []


def test_a_breach_is_decided_once_until_the_position_grows_again() -> None:
    h = harness(limit=5)
    assert closes(h.apply(pos(MNQ, 7, "21000"))) == [(MNQ, 2)]
    # The same snapshot again (a re-send, a reconnect) and another position's reduction decide nothing.
    assert h.apply(pos(MNQ, 7, "21000")) == []
    assert closes(h.apply(pos(RTY, 1, "2000"))) == [(RTY, 1)]  # RTY itself grew: its own excess
    assert h.apply(pos(RTY, 0, "0")) == []
    # Growth re-arms: the new excess is closed.
    assert closes(h.apply(pos(MNQ, 8, "21000"))) == [(MNQ, 3)]
    # Reduced to the limit by the enforcer, then over again by growth.
    assert h.apply(pos(MNQ, 5, "21000")) == []
    assert closes(h.apply(pos(MNQ, 6, "21000"))) == [(MNQ, 1)]


def test_events_that_are_not_position_updates_do_not_wake_the_rule() -> None:
    h = harness(limit=5)
    h.apply(pos(MNQ, 7, "21000"))
    assert h.apply(quote(MNQ, 20000.0), trade(1, MNQ, "21000", pnl="-10")) == []


def test_warnings_once_per_threshold_per_trading_day() -> None:
    h = harness(limit=10, warn_at=("0.5", "0.75", "0.9"))
    assert h.apply(pos(MNQ, 4, "21000")) == []
    actions = h.apply(pos(MNQ, 5, "21000"))
    assert [a.message for a in actions if isinstance(a, Alert)] == [
        "5 of 10 open contracts (gross), 50% of the limit"
    ]
    assert actions[0].subject == "contracts:warn:0.5"
    assert h.apply(pos(MNQ, 4, "21000"), pos(MNQ, 5, "21000")) == []
    jumped = h.apply(pos(MNQ, 9, "21000"))  # past 75% and 90% at once: one alert, for the highest
    assert [a.message for a in jumped] == ["9 of 10 open contracts (gross), 90% of the limit"]
    assert h.apply(flat(MNQ), pos(MNQ, 9, "21000")) == []  # still the same trading day
    # A new trading day: the thresholds count again.
    h.tick(to=RESET + timedelta(minutes=1))
    after = h.apply(pos(MNQ, 10, "21000"))
    assert [a.subject for a in after] == ["contracts:warn:0.9"]


def test_an_excess_left_open_over_the_daily_reset_is_decided_again_the_next_day() -> None:
    h = harness(limit=5)
    assert closes(h.apply(pos(MNQ, 7, "21000"))) == [(MNQ, 2)]
    h.tick(to=RESET + timedelta(seconds=1))
    # The enforcer never managed to reduce it; the new day's markers are fresh.
    assert closes(h.apply(pos(MNQ, 7, "21000"))) == [(MNQ, 2)]


def test_describe_names_the_limit_count_type_and_enforcement() -> None:
    text = MaxContracts(MaxContractsConfig(enabled=True, limit=7, count_type="net")).describe()
    assert "RULE-001" in text and "7" in text and "net" in text and "close the excess" in text
    assert "flatten" in MaxContracts(MaxContractsConfig(enabled=True, enforcement="close_all")).describe()


def test_defaults_follow_config_md() -> None:
    cfg = MaxContractsConfig()
    assert (cfg.enabled, cfg.limit, cfg.count_type, cfg.enforcement) == (False, 5, "gross", "reduce_to_limit")


@pytest.mark.parametrize("bad", [0, -1, 2.5, "5", True, None])
def test_the_limit_must_be_a_positive_whole_number(bad: Any) -> None:
    with pytest.raises(ValidationError, match="positive whole number of contracts"):
        MaxContractsConfig(enabled=True, limit=bad)


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("count_type", "both", "'gross' or 'net'"),
        ("enforcement", "flatten", "'reduce_to_limit' or 'close_all'"),
        ("limt", 5, "Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_refused_naming_the_choices(key: str, value: Any, fix: str) -> None:
    with pytest.raises(ValidationError, match=fix):
        MaxContractsConfig(enabled=True, **{key: value})
