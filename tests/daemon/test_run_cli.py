"""`risk-manager run` as a user runs it: a subprocess against the simulated gateway on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, write_config
from projectx_helpers import API_KEY
from sim_helpers import Api, run

RULES = {
    "symbol_blocks": {"enabled": True, "blocked_symbols": ["MNQ"]},
    "daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False},
}


async def start(config: Path, data: Path, *extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "COLUMNS": "200"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "risk_manager.cli.main",
        "run",
        "--config",
        str(config),
        "--data-dir",
        str(data),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


def log_text(data: Path) -> str:
    path = data / "logs" / "daemon.log"
    return path.read_text() if path.exists() else ""


async def running(data: Path, mark: str = "running; stop with") -> None:
    await eventually(lambda: mark in log_text(data), timeout=15, what="the daemon to start")


def test_run_enforces_stops_on_sigterm_within_two_seconds_and_never_logs_the_key(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            mnq = gw.contract_id("MNQ")
            gw.set_price(mnq, "21000.00")
            config = write_config(tmp_path / "c", RULES, gw)
            data, recording = tmp_path / "data", tmp_path / "session.jsonl"
            proc = await start(config, data, "--record", str(recording))
            try:
                await running(data)
                text = log_text(data)
                assert f"account {ACCOUNT} 'acct {ACCOUNT}': monitored" in text
                assert "RULE-011" in text and "RULE-003" in text and "next daily reset" in text
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=1)
                await eventually(
                    lambda: (
                        gw.state()["requests"].get("Position/closeContract", 0) >= 1 and positions(gw) == {}
                    ),
                    timeout=10,
                    what="the blocked position closed",
                )
            finally:
                began = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(proc.communicate(), 10)
                took = time.monotonic() - began
            assert proc.returncode == 0, err.decode()
            assert took < 2.0, took
            assert "stopped" in log_text(data)
            everything = out.decode() + err.decode() + log_text(data) + recording.read_text()
            assert "GatewayUserPosition" in recording.read_text()
            assert API_KEY not in everything
            assert "eyJ" not in everything  # no session token (a JWT) anywhere

    run(body, timeout=60)


def test_kill_9_during_a_lockout_then_restart_keeps_the_lock_and_closes_a_new_position(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es, mnq = gw.contract_id("ES"), gw.contract_id("MNQ")
            gw.set_price(es, "6000.00")
            config = write_config(tmp_path / "c", RULES, gw)
            data = tmp_path / "data"
            proc = await start(config, data)
            try:
                await running(data)
                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                gw.set_price(es, "5985.00")
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                await eventually(lambda: "RULE-003 lockout" in log_text(data), timeout=10, what="the lockout")
            finally:
                proc.kill()  # kill -9: no flush, no snapshot
                await proc.wait()
            gw.set_price(es, "5985.00")
            await trader.place(account=ACCOUNT, contract=es, size=1)  # opened while the daemon is down
            assert positions(gw) == {es: 1}
            proc = await start(config, data)
            try:
                await running(data, "restored lockout RULE-003")
                await eventually(lambda: positions(gw) == {}, timeout=10, what="closed at start-up")
            finally:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.communicate(), 10)
            assert proc.returncode == 0
            del mnq

    run(body, timeout=60)


def test_run_refuses_a_config_with_no_rule_enabled(tmp_path: Path) -> None:
    async def body() -> None:
        config = write_config(tmp_path / "c", {"max_contracts": {"enabled": False, "limit": 5}})
        (config / "api_config.yaml").write_text("projectx: {username: u, api_key: k}\n")
        proc = await start(config, tmp_path / "data")
        _out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 2
        assert "no rule is enabled" in err.decode()

    run(body, timeout=30)
