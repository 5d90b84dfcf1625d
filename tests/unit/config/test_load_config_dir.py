"""load_config(directory): which files are read, what is missing, and that loading is repeatable."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from config_samples import API_EXAMPLE, ENV, EXAMPLES, RISK_EXAMPLE, SECRET_KEY_VALUE

from risk_manager.config import ConfigError, load_config

WriteConfig = Callable[..., Path]


def test_a_directory_with_the_four_config_md_files_loads(write_config: WriteConfig) -> None:
    directory = write_config(EXAMPLES)
    config = load_config(directory, env=ENV)
    assert config.directory == directory
    assert config.files == ("risk_config.yaml", "timers.yaml", "accounts.yaml", "api_config.yaml")


def test_only_risk_config_is_required(write_config: WriteConfig) -> None:
    config = load_config(write_config({"risk_config.yaml": RISK_EXAMPLE}), env=ENV)
    assert config.files == ("risk_config.yaml",)


def test_missing_risk_config_names_the_directory(write_config: WriteConfig) -> None:
    directory = write_config({"timers.yaml": "{}\n"})
    with pytest.raises(ConfigError) as caught:
        load_config(directory, env=ENV)
    [error] = caught.value.errors
    assert str(directory) in str(error)
    assert "risk_config.yaml" in str(error) and "required" in str(error)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config directory does not exist"):
        load_config(tmp_path / "nope", env=ENV)


def test_passing_a_file_instead_of_the_directory_names_the_directory(write_config: WriteConfig) -> None:
    directory = write_config(EXAMPLES)
    with pytest.raises(ConfigError, match="not a config directory") as caught:
        load_config(directory / "risk_config.yaml", env=ENV)
    assert str(directory) in str(caught.value)


def test_a_yml_file_is_not_silently_ignored(write_config: WriteConfig) -> None:
    directory = write_config({"risk_config.yaml": RISK_EXAMPLE, "timers.yml": "{}\n"})
    with pytest.raises(ConfigError, match=r"rename timers\.yml to timers\.yaml"):
        load_config(directory, env=ENV)


def test_timers_yaml_and_timers_config_yaml_together_are_ambiguous(write_config: WriteConfig) -> None:
    directory = write_config({"risk_config.yaml": RISK_EXAMPLE, "timers.yaml": "{}\n",
                              "timers_config.yaml": "{}\n"})
    with pytest.raises(ConfigError, match="keep one"):
        load_config(directory, env=ENV)


def test_errors_of_all_files_are_reported_together_in_file_order(write_config: WriteConfig) -> None:
    directory = write_config({
        "risk_config.yaml": "rules:\n  max_contracts: {enabled: true, limit: -2}\n",
        "timers.yaml": "daily_reset: {time: \"5pm\"}\n",
        "accounts.yaml": "monitor: some\n",
        "api_config.yaml": "projectx: {api_url: nowhere}\n",
    })
    with pytest.raises(ConfigError) as caught:
        load_config(directory, env=ENV)
    assert [e.file for e in caught.value.errors] == [
        "risk_config.yaml", "timers.yaml", "accounts.yaml", "api_config.yaml"]
    assert str(caught.value).count("\n") == 3


def test_env_defaults_to_the_process_environment(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "rules:\n  daily_realized_loss: {enabled: true, limit: '${RM_TEST_LIMIT}'}\n"
    directory = write_config({"risk_config.yaml": text})
    monkeypatch.setenv("RM_TEST_LIMIT", "-321")
    rules = load_config(directory).risk.rules.get("daily_realized_loss")
    assert rules is not None and str(rules.limit) == "-321"  # type: ignore[attr-defined]


def test_loading_is_repeatable_and_a_bad_edit_leaves_the_loaded_config_untouched(
    write_config: WriteConfig,
) -> None:
    directory = write_config(EXAMPLES)
    good = load_config(directory, env=ENV)
    (directory / "risk_config.yaml").write_text(RISK_EXAMPLE.replace("limit: -500", "limit: 500"))
    with pytest.raises(ConfigError):
        load_config(directory, env=ENV)
    loss = good.risk.rules.get("daily_realized_loss")
    assert loss is not None and str(loss.limit) == "-500"  # type: ignore[attr-defined]
    (directory / "risk_config.yaml").write_text(RISK_EXAMPLE)
    assert load_config(directory, env=ENV) == good


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_api_key_written_in_a_world_readable_file_gives_a_warning(write_config: WriteConfig) -> None:
    api = API_EXAMPLE.replace("${PROJECTX_API_KEY}", SECRET_KEY_VALUE)
    directory = write_config({"risk_config.yaml": RISK_EXAMPLE, "api_config.yaml": api})
    (directory / "api_config.yaml").chmod(0o644)
    [warning] = load_config(directory, env=ENV).warnings
    assert (warning.file, warning.path) == ("api_config.yaml", "projectx.api_key")
    assert "chmod 600" in warning.message
    assert SECRET_KEY_VALUE not in str(warning)
    (directory / "api_config.yaml").chmod(0o600)
    assert load_config(directory, env=ENV).warnings == ()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_literal_notification_token_in_a_world_readable_risk_config_gives_a_warning(
    write_config: WriteConfig,
) -> None:
    risk = RISK_EXAMPLE.replace("${TELEGRAM_TOKEN}", "'123:TgSecretXyz'")
    directory = write_config({"risk_config.yaml": risk})
    (directory / "risk_config.yaml").chmod(0o640)
    [warning] = load_config(directory, env=ENV).warnings
    assert (warning.file, warning.path) == ("risk_config.yaml", "general.notifications.telegram.bot_token")
    assert "TgSecretXyz" not in str(warning)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_secrets_taken_from_the_environment_need_no_file_mode_warning(write_config: WriteConfig) -> None:
    directory = write_config(EXAMPLES)
    for name in EXAMPLES:
        (directory / name).chmod(0o644)
    assert load_config(directory, env=ENV).warnings == ()
