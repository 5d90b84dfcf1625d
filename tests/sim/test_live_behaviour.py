"""The simulator's default behaviour is the live gateway's (PROJECTX.md §2b), seen over a bare WebSocket.

One test per behaviour the recorded live session showed: wrapped user-hub arguments, absent fields,
commissions, repeated events, the order lifecycle, the event order of entries and exits, the extra
fields, trailPrice as a price level, bracket checks, restricted account kinds, 7-digit timestamps and
partial quotes. ``--bare`` (``bare=True``) keeps the simpler behaviour; the other sim tests pin that.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
from sim_helpers import ES, MNQ, START, Api, Hub, gateway, run, user_hub

from risk_manager.sim.broker import COMMISSIONS_PER_SIDE, FEES_PER_SIDE
from risk_manager.sim.clock import ManualClock

D = Decimal
EPOCH = "2020-01-01T00:00:00Z"
STOP_LOSS = {"ticks": -8, "type": 4}
TAKE_PROFIT = {"ticks": 8, "type": 1}


def user_events(messages: list[dict[str, Any]]) -> list[tuple[str, int, dict[str, Any]]]:
    """(target, action, data) of each user-hub event; asserts every argument is wrapped."""
    out = []
    for m in messages:
        if m.get("type") != 1:
            continue
        (argument,) = m["arguments"]
        assert set(argument) == {"action", "data"}, argument
        out.append((m["target"], argument["action"], argument["data"]))
    return out


def shape(events: list[tuple[str, int, dict[str, Any]]]) -> list[str]:
    """Compact event sequence: Order(6), Trade, Position(0), Account ..."""
    out = []
    for target, _, data in events:
        name = target.removeprefix("GatewayUser")
        if name == "Order":
            name += f"({data['status']})"
        elif name == "Position":
            name += f"({data['size']})"
        out.append(name)
    return out


async def session(gw: Any) -> tuple[Api, Hub]:
    api = Api(gw)
    token = await api.login()
    return api, await user_hub(gw, token)


def test_user_hub_arguments_are_wrapped_with_action_0_for_a_new_trade_and_1_for_updates() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place(size=1)
            events = user_events(await hub.drain())
            actions = {(target, action) for target, action, _ in events}
            assert actions == {
                ("GatewayUserOrder", 1),
                ("GatewayUserTrade", 0),
                ("GatewayUserPosition", 1),
                ("GatewayUserAccount", 1),
            }
            await api.http.aclose()

    run(body)


def test_hub_payloads_leave_out_fields_without_value_while_rest_shows_nulls() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place(size=1)
            events = user_events(await hub.drain())
            pending = next(d for t, _, d in events if t == "GatewayUserOrder" and d["status"] == 6)
            assert not {"limitPrice", "stopPrice", "filledPrice", "customTag"} & set(pending)
            opening = next(d for t, _, d in events if t == "GatewayUserTrade")
            assert "profitAndLoss" not in opening
            assert all(None not in d.values() for _, _, d in events)
            orders = (await api.call("Order/search", {"accountId": 7, "startTimestamp": EPOCH}))["orders"]
            assert orders[0]["limitPrice"] is None and orders[0]["customTag"] is None
            trades = (await api.call("Trade/search", {"accountId": 7, "startTimestamp": EPOCH}))["trades"]
            assert "profitAndLoss" in trades[0] and trades[0]["profitAndLoss"] is None
            await api.http.aclose()

    run(body)


def test_trades_carry_commissions_per_contract_per_side_and_the_balance_moves_by_pnl_minus_both() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(ES, 6000)
            await api.place(contract=ES, size=2)  # buys at the ask 6000.25
            gw.set_price(ES, 6001)  # sells at the bid 6001
            await api.call("Position/closeContract", {"accountId": 7, "contractId": ES})
            events = user_events(await hub.drain())
            trades = (await api.call("Trade/search", {"accountId": 7, "startTimestamp": EPOCH}))["trades"]
            assert [t["commissions"] for t in trades] == [float(COMMISSIONS_PER_SIDE["ES"] * 2)] * 2
            assert [t["fees"] for t in trades] == [float(FEES_PER_SIDE["ES"] * 2)] * 2
            hub_trades = [d for t, _, d in events if t == "GatewayUserTrade"]
            assert all(d["commissions"] == trades[0]["commissions"] for d in hub_trades)
            pnl = D("0.75") * 50 * 2
            costs = 2 * (FEES_PER_SIDE["ES"] + COMMISSIONS_PER_SIDE["ES"]) * 2
            assert trades[1]["profitAndLoss"] == float(pnl)
            balance = [d["balance"] for t, _, d in events if t == "GatewayUserAccount"][-1]
            assert D(str(balance)) == D(50000) + pnl - costs
            await api.http.aclose()

    run(body)


def test_a_close_repeats_its_trade_at_the_opening_price_and_fills_send_the_account_2_to_4_times() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place(size=1)  # 21000.25
            entry = user_events(await hub.drain())
            gw.set_price(MNQ, 21010)
            await api.call("Position/closeContract", {"accountId": 7, "contractId": MNQ})
            close = user_events(await hub.drain())
            trades = [d for t, _, d in close if t == "GatewayUserTrade"]
            assert len(trades) == 2
            first, repeat = trades
            assert first["profitAndLoss"] == 19.5 and first["price"] == 21010
            assert "profitAndLoss" not in repeat and repeat["price"] == 21000.25
            assert repeat["id"] == first["id"] and repeat["fees"] == first["fees"]
            assert repeat["commissions"] == first["commissions"]
            counts = [shape(e).count("Account") for e in (entry, close)]
            assert all(2 <= c <= 4 for c in counts) and len(set(counts)) == 2, counts
            rest = (await api.call("Trade/search", {"accountId": 7, "startTimestamp": EPOCH}))["trades"]
            assert len(rest) == 2  # REST lists each execution once
            await api.http.aclose()

    run(body)


def test_a_market_entry_goes_pending_then_filled_in_the_recorded_event_order() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place(size=1)
            seq = shape(user_events(await hub.drain()))
            assert seq[:5] == ["Order(6)", "Trade", "Order(2)", "Position(1)", "Account"]
            assert set(seq[5:]) == {"Account"}
            await api.http.aclose()

    run(body)


def test_bracket_legs_are_suspended_from_placement_and_open_when_the_entry_fills() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            placed = await api.place(
                type_=1, limitPrice=20990.0, stopLossBracket=STOP_LOSS, takeProfitBracket=TAKE_PROFIT
            )
            events = user_events(await hub.drain())
            assert shape(events) == ["Order(8)", "Order(8)", "Order(1)"]
            legs = [d for _, _, d in events[:2]]
            assert {leg["parentOrderId"] for leg in legs} == {placed["orderId"]}
            assert legs[0]["linkedOrderId"] == legs[1]["id"] and legs[1]["linkedOrderId"] == legs[0]["id"]
            listed = (await api.call("Order/searchOpen", {"accountId": 7}))["orders"]
            assert [o["id"] for o in listed] == [placed["orderId"]]  # Suspended legs are not listed
            gw.set_price(MNQ, 20989)  # the ask 20989.25 reaches the limit: the entry fills at 20990
            seq = shape(user_events(await hub.drain()))
            assert seq[:2] == ["Order(2)", "Trade"] and seq[-2:] == ["Order(1)", "Order(1)"]
            listed = (await api.call("Order/searchOpen", {"accountId": 7}))["orders"]
            prices = sorted((o["type"], o["stopPrice"] or o["limitPrice"]) for o in listed)
            assert prices == [(1, 20992.0), (4, 20988.0)]  # re-priced from the fill, 8 ticks away
            await api.http.aclose()

    run(body)


def test_cancelling_an_entry_cancels_its_suspended_legs() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            placed = await api.place(type_=1, limitPrice=20990.0, stopLossBracket=STOP_LOSS)
            await hub.drain()
            result = await api.call("Order/cancel", {"accountId": 7, "orderId": placed["orderId"]})
            assert result["success"] is True
            assert shape(user_events(await hub.drain())) == ["Order(3)", "Order(3)"]
            await api.http.aclose()

    run(body)


def test_a_rejected_place_still_creates_the_order_and_emits_pending_then_rejected() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            result = await api.place(type_=1)  # a limit order without limitPrice
            assert result["success"] is False and result["errorCode"] == 2
            assert isinstance(result["orderId"], int)
            events = user_events(await hub.drain())
            assert shape(events) == ["Order(6)", "Order(5)"]
            assert {d["id"] for _, _, d in events} == {result["orderId"]}
            await api.http.aclose()

    run(body)


def test_a_stop_leg_exit_sends_trades_then_order_then_flat_position_then_account_then_the_other_leg() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place(stopLossBracket=STOP_LOSS, takeProfitBracket=TAKE_PROFIT)  # entry 21000.25
            await hub.drain()
            gw.set_price(MNQ, 20998)  # bid 20998 <= stop 20998.25
            events = user_events(await hub.drain())
            seq = shape(events)
            accounts = seq.count("Account")
            assert seq == ["Trade", "Trade", "Order(2)", "Position(0)", *["Account"] * accounts, "Order(3)"]
            flat = next(d for t, _, d in events if t == "GatewayUserPosition")
            assert flat["averagePrice"] == 21000.25  # a closed position keeps its entry average
            await api.http.aclose()

    run(body)


def test_a_take_profit_exit_sends_order_then_trade_then_flat_position_then_account_then_the_other_leg() -> (
    None
):
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place(stopLossBracket=STOP_LOSS, takeProfitBracket=TAKE_PROFIT)
            await hub.drain()
            gw.set_price(MNQ, 21003)  # bid 21003 >= take profit 21002.25
            seq = shape(user_events(await hub.drain()))
            accounts = seq.count("Account")
            assert seq == ["Order(2)", "Trade", "Trade", "Position(0)", *["Account"] * accounts, "Order(3)"]
            await api.http.aclose()

    run(body)


def test_positions_carry_contract_display_name() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place()
            position = next(d for t, _, d in user_events(await hub.drain()) if t == "GatewayUserPosition")
            assert position["contractDisplayName"] == "MNQH26"
            rest = (await api.call("Position/searchOpen", {"accountId": 7}))["positions"]
            assert rest[0]["contractDisplayName"] == "MNQH26"
            await api.http.aclose()

    run(body)


def test_trail_price_is_a_price_level_and_reads_back_as_a_distance() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)  # last 21000, bid 21000
            placed = await api.place(type_=5, side=1, trailPrice=20995.0)
            assert placed["success"] is True, placed
            order = next(d for t, _, d in user_events(await hub.drain()) if t == "GatewayUserOrder")
            assert order["trailPrice"] == 5.0 and order["trailDistance"] == 20
            assert order["stopPrice"] == 20995.0  # 20 ticks under the bid
            same = await api.place(type_=5, side=1, trailPrice=21000.0)
            assert same["success"] is False and "last price" in same["errorMessage"]
            far = await api.place(type_=5, side=1, trailPrice=20000.0)  # 4000 ticks away: capped
            capped = next(
                o
                for o in (await api.call("Order/searchOpen", {"accountId": 7}))["orders"]
                if o["id"] == far["orderId"]
            )
            assert capped["trailDistance"] == 1000 and capped["trailPrice"] == 250.0
            await api.http.aclose()

    run(body)


def test_a_stop_loss_bracket_closer_than_4_ticks_or_with_the_wrong_sign_is_refused() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, _ = await session(gw)
            gw.set_price(MNQ, 21000)
            near = await api.place(stopLossBracket={"ticks": -3, "type": 4})
            assert near["errorCode"] == 2 and "at least 4 ticks" in near["errorMessage"]
            wrong = await api.place(stopLossBracket={"ticks": 8, "type": 4})
            assert wrong["errorCode"] == 2 and "negative" in wrong["errorMessage"]
            assert (await api.place(stopLossBracket={"ticks": -4, "type": 4}))["success"] is True
            await api.http.aclose()

    run(body)


def test_position_brackets_mode_refuses_order_brackets_with_error_code_2() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, _ = await session(gw)
            gw.set_price(MNQ, 21000)
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"{gw.control_url}/account", json={"accountId": 7, "positionBrackets": True}
                )
                assert r.status_code == 200, r.text
            refused = await api.place(stopLossBracket=STOP_LOSS)
            assert refused["errorCode"] == 2 and "Position Brackets" in refused["errorMessage"]
            assert (await api.place())["success"] is True  # no brackets: fine
            await api.http.aclose()

    run(body)


def test_live_and_follower_accounts_refuse_cancel_with_6_and_partial_close_with_9() -> None:
    async def body() -> None:
        async with gateway() as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place(size=2)
            resting = await api.place(type_=1, limitPrice=20900.0)
            for kind, cancel_message in (
                ("live", "Live accounts not supported."),
                ("follower", "Follower accounts cannot cancel orders."),
            ):
                async with httpx.AsyncClient() as http:
                    r = await http.post(f"{gw.control_url}/account", json={"accountId": 7, "kind": kind})
                    assert r.status_code == 200 and r.json()["account"]["simulated"] is False, r.text
                cancel = await api.call("Order/cancel", {"accountId": 7, "orderId": resting["orderId"]})
                assert (cancel["errorCode"], cancel["errorMessage"]) == (6, cancel_message)
                partial = await api.call(
                    "Position/partialCloseContract", {"accountId": 7, "contractId": MNQ, "size": 1}
                )
                assert partial["errorCode"] == 9
            accounts = [d for t, _, d in user_events(await hub.drain()) if t == "GatewayUserAccount"]
            assert accounts[0]["simulated"] is True and accounts[-1]["simulated"] is False
            close = await api.call("Position/closeContract", {"accountId": 7, "contractId": MNQ})
            assert close["success"] is True  # closing the whole position is still possible
            await api.http.aclose()

    run(body)


STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?\+00:00$")


def test_timestamps_have_up_to_7_fractional_digits_with_trailing_zeros_dropped() -> None:
    async def body() -> None:
        clock = ManualClock(START)
        async with gateway(clock=clock) as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place()
            clock.advance(0.1234)
            await api.place()
            stamps = [d["creationTimestamp"] for t, _, d in user_events(await hub.drain()) if "Trade" in t]
            assert stamps == ["2026-03-02T15:00:00+00:00", "2026-03-02T15:00:00.1234+00:00"]
            rest = (await api.call("Order/search", {"accountId": 7, "startTimestamp": EPOCH}))["orders"]
            assert all(STAMP.match(o["updateTimestamp"]) for o in rest)
            await api.http.aclose()

    run(body)


def test_quotes_are_partial_by_default() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            hub = await Hub.open(gw.market_hub_url, await api.login())
            await hub.invoke("SubscribeContractQuotes", MNQ)
            full = (await hub.until("GatewayQuote"))["arguments"][1]
            assert {"bestBid", "bestAsk", "open", "volume"} <= set(full)
            gw.set_price(MNQ, full["lastPrice"])
            partial = (await hub.until("GatewayQuote"))["arguments"][1]
            assert "open" not in partial and "bestBid" not in partial

    run(body)


def test_bare_mode_keeps_the_simple_behaviour() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw:
            api, hub = await session(gw)
            gw.set_price(MNQ, 21000)
            await api.place()
            messages = [m for m in await hub.drain() if m.get("type") == 1]
            assert [m["target"] for m in messages] == [
                "GatewayUserOrder",
                "GatewayUserTrade",
                "GatewayUserPosition",
                "GatewayUserAccount",
            ]
            trade = messages[1]["arguments"][0]
            assert trade["profitAndLoss"] is None and "commissions" not in trade  # bare, with nulls
            assert trade["creationTimestamp"] == "2026-03-02T15:00:00.000000+00:00"
            assert gw.state()["mode"] == "bare"
            await api.http.aclose()

    run(body)
