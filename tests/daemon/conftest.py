"""The daemon is tested against the simulated gateway: reuse the sim and client tests' helpers."""

import sys
from functools import partial
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "sim"))
sys.path.insert(0, str(Path(__file__).parent.parent / "broker"))
sys.path.insert(0, str(Path(__file__).parent.parent / "notify"))

from daemon_helpers import Guard, guarded  # (importable once the paths above are set)


@pytest.fixture
def guard(tmp_path: Path) -> Guard:
    """``async with guard(rules, ...) as g``: gateway + trader + daemon (daemon_helpers.guarded)."""
    return partial(guarded, tmp_path)
