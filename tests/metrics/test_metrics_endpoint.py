"""The Prometheus endpoint of a daemon running against the simulated gateway: scraped over loopback
after a breach, its counters have moved; disabled, nothing listens."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, running, write_config
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import Api, run

RULES = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(figures: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_scrape_after_a_breach_shows_the_events_the_enforcement_its_latency_and_the_lockout(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es, mnq = gw.contract_id("ES"), gw.contract_id("MNQ")
            gw.set_price(es, "6000.00")
            gw.set_price(mnq, "21000.00")
            metrics_on = {"metrics": {"enabled": True, "port": 0}}
            config = write_config(tmp_path / "config", RULES, daemon=metrics_on)
            async with running(gw, config, tmp_path / "data") as daemon, httpx.AsyncClient() as http:
                assert daemon.metrics_server is not None and daemon.metrics_server.url is not None
                url = daemon.metrics_server.url
                assert url.startswith("http://127.0.0.1:")
                before = samples((await http.get(url)).text)
                assert value(before, "risk_manager_lockouts_active") == 0
                assert value(before, "risk_manager_enforcements_total", rule="RULE-003", status="done") == 0

                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=1)  # left for the flatten to close
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: positions(gw) == {mnq: 1, es: 1}, what="the positions open")
                gw.set_price(es, "5985.00")  # -750 USD
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                await eventually(lambda: positions(gw) == {}, what="the account flattened")
                # the cancel's outcome comes first (no broker call, no latency); then the flatten's
                await eventually(lambda: daemon.metrics_snapshot()["breach_to_ack_ms"]["count"] >= 1,
                                 what="the flatten's acknowledgement counted")

                response = await http.get(url)
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/plain")
                after = samples(response.text)
                assert value(after, "risk_manager_events_total", kind="trade") >= 1
                assert value(after, "risk_manager_events_total", kind="position") > value(
                    before, "risk_manager_events_total", kind="position")
                assert value(after, "risk_manager_rule_evaluation_seconds_count") > value(
                    before, "risk_manager_rule_evaluation_seconds_count")
                assert value(after, "risk_manager_enforcements_total", rule="RULE-003", status="done") >= 1
                assert value(after, "risk_manager_enforcement_failures_total", rule="RULE-003") == 0
                assert value(after, "risk_manager_breach_to_ack_seconds_count") >= 1
                assert value(after, "risk_manager_lockouts_active") == 1
                assert value(after, "risk_manager_connection_state", hub="user", state="connected") == 1
                assert value(after, "risk_manager_connection_state", hub="user", state="reconnecting") == 0
                assert 0 <= value(after, "risk_manager_last_event_age_seconds") < 10
                assert value(after, "risk_manager_store_bytes") > 0
                uptime = "risk_manager_uptime_seconds"
                assert value(after, uptime) > value(before, uptime)

                snapshot = daemon.metrics_snapshot()
                assert snapshot["lockouts_active"] == 1
                assert snapshot["events"]["trade"] >= 1
                assert snapshot["breach_to_ack_ms"]["count"] >= 1
                assert snapshot["connection"] == {"user": "connected", "market": "connected"}
                assert snapshot["store_bytes"] > 0

            async with httpx.AsyncClient() as http:  # the daemon stopped: so did its endpoint
                try:
                    await http.get(url)
                except httpx.ConnectError:
                    pass
                else:
                    raise AssertionError("the metrics endpoint still answers after the daemon stopped")

    run(body, timeout=30)


def test_a_reconnect_is_counted_by_hub(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", RULES)
            async with running(gw, config, tmp_path / "data") as daemon:
                await eventually(lambda: daemon.metrics_snapshot()["connection"].get("user") == "connected")
                gw.fault({"hub": "user", "action": "drop"})
                await eventually(lambda: daemon.metrics_snapshot()["reconnects"].get("user") == 1, timeout=10,
                                 what="the reconnect counted")

    run(body, timeout=30)


def test_with_metrics_disabled_nothing_listens_on_the_configured_port(tmp_path: Path) -> None:
    port = free_port()

    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", RULES,
                                  daemon={"metrics": {"enabled": False, "port": port}})
            async with running(gw, config, tmp_path / "data") as daemon:
                assert daemon.metrics_server is None
                with socket.socket() as probe:
                    assert probe.connect_ex(("127.0.0.1", port)) != 0
                # the figures are still kept: admin daemon status shows them
                assert daemon.metrics_snapshot()["connection"]["user"] in {"connecting", "connected"}

    run(body, timeout=30)
