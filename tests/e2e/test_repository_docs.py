"""What a user of a fresh clone reads: README and docs link only to files that are in the
repository, and the packaging metadata installs without deprecation warnings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
OUTSIDE_FILE = re.compile(r"shared/docs|\b(?!README\b)[A-Z]{3,}\.md\b")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_points_at_a_file_in_the_repository(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "#")):
            continue
        path = target.split("#", 1)[0]
        assert (page.parent / path).resolve().is_file(), f"{page.name} links to {target}, which is not here"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_sends_the_reader_to_a_file_outside_the_repository(page: Path) -> None:
    found = OUTSIDE_FILE.search(page.read_text())
    assert found is None, f"{page.name} mentions {found.group(0) if found else ''}"


def test_the_recording_format_and_the_replay_output_are_documented_here() -> None:
    replay = (ROOT / "docs" / "replay.md").read_text()
    for heading in ("## The recording", "## Output", "## How time runs"):
        assert heading in replay


def test_the_license_is_an_spdx_expression_built_by_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in " ".join(project["build-system"]["requires"])


def test_the_ci_virtualenv_is_ignored() -> None:
    assert ".venv-ci/" in (ROOT / ".gitignore").read_text().splitlines()


def test_readme_benchmarks_say_where_they_were_measured_and_that_ratios_are_the_stable_figures() -> None:
    section = (ROOT / "README.md").read_text().split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    assert "measured on the development" in section and "vary" in section
    assert "ratios" in section and "stable" in section
