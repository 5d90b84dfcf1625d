"""config/edit.py: one value changes and every other byte stays, whatever the layout around it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from risk_manager.config.edit import (
    EditRefused,
    append_item,
    edit_value,
    parse_typed_value,
    rule_path,
    write_atomic,
)
from risk_manager.rules.registry import RULE_KEYS

ALIGNED = (
    "# limits\n"
    "rules:\n"
    "  daily_realized_loss:   {enabled: true, limit: -500}   # the day\n"
    "  max_contracts:         {enabled: true, limit: 5}\n"
)


def test_a_value_in_an_aligned_flow_mapping_changes_and_its_comment_keeps_its_column() -> None:
    new, old = edit_value(ALIGNED, "f", ("rules", "daily_realized_loss", "limit"), -1250, raw="-1250")

    assert old == "-500"
    assert new == ALIGNED.replace("limit: -500}   #", "limit: -1250}  #")


def test_a_missing_key_is_added_inside_its_flow_mapping_and_a_missing_section_as_a_block() -> None:
    added, old = edit_value(ALIGNED, "f", ("rules", "max_contracts", "count_type"), "net", raw="net")
    section, _ = edit_value(ALIGNED, "f", ("general", "timezone"), "UTC", raw="UTC")

    assert old == "(unset)"
    assert added == ALIGNED.replace("limit: 5}", "limit: 5, count_type: net}")
    assert section == ALIGNED + "general:\n  timezone: UTC\n"


def test_a_key_is_added_at_the_end_of_a_block_mapping_with_its_indentation() -> None:
    text = "general:\n  timezone: UTC   # shown\n\nrules: {}\n"

    new, _ = edit_value(text, "f", ("general", "warn_at"), [0.5], raw="[0.5]")

    assert new == "general:\n  timezone: UTC   # shown\n  warn_at: [0.5]\n\nrules: {}\n"


def test_a_string_that_would_read_as_something_else_is_quoted() -> None:
    text = "rules:\n  daily_realized_profit: {enabled: false, message: hi}\n"
    path = ("rules", "daily_realized_profit", "message")

    commas, _ = edit_value(text, "f", path, "Done, bye", raw="Done, bye")
    number, _ = edit_value(text, "f", path, "123", raw=None)

    assert commas == text.replace("message: hi", 'message: "Done, bye"')
    assert number == text.replace("message: hi", 'message: "123"')


def test_env_references_in_flow_mappings_do_not_stop_an_edit() -> None:
    text = "general:\n  notifications: {telegram: {bot_token: ${TOKEN}, chat_id: \"1\"}}\n"

    new, _ = edit_value(text, "f", ("general", "notifications", "telegram", "chat_id"), "2", raw=None)

    assert new == text.replace('chat_id: "1"', 'chat_id: "2"')


def test_a_secret_is_never_shown_as_the_old_value() -> None:
    text = "projectx:\n  api_key: hunter2\n"

    new, old = edit_value(text, "api_config.yaml", ("projectx", "api_key"), "n3w", raw=None)

    assert old == "***" and new == 'projectx:\n  api_key: "n3w"\n'


def test_values_are_read_as_typed() -> None:
    assert parse_typed_value("-250") == -250
    assert parse_typed_value("true") is True
    assert parse_typed_value("yes") == "yes"  # YAML 1.2, as the loader: the loader then refuses it
    assert parse_typed_value("17:00") == "17:00"
    assert parse_typed_value("[RTY, ES]") == ["RTY", "ES"]
    assert parse_typed_value("Target: hit, bye") == "Target: hit, bye"
    with pytest.raises(EditRefused, match="one line"):
        parse_typed_value("a\nb")


def test_rule_paths_accept_rule_names_and_top_level_sections_and_suggest_a_fix() -> None:
    assert rule_path("daily_realized_loss.limit", RULE_KEYS) == ("rules", "daily_realized_loss", "limit")
    assert rule_path("general.timezone", RULE_KEYS) == ("general", "timezone")
    with pytest.raises(EditRefused, match="did you mean daily_realized_loss"):
        rule_path("daily_realised_loss.limit", RULE_KEYS)


def test_an_item_is_appended_to_a_block_list_or_a_flow_list() -> None:
    block = "accounts:\n  - id: 7   # main\n    enabled: true\nmonitor: listed\n"
    flow = "accounts: [{id: 7}]\n"

    assert append_item(block, "f", ("accounts",), {"id": 9}) == (
        "accounts:\n  - id: 7   # main\n    enabled: true\n  - {id: 9}\nmonitor: listed\n"
    )
    assert append_item(flow, "f", ("accounts",), {"id": 9}) == "accounts: [{id: 7}, {id: 9}]\n"


def test_an_atomic_write_keeps_the_mode_or_sets_the_one_asked(tmp_path: Path) -> None:
    kept = tmp_path / "risk_config.yaml"
    kept.write_text("old")
    kept.chmod(0o640)
    secret = tmp_path / "api_config.yaml"

    write_atomic(kept, "new")
    write_atomic(secret, "key", 0o600)

    assert kept.read_text() == "new" and stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["api_config.yaml", "risk_config.yaml"]
