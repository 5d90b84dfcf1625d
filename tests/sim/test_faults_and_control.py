"""Fault switches and the /__sim__ control surface do what they say."""

from __future__ import annotations

import asyncio
import time
from unittest import mock

import httpx
import pytest
from aiohttp.test_utils import make_mocked_request
from sim_helpers import MNQ, Api, Hub, gateway, run, targets, user_hub, ws_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from risk_manager.sim.app import SimGateway, load_credentials
from risk_manager.sim.control import control_routes, is_loopback
from risk_manager.sim.faults import FaultSpecError


def test_endpoint_fault_answers_429_for_count_requests_without_running_the_endpoint() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            await api.place(size=1)
            gw.fault({"endpoint": "Position/closeContract", "status": 429, "count": 2})
            close = {"accountId": 7, "contractId": MNQ}
            assert [(await api.post("Position/closeContract", close)).status_code for _ in range(2)] == [
                429,
                429,
            ]
            assert len((await api.call("Position/searchOpen", {"accountId": 7}))["positions"]) == 1
            assert (await api.call("Position/closeContract", close))["success"] is True
            assert gw.state()["responses"]["Position/closeContract"] == {"200": 1, "429": 2}
            assert gw.state()["requests"]["Position/closeContract"] == 3

    run(body)


def test_delay_fault_runs_the_endpoint_then_answers_late() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            order_id = (await api.place(type_=1, limitPrice=20900))["orderId"]
            gw.fault({"endpoint": "Order/cancel", "delay_ms": 400})
            with pytest.raises(httpx.ReadTimeout):
                await api.http.post(
                    "Order/cancel",
                    json={"accountId": 7, "orderId": order_id},
                    headers={"Authorization": f"Bearer {api.token}"},
                    timeout=0.1,
                )
            # the client timed out, but the cancel happened: a client must reconcile, not retry blindly
            assert (await api.call("Order/searchOpen", {"accountId": 7}))["orders"] == []
            started = time.monotonic()
            assert (await api.call("Order/cancel", {"accountId": 7, "orderId": order_id}))["errorCode"] == 3
            assert time.monotonic() - started < 0.3  # the delay applied once

    run(body)


def test_business_failure_fault_and_until_cleared_faults() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            order_id = (await api.place(type_=1, limitPrice=20900))["orderId"]
            gw.fault({"endpoint": "Order/cancel", "errorCode": 5, "errorMessage": "Try again"})
            failed = await api.call("Order/cancel", {"accountId": 7, "orderId": order_id})
            assert failed == {"success": False, "errorCode": 5, "errorMessage": "Try again"}
            assert len((await api.call("Order/searchOpen", {"accountId": 7}))["orders"]) == 1
            gw.fault({"endpoint": "/api/order/searchopen", "status": 503, "count": None})
            for _ in range(3):
                assert (await api.post("Order/searchOpen", {"accountId": 7})).status_code == 503
            gw.fault({"clear": True})
            assert (await api.post("Order/searchOpen", {"accountId": 7})).status_code == 200

    run(body)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"endpoint": "Order/explode", "status": 500}, "unknown endpoint"),
        ({"endpoint": "Order/cancel"}, "needs at least one"),
        ({"endpoint": "Order/cancel", "status": 99}, "status"),
        ({"endpoint": "Order/cancel", "status": 500, "count": 0}, "count"),
        ({"endpoint": "Order/cancel", "status": 500, "colour": "red"}, "unknown key"),
        ({"hub": "user", "action": "explode"}, "action"),
        ({"hub": "both", "action": "drop"}, "hub must be"),
        ({"tokens": "refresh"}, "expire"),
        ({"events": "shuffle", "count": 2}, "duplicate"),
        ({"events": "duplicate", "count": -1}, "count"),
        ({"endpoint": "Order/cancel", "status": 500, "tokens": "expire"}, "exactly one"),
        ({}, "JSON object"),
    ],
)
def test_bad_fault_specs_are_refused_with_a_message_saying_what_is_accepted(spec: dict, message: str) -> None:
    gw = gateway()
    with pytest.raises(FaultSpecError, match=message):
        gw.fault(spec)


def test_hub_drop_closes_sockets_without_a_close_message_and_reconnects_work() -> None:
    async def body() -> None:
        async with gateway(ping_interval=5) as gw, Api(gw) as api:
            token = await api.login()
            hub = await user_hub(gw, token)
            assert gw.fault({"hub": "user", "action": "drop"})["connections"] == 1
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(hub.ws.recv(), 2)
            assert closed.value.rcvd is None  # no close frame: abnormal closure (1006)
            assert hub.frames == ["{}\x1e", '{"type":3,"invocationId":"sync","result":null}\x1e']
            again = await user_hub(gw, token)
            await api.place()
            assert "GatewayUserOrder" in targets(await again.drain())

    run(body)


def test_hub_freeze_goes_silent_without_closing_and_thaw_resumes() -> None:
    async def body() -> None:
        async with gateway(ping_interval=0.04) as gw, Api(gw) as api:
            token = await api.login()
            frozen = await user_hub(gw, token)
            gw.fault({"hub": "user", "action": "freeze"})
            fresh = await user_hub(gw, token)  # connections opened after the freeze work normally
            await api.place()
            await frozen.invoke("SubscribeAccounts", invocation_id="x")
            assert "GatewayUserOrder" in targets(await fresh.drain(0.2))
            with pytest.raises(TimeoutError):
                await frozen.next(0.3, pings=True)  # no events, no completion, not even pings
            gw.fault({"hub": "user", "action": "thaw"})
            assert await frozen.next(1.0, pings=True) == {"type": 6}

    run(body)


def test_hub_close_sends_a_close_message_with_allow_reconnect() -> None:
    async def body() -> None:
        async with gateway(ping_interval=5) as gw, Api(gw) as api:
            hub = await Hub.open(gw.market_hub_url, await api.login())
            gw.fault({"hub": "market", "action": "close", "error": "maintenance"})
            assert await hub.next() == {"type": 7, "error": "maintenance", "allowReconnect": True}
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(hub.ws.recv(), 2)

    run(body)


def test_expired_tokens_get_401_on_rest_and_on_the_hub_upgrade_until_a_new_login() -> None:
    async def body() -> None:
        async with gateway(ping_interval=5) as gw, Api(gw) as api:
            token = await api.login()
            open_hub = await user_hub(gw, token)
            assert gw.fault({"tokens": "expire"})["expired"] == 1
            assert (await api.post("Account/search", {"onlyActiveAccounts": True})).status_code == 401
            assert (await api.call("Auth/validate"))["errorCode"] == 3
            with pytest.raises(InvalidStatus) as err:
                await connect(f"{ws_url(gw.user_hub_url)}?access_token={token}")
            assert err.value.response.status_code == 401
            async with httpx.AsyncClient() as http:
                negotiate = await http.post(f"{gw.user_hub_url}/negotiate?access_token={token}")
            assert negotiate.status_code == 401
            new_token = await api.login()
            assert new_token != token
            assert (await api.call("Account/search", {"onlyActiveAccounts": True}))["success"] is True
            # like ASP.NET (CloseOnAuthenticationExpiration off), an open connection outlives its token
            await api.place()
            assert "GatewayUserOrder" in targets(await open_hub.drain())

    run(body)


def test_duplicate_events_fault_sends_the_next_events_twice() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            hub = await user_hub(gw, await api.login())
            gw.fault({"events": "duplicate", "count": 2})
            await api.place()
            got = targets(await hub.drain())
            assert got == [
                "GatewayUserOrder",
                "GatewayUserOrder",
                "GatewayUserTrade",
                "GatewayUserTrade",
                "GatewayUserPosition",
                "GatewayUserAccount",
            ]
            await api.place(side=1)
            assert len(targets(await hub.drain())) == 4  # used up

    run(body)


def test_reorder_events_fault_reverses_the_next_batch() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            hub = await user_hub(gw, await api.login())
            gw.fault({"events": "reorder", "count": 1})
            await api.place()
            assert targets(await hub.drain()) == [
                "GatewayUserAccount",
                "GatewayUserPosition",
                "GatewayUserTrade",
                "GatewayUserOrder",
            ]
            await api.place(side=1)
            assert targets(await hub.drain())[0] == "GatewayUserOrder"

    run(body)


def test_control_routes_over_http() -> None:
    async def body() -> None:
        async with (
            gateway(bare=True) as gw,
            Api(gw) as api,
            httpx.AsyncClient(base_url=gw.control_url + "/") as control,
        ):
            token = await api.login()
            hub = await user_hub(gw, token)
            quotes = await Hub.open(gw.market_hub_url, token)
            await quotes.invoke("SubscribeContractQuotes", MNQ)
            await quotes.until("GatewayQuote")
            order_id = (
                await api.place(
                    type_=1,
                    limitPrice=float(gw.market.book(MNQ).contract.price(gw.market.book(MNQ).bid - 40)),
                )
            )["orderId"]
            await hub.drain()
            limit = (await api.call("Order/searchOpen", {"accountId": 7}))["orders"][0]["limitPrice"]
            r = await control.post("price", json={"contractId": MNQ, "price": limit - 5})
            assert r.status_code == 200 and r.json()["quote"]["lastPrice"] == limit - 5
            quote = await quotes.until("GatewayQuote")
            assert quote["arguments"][1]["lastPrice"] == limit - 5
            filled = [m for m in await hub.drain() if m["target"] == "GatewayUserOrder"]
            assert filled[-1]["arguments"][0]["id"] == order_id and filled[-1]["arguments"][0]["status"] == 2

            r = await control.post("account", json={"accountId": 7, "canTrade": False})
            assert r.status_code == 200 and r.json()["account"]["canTrade"] is False
            account_event = await hub.until("GatewayUserAccount")
            assert account_event["arguments"][0]["canTrade"] is False
            assert (await api.place())["errorCode"] == 4

            r = await control.post("fault", json={"endpoint": "Order/place", "status": 500})
            assert r.status_code == 200 and r.json()["applied"] == "endpoint"
            assert (await api.post("Order/place", {})).status_code == 500

            r = await control.post("market", json={"contractId": MNQ, "rate": 100})
            assert r.status_code == 200

            state = (await control.get("state")).json()
            assert state["requests"]["Order/place"] == 3
            assert state["requests"]["Auth/loginKey"] == 1
            assert [a["canTrade"] for a in state["accounts"]] == [False, True]
            assert state["positions"][0]["contractId"] == MNQ and state["positions"][0]["size"] == 1
            assert state["workingOrders"] == []
            assert [t["orderId"] for t in state["trades"]] == [order_id]
            assert state["hubInvocations"]["user:SubscribeOrders"] == 1
            assert len(state["hubs"]["user"]) == 1 and state["hubs"]["market"][0]["subscriptions"] == [
                f"quotes:{MNQ}"
            ]

            for path, payload, fragment in (
                ("price", {"contractId": MNQ, "price": 21000.1}, "tick size"),
                ("price", {"contractId": "CON.F.US.NOPE.H26", "price": 1}, "unknown contract"),
                ("price", {"price": 1}, "contractId"),
                ("account", {"accountId": 99, "canTrade": True}, "no account 99"),
                ("fault", {"hub": "user"}, "action"),
                ("market", {"contractId": MNQ}, "rate"),
            ):
                r = await control.post(path, json=payload)
                assert r.status_code == 400 and fragment in r.json()["error"], (path, r.text)
            r = await control.post("stats/reset")
            assert r.status_code == 200 and (await control.get("state")).json()["requests"] == {}

    run(body)


def test_control_api_refuses_non_loopback_clients() -> None:
    async def body() -> None:
        gw = gateway()
        state_route = next(r for r in control_routes(gw) if r.path == "/__sim__/state")  # type: ignore[attr-defined]
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda name, default=None: (
            ("203.0.113.5", 40000) if name == "peername" else default
        )
        request = make_mocked_request("GET", "/__sim__/state", transport=transport)
        response = await state_route.handler(request)
        assert response.status == 403
        transport.get_extra_info.side_effect = lambda name, default=None: (
            ("127.0.0.1", 40000) if name == "peername" else default
        )
        response = await state_route.handler(
            make_mocked_request("GET", "/__sim__/state", transport=transport)
        )
        assert response.status == 200

    run(body)


def test_loopback_detection_and_refusal_to_bind_elsewhere() -> None:
    assert (
        is_loopback("127.0.0.1")
        and is_loopback("::1")
        and is_loopback("localhost")
        and is_loopback("127.5.5.5")
    )
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback(None)
    with pytest.raises(ValueError, match="allow_remote"):
        SimGateway(host="0.0.0.0")
    assert SimGateway(host="0.0.0.0", allow_remote=True).host == "0.0.0.0"


def test_credentials_file_is_a_mapping_of_user_to_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "creds.yaml"
    good.write_text("alice: k1\nbob: k2\n")
    assert load_credentials(good) == {"alice": "k1", "bob": "k2"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- alice\n- bob\n")
    with pytest.raises(ValueError, match="mapping"):
        load_credentials(bad)
    with pytest.raises(ValueError, match="cannot read"):
        load_credentials(tmp_path / "missing.yaml")


def test_advance_moves_the_manual_clock_and_the_market() -> None:
    gw = gateway(always_open=True)
    before = gw.market.book(MNQ).updated
    made = gw.advance(2.0)
    assert made > 0 and gw.market.book(MNQ).updated > before
    with pytest.raises(TypeError, match="ManualClock"):
        SimGateway().advance(1)
