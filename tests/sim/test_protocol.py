"""SignalR JSON hub protocol of the simulated gateway, seen with a bare WebSocket client."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
from sim_helpers import MNQ, RS, Api, Hub, gateway, run, user_hub, ws_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def test_handshake_is_answered_with_an_empty_object_before_anything_else() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            async with connect(f"{ws_url(gw.user_hub_url)}?access_token={token}") as ws:
                await ws.send('{"protocol":"json","version":1}' + RS)
                assert await ws.recv() == "{}" + RS

    run(body)


def test_handshake_with_another_protocol_gets_an_error_and_the_socket_closes() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            async with connect(f"{ws_url(gw.user_hub_url)}?access_token={token}") as ws:
                await ws.send('{"protocol":"messagepack","version":1}' + RS)
                reply = orjson.loads((await ws.recv()).rstrip(RS))
                assert "messagepack" in reply["error"]
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 2)

    run(body)


def test_a_handshake_split_across_frames_and_followed_by_an_invocation_in_the_same_frame_works() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            async with connect(f"{ws_url(gw.user_hub_url)}?access_token={token}") as ws:
                await ws.send('{"protocol":"json",')
                await ws.send(
                    '"version":1}'
                    + RS
                    + '{"type":1,"target":"SubscribeAccounts","arguments":[],"invocationId":"a"}'
                    + RS
                )
                assert await ws.recv() == "{}" + RS
                assert orjson.loads((await ws.recv()).rstrip(RS)) == {
                    "type": 3,
                    "invocationId": "a",
                    "result": None,
                }

    run(body)


def test_bad_or_missing_token_is_refused_with_401_before_the_upgrade() -> None:
    async def body() -> None:
        async with gateway() as gw:
            for query in ("?access_token=not-a-token", ""):
                with pytest.raises(InvalidStatus) as err:
                    await connect(ws_url(gw.user_hub_url) + query)
                assert err.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as err:
                await connect(ws_url(gw.market_hub_url) + "?access_token=x.y.z")
            assert err.value.response.status_code == 401

    run(body)


def test_token_in_authorization_header_is_accepted_too() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            async with connect(
                ws_url(gw.user_hub_url), additional_headers={"Authorization": f"Bearer {token}"}
            ) as ws:
                await ws.send('{"protocol":"json","version":1}' + RS)
                assert await ws.recv() == "{}" + RS

    run(body)


def test_negotiate_then_connect_with_the_connection_token() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            async with httpx.AsyncClient() as http:
                r = await http.post(f"{gw.user_hub_url}/negotiate?negotiateVersion=1&access_token={token}")
                assert r.status_code == 200
                data = r.json()
                assert data["negotiateVersion"] == 1
                assert (
                    data["connectionId"]
                    and data["connectionToken"]
                    and data["connectionId"] != data["connectionToken"]
                )
                assert data["availableTransports"] == [
                    {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}
                ]
                old = (
                    await http.post(
                        f"{gw.market_hub_url}/negotiate", headers={"Authorization": f"Bearer {token}"}
                    )
                ).json()
                assert old["negotiateVersion"] == 0 and "connectionToken" not in old
                unauthorized = await http.post(f"{gw.user_hub_url}/negotiate?negotiateVersion=1")
                assert unauthorized.status_code == 401
            url = f"{ws_url(gw.user_hub_url)}?access_token={token}&id={data['connectionToken']}"
            async with connect(url) as ws:
                await ws.send('{"protocol":"json","version":1}' + RS)
                assert await ws.recv() == "{}" + RS
            # a connection token is single-use, as on ASP.NET: reconnecting with it is refused
            with pytest.raises(InvalidStatus) as err:
                await connect(url)
            assert err.value.response.status_code == 404
            async with connect(
                f"{ws_url(gw.market_hub_url)}?access_token={token}&id={old['connectionId']}"
            ) as ws:
                await ws.send('{"protocol":"json","version":1}' + RS)
                assert await ws.recv() == "{}" + RS
            assert gw.state()["negotiations"] == {"market": 1, "user": 2}

    run(body)


def test_several_invocations_in_one_frame_each_get_their_completion() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            hub = await Hub.open(gw.user_hub_url, await api.login())
            await hub.send(
                {"type": 1, "target": "SubscribeAccounts", "arguments": [], "invocationId": "1"},
                {
                    "type": 1,
                    "target": "SubscribeOrders",
                    "arguments": [7],
                    "invocationId": "2",
                    "headers": {},
                },
                {"type": 1, "target": "SubscribePositions", "arguments": [7]},  # no id: no completion
                {
                    "type": 1,
                    "target": "subscribetrades",
                    "arguments": [7],
                    "invocationId": "3",
                },  # case-insensitive
            )
            got = [await hub.next() for _ in range(3)]
            assert got == [{"type": 3, "invocationId": str(i), "result": None} for i in (1, 2, 3)]
            assert await hub.drain(0.1) == []
            subs = gw.state()["hubs"]["user"][0]["subscriptions"]
            assert subs == ["accounts", "orders:7", "positions:7", "trades:7"]
            await hub.close()

    run(body)


def test_server_packs_several_messages_into_one_frame_each_terminated_by_0x1e() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            hub = await user_hub(gw, await api.login())
            await api.place(size=1)  # a fill: order, trade, position, account
            frame = await hub.recv_frame()
            records = frame.split(RS)
            assert records[-1] == "" and len(records) == 5
            assert [orjson.loads(r)["target"] for r in records[:-1]] == [
                "GatewayUserOrder",
                "GatewayUserTrade",
                "GatewayUserPosition",
                "GatewayUserAccount",
            ]
            await hub.close()

    run(body)


def test_unknown_method_and_wrong_arguments_get_error_completions() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            hub = await Hub.open(gw.user_hub_url, await api.login())
            await hub.invoke("SubscribeEverything", invocation_id="1")
            await hub.invoke("SubscribeOrders", invocation_id="2")
            await hub.invoke("SubscribeOrders", "7", invocation_id="3")
            await hub.invoke("SubscribeEverything")  # fire-and-forget: nothing comes back
            errors = [await hub.next() for _ in range(3)]
            assert [e["invocationId"] for e in errors] == ["1", "2", "3"]
            assert all(e["type"] == 3 and "result" not in e for e in errors)
            assert "Method does not exist" in errors[0]["error"]
            assert "provides 0 argument(s) but target expects 1" in errors[1]["error"]
            assert "Error binding arguments" in errors[2]["error"]
            assert await hub.drain(0.1) == []
            market = await Hub.open(gw.market_hub_url, api.token or "")
            await market.invoke("SubscribeContractQuotes", "CON.F.US.XYZ.H26", invocation_id="9")
            error = await market.next()
            assert error["invocationId"] == "9" and "not found" in error["error"]

    run(body)


def test_server_pings_an_idle_connection_every_ping_interval() -> None:
    async def body() -> None:
        async with gateway(ping_interval=0.05) as gw, Api(gw) as api:
            hub = await Hub.open(gw.user_hub_url, await api.login())
            started = time.monotonic()
            pings = [await hub.next(1.0, pings=True) for _ in range(4)]
            elapsed = time.monotonic() - started
            assert pings == [{"type": 6}] * 4
            assert 0.12 <= elapsed <= 1.0
            await hub.close()

    run(body)


def test_client_pings_keep_the_connection_alive_and_silence_gets_it_closed() -> None:
    async def body() -> None:
        async with gateway(ping_interval=0.03, client_timeout=0.3) as gw, Api(gw) as api:
            token = await api.login()
            lively = await Hub.open(gw.user_hub_url, token)
            silent = await Hub.open(gw.user_hub_url, token)
            for _ in range(8):  # 0.4 s of client pings, past the 0.3 s timeout
                await lively.send({"type": 6})
                await asyncio.sleep(0.05)
            close = None
            for _ in range(40):
                message = await silent.next(1.0, pings=True)
                if message["type"] == 7:
                    close = message
                    break
            assert close is not None and "timeout" in close["error"].lower()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(silent.ws.recv(), 2)
            await lively.invoke("SubscribeAccounts", invocation_id="alive")
            assert (await lively.next())["invocationId"] == "alive"
            await lively.close()

    run(body)


def test_client_close_message_ends_the_connection() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            hub = await Hub.open(gw.user_hub_url, await api.login())
            await hub.send({"type": 7})
            with pytest.raises(ConnectionClosed):
                for _ in range(100):
                    await asyncio.wait_for(hub.ws.recv(), 2)
            await asyncio.sleep(0.05)
            assert gw.state()["hubs"]["user"] == []

    run(body)


def test_subscriptions_live_per_connection_only() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            token = await api.login()
            first = await user_hub(gw, token)
            await first.close()
            second = await Hub.open(gw.user_hub_url, token)  # reconnect without re-subscribing
            await api.place()
            assert await second.drain(0.2) == []
            await second.invoke("SubscribeOrders", 7, invocation_id="1")
            assert (await second.next())["invocationId"] == "1"
            await api.place(side=1)
            assert (await second.until("GatewayUserOrder"))["arguments"][0]["side"] == 1
            assert [m for m in await second.drain(0.1) if m.get("target") != "GatewayUserOrder"] == []

    run(body)


def test_unsubscribe_stops_the_events() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            hub = await user_hub(gw, await api.login())
            await hub.send(
                {"type": 1, "target": "UnsubscribeOrders", "arguments": [7]},
                {"type": 1, "target": "UnsubscribeTrades", "arguments": [7]},
                {"type": 1, "target": "UnsubscribePositions", "arguments": [7], "invocationId": "u"},
            )
            assert (await hub.next())["invocationId"] == "u"
            await api.place()
            got = await hub.drain()
            assert [m["target"] for m in got] == ["GatewayUserAccount"]

    run(body)


def test_events_of_other_accounts_are_not_routed_to_an_account_subscription() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            token = await api.login()
            hub = await Hub.open(gw.user_hub_url, token)
            await hub.invoke("SubscribePositions", 8, invocation_id="s")
            await hub.next()
            await api.place(account=7)
            assert await hub.drain(0.15) == []
            await api.place(account=8)
            assert (await hub.until("GatewayUserPosition"))["arguments"][0]["accountId"] == 8

    run(body)


def test_market_hub_events_carry_contract_id_and_data() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            hub = await Hub.open(gw.market_hub_url, await api.login())
            await hub.send(
                {"type": 1, "target": "SubscribeContractQuotes", "arguments": [MNQ]},
                {"type": 1, "target": "SubscribeContractTrades", "arguments": [MNQ]},
                {
                    "type": 1,
                    "target": "SubscribeContractMarketDepth",
                    "arguments": [MNQ],
                    "invocationId": "d",
                },
            )
            snapshot = await hub.until("GatewayQuote")
            assert snapshot["arguments"][0] == MNQ and snapshot["arguments"][1]["symbol"] == "F.US.MNQ"
            depth = await hub.until("GatewayDepth")
            assert depth["arguments"][0] == MNQ and depth["arguments"][1][0]["type"] == 6  # Reset first
            assert (await hub.next())["invocationId"] == "d"
            gw.set_price(MNQ, "21000.25")
            quote = await hub.until("GatewayQuote")
            assert quote["arguments"] == [MNQ, quote["arguments"][1]]
            assert quote["arguments"][1]["lastPrice"] == 21000.25
            trade = await hub.until("GatewayTrade")
            assert trade["arguments"][0] == MNQ and trade["arguments"][1][0]["price"] == 21000.25
            assert (await hub.until("GatewayDepth"))["arguments"][0] == MNQ
            await hub.invoke("UnsubscribeContractQuotes", MNQ)
            await hub.invoke("UnsubscribeContractTrades", MNQ)
            await hub.invoke("UnsubscribeContractMarketDepth", MNQ, invocation_id="u")
            assert (await hub.next())["invocationId"] == "u"
            gw.set_price(MNQ, "21001")
            assert await hub.drain(0.1) == []

    run(body)


def test_partial_quotes_send_only_changed_fields_after_the_snapshot() -> None:
    async def body() -> None:
        async with gateway(partial_quotes=True) as gw, Api(gw) as api:
            hub = await Hub.open(gw.market_hub_url, await api.login())
            await hub.invoke("SubscribeContractQuotes", MNQ)
            full = (await hub.until("GatewayQuote"))["arguments"][1]
            assert {"bestBid", "bestAsk", "open", "volume"} <= set(full)
            gw.set_price(MNQ, full["lastPrice"])  # same last, bid unchanged: only volume/time/ask move
            partial = (await hub.until("GatewayQuote"))["arguments"][1]
            assert "open" not in partial and "bestBid" not in partial and "volume" in partial
            assert partial["symbol"] == "F.US.MNQ" and "timestamp" in partial

    run(body)


def test_plain_get_without_upgrade_is_a_400() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            async with httpx.AsyncClient() as http:
                r = await http.get(f"{gw.user_hub_url}?access_token={token}")
            assert r.status_code == 400

    run(body)


def test_handshake_timeout_drops_a_silent_socket() -> None:
    async def body() -> None:
        async with gateway(handshake_timeout=0.1) as gw, Api(gw) as api:
            token = await api.login()
            async with connect(f"{ws_url(gw.user_hub_url)}?access_token={token}") as ws:
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 2)

    run(body)


def test_partial_quotes_after_a_resubscribe_are_relative_to_the_new_snapshot() -> None:
    async def body() -> None:
        async with gateway(partial_quotes=True) as gw, Api(gw) as api:
            token = await api.login()
            first = await Hub.open(gw.market_hub_url, token)
            gw.set_price(MNQ, "21000")
            await first.invoke("SubscribeContractQuotes", MNQ)
            assert (await first.until("GatewayQuote"))["arguments"][1]["bestBid"] == 21000
            await first.invoke("UnsubscribeContractQuotes", MNQ, invocation_id="u")
            assert (await first.next())["invocationId"] == "u"
            gw.set_price(MNQ, "21005")  # nobody subscribed: nothing published
            second = await Hub.open(gw.market_hub_url, token)
            await second.invoke("SubscribeContractQuotes", MNQ)
            assert (await second.until("GatewayQuote"))["arguments"][1]["bestBid"] == 21005
            gw.set_price(MNQ, "21000")  # back to the value the first subscriber last saw
            assert (await second.until("GatewayQuote"))["arguments"][1]["bestBid"] == 21000

    run(body)
