"""domain/actions: a decision made again for another account."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk_manager.domain.actions import ACTION_KINDS, Alert, ClosePosition, ModifyStop, format_time
from risk_manager.domain.records import fast_copier


def test_a_decision_for_another_account_differs_from_the_original_in_the_account_only() -> None:
    decisions = [
        ClosePosition(
            account_id=7, rule="RULE-004", reason="why", inputs=(("a", "1"),), subject="pos:X",
            contract_id="X",
        ),
        Alert(account_id=7, rule="RULE-004", message="m", reason="m", subject="pos:X:warn:0.5"),
        ModifyStop(account_id=7, rule="RULE-012", contract_id="X", order_id=3, stop_price=Decimal("1.25")),
    ]
    for decision in decisions:
        other = decision.for_account(8)
        assert type(other) is type(decision)
        assert other.account_id == 8
        assert repr(other) == repr(decision).replace("account_id=7", "account_id=8")


def test_every_kind_copied_for_another_account_is_frozen_and_equal_to_one_built_for_it() -> None:
    for kind in ACTION_KINDS.values():
        values = {f.name: f"value-{f.name}" for f in dataclasses.fields(kind)}
        original = kind(**values)
        other = original.for_account(8)
        assert type(other) is kind
        assert other == kind(**{**values, "account_id": 8})
        assert hash(other) == hash(kind(**{**values, "account_id": 8}))
        with pytest.raises(dataclasses.FrozenInstanceError):
            other.account_id = 9  # type: ignore[misc]


def test_a_fast_copier_gives_the_fields_it_changes_their_new_values_and_keeps_the_others() -> None:
    move = fast_copier(ModifyStop, ("account_id", "order_id"))
    original = ModifyStop(
        account_id=7, rule="RULE-012", reason="why", contract_id="X", order_id=3, stop_price=Decimal("1.25")
    )
    assert repr(move(original, 8, 4)) == repr(original).replace("account_id=7", "account_id=8").replace(
        "order_id=3", "order_id=4"
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _NoteAlert(Alert):
    note: str = ""


def test_a_record_of_a_subclass_of_a_kind_is_copied_as_that_subclass_with_its_own_fields() -> None:
    original = _NoteAlert(account_id=7, rule="RULE-004", message="m", note="kept")
    other = original.for_account(8)
    assert type(other) is _NoteAlert
    assert other == _NoteAlert(account_id=8, rule="RULE-004", message="m", note="kept")


@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1),  # strftime's %Y is not zero-padded below year 1000
        max_value=datetime(9998, 12, 31),  # in UTC still a datetime
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-6)), ZoneInfo("America/Chicago")]),
    )
)
def test_a_decision_time_is_written_as_utc_with_milliseconds_and_z_whatever_its_zone(t: datetime) -> None:
    utc = t.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert format_time(t) == expected


NEAR_INSTANTS = [
    datetime(2026, 3, 2, 14, 30, 0, 608000, tzinfo=UTC),
    datetime(2026, 3, 2, 8, 30, 0, 608000, tzinfo=ZoneInfo("America/Chicago")),  # the same instant
    datetime(2026, 3, 2, 14, 30, 0, 609000, tzinfo=UTC),
    datetime(2026, 3, 2, 14, 30, 0, 608000),  # naive: read as local time, as astimezone reads it
]


@given(st.lists(st.sampled_from(NEAR_INSTANTS), max_size=8))
def test_a_time_formatted_again_right_after_itself_reads_the_same(times: list[datetime]) -> None:
    for t in times:
        utc = t.astimezone(UTC)
        assert format_time(t) == utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
