"""`risk-manager admin daemon start|status|restart|stop` run as a user runs them, against a daemon on
the simulated gateway (the gateway in this process, the CLI and the daemon as subprocesses)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, write_config
from sim_helpers import Api, run

from risk_manager.daemon.pidfile import pid_alive, read_pid_file

RULES = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}


async def cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "risk_manager.cli.main", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "80"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def killed_at_exit(data: Path) -> AsyncIterator[None]:
    """A daemon the test started is never left behind, whatever fails."""
    try:
        yield
    finally:
        record = read_pid_file(data)
        if record is not None and pid_alive(record.pid):
            os.kill(record.pid, signal.SIGKILL)


def test_start_status_restart_stop_with_a_lockout_kept_across_the_restart(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es, mnq = gw.contract_id("ES"), gw.contract_id("MNQ")
            gw.set_price(es, "6000.00")
            gw.set_price(mnq, "21000.00")
            config = str(write_config(tmp_path / "config", RULES, gw))
            data = tmp_path / "data"
            dirs = ("--config", config, "--data-dir", str(data))
            async with killed_at_exit(data):
                code, out, err = await cli("admin", "daemon", "start", *dirs)
                assert code == 0, err
                record = read_pid_file(data)
                assert record is not None and pid_alive(record.pid)
                assert out.startswith(f"Started: pid {record.pid}")
                assert record.data_dir == str(data.resolve())
                assert record.config_dir == str(Path(config).resolve())

                code, out, _ = await cli("admin", "daemon", "start", *dirs)  # again: no second daemon
                assert code == 0 and f"already running (pid {record.pid}" in out

                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=1)
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: positions(gw) == {mnq: 1, es: 1}, what="the positions open")
                gw.set_price(es, "5985.00")  # -750 USD: RULE-003 flattens and locks
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                await eventually(lambda: positions(gw) == {}, timeout=10, what="the account flattened")

                async def status() -> dict[str, object]:
                    code, out, err = await cli("admin", "daemon", "status", "--json", *dirs)
                    assert code == 0, err
                    return dict(json.loads(out))

                info = await status()
                for _ in range(50):  # the flatten's outcome is recorded just after the close
                    if info["metrics"]["enforcements"]:  # type: ignore[index]
                        break
                    await asyncio.sleep(0.1)
                    info = await status()
                assert info["running"] is True and info["pid"] == record.pid
                assert info["accounts"] == [{"id": ACCOUNT, "connection": "connected"}]
                metrics = info["metrics"]
                assert isinstance(metrics, dict)
                assert metrics["lockouts_active"] == 1
                assert set(metrics["enforcements"]) == {"RULE-003"}
                assert metrics["enforcements"]["RULE-003"]["done"] >= 1
                assert metrics["events"]["trade"] >= 1

                code, out, _ = await cli("admin", "daemon", "status", *dirs)
                assert code == 0
                assert out.startswith(f"Risk daemon RUNNING: pid {record.pid}, up ")
                assert f"account {ACCOUNT}: connected, 1 rule(s) loaded" in out
                assert "enforcements: RULE-003 done " in out and "lockouts active: 1" in out
                assert max(len(line) for line in out.splitlines()) <= 80

                code, out, err = await cli("admin", "daemon", "restart", *dirs)
                assert code == 0, err
                assert "Stopped: asked to stop over the admin socket." in out
                assert not pid_alive(record.pid)
                restarted = read_pid_file(data)
                assert restarted is not None and restarted.pid != record.pid
                after = await status()
                assert after["pid"] == restarted.pid
                assert after["metrics"]["lockouts_active"] == 1  # type: ignore[index]

                code, out, err = await cli("admin", "daemon", "stop", *dirs)
                assert code == 0, err
                assert out == "Stopped: asked to stop over the admin socket.\n"
                assert not pid_alive(restarted.pid) and read_pid_file(data) is None

                code, out, _ = await cli("admin", "daemon", "status", *dirs)
                assert code == 3
                assert "THE RISK DAEMON IS NOT RUNNING" in out
                assert "1 lockout(s) recorded active" in out and "last activity 20" in out
                code, out, _ = await cli("admin", "daemon", "status", "--json", *dirs)
                down = json.loads(out)
                assert code == 3 and down["running"] is False and down["pid_file"] is None
                assert down["store"]["active_lockouts"] == 1

                code, out, _ = await cli("admin", "daemon", "stop", *dirs)
                assert code == 0 and out == "The daemon is not running (nothing to stop).\n"

    run(body, timeout=120)


def test_stop_falls_back_to_sigterm_when_the_admin_socket_is_gone(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = str(write_config(tmp_path / "config", RULES, gw))
            data = tmp_path / "data"
            dirs = ("--config", config, "--data-dir", str(data))
            async with killed_at_exit(data):
                code, _, err = await cli("admin", "daemon", "start", *dirs)
                assert code == 0, err
                record = read_pid_file(data)
                assert record is not None
                (data / "control" / "admin.sock").unlink()  # as if the socket were lost
                code, out, err = await cli("admin", "daemon", "stop", *dirs)
                assert code == 0, err
                assert out == (f"Stopped: sent SIGTERM to pid {record.pid} "
                               "(the admin socket did not answer).\n")
                assert not pid_alive(record.pid) and read_pid_file(data) is None

    run(body, timeout=60)


def test_a_daemon_that_cannot_start_is_reported_with_its_output(tmp_path: Path) -> None:
    async def body() -> None:
        config = tmp_path / "config"
        write_config(config, RULES)  # no api_config.yaml: the credentials are missing
        code, out, err = await cli("admin", "daemon", "start", "--config", str(config),
                                   "--data-dir", str(tmp_path / "data"))
        assert code == 1 and out == ""
        assert "the daemon exited with code 2 while starting" in err
        assert "api_config.yaml" in err

    run(body, timeout=60)


def test_status_treats_a_stale_pid_file_as_not_running(tmp_path: Path) -> None:
    async def body() -> None:
        data = tmp_path / "data"
        data.mkdir()
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await process.wait()  # a pid that existed and is gone
        record = {"pid": process.pid, "started_at": "2026-12-01T08:00:00+00:00", "config_dir": "/c",
                  "data_dir": str(data)}
        (data / "daemon.pid").write_text(json.dumps(record))
        code, out, _ = await cli("admin", "daemon", "status", "--data-dir", str(data))
        assert code == 3
        assert "THE RISK DAEMON IS NOT RUNNING" in out
        assert f"stale pid file: pid {process.pid} (started 2026-12-01T08:00:00+00:00) is gone" in out

    run(body, timeout=60)
