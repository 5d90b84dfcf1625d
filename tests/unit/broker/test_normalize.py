"""Gateway payloads -> domain events: both payload shapes, tolerant parsing, loud errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.broker import normalize as _n  # the field readers, private to it
from risk_manager.broker.normalize import (
    PayloadError,
    normalize_account,
    normalize_message,
    normalize_order,
    normalize_position,
    normalize_quote,
    normalize_trade,
    normalize_user,
    parse_timestamp,
)
from risk_manager.domain.events import (
    AccountEvent,
    ConnectionEvent,
    OrderEvent,
    PositionEvent,
    QuoteEvent,
    TradeEvent,
)

MNQ = "CON.F.US.MNQ.H26"

TRADE = {
    "id": 901,
    "accountId": 7,
    "contractId": MNQ,
    "creationTimestamp": "2026-03-02T14:30:00.950Z",
    "price": 21000.25,
    "profitAndLoss": None,
    "fees": 0.37,
    "side": 0,
    "size": 2,
    "voided": False,
    "orderId": 55,
}
POSITION = {
    "id": 31,
    "accountId": 7,
    "contractId": MNQ,
    "creationTimestamp": "2026-03-02T14:30:00.950Z",
    "type": 1,
    "size": 2,
    "averagePrice": 21000.25,
}
ORDER = {
    "id": 55,
    "accountId": 7,
    "contractId": MNQ,
    "symbolId": "F.US.MNQ",
    "creationTimestamp": "2026-03-02T14:30:00.900Z",
    "updateTimestamp": "2026-03-02T14:30:00.950Z",
    "status": 1,
    "type": 4,
    "side": 1,
    "size": 2,
    "limitPrice": None,
    "stopPrice": 20990.5,
    "fillVolume": 0,
    "filledPrice": None,
    "customTag": None,
}
ACCOUNT = {"id": 7, "name": "50K-1", "balance": 50000, "canTrade": True, "isVisible": True, "simulated": True}
QUOTE = {
    "symbol": "F.US.MNQ",
    "lastPrice": 21001.0,
    "bestBid": 21000.75,
    "bestAsk": 21001.0,
    "timestamp": "2026-03-02T14:30:01.190Z",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# ---- shapes -----------------------------------------------------------------------------------


def test_a_bare_trade_object_becomes_a_trade_event_with_exact_decimals() -> None:
    [event] = normalize_user("GatewayUserTrade", TRADE)
    assert event == TradeEvent(
        trade_id=901,
        account_id=7,
        contract_id=MNQ,
        price=Decimal("21000.25"),
        pnl=None,
        fees=Decimal("0.37"),
        side=0,
        size=2,
        voided=False,
        order_id=55,
        created=at("2026-03-02T14:30:00.950+00:00"),
    )


@pytest.mark.parametrize(
    ("target", "payload", "expected_type"),
    [
        ("GatewayUserTrade", TRADE, TradeEvent),
        ("GatewayUserPosition", POSITION, PositionEvent),
        ("GatewayUserOrder", ORDER, OrderEvent),
        ("GatewayUserAccount", ACCOUNT, AccountEvent),
    ],
)
def test_the_action_data_wrapper_gives_the_same_event_as_the_bare_object(
    target: str, payload: dict[str, object], expected_type: type
) -> None:
    bare = normalize_user(target, payload)
    wrapped = normalize_user(target, {"action": 1, "data": payload})
    assert wrapped == bare
    assert isinstance(bare[0], expected_type)


def test_a_list_payload_gives_one_event_per_object_in_order() -> None:
    second = {**TRADE, "id": 902, "profitAndLoss": -12.5}
    events = normalize_user("GatewayUserTrade", [TRADE, {"action": 0, "data": second}])
    assert [e.trade_id for e in events if isinstance(e, TradeEvent)] == [901, 902]


def test_a_position_event_keeps_unsigned_size_and_type() -> None:
    [event] = normalize_user("GatewayUserPosition", {**POSITION, "type": 2, "size": 3})
    assert isinstance(event, PositionEvent)
    assert (event.type, event.size, event.signed_size) == (2, 3, -3)
    assert event.average_price == Decimal("21000.25")


def test_a_flat_position_update_needs_no_type_or_average_price() -> None:
    flat = {"id": 31, "accountId": 7, "contractId": MNQ, "size": 0, "type": None, "averagePrice": None}
    [event] = normalize_user("GatewayUserPosition", flat)
    assert isinstance(event, PositionEvent)
    assert (event.size, event.type, event.average_price) == (0, 0, Decimal(0))


def test_an_order_event_reads_every_gateway_field() -> None:
    event = normalize_order(ORDER)
    assert event == OrderEvent(
        order_id=55,
        account_id=7,
        contract_id=MNQ,
        status=1,
        type=4,
        side=1,
        size=2,
        limit_price=None,
        stop_price=Decimal("20990.5"),
        fill_volume=0,
        filled_price=None,
        custom_tag=None,
        created=at("2026-03-02T14:30:00.900+00:00"),
        updated=at("2026-03-02T14:30:00.950+00:00"),
    )
    assert event.is_working


def test_an_account_event_reads_balance_and_flags() -> None:
    assert normalize_account(ACCOUNT) == AccountEvent(
        account_id=7, name="50K-1", balance=Decimal(50000), can_trade=True, is_visible=True, simulated=True
    )


def test_rest_rows_go_through_the_same_functions_with_their_endpoint_named_in_errors() -> None:
    rows = [POSITION, {**POSITION, "id": 32, "contractId": "CON.F.US.EP.H26"}]
    events = [normalize_position(row, "Position/searchOpen") for row in rows]
    assert [e.contract_id for e in events] == [MNQ, "CON.F.US.EP.H26"]
    with pytest.raises(PayloadError, match=r"Trade/search: field 'accountId' is missing"):
        normalize_trade({k: v for k, v in TRADE.items() if k != "accountId"}, "Trade/search")


# ---- tolerance --------------------------------------------------------------------------------


def test_optional_fields_missing_take_their_defaults() -> None:
    minimal = {"id": 1, "accountId": 7, "contractId": MNQ, "price": 21000, "side": 1, "size": 1}
    event = normalize_trade(minimal)
    assert (event.pnl, event.fees, event.voided, event.order_id, event.created) == (
        None,
        0,
        False,
        None,
        None,
    )
    assert normalize_account({"id": 8}) == AccountEvent(account_id=8)


def test_unknown_extra_fields_are_ignored() -> None:
    assert normalize_user("GatewayUserTrade", {**TRADE, "brandNewField": {"x": 1}}) == normalize_user(
        "GatewayUserTrade", TRADE
    )


def test_unknown_enum_values_are_kept_as_the_integers_received() -> None:
    event = normalize_order({**ORDER, "status": 42, "type": 99})
    assert (event.status, event.type) == (42, 99)
    assert not event.is_working


def test_prices_with_nine_decimals_are_exact() -> None:
    event = normalize_position({**POSITION, "averagePrice": "5138.250000000"})
    assert event.average_price == Decimal("5138.25")
    trade = normalize_trade({**TRADE, "price": 5138.000000000, "profitAndLoss": "-12.500000000"})
    assert trade.price == Decimal("5138") and trade.pnl == Decimal("-12.5")


def test_a_float_price_becomes_the_decimal_of_its_shortest_repr_not_its_binary_value() -> None:
    assert normalize_trade({**TRADE, "price": 21000.1}).price == Decimal("21000.1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-04-21T19:45:52.1058083+00:00", datetime(2025, 4, 21, 19, 45, 52, 105808, tzinfo=UTC)),
        ("2026-03-02T14:30:00.120Z", datetime(2026, 3, 2, 14, 30, 0, 120000, tzinfo=UTC)),
        ("2026-03-02T14:30:00.1234567Z", datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-02T14:30:00Z", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
        ("2026-03-02T08:30:00-06:00", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
        ("2026-03-02T14:30:00", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_are_read_tolerantly_and_returned_in_utc(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected and parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    assert normalize_trade({**TRADE, "creationTimestamp": text}).created == expected


def test_integral_floats_are_accepted_for_integer_fields() -> None:
    assert normalize_trade({**TRADE, "size": 2.0, "id": 901.0}).size == 2


# ---- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "payload", "field"),
    [
        ("GatewayUserTrade", TRADE, "accountId"),
        ("GatewayUserTrade", TRADE, "id"),
        ("GatewayUserTrade", TRADE, "price"),
        ("GatewayUserTrade", TRADE, "size"),
        ("GatewayUserPosition", POSITION, "contractId"),
        ("GatewayUserPosition", POSITION, "averagePrice"),
        ("GatewayUserPosition", POSITION, "type"),
        ("GatewayUserOrder", ORDER, "status"),
        ("GatewayUserOrder", ORDER, "side"),
        ("GatewayUserAccount", ACCOUNT, "id"),
    ],
)
def test_a_missing_required_field_raises_payload_error_naming_target_and_field(
    target: str, payload: dict[str, object], field: str
) -> None:
    broken = {k: v for k, v in payload.items() if k != field}
    with pytest.raises(PayloadError) as info:
        normalize_user(target, broken)
    assert (info.value.target, info.value.field) == (target, field)
    assert f"{target}: field {field!r} is missing" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("accountId", "seven", "must be an integer, got 'seven' (str)"),
        ("accountId", True, "must be an integer, got True (bool)"),
        ("size", 1.5, "must be an integer, got 1.5 (float)"),
        ("size", -2, "must not be negative, got -2"),
        ("price", "abc", "must be a number, got 'abc' (str)"),
        ("price", None, "is null; it is required"),
        ("contractId", 12, "must be a non-empty string, got 12 (int)"),
        ("contractId", "", "must be a non-empty string"),
        ("fees", "lots", "must be a number, got 'lots' (str)"),
        ("voided", "no", "must be true, false or null, got 'no' (str)"),
        ("creationTimestamp", "yesterday", "is not an ISO-8601 timestamp: 'yesterday'"),
        ("creationTimestamp", 1740000000, "must be an ISO-8601 string, got 1740000000 (int)"),
        ("creationTimestamp", "0001-01-01T00:00:00+01:00", "is not an ISO-8601 timestamp"),
    ],
)
def test_a_field_of_the_wrong_type_raises_payload_error_naming_field_and_value(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(PayloadError) as info:
        normalize_user("GatewayUserTrade", {**TRADE, field: value})
    assert info.value.field == field
    assert info.value.value == value
    assert str(info.value).startswith(f"GatewayUserTrade: field {field!r} ")
    assert message in str(info.value)


def test_a_payload_that_is_not_an_object_raises_payload_error() -> None:
    with pytest.raises(
        PayloadError, match=r"GatewayUserOrder: payload must be a JSON object, got 42 \(int\)"
    ):
        normalize_user("GatewayUserOrder", 42)


def test_an_unknown_user_target_is_refused_by_normalize_user() -> None:
    with pytest.raises(PayloadError, match="GatewayUserFoo: is not a user-hub event"):
        normalize_user("GatewayUserFoo", {})


def test_payload_error_is_a_value_error() -> None:
    assert issubclass(PayloadError, ValueError)


# ---- quotes -----------------------------------------------------------------------------------


def test_a_full_quote_keeps_prices_as_received_and_parses_the_timestamp() -> None:
    quote = normalize_quote(MNQ, QUOTE)
    assert quote == QuoteEvent(
        MNQ, 21001.0, 21000.75, 21001.0, datetime(2026, 3, 2, 14, 30, 1, 190000, tzinfo=UTC)
    )
    assert type(quote) is QuoteEvent and type(quote.last) is float


def test_a_partial_quote_leaves_absent_fields_none() -> None:
    assert normalize_quote(MNQ, {"bestBid": 21000.5}) == QuoteEvent(MNQ, None, 21000.5, None, None)
    assert normalize_quote(MNQ, {}) == QuoteEvent(MNQ)


def test_a_quote_with_integer_prices_keeps_them() -> None:
    assert normalize_quote("CON.F.US.YM.H26", {"lastPrice": 43000}).last == 43000


def test_a_quote_timestamp_with_offset_or_seven_digits_is_converted_to_utc() -> None:
    quote = normalize_quote(MNQ, {"lastPrice": 1.0, "timestamp": "2026-03-02T08:30:01.1900000-06:00"})
    assert quote.timestamp == datetime(2026, 3, 2, 14, 30, 1, 190000, tzinfo=UTC)


def test_a_wrapped_quote_is_unwrapped() -> None:
    assert normalize_quote(MNQ, {"action": 1, "data": QUOTE}) == normalize_quote(MNQ, QUOTE)


@pytest.mark.parametrize(
    ("contract", "payload", "message"),
    [
        (
            MNQ,
            {"lastPrice": "21000"},
            "GatewayQuote: field 'lastPrice' must be a number or null, got '21000'",
        ),
        (MNQ, {"bestAsk": True}, "GatewayQuote: field 'bestAsk' must be a number or null, got True"),
        (MNQ, {"lastPrice": 1.0, "timestamp": "soon"}, "GatewayQuote: field 'timestamp' is not an ISO-8601"),
        (MNQ, ["not", "an", "object"], "GatewayQuote: quote data (second argument) must be a JSON object"),
        (None, QUOTE, "GatewayQuote: field 'contractId' (first argument) must be a non-empty string"),
    ],
)
def test_a_malformed_quote_raises_payload_error(contract: object, payload: object, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        normalize_quote(contract, payload)
    assert message in str(info.value)


# ---- dispatch ---------------------------------------------------------------------------------


def test_normalize_message_dispatches_user_events_by_target() -> None:
    events = normalize_message("user", "GatewayUserPosition", [POSITION])
    assert events == [normalize_position(POSITION)]


def test_normalize_message_reads_a_quote_from_its_two_arguments() -> None:
    assert normalize_message("market", "GatewayQuote", [MNQ, QUOTE]) == [normalize_quote(MNQ, QUOTE)]


def test_a_quote_message_without_two_arguments_is_an_error() -> None:
    with pytest.raises(PayloadError, match="expects 2 arguments"):
        normalize_message("market", "GatewayQuote", [QUOTE])


@pytest.mark.parametrize("target", ["GatewayTrade", "GatewayDepth", "GatewaySomethingNew"])
def test_market_trades_depth_and_unknown_targets_give_no_events(target: str) -> None:
    assert normalize_message("market", target, [MNQ, [{"price": 1, "volume": 2}]]) == []


def test_an_unknown_user_target_gives_no_events_on_the_live_path() -> None:
    assert normalize_message("user", "GatewayUserSomethingNew", [{}]) == []


def test_a_gateway_logout_is_a_lost_connection_of_its_hub() -> None:
    assert normalize_message("user", "GatewayLogout", []) == [ConnectionEvent("lost", "user")]


def test_an_unknown_hub_is_an_error() -> None:
    with pytest.raises(PayloadError, match="unknown hub 'chat'"):
        normalize_message("chat", "GatewayQuote", [])


# ---- robustness: any JSON in, events or PayloadError out ------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
# Values a field is likely to be confused with, plus well-formed ones, so both paths are exercised.
field_values = json_values | st.sampled_from(
    [
        7,
        0,
        -1,
        2.0,
        2.5,
        "7",
        "CON.F.US.MNQ.H26",
        "",
        "21000.25",
        "2026-03-02T14:30:00.1234567Z",
        "soon",
        True,
    ]
)
GATEWAY_FIELDS = sorted({*TRADE, *POSITION, *ORDER, *ACCOUNT, *QUOTE, "action", "data"})
payloads = st.dictionaries(st.sampled_from(GATEWAY_FIELDS), field_values, max_size=len(GATEWAY_FIELDS))


@settings(max_examples=400, deadline=None)
@given(
    target=st.sampled_from(
        ["GatewayUserAccount", "GatewayUserOrder", "GatewayUserPosition", "GatewayUserTrade"]
    ),
    payload=payloads | json_values | st.lists(payloads, max_size=3),
)
def test_any_json_payload_gives_events_or_a_payload_error_never_another_exception(
    target: str, payload: object
) -> None:
    try:
        events = normalize_user(target, payload)
    except PayloadError as exc:
        assert str(exc).startswith(target)
        return
    assert all(type(e) in (AccountEvent, OrderEvent, PositionEvent, TradeEvent) for e in events)


@settings(max_examples=400, deadline=None)
@given(contract=field_values, payload=payloads | json_values)
def test_any_json_quote_gives_a_quote_or_a_payload_error(contract: object, payload: object) -> None:
    try:
        quote = normalize_quote(contract, payload)
    except PayloadError as exc:
        assert str(exc).startswith("GatewayQuote")
        return
    assert type(quote) is QuoteEvent and quote.contract_id == contract
    for price in (quote.last, quote.bid, quote.ask):
        assert price is None or type(price) in (int, float)
    assert quote.timestamp is None or quote.timestamp.utcoffset() == timedelta(0)


def test_absurdly_nested_wrappers_are_a_payload_error_not_a_recursion_error() -> None:
    payload: object = TRADE
    for _ in range(2000):
        payload = {"action": 1, "data": payload}
    with pytest.raises(PayloadError, match="deeper than 8 levels"):
        normalize_user("GatewayUserTrade", payload)


def test_a_quote_wrapped_twice_is_a_payload_error_not_a_recursion() -> None:
    payload: object = {"timestamp": "2026-03-02T14:30:01Z"}
    for _ in range(2000):
        payload = {"action": 1, "data": payload}
    with pytest.raises(PayloadError, match="wrapper inside a wrapper"):
        normalize_quote(MNQ, payload)


# ---- the field readers' one-step common case agrees with their general path -------------------


def _outcome(read: Any, obj: dict[str, object]) -> tuple[str, str]:
    try:
        return ("value", repr(read(obj, "price", "GatewayUserTrade")))
    except PayloadError as exc:
        return ("error", str(exc))


def _str_general(obj: dict[str, Any], name: str, target: str) -> str:
    value = _n._req(obj, name, target)
    if type(value) is not str or not value:
        raise PayloadError(target, name, value, f"must be a non-empty string, got {_n._shown(value)}")
    return value  # type: ignore[no-any-return]


# Each reader, and the general path it short-cuts (as the readers were before the short cut).
READERS: dict[str, tuple[Any, Any]] = {
    "int": (_n._int, lambda obj, f, t: _n._as_int(_n._req(obj, f, t), f, t)),
    "opt_int": (_n._opt_int, lambda obj, f, t: None if obj.get(f) is None else _n._as_int(obj[f], f, t)),
    "str": (_n._str, _str_general),
    "dec": (_n._dec, lambda obj, f, t: _n._as_decimal(_n._req(obj, f, t), f, t)),
    "opt_dec": (_n._opt_dec, lambda obj, f, t: None if obj.get(f) is None else _n._as_decimal(obj[f], f, t)),
}


@settings(max_examples=300, deadline=None)
@given(
    reader=st.sampled_from(sorted(READERS)),
    value=field_values
    | st.floats()
    | st.integers()
    | st.sampled_from([float("inf"), float("-inf"), float("nan"), -0.0, 1e300, False]),
    present=st.booleans(),
)
def test_a_field_reader_reads_or_refuses_a_value_as_its_general_path_does(
    reader: str, value: object, present: bool
) -> None:
    fast, general = READERS[reader]
    obj = {"price": value} if present else {}
    assert _outcome(fast, obj) == _outcome(general, obj)
