"""Answers from the store alone: clock sessions, and the read model rebuilt with no daemon running --
the same as the daemon's, and nothing written to the file."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from control_helpers import daemon_with_lockout
from daemon_helpers import ACCOUNT, write_config
from sim_helpers import run

from risk_manager.config.errors import ConfigError
from risk_manager.config.loader import load_config
from risk_manager.daemon.control.store_views import clock_summary, offline_statuses
from risk_manager.engine.engine import Engine
from risk_manager.store.errors import StoreError
from risk_manager.store.sqlite import Store, StoreReader

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_clock_session_opens_once_closes_once_and_is_read_back(tmp_path: Path) -> None:
    with Store.open(tmp_path / "risk.db") as store:
        opened = store.clock_in(ACCOUNT, T0, "trader")
        with pytest.raises(StoreError, match="clocked in already"):
            store.clock_in(ACCOUNT, T0 + timedelta(minutes=1), "trader")
        closed = store.clock_out(ACCOUNT, T0 + timedelta(hours=2))
        with pytest.raises(StoreError, match="not clocked in"):
            store.clock_out(ACCOUNT, T0 + timedelta(hours=3))
        assert closed.id == opened.id
        summary = clock_summary(store, closed)
    assert summary["duration_s"] == 7200 and summary["trades"] == 0 and summary["pnl"] == "0.00"
    with StoreReader.open(tmp_path / "risk.db") as reader:
        [row] = reader.clock_sessions(ACCOUNT)
        assert (row.clock_in, row.clock_out, row.by) == (T0, T0 + timedelta(hours=2), "trader")
        assert reader.clock_sessions(ACCOUNT, open_only=True) == []


def test_the_read_model_rebuilt_from_the_store_is_the_daemons_and_the_file_is_not_touched(
    tmp_path: Path,
) -> None:
    seen: dict[str, object] = {}

    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (_gw, daemon, _data):
            seen["statuses"] = daemon.statuses()

    run(body, timeout=40)
    db = tmp_path / "d" / "risk.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    config = load_config(tmp_path / "c")
    [live] = seen["statuses"]  # type: ignore[misc]
    with StoreReader.open(db) as reader:
        [rebuilt] = offline_statuses(
            reader, lambda: Engine(config.policy(), config.calendar(), config.contracts()), live.as_of
        )
    assert str(rebuilt.connection) == "lost"
    same = ("realized", "costs", "net", "trade_count", "gauges", "lockouts", "trading_state", "next_reset")
    assert {k: rebuilt.to_json()[k] for k in same} == {k: live.to_json()[k] for k in same}
    assert [lk["rule"] for lk in rebuilt.to_json()["lockouts"]] == ["RULE-011"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_the_admin_section_refuses_a_blank_group_and_an_unknown_key(tmp_path: Path) -> None:
    rules = {"daily_realized_loss": {"enabled": True, "limit": -500}}
    config = write_config(tmp_path / "c", rules, admin={"allow_unlock": True, "group": "  "})
    with pytest.raises(ConfigError) as blank:
        load_config(config)
    assert "group" in str(blank.value.errors[0]) and "blank" in str(blank.value.errors[0])
    (config / "risk_config.yaml").write_text(yaml.safe_dump({"rules": rules, "admin": {"allow_unlok": True}}))
    with pytest.raises(ConfigError) as unknown:
        load_config(config)
    assert "allow_unlock" in str(unknown.value.errors[0])
    (config / "risk_config.yaml").write_text(yaml.safe_dump({"rules": rules}))
    assert load_config(config).risk.admin.allow_unlock is False
