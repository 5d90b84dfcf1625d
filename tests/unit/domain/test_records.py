"""domain/records: the same dataclass records, built without the by-name setattr per field."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from risk_manager.domain.actions import Alert, ModifyStop
from risk_manager.domain.records import fast_builder, fast_init, fast_maker
from risk_manager.rules.api import PositionView


@dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str = "b"
    c: tuple[int, ...] = field(default=(), compare=False)


@fast_init
@dataclass(frozen=True, slots=True)
class Fast:
    a: int
    b: str = "b"
    c: tuple[int, ...] = field(default=(), compare=False)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Keywords:
    a: int
    b: int = 2


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Derived(Keywords):
    c: int


def test_a_fast_record_holds_the_same_fields_as_the_plain_dataclass() -> None:
    for args in [(1,), (1, "x"), (1, "x", (3,))]:
        plain, fast = Plain(*args), Fast(*args)
        assert [getattr(fast, f.name) for f in dataclasses.fields(Fast)] == [
            getattr(plain, f.name) for f in dataclasses.fields(Plain)
        ]
        assert repr(fast) == repr(plain).replace("Plain", "Fast")


def test_equality_hash_and_compare_false_fields_are_the_dataclass_ones() -> None:
    assert Fast(1, "x", (1,)) == Fast(1, "x", (2,))  # c is compare=False
    assert hash(Fast(1, "x")) == hash(Fast(1, "x"))
    assert Fast(1) != Fast(2)


def test_a_fast_record_is_still_frozen() -> None:
    record = Fast(1)
    with pytest.raises(FrozenInstanceError):
        record.a = 2  # type: ignore[misc]


def test_missing_unexpected_and_positional_keyword_only_arguments_still_raise() -> None:
    with pytest.raises(TypeError, match="missing"):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected"):
        Fast(1, d=4)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Keywords(1)  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing"):
        Derived(a=1)  # type: ignore[call-arg]
    assert (Derived(a=1, c=3).a, Derived(a=1, c=3).b, Derived(a=1, c=3).c) == (1, 2, 3)


def test_engine_actions_keep_their_signature_and_repr() -> None:
    alert = Alert(account_id=1, rule="RULE-003", level="warning", message="m")
    assert repr(alert) == (
        "Alert(account_id=1, rule='RULE-003', reason=None, inputs=(), subject=None, level='warning', "
        "message='m')"
    )
    with pytest.raises(TypeError, match="order_id"):
        ModifyStop(account_id=1, rule="RULE-012", contract_id="C", stop_price=1)  # type: ignore[call-arg]


# Records the fast tools cannot build faithfully.
@dataclass(frozen=True)
class NoSlots:
    a: int


@dataclass(slots=True)
class NotFrozen:
    a: int


@dataclass(frozen=True, slots=True)
class Factory:
    a: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PostInit:
    a: int

    def __post_init__(self) -> None:
        pass


def test_it_refuses_records_it_cannot_build_faithfully() -> None:
    for cls in (NoSlots, NotFrozen, Factory, PostInit):
        with pytest.raises(TypeError, match="fast_init"):
            fast_init(cls)


def test_a_position_view_from_the_fast_builder_is_the_record_its_class_builds_mixin_and_all() -> None:
    build = fast_builder(PositionView)
    assert build is not PositionView  # its mixin base is no obstacle to the stand-in
    opened = datetime(2026, 3, 2, tzinfo=UTC)
    args = ("MNQZ6", "MNQ", None, -2, Decimal("21000.25"), opened, 7, Decimal("20990"), 1)
    built, plain = build(*args), PositionView(*args)
    assert type(built) is PositionView
    assert built == plain and hash(built) == hash(plain) and repr(built) == repr(plain)
    assert built.abs_size == 2 and built.open_size == plain.open_size  # the mixin's figures
    with pytest.raises(FrozenInstanceError):
        built.size = 3  # type: ignore[misc]


def test_the_fast_builder_of_a_record_on_a_frozen_dataclass_base_builds_that_record() -> None:
    build = fast_builder(ModifyStop)
    assert build is not ModifyStop  # the twin's own __setattr__ gets past the frozen Action base
    kwargs = {
        "account_id": 7,
        "rule": "RULE-012",
        "contract_id": "C",
        "order_id": 5,
        "stop_price": Decimal(1),
    }
    built, plain = build(**kwargs), ModifyStop(**kwargs)  # type: ignore[arg-type]
    assert type(built) is ModifyStop and built == plain and repr(built) == repr(plain)
    with pytest.raises(FrozenInstanceError):
        built.order_id = 6  # type: ignore[misc]


def test_the_fast_builder_takes_and_refuses_the_arguments_its_class_does() -> None:
    build = fast_builder(Plain)
    assert build is not Plain
    for args, kwargs in [((1,), {}), ((1, "x"), {}), ((1,), {"c": (3,)}), ((), {"a": 1, "b": "y"})]:
        assert repr(build(*args, **kwargs)) == repr(Plain(*args, **kwargs))
    for args, kwargs in [((), {}), ((1,), {"d": 4}), ((1, 2, 3, 4), {}), ((1,), {"a": 1})]:
        with pytest.raises(TypeError):
            Plain(*args, **kwargs)
        with pytest.raises(TypeError):
            build(*args, **kwargs)
    keywords = fast_builder(ModifyStop)
    with pytest.raises(TypeError):
        keywords(1, "RULE-012")  # keyword-only, as ModifyStop's own __init__


def test_the_fast_builder_leaves_a_record_it_cannot_build_faithfully_to_its_class() -> None:
    for cls in (Factory, PostInit, NoSlots):
        assert fast_builder(cls) is cls


def test_a_fast_maker_builds_from_values_in_field_order_the_record_the_keywords_build() -> None:
    made = fast_maker(ModifyStop)(
        7,
        "RULE-012",
        "trail 8 ticks",
        (("best", "21010.25"),),
        "pos:MNQ",
        "CON.F.US.MNQ.H26",
        55,
        Decimal("21008.25"),
    )
    expected = ModifyStop(
        account_id=7,
        rule="RULE-012",
        reason="trail 8 ticks",
        inputs=(("best", "21010.25"),),
        subject="pos:MNQ",
        contract_id="CON.F.US.MNQ.H26",
        order_id=55,
        stop_price=Decimal("21008.25"),
    )
    assert type(made) is ModifyStop
    assert made == expected and repr(made) == repr(expected) and hash(made) == hash(expected)
    assert made.inputs == expected.inputs and made.subject == expected.subject  # compare=False fields
    with pytest.raises(FrozenInstanceError):
        made.stop_price = Decimal(0)  # type: ignore[misc]
