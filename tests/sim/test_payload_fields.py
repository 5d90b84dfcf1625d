"""Every payload the simulated gateway sends has exactly the field names PROJECTX.md lists.

The field lists are read from PROJECTX.md itself (the REST table of §2 and the hub event bullets of
§3), so the fake cannot drift from the spec without this test failing. When the document is not
reachable (a checkout without the shared docs), a transcription of the same lists is used, and a
separate test pins the transcription to the document whenever it is there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from sim_helpers import MNQ, START, Api, Hub, gateway, run, user_hub

from risk_manager.sim import wire

IDENT = re.compile(r"^[a-z][A-Za-z]*$")


def _doc_path() -> Path | None:
    here = Path(__file__).resolve()
    candidates = [
        os.environ.get("PROJECTX_DOC", ""),
        # the shared specification folder sits beside the checkout (as in CI)
        str(here.parents[3] / "shared" / "docs" / "PROJECTX.md"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _names(text: str) -> set[str]:
    return {t for t in re.findall(r"`([^`]+)`", text) if IDENT.match(t)}


def parse_projectx(text: str) -> dict[str, set[str]]:
    """Field sets by payload kind, from the REST table rows and the hub event bullets."""
    out: dict[str, set[str]] = {}
    rest_rows = {
        "Account/search": "account",
        "Position/searchOpen": "position",
        "Order/searchOpen": "order",
        "Trade/search": "trade",
        "Contract/search": "contract",
        "History/retrieveBars": "bar",
    }
    for line in text.splitlines():
        for endpoint, kind in rest_rows.items():
            if line.startswith(f"| `{endpoint}`"):
                columns = line.split("|")
                out[kind] = _names(columns[3])
    bullets = re.findall(r"^\* `(Gateway\w+)`:(.*?)(?=^\* |^\S|\Z)", text, flags=re.M | re.S)
    for target, body in bullets:
        # the field list ends at the first sentence end; later sentences mention fields in prose
        fields_part = re.split(r"\.\s", body.replace("e.g.", "eg"), maxsplit=1)[0]
        out[target] = _names(fields_part)
    return out


# Transcribed from PROJECTX.md (§2 table, §3 bullets); pinned to the document by the test below.
TRANSCRIBED: dict[str, set[str]] = {
    "account": {"id", "name", "balance", "canTrade", "isVisible", "simulated"},
    "position": {"id", "accountId", "contractId", "creationTimestamp", "type", "size", "averagePrice"},
    "order": {
        "id", "accountId", "contractId", "creationTimestamp", "updateTimestamp", "status", "type", "side",
        "size", "limitPrice", "stopPrice", "filledPrice", "symbolId", "fillVolume", "customTag",
    },
    "trade": {
        "id", "accountId", "contractId", "creationTimestamp", "price", "profitAndLoss", "fees", "side",
        "size", "voided", "orderId",
    },
    "contract": {"id", "name", "description", "tickSize", "tickValue", "activeContract", "symbolId"},
    "bar": {"t", "o", "h", "l", "c", "v"},
    "GatewayUserAccount": {"id", "name", "balance", "canTrade", "isVisible", "simulated"},
    "GatewayUserOrder": {
        "id", "accountId", "contractId", "symbolId", "creationTimestamp", "updateTimestamp", "status", "type",
        "side", "size", "limitPrice", "stopPrice", "fillVolume", "filledPrice", "customTag",
    },
    "GatewayUserPosition": {
        "id", "accountId", "contractId", "creationTimestamp", "type", "size", "averagePrice",
    },
    "GatewayUserTrade": {
        "id", "accountId", "contractId", "creationTimestamp", "price", "profitAndLoss", "fees", "side",
        "size", "voided", "orderId",
    },
    "GatewayQuote": {
        "symbol", "symbolName", "lastPrice", "bestBid", "bestAsk", "change", "changePercent", "open", "high",
        "low", "volume", "lastUpdated", "timestamp",
    },
    "GatewayTrade": {"symbolId", "price", "timestamp", "type", "volume"},
    "GatewayDepth": {"timestamp", "type", "price", "volume", "currentVolume"},
}  # fmt: skip

DOC = _doc_path()
FIELDS = parse_projectx(DOC.read_text(encoding="utf-8")) if DOC else TRANSCRIBED


@pytest.mark.skipif(DOC is None, reason="PROJECTX.md not found (set PROJECTX_DOC to check the transcription)")
def test_transcribed_lists_match_projectx_md() -> None:
    assert FIELDS == TRANSCRIBED


def test_declared_wire_field_lists_match_the_spec() -> None:
    assert set(wire.ACCOUNT_FIELDS) == FIELDS["account"] == FIELDS["GatewayUserAccount"]
    assert set(wire.POSITION_FIELDS) == FIELDS["position"] == FIELDS["GatewayUserPosition"]
    assert set(wire.ORDER_FIELDS) == FIELDS["order"] == FIELDS["GatewayUserOrder"]
    assert set(wire.TRADE_FIELDS) == FIELDS["trade"] == FIELDS["GatewayUserTrade"]
    assert set(wire.CONTRACT_FIELDS) == FIELDS["contract"]
    assert set(wire.BAR_FIELDS) == FIELDS["bar"]
    assert set(wire.QUOTE_FIELDS) == FIELDS["GatewayQuote"]
    assert set(wire.MARKET_TRADE_FIELDS) == FIELDS["GatewayTrade"]
    assert set(wire.DEPTH_FIELDS) == FIELDS["GatewayDepth"]


def _keys(items: list[dict[str, Any]]) -> set[str]:
    assert items, "expected at least one item to check"
    keys = {frozenset(i) for i in items}
    assert len(keys) == 1, f"items disagree on their fields: {keys}"
    return set(next(iter(keys)))


def test_every_rest_payload_has_the_documented_fields() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            await api.place(size=1)
            await api.place(type_=1, limitPrice=20900.0)
            epoch = "2020-01-01T00:00:00Z"
            accounts = (await api.call("Account/search", {"onlyActiveAccounts": True}))["accounts"]
            assert _keys(accounts) == FIELDS["account"]
            positions = (await api.call("Position/searchOpen", {"accountId": 7}))["positions"]
            assert _keys(positions) == FIELDS["position"]
            for endpoint, request in (
                ("Order/searchOpen", {"accountId": 7}),
                ("Order/search", {"accountId": 7, "startTimestamp": epoch}),
            ):
                assert _keys((await api.call(endpoint, request))["orders"]) == FIELDS["order"], endpoint
            trades = (await api.call("Trade/search", {"accountId": 7, "startTimestamp": epoch}))["trades"]
            assert _keys(trades) == FIELDS["trade"]
            for endpoint, request, key in (
                ("Contract/search", {"searchText": "MNQ", "live": False}, "contracts"),
                ("Contract/available", {"live": False}, "contracts"),
            ):
                assert _keys((await api.call(endpoint, request))[key]) == FIELDS["contract"], endpoint
            by_id = (await api.call("Contract/searchById", {"contractId": MNQ}))["contract"]
            assert set(by_id) == FIELDS["contract"]
            bars = await api.call(
                "History/retrieveBars",
                {
                    "contractId": MNQ,
                    "live": False,
                    "startTime": "2026-03-02T13:00:00Z",
                    "endTime": START.isoformat(),
                    "unit": 2,
                    "unitNumber": 1,
                    "limit": 5,
                    "includePartialBar": False,
                },
            )
            assert _keys(bars["bars"]) == FIELDS["bar"]

    run(body)


def test_every_hub_event_has_the_documented_fields() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            token = await api.login()
            users = await user_hub(gw, token)
            market = await Hub.open(gw.market_hub_url, token)
            await market.send(
                {"type": 1, "target": "SubscribeContractQuotes", "arguments": [MNQ]},
                {"type": 1, "target": "SubscribeContractTrades", "arguments": [MNQ]},
                {
                    "type": 1,
                    "target": "SubscribeContractMarketDepth",
                    "arguments": [MNQ],
                    "invocationId": "s",
                },
            )
            await market.until("GatewayDepth")  # the depth snapshot comes just before the completion
            gw.set_price(MNQ, 21000)
            await api.place(size=1)
            seen: dict[str, list[dict[str, Any]]] = {}
            for message in await users.drain() + await market.drain():
                if message.get("type") != 1:
                    continue
                args = message["arguments"]
                if message["target"].startswith("GatewayUser"):
                    assert len(args) == 1
                    seen.setdefault(message["target"], []).append(args[0])
                else:
                    assert len(args) == 2 and args[0] == MNQ  # (contractId, data)
                    data = args[1]
                    seen.setdefault(message["target"], []).extend(data if isinstance(data, list) else [data])
            for target in (
                "GatewayUserAccount",
                "GatewayUserOrder",
                "GatewayUserPosition",
                "GatewayUserTrade",
                "GatewayQuote",
                "GatewayTrade",
                "GatewayDepth",
            ):
                assert _keys(seen[target]) == FIELDS[target], target

    run(body)


def test_results_carry_the_documented_envelope_and_payload_keys() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            login = await api.call("Auth/loginKey", {"userName": "u", "apiKey": "k"}, auth=False)
            api.token = login["token"]
            assert set(login) == {"token", "success", "errorCode", "errorMessage"}
            assert set(await api.call("Auth/validate")) == {
                "newToken",
                "success",
                "errorCode",
                "errorMessage",
            }
            assert set(await api.place()) == {"orderId", "success", "errorCode", "errorMessage"}
            plain = await api.call("Position/closeContract", {"accountId": 7, "contractId": MNQ})
            assert set(plain) == set(wire.RESULT_FIELDS)
            assert set(await api.call("Auth/logout")) == set(wire.RESULT_FIELDS)

    run(body)


# ---- the live-like default: §2b extras beside the documented fields ---------------------------------


def _section_2b(text: str) -> str:
    start = text.index("## 2b.")
    return text[start : text.index("\n## ", start + 1)]


@pytest.mark.skipif(DOC is None, reason="PROJECTX.md not found (set PROJECTX_DOC to check §2b)")
def test_live_extra_fields_are_the_ones_projectx_md_section_2b_names() -> None:
    assert DOC is not None
    named = _names(_section_2b(DOC.read_text(encoding="utf-8")))
    for kind, extras in wire.LIVE_EXTRA_FIELDS.items():
        assert set(extras) <= named, kind
        assert not set(extras) & FIELDS[kind], kind  # extras, not documented fields


def _live(kind: str) -> set[str]:
    return FIELDS[kind] | set(wire.LIVE_EXTRA_FIELDS.get(kind, ()))


def test_live_rest_payloads_have_the_documented_fields_plus_the_live_extras_with_explicit_nulls() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            await api.place(size=1)
            await api.place(type_=1, limitPrice=20900.0)
            epoch = "2020-01-01T00:00:00Z"
            accounts = (await api.call("Account/search", {"onlyActiveAccounts": True}))["accounts"]
            assert _keys(accounts) == FIELDS["account"]
            positions = (await api.call("Position/searchOpen", {"accountId": 7}))["positions"]
            assert _keys(positions) == _live("position")
            orders = (await api.call("Order/search", {"accountId": 7, "startTimestamp": epoch}))["orders"]
            assert _keys(orders) == _live("order")
            assert orders[-1]["filledPrice"] is None and orders[-1]["parentOrderId"] is None
            trades = (await api.call("Trade/search", {"accountId": 7, "startTimestamp": epoch}))["trades"]
            assert _keys(trades) == _live("trade")

    run(body)


def test_live_hub_events_carry_only_documented_or_live_extra_fields_and_the_identifying_ones() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            users = await user_hub(gw, token)
            gw.set_price(MNQ, 21000)
            await api.place(size=1)
            await api.place(type_=1, limitPrice=20900.0)
            seen: dict[str, list[dict[str, Any]]] = {}
            for message in await users.drain():
                if message.get("type") == 1:
                    seen.setdefault(message["target"], []).append(message["arguments"][0]["data"])
            required = {"GatewayUserAccount": {"id", "balance"}, "GatewayUserOrder": {"id", "status"}}
            for target, kind in (
                ("GatewayUserAccount", "account"),
                ("GatewayUserOrder", "order"),
                ("GatewayUserPosition", "position"),
                ("GatewayUserTrade", "trade"),
            ):
                for payload in seen[target]:
                    assert set(payload) <= _live(kind), (target, set(payload) - _live(kind))
                    assert required.get(target, {"id", "accountId"}) <= set(payload), target
                    assert None not in payload.values(), target

    run(body)


# ---- wire enums: the simulator's own, from PROJECTX.md ----------------------------------------------


def _enum_line(text: str, name: str) -> dict[int, str]:
    bullet = re.search(rf"^\* {name}:(.*?)(?=^\* |^\S|\Z)", text, flags=re.M | re.S)
    assert bullet is not None, name
    return {int(v): n.lower() for v, n in re.findall(r"(\d+) =? ?([A-Z][A-Za-z]+)", bullet.group(1))}


@pytest.mark.skipif(DOC is None, reason="PROJECTX.md not found (set PROJECTX_DOC to check the enums)")
def test_the_simulators_wire_enums_are_the_ones_projectx_md_lists() -> None:
    assert DOC is not None
    text = DOC.read_text(encoding="utf-8")
    for enum in (wire.OrderType, wire.OrderStatus, wire.PositionType):
        assert {m.value: m.name.replace("_", "").lower() for m in enum} == _enum_line(text, enum.__name__)
    assert set(_enum_line(text, "OrderSide")) == {m.value for m in wire.OrderSide}


def test_the_simulator_imports_no_engine_rules_store_or_config_and_no_domain_enums() -> None:
    sim = Path(wire.__file__).parent
    forbidden = re.compile(
        r"^\s*(from|import)\s+(risk_manager\.|\.\.)(engine|rules|store|config|domain\.events)\b", re.M
    )
    offenders = [p.name for p in sorted(sim.glob("*.py")) if forbidden.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
