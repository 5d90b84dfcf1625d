"""Front-end assets shipped in the package: the dashboard page and the replay report, and the charting
library they use (vendored under ``vendor/``, so both work offline)."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["asset", "asset_text"]


def asset(*parts: str) -> Traversable:
    """One shipped file, e.g. ``asset("vendor", "uplot", "uPlot.iife.min.js")``."""
    node: Traversable = files(__name__)
    for part in parts:
        node = node / part
    return node


def asset_text(*parts: str) -> str:
    return asset(*parts).read_text(encoding="utf-8")
