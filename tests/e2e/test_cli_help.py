"""`risk-manager --version`, `-h`, and help text a user can read: names such as FILE and DIR, never
typer's internal type tags (`<list[int]>`, `{file}`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

COMMANDS = [
    [],
    ["demo"],
    ["replay"],
    ["sim-gateway"],
    ["config"],
    ["config", "check"],
    ["db"],
    ["db", "check"],
    ["db", "info"],
    ["db", "prune"],
]
TYPE_TAG = re.compile(r"<[a-z][a-z\[\], |]*>|\{[a-z_]+\}")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "80"},
        check=False,
    )


def test_version_prints_the_installed_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"risk-manager {version('risk-manager')}\n"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "risk-manager")
def test_dash_h_is_help_and_help_has_no_type_tags(command: list[str]) -> None:
    long = run_cli(*command, "--help")
    short = run_cli(*command, "-h")
    assert long.returncode == 0 and short.returncode == 0, long.stderr
    assert short.stdout == long.stdout
    assert long.stdout.startswith("Usage: risk-manager")
    assert TYPE_TAG.search(long.stdout) is None, TYPE_TAG.search(long.stdout)
    assert "..." not in long.stdout.replace("[ARGS]...", "")  # no command summary cut short
    assert max(len(line) for line in long.stdout.splitlines()) <= 80


def test_replay_help_names_its_argument_and_option_values() -> None:
    out = run_cli("replay", "--help").stdout
    assert "Usage: risk-manager replay [OPTIONS] FILE" in out
    assert "-a, --account ID" in out and "--until TIME" in out and "-c, --config DIR" in out


def test_the_command_line_starts_without_loading_the_simulators_web_server() -> None:
    # aiohttp is a third of a second of start-up that only `sim-gateway` and `demo` need
    probe = "import sys, risk_manager.cli.main; print('aiohttp' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
