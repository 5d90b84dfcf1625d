"""`risk-manager db check|info|prune FILE` and `risk-manager replay --db FILE`, as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from risk_manager.cli import db_cmd
from risk_manager.domain.actions import LockAccount
from risk_manager.domain.events import QuoteEvent
from risk_manager.store.sqlite import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "replay"
MNQ = "CON.F.US.MNQ.H26"
NOW = datetime.now(UTC)


def app() -> typer.Typer:
    root = typer.Typer()
    db_cmd.register(root)

    @root.callback()
    def _root() -> None:
        """(callback so `db` stays a sub-command)"""

    return root


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app(), ["db", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`db info` reads the default config when one is there: keep a developer's own out of these tests."""
    monkeypatch.setenv("RISK_MANAGER_CONFIG", str(tmp_path / "no-config"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with Store.open(path) as store:
        old = NOW - timedelta(days=45)
        store.append_events([(old + timedelta(seconds=i), QuoteEvent(MNQ, 21000.0)) for i in range(100)])
        store.append_events([(NOW - timedelta(minutes=5), QuoteEvent(MNQ, 21001.0))] * 10)
        store.save_snapshot({"version": 1}, journal_seq=100)
        store.record_actions(
            NOW,
            [LockAccount(account_id=7, rule="RULE-003", until=NOW + timedelta(hours=3), reason="day P&L")],
        )
    return path


def test_check_of_a_healthy_store_prints_ok_and_exits_0(db: Path) -> None:
    code, out, _ = run("check", str(db))
    assert code == 0
    assert f"{db}: OK" in out and "journal: seq 1..110" in out and "active lockouts: 1" in out
    code, out, _ = run("check", str(db), "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["counts"]["journal"] == 110 and data["snapshot_seq"] == 100


def test_check_of_a_damaged_file_exits_2_says_why_and_does_not_touch_it(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    code, out, err = run("check", str(db))
    assert code == 2
    assert "malformed" in err and "left untouched" in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    code, out, _ = run("check", str(db), "--json")
    assert code == 2 and json.loads(out)["ok"] is False


def test_check_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("check", str(tmp_path / "nope.db"))
    assert code == 2 and "does not exist" in err


def test_check_finds_a_hole_in_the_journal_a_restart_would_need(db: Path) -> None:
    with Store.open(db) as store:
        store.connection.execute("DELETE FROM journal WHERE seq = 105")
    code, out, _ = run("check", str(db))
    assert code == 2 and "problem: journal after seq 100 has gaps" in out


def test_info_shows_origin_span_active_lockouts(db: Path) -> None:
    code, out, _ = run("info", str(db), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["journal"]["first_seq"] == 1 and data["journal"]["last_seq"] == 110
    [lockout] = data["active_lockouts"]
    assert (lockout["account"], lockout["rule"], lockout["reason"]) == (7, "RULE-003", "day P&L")
    code, out, _ = run("info", str(db))
    assert code == 0 and "account 7 RULE-003 account since" in out


def test_prune_deletes_old_journal_rows_but_not_those_after_the_snapshot(db: Path) -> None:
    code, out, _ = run("prune", str(db), "--journal-days", "30", "--json")
    assert code == 0 and json.loads(out)["deleted"]["journal"] == 100
    with Store.open(db, readonly=True) as store:
        assert store.journal_bounds()[0][0] == 101  # type: ignore[index]


def test_prune_refuses_while_a_daemon_writes_the_file(db: Path) -> None:
    with Store.open(db):
        code, _, err = run("prune", str(db))
    assert code == 2 and "already open for writing" in err


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_replay_with_db_records_every_decision_and_refuses_to_mix_into_an_existing_store(
    tmp_path: Path,
) -> None:
    db = tmp_path / "replayed.db"
    args: list[str | Path] = [
        DATA / "day.jsonl",
        "--config",
        DATA / "config",
        "--json",
        "--until",
        "2026-03-03T00:00:00Z",
    ]
    result = _cli("replay", *args, "--db", db)
    assert result.returncode == 0, result.stderr
    printed = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert printed
    with Store.open(db, readonly=True) as store:
        assert [row.record for row in store.audit()] == printed
        assert store.meta()["origin"] == "replay"
        assert store.meta()["source"].endswith("day.jsonl")
        lockouts = store.lockouts(7)
        assert {r.rule for r in lockouts} == {"RULE-003", "RULE-007"}
        assert all(r.cleared_at is not None for r in lockouts)  # the clock ran past their ends
        [day] = [d for d in store.day_pnl(7) if str(d.day) == "2026-03-02"]
        assert day.trade_count > 0 and day.realized < 0
        [reset] = store.resets(7)
        assert str(reset.day) == "2026-03-03" and str(reset.previous_day) == "2026-03-02"
    assert _cli("db", "check", db).returncode == 0

    before = hashlib.sha256(db.read_bytes()).hexdigest()
    again = _cli("replay", *args, "--db", db)
    assert again.returncode == 2
    assert "already holds" in again.stderr and "replay into a new file" in again.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_prune_dry_run_counts_what_prune_deletes_and_leaves_the_file_alone(db: Path) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    preview = _cli("db", "prune", db, "--journal-days", "30", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert f"{db}: would delete journal 100," in preview.stdout and "nothing was deleted" in preview.stdout
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    as_json = json.loads(_cli("db", "prune", db, "--journal-days", "30", "--dry-run", "--json").stdout)
    done = json.loads(_cli("db", "prune", db, "--journal-days", "30", "--json").stdout)
    assert as_json["would_delete"] == done["deleted"] and done["deleted"]["journal"] == 100


def test_a_store_written_by_replay_checks_clean_and_info_shows_the_day_that_had_trades(
    tmp_path: Path,
) -> None:
    db = tmp_path / "replayed.db"
    replayed = _cli(
        "replay",
        DATA / "day.jsonl",
        "--config",
        DATA / "config",
        "--until",
        "2026-03-03T00:00Z",
        "--db",
        db,
        "--summary",
    )
    assert replayed.returncode == 0, replayed.stderr
    check = _cli("db", "check", db)
    assert check.returncode == 0, check.stdout
    assert "no outcome" not in check.stdout and "note:" not in check.stdout  # a replay has no broker
    info = _cli("db", "info", db)
    assert info.returncode == 0
    # The reset at 17:00 CT opened an empty 2026-03-03; the day shown is the one that had trades.
    assert "account 7 2026-03-02: realized -500.00 fees 4.44 net -504.44 trades 4" in info.stdout
    assert "2026-03-03" not in info.stdout.split("day P&L")[1]


def test_db_messages_do_not_mention_a_daemon(tmp_path: Path) -> None:
    missing = _cli("db", "check", tmp_path / "nope.db")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "daemon" not in missing.stderr
    help_text = _cli("db", "prune", "--help").stdout
    assert "--dry-run" in help_text and "daemon" not in help_text
