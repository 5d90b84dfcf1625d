"""`risk-manager demo` run as a user runs it: the simulated gateway, the daemon and the scripted
trader in one process on loopback; what the summary lists is what the daemon enforced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import orjson

FAST = ("--duration", "16", "--speed", "6")


def run_demo(*args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "risk_manager.cli.main", "demo", *args],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


def lines(stdout: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.strip()]


def test_the_live_demo_enforces_every_broken_rule_and_its_summary_lists_them() -> None:
    result = run_demo("--json", *FAST)
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    summary = out[-1]
    assert summary["type"] == "summary" and summary["script_error"] is None
    done = {(e["account"], e["rule"], e["action"]): e["outcome"] for e in summary["enforcements"]}
    assert done[(7, "RULE-002", "close_position")] == "done: reduced to 4"  # over the MNQ limit
    assert done[(7, "RULE-001", "close_position")].startswith("done: reduced")  # over the account limit
    assert done[(7, "RULE-003", "flatten")] == "done: flat"  # the daily loss limit flattens ...
    assert done[(7, "RULE-003", "lockout")] == "locked"  # ... and locks the account
    assert done[(7, "LOCKOUT", "close_position")] == "done: closed"  # a trade while locked is closed
    assert done[(8, "RULE-008", "close_position")] == "done: closed"  # a position without a stop
    closes = [e for e in summary["enforcements"] if e["action"] == "close_position"]
    assert all(e["latency_ms"] is not None and e["latency_ms"] > 0 for e in closes)
    accounts = {a["account_id"]: a for a in summary["accounts"]}  # each account's read model
    assert (accounts[7]["trading_state"], accounts[8]["trading_state"]) == ("halted", "active")
    assert [lk["rule"] for lk in accounts[7]["lockouts"]] == ["RULE-003"]
    assert float(accounts[7]["net"]) < -300 and accounts[7]["positions"] == []
    assert {g["rule"] for g in accounts[7]["gauges"]} >= {"RULE-001", "RULE-003"}
    # one line per decision and per outcome came before the summary, as they happened
    kinds = {o["type"] for o in out[:-1]}
    assert kinds == {"dashboard", "decision", "outcome"}
    assert out[0]["type"] == "dashboard" and out[0]["url"].startswith("http://127.0.0.1:")
    assert any(o["type"] == "outcome" and o["rule"] == "LOCKOUT" for o in out)


def test_the_live_demo_fits_an_80_column_terminal() -> None:
    result = run_demo(*FAST, columns=80)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    assert "Summary: " in text and "LOCKOUT close_position: 1" in text
    assert "RULE-008 close_position" in text and " ms" in text  # each enforcement with its latency


def test_ctrl_c_ends_the_live_demo_early_with_its_summary_and_exit_0() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "risk_manager.cli.main", "demo", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = process.stdout.readline()  # type: ignore[union-attr]
        assert orjson.loads(first)["type"] == "dashboard"  # the daemon started and serves its page
        second = process.stdout.readline()  # type: ignore[union-attr]
        assert orjson.loads(second)["type"] == "decision"  # the session runs: the daemon decided
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 10  # not the default minute
    assert lines(stdout)[-1]["type"] == "summary"
    assert "Traceback" not in stderr
