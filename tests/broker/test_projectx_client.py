"""The ProjectX client against the simulated gateway on loopback: REST, both hubs, faults."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
from projectx_helpers import Events, client, connected, restored, target
from sim_helpers import CL, ES, MNQ, Api, gateway, run

from risk_manager.broker.errors import (
    GatewayRejected,
    GatewayTimeout,
    LoginFailed,
    RateLimited,
    ServerError,
    Unauthorized,
)
from risk_manager.broker.port import ConnectionState, HubMessage
from risk_manager.broker.projectx import HubSettings, Recorder
from risk_manager.broker.projectx.budget import Priority
from risk_manager.broker.projectx.client import as_broker
from risk_manager.replay.reader import read_recording
from risk_manager.sim.hub import event as hub_event


async def open_position(gw_api: Api, size: int = 2, contract: str = MNQ) -> None:
    await gw_api.login()
    await gw_api.place(contract=contract, size=size)


def test_login_and_typed_reads_of_accounts_positions_orders_and_trades() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await open_position(api, size=2)
            await api.place(type_=1, side=1, size=1, limitPrice=30000)
            async with client(gw) as px:
                accounts = await px.search_accounts()
                assert [a.id for a in accounts] == [7, 8]
                assert accounts[1].balance == Decimal("50000") and accounts[1].can_trade  # 8 did not trade
                [position] = await px.search_open_positions(7)
                assert (position.contract_id, position.type, position.size) == (MNQ, 1, 2)
                assert isinstance(position.average_price, Decimal)
                [order] = await px.search_open_orders(7)
                assert (order.type, order.side, order.limit_price) == (1, 1, Decimal("30000"))
                trades = await px.search_trades(7, gw.clock.now().replace(hour=0))
                assert [t.size for t in trades] == [2] and trades[0].profit_and_loss is None
                assert trades[0].raw["contractId"] == MNQ  # the row as received, for normalize
                assert px.rest.tokens.logins == 1

    run(body)


def test_enforcement_calls_close_partially_close_cancel_place_and_move_a_stop() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await open_position(api, size=3)
            await api.place(contract=ES, size=1)
            async with client(gw) as px:
                await px.partial_close_position(7, MNQ, 1)
                assert [p.size for p in await px.search_open_positions(7) if p.contract_id == MNQ] == [2]
                gw.set_price(MNQ, "20000")
                price = Decimal("19980")
                stop_id = await px.place_stop(7, MNQ, side=1, size=2, stop_price=price)
                await px.modify_stop(7, stop_id, price - 5)
                [stop] = await px.search_open_orders(7)
                assert (stop.id, stop.type, stop.stop_price) == (stop_id, 4, price - 5)
                await px.cancel_order(7, stop_id)
                assert await px.search_open_orders(7) == []
                await px.close_position(7, MNQ)
                assert [p.contract_id for p in await px.search_open_positions(7)] == [ES]

    run(body)


def test_a_refusal_is_a_typed_error_with_the_gateways_code_and_message() -> None:
    async def body() -> None:
        async with gateway() as gw, client(gw) as px:
            refusal = {"errorCode": 6, "errorMessage": "Live accounts not supported"}
            gw.fault({"endpoint": "Order/cancel", **refusal})
            with pytest.raises(GatewayRejected) as caught:
                await px.cancel_order(7, 12345)
            assert (caught.value.error_code, caught.value.error_message) == (6, "Live accounts not supported")
            assert str(caught.value) == (
                "Order/cancel: refused by the gateway: errorCode 6: Live accounts not supported")
            with pytest.raises(GatewayRejected, match="errorCode"):
                await px.close_position(7, MNQ)  # nothing to close: the sim's own refusal

    run(body)


def test_a_429_on_close_contract_is_a_typed_error_and_the_close_is_not_repeated() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await open_position(api)
            async with client(gw) as px:
                gw.fault({"endpoint": "Position/closeContract", "status": 429})
                with pytest.raises(RateLimited) as caught:
                    await px.close_position(7, MNQ)
                assert caught.value.endpoint == "Position/closeContract" and caught.value.status == 429
                assert not caught.value.maybe_executed
                assert gw.stats.requests["Position/closeContract"] == 1
                assert [p.size for p in await px.search_open_positions(7)] == [2]  # still open: reconcile
                await px.close_position(7, MNQ)  # the caller decides to act again
                assert await px.search_open_positions(7) == []

    run(body)


def test_a_5xx_or_a_timeout_on_a_mutating_call_may_have_executed_and_is_not_repeated() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await open_position(api)
            async with client(gw) as px:
                gw.fault({"endpoint": "Position/closeContract", "status": 503})
                with pytest.raises(ServerError) as server:
                    await px.close_position(7, MNQ)
                assert server.value.status == 503 and server.value.maybe_executed
                px.rest.request_timeout = 0.3
                px.rest._http.timeout = httpx.Timeout(0.3)
                gw.fault({"endpoint": "Position/closeContract", "delay_ms": 800})
                with pytest.raises(GatewayTimeout) as timeout:
                    await px.close_position(7, MNQ)
                assert timeout.value.maybe_executed
                assert gw.stats.requests["Position/closeContract"] == 2
                await asyncio.sleep(0.6)
                assert await px.search_open_positions(7) == []  # it did execute: reconcile shows it

    run(body)


def test_an_expired_token_mid_session_logs_in_again_a_read_is_resent_a_close_is_not() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await open_position(api)
            async with client(gw) as px:
                gw.fault({"tokens": "expire"})
                assert [p.size for p in await px.search_open_positions(7)] == [2]
                assert px.rest.tokens.logins == 2
                assert gw.stats.responses["Position/searchOpen"][401] == 1
                gw.fault({"tokens": "expire"})
                with pytest.raises(Unauthorized):
                    await px.close_position(7, MNQ)
                assert gw.stats.requests["Position/closeContract"] == 1
                await px.close_position(7, MNQ)  # the next call carries a fresh token
                assert px.rest.tokens.logins == 3

    run(body)


def test_the_token_is_renewed_via_validate_before_it_expires() -> None:
    now = [1_000_000.0]

    async def body() -> None:
        async with gateway(token_lifetime=600) as gw, client(gw, clock=lambda: now[0]) as px:
            first = px.rest.tokens.session
            assert first is not None and first.expires_at == now[0] + 600
            now[0] += 479  # renewal is due at 80 % of a 10-minute token
            await px.search_accounts()
            assert gw.stats.requests["Auth/validate"] == 0
            now[0] += 1
            await px.search_accounts()
            assert gw.stats.requests["Auth/validate"] == 1
            assert px.rest.tokens.session is not first and px.rest.tokens.logins == 1

    run(body)


def test_a_wrong_api_key_fails_start_with_a_login_error() -> None:
    async def body() -> None:
        async with gateway(credentials={"trader": "the-right-key"}) as gw:
            px = client(gw)
            with pytest.raises(LoginFailed, match="Invalid credentials"):
                await px.start()
            await px.close()

    run(body)


def test_both_hubs_deliver_raw_messages_untouched() -> None:
    # bare mode: the gateway pushes the very quote set_price returns, so "untouched" is an equality
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api, client(gw) as px:
            events = Events(px)
            await px.subscribe_account(7)
            await px.subscribe_contract(MNQ)
            await events.wait_for(connected("user"))
            await events.wait_for(connected("market"))
            quote = gw.set_price(MNQ, "21000.25")
            got = await events.wait_for(
                lambda e: isinstance(e, HubMessage) and e.target == "GatewayQuote"
                and e.arguments[1].get("lastPrice") == 21000.25)
            assert isinstance(got, HubMessage) and got.hub == "market"
            assert got.arguments == [MNQ, orjson.loads(orjson.dumps(quote))]
            await open_position(api)
            for name in ("GatewayUserOrder", "GatewayUserTrade", "GatewayUserPosition", "GatewayUserAccount"):
                message = await events.wait_for(target(name))
                assert isinstance(message, HubMessage) and message.hub == "user"
            assert events.messages("GatewayUserPosition")[0].arguments[0]["size"] == 2
            assert px.state is ConnectionState.CONNECTED
            events.stop()

    run(body)


def test_after_a_drop_both_hubs_reconnect_resubscribe_and_signal_restored() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api, client(gw) as px:
                reconciles: list[str] = []
                px.on_reconnected(lambda change: reconciles.append(change.hub))
                events = Events(px)
                await px.subscribe_account(7)
                await px.subscribe_contract(MNQ)
                await events.wait_for(connected("user"))
                await events.wait_for(connected("market"))
                gw.fault({"hub": "all", "action": "drop"})
                await events.wait_for(restored("user"))
                await events.wait_for(restored("market"))
                lost = [c for c in events.changes() if c.lost]
                assert sorted(c.hub for c in lost) == ["market", "user"]
                assert sorted(reconciles) == ["market", "user"]
                assert px.state is ConnectionState.CONNECTED
                hubs = gw.state()["hubs"]
                subs = {h: sorted(s for c in hubs[h] for s in c["subscriptions"]) for h in ("user", "market")}
                assert subs == {"user": ["accounts", "orders:7", "positions:7", "trades:7"],
                                "market": [f"quotes:{MNQ}"]}
                start = len(events.items)
                await open_position(api)
                await events.wait_for(target("GatewayUserPosition"), start=start)
                events.stop()

    run(body)


def test_silence_without_close_is_detected_and_the_hub_reconnects() -> None:
    async def body() -> None:
        async with gateway() as gw, client(gw) as px:
            events = Events(px)
            await px.subscribe_account(7)
            await events.wait_for(connected("user"))
            gw.fault({"hub": "user", "action": "freeze"})
            change = await events.wait_for(lambda e: getattr(e, "lost", False), timeout=3.0)
            assert "nothing received for 0.5 s" in change.reason  # type: ignore[union-attr]
            await events.wait_for(restored("user"), timeout=3.0)
            assert gw.stats.hub_connections["user"] == 2
            assert px.user_hub.connections == 2
            events.stop()

    run(body)


def test_a_close_message_and_a_token_expired_before_reconnecting_are_both_survived() -> None:
    async def body() -> None:
        async with gateway() as gw, client(gw) as px:
            events = Events(px)
            await px.subscribe_account(7)
            await events.wait_for(connected("user"))
            gw.fault({"tokens": "expire"})
            gw.fault({"hub": "user", "action": "close", "error": "Session expired.", "allowReconnect": True})
            change = await events.wait_for(lambda e: getattr(e, "lost", False))
            assert "Session expired." in change.reason  # type: ignore[union-attr]
            await events.wait_for(restored("user"))
            assert px.rest.tokens.logins == 2  # the upgrade was refused (401), so it logged in again
            events.stop()

    run(body)


def test_negotiate_style_connections_work_too() -> None:
    async def body() -> None:
        async with gateway() as gw, client(gw, hub=HubSettings(negotiate=True, server_timeout=2.0)) as px:
                events = Events(px)
                await px.subscribe_contract(MNQ)
                await events.wait_for(connected("market"))
                assert gw.stats.negotiations["market"] == 1
                events.stop()

    run(body)


def test_stop_moves_waiting_for_the_budget_coalesce_and_a_close_goes_first() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await open_position(api)
            async with client(gw) as px:
                gw.set_price(MNQ, "20000")
                last = Decimal("20000")
                stop_id = await px.place_stop(7, MNQ, side=1, size=2, stop_price=last - 40)
                px.rest.gate.hold(0.3)  # as after a 429: everything waits
                sent: list[str] = []
                moves = [asyncio.create_task(px.modify_stop(7, stop_id, last - 40 + i)) for i in range(1, 6)]
                await asyncio.sleep(0.05)
                search = asyncio.create_task(px.search_open_orders(7))
                await asyncio.sleep(0.05)
                close = asyncio.create_task(px.close_position(7, ES))
                for name, task in (("close", close), ("moves", asyncio.gather(*moves)), ("search", search)):
                    task.add_done_callback(lambda _t, n=name: sent.append(n))
                results = await asyncio.gather(close, *moves, search, return_exceptions=True)
                assert isinstance(results[0], GatewayRejected)  # no ES position: refused, but sent first
                assert sent[0] == "close"
                assert gw.stats.requests["Order/modify"] == 1
                [stop] = await px.search_open_orders(7)
                assert stop.stop_price == last - 35  # the latest move won
                assert Priority.CLOSE < Priority.PROTECT < Priority.ROUTINE

    run(body)


def test_the_recording_of_a_live_session_holds_every_message_and_the_gap_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"

    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            async with client(gw, recorder=Recorder(path)) as px:
                events = Events(px)
                await px.subscribe_account(7)
                await px.subscribe_contract(MNQ)
                await events.wait_for(connected("user"))
                await events.wait_for(connected("market"))
                await open_position(api)
                await events.wait_for(target("GatewayUserAccount"))
                gw.fault({"hub": "user", "action": "drop"})
                await events.wait_for(restored("user"))
                received = [e for e in events.items if isinstance(e, HubMessage)]
                events.stop()
            lines = list(read_recording(path))
            messages = [line for line in lines if line.kind == "message"]
            assert len(messages) >= len(received) > 0
            gap = [orjson.loads(text) for text in path.read_text().splitlines() if "connection" in text]
            assert [(g["connection"], g["hub"]) for g in gap] == [("lost", "user"), ("restored", "user")]

    run(body)


def test_the_client_pings_so_a_quiet_connection_is_not_closed_by_the_gateway() -> None:
    async def body() -> None:
        # the gateway drops a client it has not heard from for 0.4 s; ours pings every 0.1 s
        async with gateway(client_timeout=0.4) as gw, client(gw) as px:
            events = Events(px)
            await px.subscribe_contract(MNQ)
            await events.wait_for(connected("market"))
            await asyncio.sleep(1.5)
            assert gw.stats.hub_connections["market"] == 1
            assert not [c for c in events.changes() if c.lost]
            events.stop()

    run(body)


def test_the_client_is_a_broker() -> None:
    async def body() -> None:
        async with gateway() as gw, client(gw) as px:
            broker = as_broker(px)
            assert await broker.search_open_orders(7) == []

    run(body)


def test_subscriptions_changed_around_a_reconnect_end_up_exactly_as_asked() -> None:
    async def body() -> None:
        async with gateway() as gw, client(gw) as px:
            events = Events(px)
            await px.subscribe_contract(MNQ)
            await px.subscribe_contract(ES)
            await events.wait_for(connected("market"))
            await px.unsubscribe_contract(ES)
            gw.fault({"hub": "market", "action": "drop"})
            await px.subscribe_contract(CL)  # asked while the connection is being lost or renewed
            await events.wait_for(restored("market"))
            [conn] = gw.state()["hubs"]["market"]
            assert sorted(conn["subscriptions"]) == [f"quotes:{CL}", f"quotes:{MNQ}"]
            events.stop()

    run(body)


def test_a_gateway_logout_is_passed_on_and_the_hub_comes_back_with_a_new_login() -> None:
    async def body() -> None:
        async with gateway() as gw, client(gw) as px:
            events = Events(px)
            await px.subscribe_account(7)
            await events.wait_for(connected("user"))
            for conn in gw.user_hub.connections.values():  # the session was taken over elsewhere
                conn.send(hub_event("GatewayLogout", []))
            await events.wait_for(target("GatewayLogout"))
            await events.wait_for(restored("user"))
            assert px.rest.tokens.logins == 2
            events.stop()

    run(body)
