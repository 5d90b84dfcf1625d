"""The dashboard the daemon serves, against the simulated gateway on loopback: its feeds carry the
read model and the audit rows, its event stream pushes changes (throttled) with heartbeats, and it
has no route that changes anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, running, write_config
from sim_helpers import Api, run

from risk_manager.daemon.app import Daemon

RULES = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}
DASHBOARD = {"daemon": {"dashboard": {"enabled": True, "port": 0}}}


def client(daemon: Daemon) -> httpx.AsyncClient:
    assert daemon.dashboard_url is not None
    return httpx.AsyncClient(base_url=daemon.dashboard_url, timeout=5.0, trust_env=False)


async def sse_events(
    http: httpx.AsyncClient, want: int, timeout: float = 5.0, into: list[tuple[str, Any]] | None = None
) -> list[tuple[str, Any]]:
    """The first ``want`` events (name, data) and comments ("comment", text) of /events, appended to
    ``into`` as they arrive."""
    got: list[tuple[str, Any]] = [] if into is None else into

    async def read() -> None:
        async with http.stream("GET", "/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            name = None
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    got.append(("comment", line[1:].strip()))
                elif line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    got.append((name or "message", orjson.loads(line[len("data: "):])))
                if len(got) >= want:
                    return

    await asyncio.wait_for(read(), timeout)
    return got


def test_the_dashboard_is_off_unless_the_config_turns_it_on(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "c", RULES, gw)
            async with running(gw, config, tmp_path / "d") as daemon:
                assert daemon.dashboard is None and daemon.dashboard_url is None

    run(body, timeout=20)


def test_the_status_feed_is_the_read_model_and_the_log_and_markers_come_from_the_audit_rows(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es = gw.contract_id("ES")
            gw.set_price(es, "6000.00")
            config = write_config(tmp_path / "c", RULES, gw, **DASHBOARD)
            async with running(gw, config, tmp_path / "d") as daemon, client(daemon) as http:
                assert daemon.dashboard_url is not None
                assert daemon.dashboard_url.startswith("http://127.0.0.1:")
                status = (await http.get("/api/status")).json()
                assert status["timezone"] == "America/Chicago" and status["daemon"]["running"] is True
                [account] = status["accounts"]
                expected = daemon.statuses()[0].to_json()
                assert {k: v for k, v in account.items() if k != "as_of"} == \
                    {k: v for k, v in expected.items() if k != "as_of"}

                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: positions(gw) == {es: 1}, what="the position open")
                gw.set_price(es, "5988.00")  # -12 points on ES: -600 USD
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                await eventually(lambda: daemon.statuses()[0].lockouts, what="the lockout")

                async def marked() -> dict[str, Any]:
                    history = (await http.get("/api/history", params={"account": ACCOUNT})).json()
                    return history

                history = await marked()
                for _ in range(50):  # the flatten's outcome is recorded a moment after its decision
                    if any(m["outcome"] for m in history["accounts"][0]["markers"]):
                        break
                    await asyncio.sleep(0.1)
                    history = await marked()
                [series] = history["accounts"]
                assert series["account_id"] == ACCOUNT and len(series["t"]) >= 2
                assert float(series["realized"][-1]) < -500
                kinds = {(m["rule"], m["kind"]) for m in series["markers"]}
                assert {("RULE-003", "flatten"), ("RULE-003", "lockout")} <= kinds
                assert all(m["kind"] != "alert" for m in series["markers"])  # alerts: the log only
                log = (await http.get("/api/log")).json()
                assert log["total"] == len(log["rows"]) and log["rows"][0]["id"] > log["rows"][-1]["id"]
                flatten = next(r for r in log["rows"] if r["kind"] == "flatten")
                assert "limit -500" in flatten["reason"]

    run(body, timeout=30)


def test_the_dashboard_has_no_route_that_changes_anything_and_answers_loopback_names_only(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "c", RULES, gw, **DASHBOARD)
            async with running(gw, config, tmp_path / "d") as daemon, client(daemon) as http:
                for path in ("/", "/api/status", "/api/history", "/api/log", "/events", "/api/unlock"):
                    for method in ("POST", "PUT", "DELETE", "PATCH"):
                        response = await http.request(method, path)
                        assert response.status_code in (404, 405), (method, path)
                page = await http.get("/")
                assert page.status_code == 200 and "uPlot.iife.min.js" in page.text
                for asset in ("/dashboard/dashboard.js", "/dashboard/dashboard.css",
                              "/vendor/uplot/uPlot.iife.min.js", "/vendor/uplot/LICENSE"):
                    assert (await http.get(asset)).status_code == 200, asset
                assert (await http.get("/dashboard/..%2F__init__.py")).status_code == 404
                refused = await http.get("/api/status", headers={"Host": "attacker.example"})
                assert refused.status_code == 403 and "127.0.0.1" in refused.json()["error"]
                missing = await http.get("/api/history", params={"account": "99"})
                assert missing.status_code == 404 and str(ACCOUNT) in missing.json()["error"]

    run(body, timeout=20)


def test_the_event_stream_pushes_a_price_move_at_most_a_few_times_a_second_with_heartbeats(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es = gw.contract_id("ES")
            gw.set_price(es, "6000.00")
            config = write_config(tmp_path / "c", RULES, gw, **DASHBOARD)
            async with running(gw, config, tmp_path / "d") as daemon, client(daemon) as http:
                dashboard = daemon.dashboard
                assert dashboard is not None
                dashboard.heartbeat = 0.3
                first = await sse_events(http, 6)  # a quiet stream: heartbeats every 0.3 s
                assert [name for name, _ in first[:2]] == ["status", "log"]  # the state at once
                assert ("comment", "heartbeat") in first[2:]
                dashboard.heartbeat = 15.0

                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: daemon.statuses()[0].positions, what="the position open")
                received: list[tuple[str, Any]] = []
                stream = sse_events(http, 10_000, timeout=30, into=received)
                reader = asyncio.get_running_loop().create_task(stream)
                await eventually(lambda: len(received) >= 2, what="the stream's first events")
                await asyncio.sleep(0.5)
                before = sum(1 for name, _ in received if name == "status")
                for tick in range(40):  # 40 price moves in one second
                    gw.set_price(es, f"{6000 + (tick % 8) * 0.25:.2f}")
                    await asyncio.sleep(0.025)
                await asyncio.sleep(0.3)
                pushed = [data for name, data in received if name == "status"][before:]
                reader.cancel()
                assert 2 <= len(pushed) <= 7, len(pushed)  # one push per 0.25 s at most, not one per quote
                marks = {p["accounts"][0]["positions"][0]["mark"] for p in pushed}
                assert len(marks) >= 2  # each push carries the price of its moment

    run(body, timeout=30)


def test_after_a_restart_the_realized_curve_of_the_day_is_rebuilt_from_the_stores_trades(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es = gw.contract_id("ES")
            gw.set_price(es, "6000.00")
            config = write_config(tmp_path / "c", RULES, gw, **DASHBOARD)
            async with running(gw, config, tmp_path / "d") as daemon:
                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: positions(gw) == {es: 1}, what="the position open")
                gw.set_price(es, "5995.00")  # -5 points: -250 USD, under the limit
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                await eventually(lambda: daemon.statuses()[0].realized < 0, what="the loss realized")
                realized = daemon.statuses()[0].to_json()["realized"]
            restarted_at = datetime.now(UTC).timestamp()
            async with running(gw, config, tmp_path / "d") as daemon, client(daemon) as http:
                [series] = (await http.get("/api/history")).json()["accounts"]
                before = [r for t, r in zip(series["t"], series["realized"], strict=True) if t < restarted_at]
                assert before and before[-1] == realized  # the step at the closing trade, before the restart
                assert series["realized"][-1] == realized

    run(body, timeout=30)
