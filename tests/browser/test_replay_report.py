"""The replay report (`replay FILE --html OUT.html`) in a real headless chromium, opened from the file
with the network cut: the charts draw, hovering a decision marker shows its reason, the table lists
every decision, and the times are the configured zone's whatever zone the browser is in.

The report is written by the CLI as a user runs it (a subprocess); screenshots go to artifacts_dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.unit.replay.test_report_page import build_page

from risk_manager.cli.replay_html import render_report
from risk_manager.domain.actions import Alert

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "replay"
EXAMPLES = REPO / "src" / "risk_manager" / "examples"


def write_report(recording: Path, config: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
    """Run the CLI with --html and --json; the decisions it printed."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "risk_manager.cli.main",
            "replay",
            str(recording),
            "--config",
            str(config),
            "--json",
            "--html",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def day_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("report") / "day.html"
    decisions = write_report(DATA / "day.jsonl", DATA / "config", out)
    return out, decisions


@pytest.fixture
def offline(page: Any) -> Iterator[list[str]]:
    """Every request that is not the report file itself is aborted and listed."""
    attempted: list[str] = []

    def refuse(route: Any) -> None:
        attempted.append(route.request.url)
        route.abort()

    page.route(lambda url: not url.startswith("file://"), refuse)
    yield attempted


def open_report(page: Any, path: Path) -> None:
    page.goto(path.as_uri())
    page.wait_for_function("window.riskReport !== undefined")


def marker_position(page: Any, account: int, decision: int) -> dict[str, float]:
    """Where on the page the marker of decision number ``decision`` of ``account`` is drawn."""
    return page.evaluate(
        """([account, decision]) => {
            const {chart, account: a} = window.riskReport.charts[account];
            const [index] = a.marks.find(([, ids]) => ids.includes(decision));
            const rect = chart.over.getBoundingClientRect();
            return {x: rect.left + chart.valToPos(a.t[index], "x"),
                    y: rect.top + chart.valToPos(a.net[index], "y")};
        }""",
        [account, decision],
    )


def painted_pixels(page: Any, account: int) -> int:
    """Non-blank pixels of an account's chart canvas (0 when nothing was drawn)."""
    return int(
        page.evaluate(
            """(account) => {
                const canvas = document.querySelector(`#account-${account} canvas`);
                const ctx = canvas.getContext("2d");
                const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
                return painted;
            }""",
            account,
        )
    )


def test_the_report_draws_its_chart_and_shows_a_decisions_reason_on_hover_without_any_network(
    page: Any, offline: list[str], day_report: tuple[Path, list[dict[str, Any]]], artifacts_dir: Path
) -> None:
    path, decisions = day_report
    open_report(page, path)
    assert page.locator("#account-7 canvas").count() == 1
    assert painted_pixels(page, 7) > 1000

    # The RULE-003 lockout at 14:42 UTC (08:42 CST): its marker, hovered, shows its reason.
    lockout = next(i for i, d in enumerate(decisions) if d["rule"] == "RULE-003" and d["action"] == "lockout")
    spot = marker_position(page, 7, lockout)
    page.mouse.move(spot["x"], spot["y"])
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert decisions[lockout]["reason"] in tooltip.inner_text()
    assert "2026-03-02 08:42:00.000 CST" in tooltip.inner_text()
    # The viewport only: a full-page screenshot resizes the page and the hover is lost.
    page.screenshot(path=str(artifacts_dir / "replay-report-hover.png"))

    # Away from every marker, the tooltip goes.
    box = page.locator("#account-7 .u-over").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    tooltip.wait_for(state="hidden")
    assert offline == []


def test_markers_take_the_colour_of_their_weightiest_decision_as_the_table_colours_it(
    page: Any, offline: list[str], day_report: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, decisions = day_report
    open_report(page, path)
    drawn = page.evaluate(
        """() => {
            const MARKER_LABELS = ["Lockout or flatten", "Close", "Unlock", "Other decision"];
            const {chart, account} = window.riskReport.charts[7];
            const kinds = {};  // series label -> [its colour, the point indices it marks]
            chart.series.forEach((series, i) => {
                if (!MARKER_LABELS.includes(series.label)) return;
                const marked = [];
                chart.data[i].forEach((v, index) => { if (v !== null) marked.push(index); });
                const fill = series.points.fill;  // uPlot may hold it as a function of the series
                kinds[series.label] = [typeof fill === "function" ? fill(chart, i) : fill, marked];
            });
            return {kinds, marks: account.marks};
        }"""
    )
    kinds, marks = drawn["kinds"], {index: ids for index, ids in drawn["marks"]}
    lockout = next(i for i, d in enumerate(decisions) if d["rule"] == "RULE-003" and d["action"] == "lockout")
    [lockout_point] = [index for index, ids in marks.items() if lockout in ids]
    colour, points = kinds["Lockout or flatten"]
    assert colour == "#b3261e" and lockout_point in points  # the table's red for a lockout
    # every marked instant is drawn once, in the colour of the weightiest of its decisions
    weight = {"lockout": 0, "flatten": 0, "close_position": 1, "unlock": 2}
    labels = ["Lockout or flatten", "Close", "Unlock", "Other decision"]
    expected: dict[str, list[int]] = {}
    for index, ids in sorted(marks.items()):
        heaviest = min(weight.get(decisions[i]["action"], 3) for i in ids)
        expected.setdefault(labels[heaviest], []).append(index)
    assert {label: sorted(points) for label, (_, points) in kinds.items()} == expected, (
        [(index, [decisions[i]["action"] for i in ids]) for index, ids in sorted(marks.items())]
    )
    assert offline == []


def test_the_decision_table_lists_every_decision_in_order(
    page: Any, offline: list[str], day_report: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, decisions = day_report
    open_report(page, path)
    rows = page.locator("#decision-table tbody tr")
    assert rows.count() == len(decisions)
    for n, decision in enumerate(decisions):
        cells = rows.nth(n).locator("td").all_inner_texts()
        assert cells[1:4] == [str(decision["account"]), decision["rule"], decision["action"]]
        assert cells[5] == decision.get("reason", "")
    assert offline == []


def test_times_are_the_configured_zones_whatever_zone_the_browser_is_in(
    browser: Any, day_report: tuple[Path, list[dict[str, Any]]], artifacts_dir: Path
) -> None:
    path, _ = day_report
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        open_report(page, path)
        assert page.evaluate("new Date(0).getTimezoneOffset()") == -540  # the browser is in Tokyo
        # 14:31 UTC is 08:31 CST in Chicago (23:31 in Tokyo): the table, the tooltip and the axis.
        assert page.locator("#decision-table tbody tr").first.locator("td").first.inner_text() == (
            "2026-03-02 08:31:00.000 CST"
        )
        assert page.evaluate("window.riskReport.localText(Date.UTC(2026, 2, 2, 14, 31) / 1000)") == (
            "2026-03-02 08:31:00 CST"
        )
        # The time axis is drawn on the canvas; its tick labels are what uPlot computed for it.
        ticks = " ".join(page.evaluate("window.riskReport.charts[7].chart.axes[0]._values") or [])
        assert "8:35am" in ticks and "8:40am" in ticks, ticks
        assert "11:" not in ticks and "pm" not in ticks, ticks  # neither Tokyo's nor UTC's hours
        first = marker_position(page, 7, 0)
        page.mouse.move(first["x"], first["y"])
        page.locator("#tooltip").wait_for(state="visible")
        assert "08:31:00.000 CST" in page.locator("#tooltip").inner_text()
        page.screenshot(path=str(artifacts_dir / "replay-report-tokyo.png"))
    finally:
        context.close()


def test_the_sample_day_report_charts_both_accounts_with_their_loss_limit(
    page: Any, offline: list[str], tmp_path: Path, artifacts_dir: Path
) -> None:
    out = tmp_path / "sample.html"
    decisions = write_report(EXAMPLES / "sample-day.jsonl.gz", EXAMPLES / "sample-config", out)
    open_report(page, out)
    for account in (7, 8):
        assert painted_pixels(page, account) > 1000
        legend = page.locator(f"#account-{account} .u-legend").inner_text()
        assert "Loss limit" in legend
    assert page.locator("#decision-table tbody tr").count() == len(decisions)
    page.screenshot(path=str(artifacts_dir / "replay-report-sample-day.png"), full_page=True)
    assert offline == []


def test_a_reason_holding_markup_is_shown_as_text_and_never_run(
    page: Any, offline: list[str], tmp_path: Path
) -> None:
    nasty = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    t = datetime(2026, 3, 2, 14, 43, tzinfo=UTC)
    alert = Alert(account_id=7, rule="RULE-099", reason=nasty, level="info", message=nasty)
    out = tmp_path / "nasty.html"
    out.write_text(render_report(build_page([(t, alert)])), encoding="utf-8")
    open_report(page, out)
    assert page.evaluate("window.pwned") is None
    assert page.locator("#decision-table tbody tr").last.locator("td").last.inner_text() == nasty
    assert page.evaluate("window.riskReport.decision(9).reason") == nasty
    assert offline == []  # the <img> never loaded either
