"""`risk-manager admin … -h`: readable help that fits 80 columns, argument names (RULE.KEY, HH:MM),
never typer's type tags, and the common --config / --data-dir options on every command."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

COMMANDS = [
    ["config", "view"], ["config", "set"], ["config", "enable"], ["config", "disable"],
    ["config", "validate"], ["config", "reload"], ["timers", "view"], ["timers", "set-reset-time"],
    ["api", "set-credentials"], ["api", "set-account"], ["unlock"],
]
TYPE_TAG = re.compile(r"<[a-z][a-z\[\], |]*>|\{[a-z_]+\}")


def help_of(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", "admin", *args, "-h"], capture_output=True,
        text=True, timeout=60, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_admin_command_has_plain_help_with_the_common_options(command: list[str]) -> None:
    text = help_of(*command)
    assert TYPE_TAG.search(text) is None
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "--config DIR" in text and "--data-dir DIR" in text


def test_the_admin_group_lists_its_commands_without_cutting_them_short() -> None:
    text = help_of()
    for name in ("config", "timers", "api", "unlock"):
        assert re.search(rf"^  {name}\s", text, re.MULTILINE), name
    assert "..." not in text.replace("[ARGS]...", "")
    assert "Usage: risk-manager admin config set [OPTIONS] RULE.KEY VALUE" in help_of("config", "set")
