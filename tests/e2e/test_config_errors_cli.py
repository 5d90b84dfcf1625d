"""`risk-manager config check` on the broken configs a new user writes: every mistake is an error at
its line with the fix, never a silent change of meaning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RULE = "rules:\n  daily_realized_loss:\n    enabled: {enabled}\n    limit: {limit}\n"


def check(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", "config", "check", "--config", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def config_dir(tmp_path: Path, risk: str, accounts: str | None = None) -> Path:
    (tmp_path / "risk_config.yaml").write_text(risk)
    if accounts is not None:
        (tmp_path / "accounts.yaml").write_text(accounts)
    return tmp_path


def test_a_config_with_no_rule_enabled_is_warned_about_loudly(tmp_path: Path) -> None:
    directory = config_dir(tmp_path, RULE.format(enabled="false", limit="-500"))
    result = check(directory)
    assert result.returncode == 0
    assert result.stderr.startswith("WARNING: risk_config.yaml: rules: no rule is enabled, so nothing")
    as_json = json.loads(check(directory, "--json").stdout)
    assert as_json["warnings"][0]["message"].startswith("no rule is enabled")


def test_a_config_with_a_rule_enabled_has_no_such_warning(tmp_path: Path) -> None:
    result = check(config_dir(tmp_path, RULE.format(enabled="true", limit="-500")))
    assert result.returncode == 0, result.stderr
    assert "no rule is enabled" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("written", "fix"),
    [("no", "false"), ("off", "false"), ("0", "false"), ("yes", "true"), ("on", "true"), ("1", "true")],
)
def test_yaml_1_1_booleans_are_errors_that_say_which_word_to_write(
    tmp_path: Path, written: str, fix: str
) -> None:
    result = check(config_dir(tmp_path, RULE.format(enabled=written, limit="-500")))
    assert result.returncode == 2
    assert (
        f"risk_config.yaml:3: rules.daily_realized_loss.enabled = {written}: not a boolean: write {fix}"
        in result.stderr
    )


def test_money_with_more_than_two_decimals_is_an_error_not_rounded(tmp_path: Path) -> None:
    result = check(config_dir(tmp_path, RULE.format(enabled="true", limit="-500.255")))
    assert result.returncode == 2
    assert (
        "risk_config.yaml:4: rules.daily_realized_loss.limit = -500.255: -500.255 has more than two decimals"
        in result.stderr
    )


def test_a_duplicate_account_id_names_the_lines_of_both_entries(tmp_path: Path) -> None:
    accounts = "monitor: listed\naccounts:\n  - id: 12\n    name: one\n  - id: 12\n    name: two\n"
    result = check(config_dir(tmp_path, RULE.format(enabled="true", limit="-500"), accounts))
    assert result.returncode == 2
    assert (
        "accounts.yaml:5: accounts[1].id = 12: account 12 is listed twice, on lines 3 and 5" in result.stderr
    )
    assert "monitor" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  daily_realized_loss: {enabled: true, limit: -500\n  max_contracts: {}\n",
            "risk_config.yaml:2: the { opened on this line is not closed: add }",
        ),
        (
            "rules:\n  daily_realized_loss:\n    enabled: true\n   limit: -500\n",
            "risk_config.yaml:4: this line's indentation does not match the lines above it",
        ),
    ],
)
def test_yaml_syntax_errors_are_plain_words_at_the_line_to_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    result = check(config_dir(tmp_path, text))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "<block end>" not in result.stderr and "<" not in result.stderr


def test_a_nested_boolean_is_true_or_false_only_too(tmp_path: Path) -> None:
    text = "rules:\n  trade_management:\n    enabled: true\n    breakeven:\n      enabled: off\n"
    result = check(config_dir(tmp_path, text))
    assert result.returncode == 2
    where = "risk_config.yaml:5: rules.trade_management.breakeven.enabled = off"
    assert f"{where}: not a boolean: write false" in result.stderr
