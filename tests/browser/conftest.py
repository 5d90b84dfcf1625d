"""Browser tests drive Debian's chromium through Playwright (``executable_path``; no browser is ever
downloaded). Screenshots go to ``$RISK_MANAGER_ARTIFACTS`` (default ``test-artifacts/`` at the
repository root) so a failed run can be looked at.

Without chromium the tests are skipped on a developer's machine but fail under CI (CI=true), where
``.ci/run`` installs it: a browser test that silently never runs is no test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    explicit = os.environ.get("RISK_MANAGER_CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    root = Path(os.environ.get("RISK_MANAGER_ARTIFACTS", default))
    root.mkdir(parents=True, exist_ok=True)
    return root


# One browser per test module, not per session: Playwright's sync API runs an event loop on this
# thread while it is open, and every asyncio test after the browser tests (asyncio.run) would find
# that loop running and fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()
