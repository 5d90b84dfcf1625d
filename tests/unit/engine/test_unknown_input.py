"""Nothing is guessed silently: unknown contracts and undefined enum values get one alert each.

RULES.md, settled points: a position in a contract with no tick spec gets one warning naming the
contract and the config key that fixes it (``instruments:``); a payload with an undefined enum value
(position type 0, an unknown order status) gets one alert naming the field and the value, and the
event is applied only where its meaning is certain.
"""

from __future__ import annotations

from decimal import Decimal

from risk_manager.domain.actions import Alert
from risk_manager.domain.contracts import ContractSpec, ContractTable
from risk_manager.domain.events import OrderStatus, PositionEvent, PositionType
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig

from engine_helpers import ACCOUNT, MNQ, EngineHarness, kinds, order, pos, quote

UNKNOWN = "CON.F.US.ZZZ.H26"  # no tick spec in the built-in table


def harness(contracts: ContractTable | None = None) -> EngineHarness:
    cfg = DailyRealizedLossConfig(enabled=True, limit=Decimal(-500))  # include_unrealized: true
    return EngineHarness(DailyRealizedLoss(cfg), contracts=contracts)


def undefined_position(size: int, type_: int = PositionType.UNDEFINED) -> PositionEvent:
    return PositionEvent(1, ACCOUNT, MNQ, int(type_), size, Decimal(21000))


# ---- contracts with no tick spec --------------------------------------------------------------------


def test_a_position_in_a_contract_without_a_tick_spec_gets_one_warning_naming_the_fix() -> None:
    h = harness()
    [alert] = h.apply(pos(UNKNOWN, 1, "100"))
    assert isinstance(alert, Alert)
    assert (alert.rule, alert.level) == ("INPUT", "warning")
    assert (
        UNKNOWN in alert.message and "instruments:" in alert.message and "risk_config.yaml" in alert.message
    )
    assert ("config_key", "instruments") in alert.inputs


def test_the_unknown_contract_warning_is_not_repeated_for_later_updates_of_the_day() -> None:
    h = harness()
    h.apply(pos(UNKNOWN, 1, "100"))
    assert h.apply(pos(UNKNOWN, 2, "100"), quote(UNKNOWN, 90.0)) == []
    assert h.apply(pos(UNKNOWN, 0, "0"), pos(UNKNOWN, -1, "100")) == []


def test_its_pnl_stays_unknown_and_out_of_the_limit() -> None:
    h = harness()
    h.apply(pos(UNKNOWN, 1, "100"), quote(UNKNOWN, 1.0))  # a huge loss if we guessed a tick value
    assert h.state.lockouts.covering(None) is None


def test_a_contract_given_under_instruments_gets_no_warning() -> None:
    table = ContractTable({"ZZZ": ContractSpec("ZZZ", Decimal("0.25"), Decimal("5"))})
    assert harness(table).apply(pos(UNKNOWN, 1, "100")) == []


# ---- position type 0 (Undefined) ---------------------------------------------------------------------


def test_a_position_of_type_undefined_is_reported_and_not_applied() -> None:
    h = harness()
    [alert] = h.apply(undefined_position(2))
    assert isinstance(alert, Alert)
    assert (alert.rule, alert.level) == ("INPUT", "warning")
    assert "field type = 0" in alert.message and MNQ in alert.message
    assert ("field", "type") in alert.inputs and ("value", "0") in alert.inputs
    assert MNQ not in h.state.positions  # not taken as long


def test_an_undefined_type_does_not_turn_a_known_short_into_a_long() -> None:
    h = harness()
    h.apply(pos(MNQ, -2, "21000"))
    assert kinds(h.apply(undefined_position(3))) == [("INPUT", "alert")]
    assert h.state.positions[MNQ].size == -2


def test_an_unknown_position_type_value_is_reported_too() -> None:
    h = harness()
    [alert] = h.apply(undefined_position(1, type_=7))
    assert isinstance(alert, Alert) and "field type = 7" in alert.message


def test_a_flat_update_with_type_undefined_is_certain_and_applied() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    assert h.apply(undefined_position(0)) == []
    assert MNQ not in h.state.positions


# ---- unknown order status ----------------------------------------------------------------------------


def test_an_order_with_an_unknown_status_is_reported_and_the_known_order_kept() -> None:
    h = harness()
    h.apply(order(5, MNQ, stop_price=20990))
    for status in (OrderStatus.NONE, 42):
        [alert] = h.apply(order(5, MNQ, stop_price=20990, status=status))
        assert isinstance(alert, Alert) and alert.rule == "INPUT"
        assert f"field status = {int(status)}" in alert.message
        assert ("field", "status") in alert.inputs
    assert 5 in h.state.working_orders  # neither "done" nor "working" is guessed
