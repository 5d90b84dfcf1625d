"""The user-hub fast path of the recording reader reads exactly what the general path reads.

``parse_line`` reads a plain order, trade, position or account line with one msgspec decoder;
whatever that refuses goes through the general path (orjson, then broker/normalize.py). These
tests hold the pair to one contract: for any line, ``parse_line`` gives the very ReplayLine the
general path gives (compared by repr, so 1 and 1.0, Decimal('5') and Decimal('5.0') differ), or
the very same error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fast_path_helpers import INSERTS, assert_same, damaged, dumps, mostly, with_odd_top_keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_manager.domain.events import AccountEvent, OrderEvent, PositionEvent, TradeEvent
from risk_manager.replay.reader import parse_line
from risk_manager.replay.user_fast_path import read_user_line

T = "2026-03-02T14:30:00.444Z"
ORDER = {
    "id": 1001,
    "accountId": 36,
    "contractId": "CON.F.US.MES.H26",
    "symbolId": "F.US.MES",
    "creationTimestamp": T,
    "updateTimestamp": T,
    "status": 2,
    "type": 2,
    "side": 0,
    "size": 1,
    "limitPrice": None,
    "stopPrice": None,
    "fillVolume": 1,
    "filledPrice": 5799.25,
    "customTag": None,
}
TRADE = {
    "id": 5001,
    "accountId": 36,
    "contractId": "CON.F.US.MES.H26",
    "creationTimestamp": T,
    "price": 5799.25,
    "profitAndLoss": None,
    "fees": 0.37,
    "side": 0,
    "size": 1,
    "voided": False,
    "orderId": 1001,
}
POSITION = {
    "id": 101,
    "accountId": 36,
    "contractId": "CON.F.US.MES.H26",
    "creationTimestamp": T,
    "type": 1,
    "size": 1,
    "averagePrice": 5799.25,
}
ACCOUNT = {
    "id": 36,
    "name": "50K-1",
    "balance": 50012.5,
    "canTrade": True,
    "isVisible": True,
    "simulated": False,
}
PAYLOADS = {
    "GatewayUserOrder": (ORDER, OrderEvent),
    "GatewayUserTrade": (TRADE, TradeEvent),
    "GatewayUserPosition": (POSITION, PositionEvent),
    "GatewayUserAccount": (ACCOUNT, AccountEvent),
}


def line_of(target: str, *payloads: dict[str, Any], **top: Any) -> bytes:
    return json.dumps({"t": T, "hub": "user", "target": target, "arguments": list(payloads), **top}).encode()



@pytest.mark.parametrize("target", sorted(PAYLOADS))
def test_a_plain_user_line_takes_the_fast_path_and_reads_as_the_general_path_reads_it(target: str) -> None:
    payload, kind = PAYLOADS[target]
    raw = line_of(target, payload)
    read = read_user_line(raw)
    assert read is not None
    assert [type(event) for event in read[1]] == [kind]
    assert_same(raw)
    assert_same(raw.decode())


def test_several_payloads_in_one_line_give_their_events_in_order() -> None:
    raw = line_of("GatewayUserOrder", ORDER, {**ORDER, "id": 1002}, {**ORDER, "id": 1003})
    line = parse_line(raw, "day.jsonl", 9)
    assert [event.order_id for event in line.events] == [1001, 1002, 1003]  # type: ignore[union-attr]
    assert_same(raw)


def test_a_flat_position_reads_with_its_type_and_price_defaulted_as_on_the_general_path() -> None:
    for flat in (
        {**POSITION, "size": 0, "type": 0, "averagePrice": 0.0},
        {**POSITION, "size": 0, "type": None, "averagePrice": None},
        {k: v for k, v in POSITION.items() if k not in ("type", "averagePrice")} | {"size": 0},
    ):
        raw = line_of("GatewayUserPosition", flat)
        assert read_user_line(raw) is not None
        assert_same(raw)


# Lines the fast decoder sees and must either read as the general path does, or hand over.
EDGES = [
    # money written as an int stays exact and keeps its exponent, as on the general path
    line_of("GatewayUserTrade", {**TRADE, "price": 5800, "fees": 0, "profitAndLoss": -12}),
    line_of("GatewayUserOrder", {**ORDER, "filledPrice": 5800, "limitPrice": -0.0, "stopPrice": 1e-7}),
    line_of("GatewayUserAccount", {**ACCOUNT, "balance": 2**63 - 1}),
    line_of("GatewayUserAccount", {**ACCOUNT, "balance": 2**63}),
    line_of("GatewayUserAccount", {**ACCOUNT, "balance": 2**70}),
    line_of("GatewayUserOrder", {**ORDER, "id": 2**64}),
    line_of("GatewayUserOrder", {**ORDER, "id": -(2**63) - 1}),
    line_of("GatewayUserOrder", {**ORDER, "status": 2.0, "size": 3.0}),
    line_of("GatewayUserOrder", {**ORDER, "fillVolume": 1.5}),
    line_of("GatewayUserOrder", {**ORDER, "side": True}),
    line_of("GatewayUserOrder", {**ORDER, "size": -1}),
    line_of("GatewayUserOrder", {**ORDER, "contractId": ""}),
    line_of("GatewayUserOrder", {**ORDER, "contractId": None}),
    line_of("GatewayUserOrder", {k: v for k, v in ORDER.items() if k != "accountId"}),
    line_of("GatewayUserOrder", {**ORDER, "customTag": 5}),
    line_of("GatewayUserOrder", {**ORDER, "filledPrice": "5799.25"}),
    line_of("GatewayUserTrade", {**TRADE, "voided": 0}),
    line_of("GatewayUserTrade", {**TRADE, "voided": None, "fees": None, "commissions": None}),
    line_of("GatewayUserTrade", {**TRADE, "commissions": 1.24}),
    line_of("GatewayUserTrade", {k: v for k, v in TRADE.items() if k != "price"}),
    line_of("GatewayUserPosition", {**POSITION, "type": None}),
    line_of("GatewayUserPosition", {**POSITION, "averagePrice": None}),
    line_of("GatewayUserPosition", {**POSITION, "size": 0, "type": 2.0, "averagePrice": 0}),
    line_of("GatewayUserAccount", {"id": 36}),
    line_of("GatewayUserAccount", {**ACCOUNT, "canTrade": 1}),
    # times: offsets, seven digits, no zone, nonsense, wrong type
    line_of("GatewayUserOrder", {**ORDER, "creationTimestamp": "2026-03-02T14:30:00.4441234Z"}),
    line_of("GatewayUserOrder", {**ORDER, "creationTimestamp": "2026-03-02T08:30:00.444-06:00"}),
    line_of("GatewayUserOrder", {**ORDER, "updateTimestamp": "2026-03-02T14:30:00.444"}),
    line_of("GatewayUserOrder", {**ORDER, "updateTimestamp": "0001-01-01T00:00:00+01:00"}),
    line_of("GatewayUserOrder", {**ORDER, "updateTimestamp": "soon"}),
    line_of("GatewayUserOrder", {**ORDER, "updateTimestamp": 12}),
    line_of("GatewayUserOrder", ORDER).replace(T.encode(), b"2026-03-02T08:30:00.444-06:00", 1),
    line_of("GatewayUserOrder", ORDER).replace(T.encode(), b"2026-03-02T14:30:00.444", 1),
    line_of("GatewayUserOrder", ORDER).replace(T.encode(), b"whenever", 1),
    # the shape of the line: wrappers, lists, unknown fields and keys, other hubs and targets
    line_of("GatewayUserOrder", {"action": 1, "data": ORDER}),
    line_of("GatewayUserOrder", [ORDER, ORDER]),  # type: ignore[arg-type]
    line_of("GatewayUserOrder", {**ORDER, "extra": 1}),
    line_of("GatewayUserOrder", {**ORDER, "extra": 1e400}),
    line_of("GatewayUserOrder", {**ORDER, "symbolId": 7}),
    line_of("GatewayUserOrder"),
    line_of("GatewayUserOrder", ORDER, seq=4),
    line_of("GatewayUserOrder", ORDER, clock=True),
    line_of("GatewayUserOrder", ORDER, hub="market"),
    line_of("GatewayUserTrade", ORDER),  # an order payload under the trade target
    line_of("GatewayUserLogout", ORDER),
    line_of("GatewayLogout"),
    line_of("GatewayUserOrder", 7),  # type: ignore[arg-type]
    json.dumps({"t": T, "hub": "user", "target": "GatewayUserOrder", "arguments": ORDER}).encode(),
    json.dumps({"t": T, "hub": "user", "target": "GatewayUserOrder"}).encode(),
    # duplicate keys (the last one wins on the general path)
    line_of("GatewayUserOrder", ORDER)[:-1] + b',"target":"GatewayUserTrade"}',
    line_of("GatewayUserOrder", ORDER)[:-1] + b',"t":"2026-03-02T15:00:00Z"}',
    line_of("GatewayUserOrder", ORDER).replace(b'"status": 2', b'"status": 2, "status": 4', 1),
    line_of("GatewayUserOrder", ORDER).replace(b'"status": 2', b'"status": "x", "status": 4', 1),
    # text the general path refuses, in a field the engine does not use
    line_of("GatewayUserOrder", ORDER).replace(b'"F.US.MES"', b'"\xff"', 1),
    line_of("GatewayUserOrder", ORDER).replace(b'"F.US.MES"', b'"\\ud800"', 1),
    line_of("GatewayUserOrder", ORDER).replace(b'"F.US.MES"', b"[" * 1100 + b"]" * 1100, 1),
    # not JSON, or JSON with something around it
    line_of("GatewayUserOrder", ORDER)[:-1],
    line_of("GatewayUserOrder", ORDER) + b" x",
    b"\xef\xbb\xbf" + line_of("GatewayUserOrder", ORDER),
    line_of("GatewayUserOrder", ORDER) + b"\x00",
]


@pytest.mark.parametrize("raw", EDGES, ids=range(len(EDGES)))
def test_an_unusual_user_line_reads_or_fails_exactly_as_on_the_general_path(raw: bytes) -> None:
    assert_same(raw)


# ---- generated lines ---------------------------------------------------------------------------

numbers = (
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -0.0, 0.0, 2**63 - 1, 2**63, -(2**63) - 1, 1e-7, 2.5, "1", [1], {}])
)
times = (
    st.none()
    | st.integers(0, 5)
    | st.sampled_from(
        [
            T,
            "2026-03-02T14:30:00Z",
            "2026-03-02T14:30:00.1234567Z",
            "2026-03-02T14:30:00.444+00:00",
            "2026-03-02T08:30:00.444-06:00",
            "2026-03-02T14:30:00.444",
            "2026-03-02t14:30:00.444z",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            "",
        ]
    )
)
texts = st.none() | st.text(max_size=6) | st.integers(0, 3)



ints = st.integers(-5, 2**40)
finite = st.floats(allow_nan=False, allow_infinity=False)
money = st.none() | finite | st.integers(-(10**6), 10**6)
flags = st.none() | st.booleans()
# For each target, its fields: (strategy of values it usually has, strategy of odd values)
FIELDS: dict[str, dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]]] = {
    "GatewayUserOrder": {
        "id": (ints, numbers),
        "accountId": (ints, numbers),
        "contractId": (st.just("CON.F.US.MES.H26"), texts),
        "symbolId": (st.just("F.US.MES"), texts),
        "creationTimestamp": (st.just(T), times),
        "updateTimestamp": (st.just(T), times),
        "status": (st.integers(0, 9), numbers),
        "type": (st.integers(0, 7), numbers),
        "side": (st.integers(0, 1), numbers),
        "size": (st.integers(0, 5), numbers),
        "limitPrice": (money, numbers),
        "stopPrice": (money, numbers),
        "fillVolume": (st.none() | st.integers(0, 5), numbers),
        "filledPrice": (money, numbers),
        "customTag": (st.none() | st.text(max_size=6), texts),
    },
    "GatewayUserTrade": {
        "id": (ints, numbers),
        "accountId": (ints, numbers),
        "contractId": (st.just("CON.F.US.MES.H26"), texts),
        "creationTimestamp": (st.just(T), times),
        "price": (finite | st.integers(0, 9999), numbers),
        "profitAndLoss": (money, numbers),
        "fees": (money, numbers),
        "commissions": (money, numbers),
        "side": (st.integers(0, 1), numbers),
        "size": (st.integers(0, 5), numbers),
        "voided": (flags, numbers),
        "orderId": (st.none() | ints, numbers),
    },
    "GatewayUserPosition": {
        "id": (ints, numbers),
        "accountId": (ints, numbers),
        "contractId": (st.just("CON.F.US.MES.H26"), texts),
        "creationTimestamp": (st.just(T), times),
        "type": (st.none() | st.integers(0, 2), numbers),
        "size": (st.integers(0, 3), numbers),
        "averagePrice": (money, numbers),
    },
    "GatewayUserAccount": {
        "id": (ints, numbers),
        "name": (st.none() | st.text(max_size=6), texts),
        "balance": (money, numbers),
        "canTrade": (flags, numbers),
        "isVisible": (flags, numbers),
        "simulated": (flags, numbers),
    },
}


def payloads(target: str) -> st.SearchStrategy[dict[str, Any]]:
    fields = {name: mostly(good, odd) for name, (good, odd) in FIELDS[target].items()}
    required = {"id", "accountId", "contractId", "size", "price", "side", "status", "type"} & set(fields)
    if target == "GatewayUserPosition":
        required.discard("type")  # required only while the position is open
    # Required fields are always there (one variant below drops the id); the rest come and go.
    return st.fixed_dictionaries(
        {name: fields[name] for name in sorted(required)},
        optional={name: s for name, s in fields.items() if name not in required},
    ).flatmap(
        lambda payload: mostly(
            st.just(payload),
            st.sampled_from(
                [
                    {**payload, "extra": 1},
                    {"action": 1, "data": payload},
                    {k: v for k, v in payload.items() if k != "id"},
                ]
            ),
        )
    )


lines = (
    st.sampled_from(sorted(FIELDS))
    .flatmap(
        lambda target: st.fixed_dictionaries(
            {
                "t": mostly(st.sampled_from([T, "2026-03-02T14:30:00Z"]), times),
                "hub": mostly(st.just("user"), st.sampled_from(["market", "x", None])),
                "target": mostly(st.just(target), st.sampled_from(sorted(FIELDS)) | st.just("GatewayQuote")),
                "arguments": st.lists(payloads(target), min_size=0, max_size=3),
            }
        )
    )
    .flatmap(with_odd_top_keys)
)



@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=lines)
def test_any_generated_user_line_reads_or_fails_exactly_as_on_the_general_path(line: dict[str, Any]) -> None:
    assert_same(dumps(line))
    assert_same(json.dumps(line, ensure_ascii=False))  # as text, not bytes


@settings(max_examples=400, deadline=None)
@given(
    line=lines,
    cut=st.integers(0, 600),
    inserted=INSERTS,
    dropped=st.integers(0, 3),
)
def test_a_damaged_user_line_reads_or_fails_exactly_as_on_the_general_path(
    line: dict[str, Any], cut: int, inserted: bytes, dropped: int
) -> None:
    raw = dumps({**line, "hub": "user"})
    assert_same(damaged(raw, cut, inserted, dropped))


@settings(max_examples=300, deadline=None)
@given(value=finite | st.integers(-(2**63), 2**63 - 1), text=st.sampled_from(["repr", "e", "f17"]))
def test_every_price_is_read_to_the_same_decimal(value: float | int, text: str) -> None:
    written = {"repr": repr(value), "e": f"{value:.17e}", "f17": f"{value:.17g}"}[text]
    raw = line_of("GatewayUserTrade", TRADE).replace(b"5799.25", written.encode(), 1)
    assert_same(raw)
