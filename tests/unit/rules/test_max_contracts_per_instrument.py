"""RULE-002 max_contracts_per_instrument, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Alert, ClosePosition
from risk_manager.rules.max_contracts_per_instrument import (
    MaxContractsPerInstrument,
    MaxContractsPerInstrumentConfig,
)

from engine_helpers import CL, ES, MNQ, NQ, RTY, T0, EngineHarness, flat, kinds, pos, quote

RESET = T0.replace(hour=23)  # 17:00 Chicago on 2 March 2026 (CST)
MNQ_M26 = "CON.F.US.MNQ.M26"


def harness(warn_at: Any = (), **cfg: Any) -> EngineHarness:
    rule = MaxContractsPerInstrument(MaxContractsPerInstrumentConfig(enabled=True, **cfg))
    return EngineHarness(rule, warn_at=warn_at)


def closes(actions: list[Any]) -> list[tuple[str, int | None]]:
    return [(a.contract_id, a.size) for a in actions if isinstance(a, ClosePosition)]


def test_a_symbol_over_its_own_limit_has_the_excess_closed() -> None:
    h = harness(instrument_limits={"MNQ": 2})
    assert h.apply(pos(MNQ, 2, "21000")) == []
    actions = h.apply(pos(MNQ, 4, "21000"))
    assert kinds(actions) == [("RULE-002", "close_position")]
    assert closes(actions) == [(MNQ, 2)]
    assert actions[0].reason == f"MNQ contracts 4 > limit 2: close 2 of {MNQ}"
    assert actions[0].subject == f"pos:{MNQ}"


def test_exactly_at_the_symbol_limit_is_allowed_one_more_is_not() -> None:
    h = harness(instrument_limits={"ES": 1})
    assert h.apply(pos(ES, -1, "5000")) == []
    assert closes(h.apply(pos(ES, -2, "5000"))) == [(ES, 1)]


def test_other_symbols_do_not_count_against_a_symbols_limit() -> None:
    h = harness(instrument_limits={"MNQ": 2, "ES": 2})
    assert h.apply(pos(MNQ, 2, "21000"), pos(ES, 2, "5000")) == []


def test_product_code_aliases_name_the_same_symbol() -> None:
    h = harness(instrument_limits={"ENQ": 1})
    assert MaxContractsPerInstrumentConfig(instrument_limits={"ENQ": 1}).instrument_limits == {"NQ": 1}
    assert closes(h.apply(pos(NQ, 2, "21000"))) == [(NQ, 1)]  # CON.F.US.ENQ.H26 is NQ


def test_all_contract_months_of_a_symbol_count_together() -> None:
    h = harness(instrument_limits={"MNQ": 3})
    assert h.apply(pos(MNQ, 2, "21000"), pos(MNQ_M26, -1, "21100")) == []  # a spread: 3 contracts
    assert closes(h.apply(pos(MNQ_M26, -2, "21100"))) == [(MNQ_M26, 1)]


def test_the_default_limit_covers_symbols_without_their_own() -> None:
    h = harness(default_limit=3, instrument_limits={"MNQ": 5})
    assert h.apply(pos(MNQ, 5, "21000"), pos(ES, 3, "5000")) == []
    assert closes(h.apply(pos(CL, 4, "70"))) == [(CL, 1)]


def test_unknown_symbols_are_allowed_when_configured_so() -> None:
    h = harness(instrument_limits={"MNQ": 1}, unknown_symbol_action="allow")
    assert h.apply(pos(ES, 50, "5000")) == []
    assert closes(h.apply(pos(MNQ, 2, "21000"))) == [(MNQ, 1)]


def test_unknown_symbols_are_closed_whole_when_blocked() -> None:
    h = harness(instrument_limits={"MNQ": 1}, unknown_symbol_action="block")
    assert h.apply(pos(MNQ, 1, "21000")) == []
    actions = h.apply(pos(ES, 3, "5000"))
    assert closes(actions) == [(ES, None)]
    assert "(symbol not allowed)" in (actions[0].reason or "")


def test_unknown_symbols_get_the_limit_n_of_the_action() -> None:
    h = harness(instrument_limits={"MNQ": 5}, unknown_symbol_action="limit:2")
    assert h.apply(pos(RTY, 2, "2000")) == []
    assert closes(h.apply(pos(RTY, 3, "2000"))) == [(RTY, 1)]


def test_close_all_closes_every_contract_of_that_symbol_only() -> None:
    h = harness(instrument_limits={"MNQ": 2, "ES": 5}, enforcement="close_all")
    assert h.apply(pos(ES, 1, "5000"), pos(MNQ, 1, "21000"), pos(MNQ_M26, 1, "21100")) == []
    actions = h.apply(pos(MNQ_M26, 2, "21100"))
    assert kinds(actions) == [("RULE-002", "close_position")] * 2
    assert closes(actions) == [(MNQ, None), (MNQ_M26, None)]


def test_no_lockout_follows_a_breach() -> None:
    h = harness(instrument_limits={"MNQ": 1})
    h.apply(pos(MNQ, 2, "21000"))
    assert len(h.state.lockouts) == 0


def test_a_breach_is_decided_once_until_the_position_grows_again() -> None:
    h = harness(instrument_limits={"MNQ": 2})
    assert closes(h.apply(pos(MNQ, 4, "21000"))) == [(MNQ, 2)]
    assert h.apply(pos(MNQ, 4, "21000")) == []  # the same snapshot again
    assert h.apply(pos(MNQ, 3, "21000")) == []  # partly reduced, reduction still on its way
    assert h.apply(quote(MNQ, 20000.0)) == []  # quotes do not wake the rule
    assert closes(h.apply(pos(MNQ, 5, "21000"))) == [(MNQ, 3)]  # growth re-arms
    assert h.apply(flat(MNQ)) == []
    assert closes(h.apply(pos(MNQ, 3, "21000"))) == [(MNQ, 1)]  # reopened: a new breach


def test_warnings_per_symbol_once_per_threshold_per_trading_day() -> None:
    h = harness(instrument_limits={"MNQ": 4, "ES": 2}, warn_at=("0.5", "0.75"))
    actions = h.apply(pos(MNQ, 2, "21000"), pos(ES, 1, "5000"))
    assert [(a.subject, a.message) for a in actions if isinstance(a, Alert)] == [
        ("symbol:MNQ:warn:0.5", "2 of 4 MNQ contracts, 50% of the limit"),
        ("symbol:ES:warn:0.5", "1 of 2 ES contracts, 50% of the limit"),
    ]
    assert h.apply(flat(MNQ), pos(MNQ, 2, "21000")) == []
    assert [a.subject for a in h.apply(pos(MNQ, 3, "21000"))] == ["symbol:MNQ:warn:0.75"]
    h.tick(to=RESET + timedelta(minutes=1))
    # A new trading day: every symbol still at a threshold is reported again, once.
    assert [a.subject for a in h.apply(pos(MNQ, 2, "21000"))] == ["symbol:ES:warn:0.5", "symbol:MNQ:warn:0.5"]
    assert h.apply(pos(MNQ, 2, "21000")) == []


def test_a_blocked_symbol_raises_no_warnings() -> None:
    h = harness(default_limit=None, instrument_limits={"MNQ": 4}, unknown_symbol_action="block",
                warn_at=("0.5",))
    assert kinds(h.apply(pos(ES, 1, "5000"))) == [("RULE-002", "close_position")]


def test_an_excess_left_open_over_the_daily_reset_is_decided_again_the_next_day() -> None:
    h = harness(instrument_limits={"MNQ": 2})
    assert closes(h.apply(pos(MNQ, 4, "21000"))) == [(MNQ, 2)]
    h.tick(to=RESET + timedelta(seconds=1))
    assert closes(h.apply(pos(MNQ, 4, "21000"))) == [(MNQ, 2)]


def test_describe_lists_the_limits() -> None:
    cfg = MaxContractsPerInstrumentConfig(default_limit=3, instrument_limits={"MNQ": 2, "ES": 1})
    text = MaxContractsPerInstrument(cfg).describe()
    assert "RULE-002" in text and "ES 1" in text and "MNQ 2" in text and "default 3" in text
    blocked = MaxContractsPerInstrumentConfig(instrument_limits={"ES": 1}, unknown_symbol_action="block")
    assert "other symbols block" in MaxContractsPerInstrument(blocked).describe()


def test_unknown_symbol_action_is_normalised() -> None:
    cfg = MaxContractsPerInstrumentConfig(unknown_symbol_action=" LIMIT:3 ")
    assert cfg.unknown_symbol_action == "limit:3"
    assert cfg.limit_for("ES") == 3


@pytest.mark.parametrize("bad", ["deny", "limit:0", "limit:-1", "limit:x", "limit", 3, None])
def test_a_bad_unknown_symbol_action_is_refused_with_the_choices(bad: Any) -> None:
    with pytest.raises(ValidationError, match="use allow, block or limit:N"):
        MaxContractsPerInstrumentConfig(unknown_symbol_action=bad)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2"])
def test_limits_must_be_positive_whole_numbers(bad: Any) -> None:
    with pytest.raises(ValidationError, match="positive whole number of contracts"):
        MaxContractsPerInstrumentConfig(instrument_limits={"MNQ": bad})
    with pytest.raises(ValidationError, match="positive whole number of contracts"):
        MaxContractsPerInstrumentConfig(default_limit=bad)


def test_a_symbol_key_that_is_not_a_root_is_refused() -> None:
    with pytest.raises(ValidationError, match="use a CME root"):
        MaxContractsPerInstrumentConfig(instrument_limits={"M-NQ": 1})


def test_two_names_of_the_same_symbol_are_refused() -> None:
    with pytest.raises(ValidationError, match="'ENQ' and 'NQ' are the same symbol NQ: keep one limit"):
        MaxContractsPerInstrumentConfig(instrument_limits={"ENQ": 1, "NQ": 2})


def test_an_enabled_rule_without_any_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="no limit is configured: set default_limit"):
        MaxContractsPerInstrumentConfig(enabled=True)
    MaxContractsPerInstrumentConfig(enabled=True, unknown_symbol_action="block")  # blocks all: a limit
