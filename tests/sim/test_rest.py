"""REST endpoints of the simulated gateway: happy paths, business failures, HTTP-level errors."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sim_helpers import CL, ES, MNQ, START, Api, gateway, run

from risk_manager.sim.clock import ManualClock
from risk_manager.sim.rest import DEFAULT_LIMITS, Limit
from risk_manager.sim.tokens import TokenBook

EPOCH = "2020-01-01T00:00:00Z"


def test_login_returns_a_jwt_with_exp_and_the_result_envelope() -> None:
    async def body() -> None:
        async with gateway(token_lifetime=3600) as gw, Api(gw) as api:
            data = await api.call("Auth/loginKey", {"userName": "alice", "apiKey": "anything"}, auth=False)
            assert data["success"] is True and data["errorCode"] == 0 and data["errorMessage"] is None
            claims = TokenBook.claims(data["token"])
            assert claims["sub"] == "alice"
            assert claims["exp"] == int(START.timestamp()) + 3600

    run(body)


def test_credentials_file_restricts_who_can_log_in() -> None:
    async def body() -> None:
        async with gateway(credentials={"alice": "k1"}) as gw, Api(gw) as api:
            bad = await api.call("Auth/loginKey", {"userName": "alice", "apiKey": "wrong"}, auth=False)
            assert bad["success"] is False and bad["errorCode"] == 3 and bad["token"] is None
            other = await api.call("Auth/loginKey", {"userName": "bob", "apiKey": "k1"}, auth=False)
            assert other["errorCode"] == 3
            good = await api.call("Auth/loginKey", {"userName": "alice", "apiKey": "k1"}, auth=False)
            assert good["success"] is True

    run(body)


def test_login_without_api_key_is_a_400_naming_the_field() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            r = await api.post("Auth/loginKey", {"userName": "alice"}, auth=False)
            assert r.status_code == 400
            assert r.json()["errors"] == {"apiKey": ["The apiKey field is required."]}
            r = await api.post("Auth/loginKey", None, auth=False)
            assert r.status_code == 400
            r = await api.http.post(
                "Auth/loginKey", content=b"{not json", headers={"Content-Type": "application/json"}
            )
            assert r.status_code == 400 and "not valid JSON" in r.json()["errors"]["$"][0]

    run(body)


def test_validate_issues_a_new_token_and_reports_expired_ones() -> None:
    async def body() -> None:
        clock = ManualClock(START)
        async with gateway(clock=clock, token_lifetime=60) as gw, Api(gw) as api:
            token = await api.login()
            clock.advance(30)
            data = await api.call("Auth/validate")
            assert data["success"] is True and data["newToken"] != token
            assert TokenBook.claims(data["newToken"])["exp"] == int(START.timestamp()) + 90
            clock.advance(31)  # the first token is now expired, the new one is not
            expired = await api.call("Auth/validate")
            assert expired == {
                "newToken": None,
                "success": False,
                "errorCode": 3,
                "errorMessage": "Token expired.",
            }
            assert (await api.post("Account/search", {"onlyActiveAccounts": True})).status_code == 401
            fresh = await api.call("Account/search", {"onlyActiveAccounts": True}, token=data["newToken"])
            assert fresh["success"] is True
            assert (await api.post("Auth/validate", token="garbage")).status_code == 401

    run(body)


def test_logout_ends_the_session() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            assert (await api.call("Auth/logout"))["success"] is True
            assert (await api.post("Account/search", {"onlyActiveAccounts": True})).status_code == 401
            assert (await api.call("Auth/validate"))["errorCode"] == 1

    run(body)


def test_missing_or_unknown_token_is_401() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            r = await api.post("Account/search", {"onlyActiveAccounts": True}, auth=False)
            assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
            r = await api.post("Account/search", {"onlyActiveAccounts": True}, token="eyJ.eyJ.sig")
            assert r.status_code == 401

    run(body)


def test_account_search_lists_practice_accounts_from_id_7_with_50k() -> None:
    async def body() -> None:
        async with gateway(accounts=3) as gw, Api(gw) as api:
            await api.login()
            data = await api.call("Account/search", {"onlyActiveAccounts": True})
            assert [a["id"] for a in data["accounts"]] == [7, 8, 9]
            assert all(a["balance"] == 50000 and a["canTrade"] and a["simulated"] for a in data["accounts"])
            r = await api.post("Account/search", {})
            assert r.status_code == 400 and "onlyActiveAccounts" in r.json()["errors"]

    run(body)


def test_position_search_open_and_close_contract() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            await api.place(size=3)
            positions = (await api.call("Position/searchOpen", {"accountId": 7}))["positions"]
            assert len(positions) == 1
            p = positions[0]
            assert (p["contractId"], p["type"], p["size"], p["averagePrice"]) == (MNQ, 1, 3, 21000.25)
            assert (await api.call("Position/searchOpen", {"accountId": 8}))["positions"] == []
            partial = await api.call(
                "Position/partialCloseContract", {"accountId": 7, "contractId": MNQ, "size": 2}
            )
            assert partial["success"] is True
            assert (await api.call("Position/searchOpen", {"accountId": 7}))["positions"][0]["size"] == 1
            closed = await api.call("Position/closeContract", {"accountId": 7, "contractId": MNQ})
            assert closed == {"success": True, "errorCode": 0, "errorMessage": None}
            assert (await api.call("Position/searchOpen", {"accountId": 7}))["positions"] == []

    run(body)


def test_position_endpoints_business_failures() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            unknown = await api.call("Position/searchOpen", {"accountId": 99})
            assert unknown["success"] is False and unknown["errorCode"] == 1
            nothing = await api.call("Position/closeContract", {"accountId": 7, "contractId": MNQ})
            assert nothing["errorCode"] == 2  # PositionNotFound
            assert (await api.call("Position/closeContract", {"accountId": 99, "contractId": MNQ}))[
                "errorCode"
            ] == 1
            other_month = await api.call(
                "Position/closeContract", {"accountId": 7, "contractId": "CON.F.US.MNQ.Z30"}
            )
            assert other_month["errorCode"] == 4  # ContractNotActive
            bogus = await api.call(
                "Position/closeContract", {"accountId": 7, "contractId": "CON.F.US.ZZZ.H26"}
            )
            assert bogus["errorCode"] == 3  # ContractNotFound
            await api.place(size=2)
            too_big = await api.call(
                "Position/partialCloseContract", {"accountId": 7, "contractId": MNQ, "size": 3}
            )
            assert too_big["errorCode"] == 5  # InvalidCloseSize
            zero = await api.call(
                "Position/partialCloseContract", {"accountId": 7, "contractId": MNQ, "size": 0}
            )
            assert zero["errorCode"] == 5
            missing = await api.post(
                "Position/partialCloseContract", {"accountId": 7, "contractId": MNQ, "closeSize": 1}
            )
            assert missing.status_code == 400 and "size" in missing.json()["errors"]  # the old SDK field name

    run(body)


def test_order_place_search_open_cancel_and_modify() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            placed = await api.place(type_=1, side=0, size=2, limitPrice=20990.5, customTag="rm-1")
            assert placed["success"] is True and isinstance(placed["orderId"], int)
            order_id = placed["orderId"]
            open_orders = (await api.call("Order/searchOpen", {"accountId": 7}))["orders"]
            assert [
                (o["id"], o["status"], o["type"], o["limitPrice"], o["customTag"]) for o in open_orders
            ] == [(order_id, 1, 1, 20990.5, "rm-1")]
            modified = await api.call(
                "Order/modify", {"accountId": 7, "orderId": order_id, "limitPrice": 20995, "size": 1}
            )
            assert modified["success"] is True
            o = (await api.call("Order/searchOpen", {"accountId": 7}))["orders"][0]
            assert (o["limitPrice"], o["size"]) == (20995, 1)
            cancelled = await api.call("Order/cancel", {"accountId": 7, "orderId": order_id})
            assert cancelled["success"] is True
            assert (await api.call("Order/searchOpen", {"accountId": 7}))["orders"] == []
            history = (await api.call("Order/search", {"accountId": 7, "startTimestamp": EPOCH}))["orders"]
            assert [(o["id"], o["status"]) for o in history] == [(order_id, 3)]
            later = await api.call(
                "Order/search", {"accountId": 7, "startTimestamp": (START + timedelta(seconds=1)).isoformat()}
            )
            assert later["orders"] == []
            ranged = await api.call(
                "Order/search",
                {"accountId": 7, "startTimestamp": EPOCH, "endTimestamp": "2026-03-02T14:59:59.9999999Z"},
            )
            assert ranged["orders"] == []
            again = await api.call("Order/cancel", {"accountId": 7, "orderId": order_id})
            assert again["success"] is False and again["errorCode"] == 3  # Rejected: not working any more
            assert (await api.call("Order/cancel", {"accountId": 7, "orderId": 424242}))["errorCode"] == 2
            assert (await api.call("Order/cancel", {"accountId": 8, "orderId": order_id}))["errorCode"] == 2
            assert (await api.call("Order/modify", {"accountId": 7, "orderId": order_id, "size": 2}))[
                "errorCode"
            ] == 3
            assert (await api.call("Order/modify", {"accountId": 99, "orderId": order_id}))["errorCode"] == 1
            r = await api.post("Order/cancel", {"orderId": order_id})
            assert r.status_code == 400 and "accountId" in r.json()["errors"]  # accountId is required too
            r = await api.post("Order/search", {"accountId": 7})
            assert r.status_code == 400 and "startTimestamp" in r.json()["errors"]

    run(body)


def test_order_place_rejections_use_the_place_order_error_codes() -> None:
    async def body() -> None:
        async with gateway(bare=True) as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            cases = [
                ({"account": 99}, 1),
                ({"contract": "CON.F.US.ZZZ.H26"}, 8),
                ({"contract": "CON.F.US.MNQ.M26"}, 9),
                ({"size": 0}, 2),
                ({"side": 2}, 2),
                ({"type_": 0}, 2),
                ({"type_": 1}, 2),  # limit without limitPrice
                ({"type_": 1, "limitPrice": 21000.3}, 2),  # off the tick grid
                ({"type_": 4, "side": 1, "stopPrice": 21005}, 2),  # sell stop above the market
                ({"type_": 5, "side": 1}, 2),  # trailing stop without trailPrice
            ]
            for kwargs, code in cases:
                data = await api.place(**kwargs)
                assert (data["success"], data["errorCode"], data["orderId"]) == (False, code, None), (
                    kwargs,
                    data,
                )
                assert data["errorMessage"]
            assert (await api.place(customTag="dup"))["success"] is True
            assert (await api.place(customTag="dup"))["errorCode"] == 2
            gw.set_account(7, can_trade=False)
            assert (await api.place())["errorCode"] == 4
            r = await api.post("Order/place", {"accountId": 7, "contractId": MNQ, "type": 2, "side": 0})
            assert r.status_code == 400 and "size" in r.json()["errors"]
            r = await api.post(
                "Order/place", {"accountId": "7", "contractId": MNQ, "type": 2, "side": 0, "size": 1}
            )
            assert r.status_code == 400 and "accountId" in r.json()["errors"]

    run(body)


def test_orders_outside_trading_hours() -> None:
    async def body() -> None:
        saturday = ManualClock(START + timedelta(days=5))
        async with gateway(clock=saturday) as gw, Api(gw) as api:
            await api.login()
            data = await api.place()
            assert data["errorCode"] == 5 and "outside trading hours" in data["errorMessage"]
            resting = await api.place(
                type_=1, limitPrice=float(gw.market.book(MNQ).contract.price(gw.market.book(MNQ).bid - 8))
            )
            assert resting["success"] is True

    run(body)


def test_trade_search_returns_half_turns_with_pnl_and_fees() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            gw.set_price(MNQ, 21000)
            await api.place(side=0, size=1)
            gw.set_price(MNQ, 21010)
            await api.place(side=1, size=1)
            trades = (
                await api.call(
                    "Trade/search", {"accountId": 7, "startTimestamp": EPOCH, "endTimestamp": None}
                )
            )["trades"]
            assert [(t["side"], t["price"], t["profitAndLoss"], t["fees"], t["voided"]) for t in trades] == [
                (0, 21000.25, None, 0.37, False),
                (1, 21010.0, 19.5, 0.37, False),
            ]
            assert (await api.call("Trade/search", {"accountId": 99, "startTimestamp": EPOCH}))[
                "errorCode"
            ] == 1

    run(body)


def test_contract_search_by_text_by_id_and_available() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            nq = (await api.call("Contract/search", {"searchText": "NQ", "live": False}))["contracts"]
            assert {c["id"] for c in nq} == {MNQ, "CON.F.US.ENQ.H26"}
            es = (await api.call("Contract/search", {"searchText": "ES", "live": False}))["contracts"]
            assert ES in {c["id"] for c in es}
            by_id = await api.call("Contract/searchById", {"contractId": CL})
            c = by_id["contract"]
            assert (
                c["id"],
                c["name"],
                c["tickSize"],
                c["tickValue"],
                c["activeContract"],
                c["symbolId"],
            ) == (
                CL,
                "CLJ26",
                0.01,
                10.0,
                True,
                "F.US.CLE",
            )
            missing = await api.call("Contract/searchById", {"contractId": "CON.F.US.MNQ.Z99"})
            assert (missing["success"], missing["errorCode"], missing["contract"]) == (False, 1, None)
            available = (await api.call("Contract/available", {"live": False}))["contracts"]
            assert len(available) == 12
            everything = (await api.call("Contract/search", {"searchText": None, "live": True}))["contracts"]
            assert len(everything) == 12
            r = await api.post("Contract/search", {"searchText": "NQ"})
            assert r.status_code == 400 and "live" in r.json()["errors"]

    run(body)


def test_retrieve_bars_newest_first_on_the_tick_grid() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            request = {
                "contractId": MNQ,
                "live": False,
                "startTime": (START - timedelta(hours=2)).isoformat(),
                "endTime": START.isoformat(),
                "unit": 2,
                "unitNumber": 5,
                "limit": 10,
                "includePartialBar": False,
            }
            bars = (await api.call("History/retrieveBars", request))["bars"]
            assert len(bars) == 10
            assert bars[0]["t"] == "2026-03-02T14:55:00.000000+00:00"
            assert [b["t"] for b in bars] == sorted((b["t"] for b in bars), reverse=True)
            for b in bars:
                assert set(b) == {"t", "o", "h", "l", "c", "v"}
                assert b["l"] <= min(b["o"], b["c"]) <= max(b["o"], b["c"]) <= b["h"]
                for key in "ohlc":
                    assert (b[key] * 4) == int(b[key] * 4)  # MNQ tick 0.25
            again = (await api.call("History/retrieveBars", request))["bars"]
            assert again == bars  # deterministic
            for field, value, code in (
                ("contractId", "CON.F.US.ZZZ.H26", 1),
                ("unit", 9, 2),
                ("unitNumber", 0, 3),
                ("limit", 0, 4),
            ):
                data = await api.call("History/retrieveBars", {**request, field: value})
                assert (data["success"], data["errorCode"]) == (False, code), field

    run(body)


def test_status_ping_needs_no_token() -> None:
    async def body() -> None:
        async with gateway() as gw, httpx.AsyncClient() as http:
            r = await http.get(f"{gw.base_url}/Status/ping")
            assert r.status_code == 200 and r.text == "pong"

    run(body)


def test_documented_rate_limits_are_the_defaults() -> None:
    assert DEFAULT_LIMITS["history"] == Limit(50, 30.0)
    assert DEFAULT_LIMITS["default"] == Limit(200, 60.0)


def test_more_than_200_requests_a_minute_get_429_until_the_window_passes() -> None:
    async def body() -> None:
        clock = ManualClock(START)
        async with gateway(clock=clock) as gw, Api(gw) as api:
            await api.login()
            statuses = [
                (await api.post("Order/searchOpen", {"accountId": 7})).status_code for _ in range(201)
            ]
            assert statuses[:200] == [200] * 200 and statuses[200] == 429
            limited = await api.post("Position/searchOpen", {"accountId": 7})
            assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
            other = Api(gw)
            await other.login("someone-else")  # limits are per token
            assert (await other.post("Order/searchOpen", {"accountId": 7})).status_code == 200
            await other.http.aclose()
            clock.advance(60)
            assert (await api.post("Order/searchOpen", {"accountId": 7})).status_code == 200
            assert gw.state()["responses"]["Order/searchOpen"]["429"] == 1

    run(body, timeout=40)


def test_history_has_its_own_limit_of_50_per_30_seconds() -> None:
    async def body() -> None:
        clock = ManualClock(START)
        async with gateway(clock=clock) as gw, Api(gw) as api:
            await api.login()
            request = {
                "contractId": MNQ,
                "live": False,
                "startTime": (START - timedelta(minutes=5)).isoformat(),
                "endTime": START.isoformat(),
                "unit": 2,
                "unitNumber": 1,
                "limit": 1,
                "includePartialBar": False,
            }
            statuses = [(await api.post("History/retrieveBars", request)).status_code for _ in range(51)]
            assert statuses.count(200) == 50 and statuses[-1] == 429
            assert (await api.post("Order/searchOpen", {"accountId": 7})).status_code == 200
            clock.advance(30)
            assert (await api.post("History/retrieveBars", request)).status_code == 200

    run(body)
