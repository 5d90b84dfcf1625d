"""`risk-manager admin config|timers|api …` with the daemon stopped, run as a user runs them: an edit
changes only the value asked for (comments and layout kept byte for byte), an edit the loader refuses
writes nothing, credentials are written owner-only and the key is never printed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from admin_cli import admin, sample_config, snapshot

from risk_manager.config.loader import load_config

NOT_RUNNING = "the daemon is not running: this takes effect when the daemon starts"


def test_config_set_takes_negative_values_as_typed_and_changes_only_those_values(tmp_path: Path) -> None:
    config = sample_config(tmp_path)
    before = (config / "risk_config.yaml").read_text()

    first = admin(config, tmp_path / "data", "config", "set", "daily_unrealized_loss.limit", "-200")
    second = admin(config, tmp_path / "data", "config", "set", "daily_realized_loss.limit", "-250")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert second.stdout.splitlines() == ["changed rules.daily_realized_loss.limit: -500 → -250", NOT_RUNNING]
    expected = before.replace("limit: -300,", "limit: -200,").replace("limit: -500,", "limit: -250,")
    assert (config / "risk_config.yaml").read_text() == expected  # every other byte as it was
    rules = load_config(config).risk.rules
    assert rules.daily_realized_loss.limit == -250  # type: ignore[attr-defined]


def test_an_edit_the_loader_refuses_is_refused_with_its_reason_and_nothing_is_written(tmp_path: Path) -> None:
    config = sample_config(tmp_path)
    files = snapshot(config)

    positive = admin(config, tmp_path / "data", "config", "set", "daily_realized_loss.limit", "250")
    # valid on its own, but a day's limit closer to zero than one position's (-300) is not
    crossed = admin(config, tmp_path / "data", "config", "set", "daily_realized_loss.limit", "-250")
    typo = admin(config, tmp_path / "data", "config", "set", "daily_realized_loss.limt", "-400")

    assert positive.returncode == crossed.returncode == typo.returncode == 2
    assert "refused, nothing written" in positive.stderr
    assert "risk_config.yaml:11: rules.daily_realized_loss.limit = 250: limit must be negative" in (
        positive.stderr
    )
    assert "daily_unrealized_loss.limit (-300) must be above daily_realized_loss.limit (-250)" in (
        crossed.stderr
    )
    assert "limt" in typo.stderr and "limit" in typo.stderr
    assert snapshot(config) == files  # not a byte changed, no temp file left


def test_enable_and_disable_take_a_rule_name_or_id(tmp_path: Path) -> None:
    config = sample_config(tmp_path)

    off = admin(config, tmp_path / "data", "config", "disable", "RULE-001")
    on = admin(config, tmp_path / "data", "config", "enable", "symbol_blocks")
    unknown = admin(config, tmp_path / "data", "config", "enable", "symbol_block")

    assert off.stdout.startswith("changed rules.max_contracts.enabled: true → false")
    assert on.stdout.startswith("changed rules.symbol_blocks.enabled: false → true")
    rules = load_config(config).risk.rules
    assert not rules.max_contracts.enabled and rules.symbol_blocks.enabled  # type: ignore[attr-defined]
    assert unknown.returncode == 2 and "did you mean symbol_blocks?" in unknown.stderr


def test_set_credentials_writes_an_owner_only_file_and_never_prints_the_key(tmp_path: Path) -> None:
    config = sample_config(tmp_path)
    key = "pX-k3y-0123456789"

    result = admin(config, tmp_path / "data", "api", "set-credentials", "--api-key-stdin",
                   stdin=key + "\n", env={"PROJECTX_USERNAME": "trader1"})

    assert result.returncode == 0, result.stderr
    assert key not in result.stdout + result.stderr
    assert "changed api_config.yaml projectx.api_key: (unset) → ***" in result.stdout
    path = config / "api_config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    api = load_config(config).api.projectx
    assert api.username == "trader1" and api.api_key is not None and api.api_key.get_secret_value() == key
    shown = admin(config, tmp_path / "data", "config", "view", "--json")
    assert key not in shown.stdout
    assert json.loads(shown.stdout)["config"]["api"]["projectx"]["api_key"] == "***"


def test_set_credentials_makes_an_existing_readable_file_owner_only(tmp_path: Path) -> None:
    config = sample_config(tmp_path)
    path = config / "api_config.yaml"
    path.write_text("# gateway\nprojectx:\n  username: old\n  api_key: ${PROJECTX_API_KEY}\n")
    path.chmod(0o644)

    result = admin(config, tmp_path / "data", "api", "set-credentials", "--username", "new",
                   env={"PROJECTX_API_KEY": "from-the-env"})

    assert result.returncode == 0, result.stderr
    assert "from-the-env" not in result.stdout + result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == '# gateway\nprojectx:\n  username: new\n  api_key: "from-the-env"\n'


def test_set_reset_time_edits_timers_and_a_bad_zone_is_refused_by_the_loader(tmp_path: Path) -> None:
    config = sample_config(tmp_path)
    before = (config / "timers.yaml").read_text()

    result = admin(config, tmp_path / "data", "timers", "set-reset-time", "16:30", "America/New_York")
    files = snapshot(config)
    bad_zone = admin(config, tmp_path / "data", "timers", "set-reset-time", "16:30", "Mars/Olympus")
    bad_time = admin(config, tmp_path / "data", "timers", "set-reset-time", "4pm", "UTC")
    shown = json.loads(admin(config, tmp_path / "data", "timers", "view", "--json").stdout)

    assert result.returncode == 0, result.stderr
    assert (config / "timers.yaml").read_text() == before.replace(
        '{time: "17:00", timezone: America/Chicago}', '{time: "16:30", timezone: America/New_York}'
    )
    assert bad_zone.returncode == 2 and "Mars/Olympus" in bad_zone.stderr
    assert bad_time.returncode == 2 and "write HH:MM" in bad_time.stderr
    assert snapshot(config) == files
    assert shown["daily_reset"] == {"time": "16:30", "timezone": "America/New_York"}
    assert shown["next_reset"].endswith(("T20:30:00+00:00", "T21:30:00+00:00"))  # 16:30 in New York


def test_set_account_lists_a_new_account_and_keeps_the_others_as_written(tmp_path: Path) -> None:
    config = sample_config(tmp_path)
    before = (config / "accounts.yaml").read_text()

    result = admin(config, tmp_path / "data", "api", "set-account", "9", "--name", "50K Combine C")

    assert result.returncode == 0, result.stderr
    added = '  - {id: 9, name: "50K Combine C", enabled: true}\n'
    assert (config / "accounts.yaml").read_text() == before + added
    assert load_config(config).monitored(9)


def test_reload_and_unlock_say_the_daemon_is_not_running(tmp_path: Path) -> None:
    config = sample_config(tmp_path)

    reload = admin(config, tmp_path / "data", "config", "reload")
    unlock = admin(config, tmp_path / "data", "unlock", "7", "--reason", "checked with the coach")

    assert reload.returncode == 1 and "the daemon is not running" in reload.stderr
    assert unlock.returncode == 1 and "the daemon is not running" in unlock.stderr


def test_view_and_validate_read_the_config_and_say_whether_a_daemon_runs(tmp_path: Path) -> None:
    config = sample_config(tmp_path)

    view = admin(config, tmp_path / "data", "config", "view")
    valid = admin(config, tmp_path / "data", "config", "validate", "--json")
    (config / "risk_config.yaml").write_text("rules:\n  max_contracts: {enabled: yes, limit: 5}\n")
    invalid = admin(config, tmp_path / "data", "config", "validate")

    assert view.returncode == 0 and "RULE-003" in view.stdout
    assert view.stdout.rstrip().endswith("not running (these files apply when it starts)")
    assert json.loads(valid.stdout)["ok"] is True
    assert invalid.returncode == 2 and "risk_config.yaml:2" in invalid.stderr
