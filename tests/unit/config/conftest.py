"""Fixtures of the config tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write {file name: text} into a fresh config directory and return it."""

    def write(files: Mapping[str, str], directory: str = "cfg") -> Path:
        target = tmp_path / directory
        target.mkdir(exist_ok=True)
        for name, text in files.items():
            (target / name).write_text(text, encoding="utf-8")
        return target

    return write
