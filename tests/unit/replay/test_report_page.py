"""The replay report page (cli/replay_html.py): its data blob, its tables, its escaping, its zone.

Pages are built in-process from a real replay of tests/data/replay/day.jsonl (see
tests/e2e/test_replay_cli.py for what happens in it), so the data is what the CLI would write.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from risk_manager.cli.replay_cmd import ReplayReport
from risk_manager.cli.replay_html import ReportPage, check_output_path, render_report, report_data, zone_spans
from risk_manager.config.loader import load_config
from risk_manager.domain.actions import Action, Alert
from risk_manager.engine.engine import Engine
from risk_manager.replay.pnl_curve import PnlCurves
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay

DATA = Path(__file__).resolve().parents[2] / "data" / "replay"
CHICAGO = ZoneInfo("America/Chicago")


def build_page(extra: list[tuple[datetime, Action]] = ()) -> ReportPage:  # type: ignore[assignment]
    """The report of day.jsonl; ``extra`` decisions are added as if the rules had made them."""
    loaded = load_config(DATA / "config")
    engine = Engine(loaded.policy(), loaded.calendar(), loaded.contracts())
    curves = PnlCurves(engine)
    report = ReplayReport()
    for t, action in replay(curves.lines(read_recording(DATA / "day.jsonl")), engine, None, report.stats):
        report.add(t, action, keep=True)
        curves.decision(t, action.account_id)
    for t, action in extra:
        report.add(t, action, keep=True)
    curves.finish(report.stats.last_t)
    assert engine.now is not None
    statuses = engine.statuses(engine.now)
    return ReportPage(
        DATA / "day.jsonl", CHICAGO, report.decisions, report, statuses, curves, frozenset(), None
    )


def blob(html: str) -> dict[str, Any]:
    """The page's data."""
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert found is not None
    return dict(orjson.loads(found.group(1)))


def decision_rows(html: str) -> list[list[str]]:
    """The decision table's rows, as the text of their cells (time, account, rule, action, details,
    reason)."""
    table = re.search(r'<table id="decision-table">(.*?)</table>', html, re.S)
    assert table is not None
    body = table.group(1).split("<tbody>", 1)[1]
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_each_decision_is_one_table_row_with_its_zone_time_and_its_full_reason() -> None:
    page = build_page()
    rows = decision_rows(render_report(page))
    assert len(rows) == len(page.decisions) == 9
    assert rows[6] == [
        "2026-03-02 08:42:00.000 CST",
        "7",
        "RULE-003",
        "lockout",
        "until 17:00:00 CST",
        "day P&L -504.44 <= limit -500.00",
    ]


def test_every_decision_has_a_marker_on_its_accounts_curve_at_its_time_and_value() -> None:
    page = build_page()
    data = report_data(page)
    assert data["decision_count"] == 9
    (account,) = data["accounts"]
    assert account["id"] == 7 and account["name"] == "50K-1" and account["loss_limit"] == -500.0
    marked = sorted(i for _, ids in account["marks"] for i in ids)
    assert marked == list(range(9))
    for index, ids in account["marks"]:
        assert {page.decisions[i][0].timestamp() for i in ids} == {account["t"][index]}
    at_lockout = next(index for index, ids in account["marks"] if 6 in ids)
    assert (account["realized"][at_lockout], account["net"][at_lockout]) == (-504.44, -504.44)
    assert account["t"] == sorted(account["t"])
    # The curve closes at the last line (14:43), after the last decision.
    assert account["t"][-1] == datetime(2026, 3, 2, 14, 43, tzinfo=UTC).timestamp()


def test_a_reason_holding_markup_is_text_in_the_table_and_cannot_close_the_data_script() -> None:
    nasty = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned=2"> & more'
    t = datetime(2026, 3, 2, 14, 43, tzinfo=UTC)
    html = render_report(
        build_page([(t, Alert(account_id=7, rule="RULE-099", reason=nasty, level="info", message=nasty))])
    )
    assert "<script>window.pwned" not in html and "<img src=x" not in html
    assert "&lt;/script&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html  # the table cell
    assert decision_rows(html)[-1][5] == nasty  # shown as written
    # Exactly the page's own scripts: the data, uPlot and the report's.
    assert html.count("<script") == 3 and html.count("</script>") == 3


def test_the_page_needs_no_network_and_holds_no_configuration_beyond_the_limits() -> None:
    html = render_report(build_page())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "default-src 'none'" in html  # the page's own policy refuses any fetch
    assert "cooldown_after_loss" not in html and "include_fees" not in html


def test_the_summary_shows_the_text_outputs_tables() -> None:
    html = render_report(build_page())
    # (The per-day "Accounts" table is filled while the CLI replays: tests/e2e/test_replay_html.py.)
    for heading in ("Decisions per rule", "Active lockouts at the end (2026-03-02 08:43:00 CST)"):
        assert f"<h3>{heading}</h3>" in html
    assert '<td>RULE-003</td><td class="num">3</td><td>cancel_orders 1, flatten 1, lockout 1</td>' in html
    assert "No open positions at the end (2026-03-02 08:43:00 CST)." in html
    assert "pass --until TIME" in html


def test_zone_spans_give_the_offset_and_abbreviation_on_both_sides_of_a_dst_change() -> None:
    # Chicago springs forward on Sunday 8 March 2026 at 02:00 CST (08:00 UTC).
    spans = zone_spans(CHICAGO, datetime(2026, 3, 7, 12, tzinfo=UTC), datetime(2026, 3, 9, 12, tzinfo=UTC))
    change = datetime(2026, 3, 8, 8, tzinfo=UTC).timestamp()
    assert spans[0][1:] == [-21600, "CST"]
    assert [change, -18000, "CDT"] in spans
    assert len(spans) == 2


@pytest.mark.parametrize("kind", ["directory", "missing parent", "parent is a file"])
def test_an_output_path_that_cannot_take_the_report_is_refused_before_replaying(
    tmp_path: Path, kind: str
) -> None:
    (tmp_path / "file").write_text("x")
    path = {
        "directory": tmp_path,
        "missing parent": tmp_path / "nope" / "r.html",
        "parent is a file": tmp_path / "file" / "r.html",
    }[kind]
    problem = check_output_path(path)
    assert problem is not None and problem.startswith(f"--html {path}: ")
    assert check_output_path(tmp_path / "r.html") is None
