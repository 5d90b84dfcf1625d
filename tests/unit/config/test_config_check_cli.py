"""`risk-manager config check --config DIR [--json]`: rules one line each, or every error; exit 0/2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from config_samples import ENV, EXAMPLES, RISK_EXAMPLE, SECRET_KEY_VALUE
from typer.testing import CliRunner

from risk_manager.cli import config_cmd

WriteConfig = Callable[..., Path]
SECRETS = (SECRET_KEY_VALUE, "SECRETTOKEN", "SECRETHOOK")


def app() -> typer.Typer:
    """The `config` command group mounted the way cli/main.py mounts it."""
    root = typer.Typer()
    config_cmd.register(root)

    @root.callback()
    def _root() -> None:
        """(callback so `config` stays a sub-command)"""

    return root


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app(), ["config", "check", *args], env=ENV if env is None else env)
    return result.exit_code, result.stdout, result.stderr


def test_valid_config_prints_one_describe_line_per_enabled_rule_and_exits_0(
    write_config: WriteConfig,
) -> None:
    code, out, err = run("--config", str(write_config(EXAMPLES)))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Config OK in ")
    assert "Daily reset: 17:00 America/Chicago; times shown in America/Chicago" in lines
    assert "Session: 08:30-15:00 America/Chicago mon-fri" in lines
    assert "Session for ES: 17:00-16:00 America/Chicago sun-thu" in lines
    assert "Holidays: no exchange calendar; closed 2026-12-25; early close 2026-11-27 12:15" in lines
    rule_lines = [line for line in lines if line.startswith("  RULE-")]
    # Two rule sets (everyone else, and account 123456 with its own day limit), 7 enabled rules each.
    assert len(rule_lines) == 14
    assert [line.split()[0] for line in rule_lines[:7]] == [
        "RULE-001", "RULE-002", "RULE-003", "RULE-004", "RULE-006", "RULE-007", "RULE-010"]
    assert "Rules for all other monitored accounts:" in lines
    assert "Rules for account 123456 (50K Combine):" in lines
    assert any("-400" in line for line in rule_lines[7:] if line.startswith("  RULE-003"))
    assert err == ""


def test_output_lines_come_from_each_rules_describe(write_config: WriteConfig) -> None:
    loaded_rules = {rule.describe() for rule in _policy_rules(write_config)}
    code, out, _ = run("--config", str(write_config(EXAMPLES, directory="again")))
    assert code == 0
    assert {line.strip() for line in out.splitlines() if line.startswith("  RULE-")} >= loaded_rules


def _policy_rules(write_config: WriteConfig) -> list[object]:
    from risk_manager.config import load_config

    rule_set = load_config(write_config(EXAMPLES), env=ENV).policy().rules_for(1)
    assert rule_set is not None
    return list(rule_set.rules)


def test_invalid_config_prints_every_error_to_stderr_and_exits_2(write_config: WriteConfig) -> None:
    risk = RISK_EXAMPLE.replace("limit: -500", "limit: 500")
    risk = risk.replace("count_type: gross", "count_type: grosss")
    code, out, err = run("--config", str(write_config({**EXAMPLES, "risk_config.yaml": risk})))
    assert code == 2
    assert out == ""
    assert "(2 problems)" in err
    assert ("risk_config.yaml:14: rules.daily_realized_loss.limit = 500: "
            "limit must be negative (a loss), e.g. -500") in err
    assert "risk_config.yaml:11: rules.max_contracts.count_type = grosss: must be 'gross' or 'net'" in err


def test_missing_risk_config_exits_2_naming_the_directory(tmp_path: Path) -> None:
    code, _, err = run("--config", str(tmp_path))
    assert code == 2
    assert str(tmp_path) in err and "risk_config.yaml" in err


def test_json_output_lists_rule_sets_with_their_accounts(write_config: WriteConfig) -> None:
    code, out, _ = run("--config", str(write_config(EXAMPLES)), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert data["daily_reset"] == {"time": "17:00", "timezone": "America/Chicago"}
    assert data["monitor"] == "all_active"
    default, own = data["rule_sets"]
    assert default["accounts"] == "all_others" and own["accounts"] == [123456]
    assert [r["id"] for r in default["rules"]][:3] == ["RULE-001", "RULE-002", "RULE-003"]
    loss = next(r for r in own["rules"] if r["key"] == "daily_realized_loss")
    assert loss["config"]["limit"] == "-400"
    assert loss["description"].startswith("RULE-003")


def test_json_errors_are_machine_readable_and_exit_2(write_config: WriteConfig) -> None:
    risk = RISK_EXAMPLE.replace("limit: -500", "limit: 500")
    code, out, _ = run("--config", str(write_config({**EXAMPLES, "risk_config.yaml": risk})), "--json")
    assert code == 2
    data = json.loads(out)
    assert data["ok"] is False
    assert data["errors"] == [{
        "file": "risk_config.yaml", "line": 14, "path": "rules.daily_realized_loss.limit", "value": "500",
        "message": "limit must be negative (a loss), e.g. -500", "severity": "error",
    }]


def test_secrets_appear_in_no_output(write_config: WriteConfig) -> None:
    directory = write_config(EXAMPLES)
    for args in ((), ("--json",)):
        code, out, err = run("--config", str(directory), *args)
        assert code == 0
        assert not any(secret in out + err for secret in SECRETS)
    bad_api = "projectx:\n  api_key: " + SECRET_KEY_VALUE + "\n  api_url: nowhere\n"
    code, out, err = run("--config", str(write_config({**EXAMPLES, "api_config.yaml": bad_api}, "bad")))
    assert code == 2
    assert SECRET_KEY_VALUE not in out + err


def test_missing_environment_variable_is_reported(write_config: WriteConfig) -> None:
    env = {k: v for k, v in ENV.items() if k != "PROJECTX_API_KEY"}
    code, _, err = run("--config", str(write_config(EXAMPLES)), env=env)
    assert code == 2
    assert ("api_config.yaml:6: projectx.api_key = ${PROJECTX_API_KEY}: "
            "environment variable PROJECTX_API_KEY is not set") in err


def test_without_config_option_the_risk_manager_config_variable_is_used(write_config: WriteConfig) -> None:
    code, out, _ = run(env={**ENV, "RISK_MANAGER_CONFIG": str(write_config(EXAMPLES))})
    assert code == 0 and "Config OK" in out


def test_warnings_are_shown_with_a_valid_config(write_config: WriteConfig) -> None:
    directory = write_config({"risk_config.yaml": "rules:\n  daily_realized_loss: {limit: -400}\n"})
    code, out, _ = run("--config", str(directory))
    assert code == 0
    assert "(no rule enabled)" in out
    assert "risk_config.yaml:2: rules.daily_realized_loss: has no 'enabled:' so the rule is OFF" in out


def test_the_shipped_sample_config_passes_the_check() -> None:
    sample = Path(config_cmd.__file__).parent.parent / "examples" / "sample-config"
    code, out, err = run("--config", str(sample), env={})
    assert code == 0, err
    assert "RULE-" in out


@pytest.mark.skipif(sys.platform == "win32", reason="console script path")
def test_installed_risk_manager_command_checks_a_config_end_to_end(write_config: WriteConfig) -> None:
    """Run the real entry point in a subprocess, as a user would."""
    good = write_config(EXAMPLES)
    bad_risk = RISK_EXAMPLE.replace("limit: -500", "limit: 500")
    bad = write_config({**EXAMPLES, "risk_config.yaml": bad_risk}, "bad")
    env = {**os.environ, **ENV}
    command = [sys.executable, "-m", "risk_manager.cli.main", "config", "check", "--config"]
    ok = subprocess.run([*command, str(good)], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("  RULE-") == 14
    failed = subprocess.run([*command, str(bad)], capture_output=True, text=True, env=env, timeout=120)
    assert failed.returncode == 2
    assert "risk_config.yaml:14: rules.daily_realized_loss.limit = 500" in failed.stderr
