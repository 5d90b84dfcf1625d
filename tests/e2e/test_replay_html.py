"""`risk-manager replay FILE --html OUT.html` run as a user runs it: a real process, real files.

The recordings are tests/data/replay/day.jsonl (described in tests/e2e/test_replay_cli.py) and the
sample day shipped in the package (docs/replay.md, "The demo").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.e2e.test_replay_cli import CONFIG, DAY, json_lines, run_cli
from tests.unit.replay.test_report_page import blob, decision_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "risk_manager" / "examples"
SAMPLE_DAY = EXAMPLES / "sample-day.jsonl.gz"
SAMPLE_CONFIG = EXAMPLES / "sample-config"


def test_the_report_is_written_beside_the_usual_output_and_says_where_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "day.html"
    plain = run_cli("replay", DAY, "--config", CONFIG)
    done = run_cli("replay", DAY, "--config", CONFIG, "--html", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == plain.stdout  # the text output is unchanged
    assert done.stderr.strip() == f"report written to {out} (9 decisions, 1 account(s))"
    html = out.read_text(encoding="utf-8")
    assert [row[2] for row in decision_rows(html)].count("RULE-003") == 3
    assert "<h3>Accounts</h3>" in html and '<span class="neg">-504.44</span>' in html
    assert "Active lockouts at the end (2026-03-02 08:43:00 CST)" in html


def test_with_json_stdout_holds_only_the_decisions_and_the_report_the_same_ones(tmp_path: Path) -> None:
    out = tmp_path / "day.html"
    done = run_cli("replay", DAY, "--config", CONFIG, "--json", "--html", out)
    assert done.returncode == 0, done.stderr
    decisions = json_lines(done.stdout)
    shown = decision_rows(out.read_text(encoding="utf-8"))
    assert [(row[1], row[2], row[3], row[5]) for row in shown] == [
        (str(d["account"]), d["rule"], d["action"], d.get("reason", d.get("message"))) for d in decisions
    ]


def test_the_sample_day_report_has_both_accounts_curves_limits_and_every_decision(tmp_path: Path) -> None:
    out = tmp_path / "sample.html"
    done = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--json", "--html", out)
    assert done.returncode == 0, done.stderr
    decisions = json_lines(done.stdout)
    html = out.read_text(encoding="utf-8")
    data = blob(html)
    assert [a["id"] for a in data["accounts"]] == [7, 8]
    assert len(decision_rows(html)) == data["decision_count"] == len(decisions) == 40
    for account in data["accounts"]:
        assert account["loss_limit"] == -500.0
        assert sum(len(ids) for _, ids in account["marks"]) == account["decisions"] > 0
    assert data["zone"]["name"] == "America/Chicago"
    assert out.stat().st_size < 200_000


def test_account_rule_and_until_options_shape_the_report_as_they_shape_the_output(tmp_path: Path) -> None:
    out = tmp_path / "eight.html"
    args = (
        "--json",
        "--account",
        "8",
        "--rule",
        "RULE-003",
        "--until",
        "2026-03-02 17:00 CST",
        "--html",
        out,
    )
    done = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, *args)
    assert done.returncode == 0, done.stderr
    decisions = json_lines(done.stdout)
    html = out.read_text(encoding="utf-8")
    assert [a["id"] for a in blob(html)["accounts"]] == [8]
    rows = decision_rows(html)
    assert {(row[1], row[2]) for row in rows} == {("8", "RULE-003")}
    assert len(rows) == len(decisions)
    assert rows[-1][3] == "unlock"  # the 17:00 reset ends the lockout


@pytest.mark.parametrize("kind", ["a directory", "in a missing directory", "under a file"])
def test_an_output_that_cannot_be_written_is_one_clear_error_and_exit_2_before_anything_runs(
    tmp_path: Path, kind: str
) -> None:
    (tmp_path / "file").write_text("x")
    out = {
        "a directory": tmp_path,
        "in a missing directory": tmp_path / "missing" / "r.html",
        "under a file": tmp_path / "file" / "r.html",
    }[kind]
    done = run_cli("replay", DAY, "--config", CONFIG, "--html", out)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: --html {out}: ")


def test_no_secret_of_the_configuration_reaches_the_report(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "api_config.yaml").write_text(
        "projectx:\n  username: trader-secret-user\n  api_key: SECRET-API-KEY-123456\n", encoding="utf-8"
    )
    risk = (config / "risk_config.yaml").read_text(encoding="utf-8")
    risk = risk.replace(
        "  warn_at: []",
        "  warn_at: []\n  notifications: {discord_webhook: 'https://discord.example/api/webhooks/SECRET-HOOK'}",
    )
    (config / "risk_config.yaml").write_text(risk, encoding="utf-8")
    out = tmp_path / "day.html"
    done = run_cli("replay", DAY, "--config", config, "--html", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8") + done.stdout + done.stderr
    for secret in ("SECRET-API-KEY-123456", "trader-secret-user", "SECRET-HOOK"):
        assert secret not in text
