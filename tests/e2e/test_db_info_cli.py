"""`risk-manager db info FILE --config DIR` as a user runs it: each account's read model rebuilt from
a store a real `replay --db` wrote, the same as the replay's own engine ended with, and what happens
without a config or with a broken one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "replay"
CONFIG = DATA / "config"
BAD_CONFIG = DATA / "bad-config"
# A second account opens one MNQ at 20950 before the day's last quote (20958.50): +17.00 unrealized.
SECOND_ACCOUNT = [
    {"t": "2026-03-02T14:42:30.000Z", "hub": "user", "target": "GatewayUserTrade", "arguments": [{
        "id": 905, "accountId": 8, "contractId": "CON.F.US.MNQ.H26",
        "creationTimestamp": "2026-03-02T14:42:29.990Z", "price": 20950.0, "profitAndLoss": None,
        "fees": 0.37, "side": 0, "size": 1, "voided": False, "orderId": 60}]},
    {"t": "2026-03-02T14:42:30.001Z", "hub": "user", "target": "GatewayUserPosition", "arguments": [{
        "id": 33, "accountId": 8, "contractId": "CON.F.US.MNQ.H26",
        "creationTimestamp": "2026-03-02T14:42:29.990Z", "type": 1, "size": 1, "averagePrice": 20950.0}]},
]


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        check=False,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Replayed:
    db: Path
    accounts: list[dict[str, Any]]  # the replay's own read model at its end (`--summary --json`)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    root = tmp_path_factory.mktemp("db-info")
    lines = (DATA / "day.jsonl").read_text().splitlines()
    recording = root / "day.jsonl"
    recording.write_text("\n".join([*lines[:-1], *map(json.dumps, SECOND_ACCOUNT), lines[-1]]) + "\n")
    db = root / "store.db"
    result = _cli("replay", recording, "--config", CONFIG, "--db", db, "--summary", "--json")
    assert result.returncode == 0, result.stderr
    return Replayed(db, json.loads(result.stdout)["summary"]["accounts"])


def test_info_json_holds_each_accounts_status_as_the_engine_left_it(replayed: Replayed) -> None:
    before = _digest(replayed.db)
    result = _cli("db", "info", replayed.db, "--config", CONFIG, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["accounts_unavailable"] is None
    assert data["accounts_as_of"] == "2026-03-02T14:43:00.000Z"  # the store's last record
    # Rebuilt from the store, the read model is the one the replay's engine ended with (only the
    # feed differs: no feed reads the file).
    rebuilt = data["accounts"]
    assert [a["connection"] for a in rebuilt] == ["lost", "lost"]
    assert [{**a, "connection": "replay"} for a in rebuilt] == replayed.accounts
    seven, eight = rebuilt
    assert (seven["account_id"], seven["realized"], seven["costs"], seven["net"]) == (
        7, "-500.00", "4.44", "-504.44")
    assert seven["trading_state"] == "halted" and seven["positions"] == []
    [gauge] = seven["gauges"]
    assert (gauge["rule"], gauge["value"], gauge["limit"], gauge["breached"]) == (
        "RULE-003", "-504.44", "-500.00", True)
    assert [(lk["rule"], lk["until"], lk["reason"]) for lk in seven["lockouts"]] == [
        ("RULE-003", "2026-03-02T23:00:00.000Z", "day P&L -504.44 <= limit -500.00"),
        ("RULE-007", "2026-03-02T14:57:00.000Z", "loss -350.00 on trade 904 <= tier -200.00: cooldown 15m"),
    ]
    assert seven["next_reset"] == "2026-03-02T23:00:00.000Z"
    [position] = eight["positions"]
    assert (position["symbol"], position["size"], position["mark"], position["unrealized"]) == (
        "MNQ", 1, "20958.5", "17.00")
    assert (eight["unrealized"], eight["costs"], eight["trading_state"]) == ("17.00", "0.37", "active")
    assert _digest(replayed.db) == before


def test_info_text_shows_each_account_in_the_configured_zone_within_80_columns(replayed: Replayed) -> None:
    before = _digest(replayed.db)
    result = _cli("db", "info", replayed.db, "--config", CONFIG)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "journal: seq 1..16" in out  # the store's own lines still come first
    section = out.split("accounts at the store's last record, 2026-03-02 08:43 CST", 1)[1]
    blocks = [line for line in section.splitlines()[1:] if line.strip()]
    assert blocks and max(len(line) for line in blocks) <= 80
    text = "\n".join(blocks)
    assert "Account 7  HALTED" in text and "Account 8  ACTIVE" in text
    assert "RULE-003  daily_realized_loss" in text and "101%  -504.44 / -500.00" in text
    assert "LOCKED RULE-003 account until Mon 17:00 CST (8h 17m 00s left)" in text
    assert "LOCKED RULE-007 account until Mon 08:57 CST (14m 00s left)" in text
    assert "Next reset in 8h 17m 00s (Mon 17:00 CST)" in text
    assert any(line.split()[1:6] == ["MNQ", "+1", "20950.0", "20958.5", "+17.00"] for line in blocks)
    assert _digest(replayed.db) == before


def test_info_without_a_config_prints_the_store_and_says_the_accounts_need_one(
    replayed: Replayed, tmp_path: Path
) -> None:
    nowhere = {"RISK_MANAGER_CONFIG": str(tmp_path / "no-config")}
    result = _cli("db", "info", replayed.db, env=nowhere)
    assert result.returncode == 0, result.stderr
    assert "account 7 2026-03-02: realized -500.00 fees 4.44 net -504.44 trades 4" in result.stdout
    assert "accounts: not shown:" in result.stdout and "pass --config DIR" in result.stdout
    data = json.loads(_cli("db", "info", replayed.db, "--json", env=nowhere).stdout)
    assert data["accounts"] is None and "pass --config DIR" in data["accounts_unavailable"]
    assert data["journal"]["last_seq"] == 16


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (BAD_CONFIG, "risk_config.yaml:3: rules.daily_realized_loss.limit = 500: limit must be negative"),
        (DATA / "no-such-config", "config directory does not exist: pass --config DIR"),
    ],
    ids=["invalid", "missing"],
)
def test_info_with_a_config_that_cannot_be_used_names_the_problem_and_exits_2(
    replayed: Replayed, config: Path, problem: str
) -> None:
    before = _digest(replayed.db)
    result = _cli("db", "info", replayed.db, "--config", config)
    assert result.returncode == 2
    assert problem in result.stderr and f"config in {config}" in result.stderr
    assert "active lockouts: 2" in result.stdout  # the rest still printed
    assert f"accounts: not shown: config in {config} is invalid" in result.stdout
    result = _cli("db", "info", replayed.db, "--config", config, "--json")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["accounts"] is None and problem in data["accounts_unavailable"]
    assert _digest(replayed.db) == before


def test_info_with_a_damaged_journal_still_prints_the_rest_and_exits_2(
    replayed: Replayed, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.db"
    shutil.copy(replayed.db, damaged)
    with sqlite3.connect(damaged) as con:  # no snapshot to start from, and a journal row unreadable
        con.execute("DELETE FROM snapshots")
        con.execute("UPDATE journal SET payload = x'00ff' WHERE seq = 5")
    con.close()
    result = _cli("db", "info", damaged, "--config", CONFIG)
    assert result.returncode == 2
    assert "the accounts cannot be rebuilt from the store: journal row 5" in result.stderr
    assert f"risk-manager db check {damaged}" in result.stderr
    assert "active lockouts: 2" in result.stdout
    assert "accounts: not shown: the accounts cannot be rebuilt" in result.stdout
