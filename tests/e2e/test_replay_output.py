"""What a user sees from `risk-manager replay`: readable on an 80-column terminal, one time zone,
honest wording, usable on long recordings, and bad input that never looks like success.

Most tests replay the sample day shipped with the package (two accounts, most rules act) through
the shipped sample config, as `risk-manager demo` does.
"""

from __future__ import annotations

import gzip
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "risk_manager" / "examples"
SAMPLE_DAY = EXAMPLES / "sample-day.jsonl.gz"
SAMPLE_CONFIG = EXAMPLES / "sample-config"
DATA = Path(__file__).resolve().parents[1] / "data" / "replay"
DAY = DATA / "day.jsonl"
CONFIG = DATA / "config"
UNTIL_RESET = "2026-03-02T23:00:00Z"


def run_cli(*args: str | Path, columns: int = 200, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def reasons_of(*args: str | Path) -> list[str]:
    result = run_cli("replay", *args, "--json")
    assert result.returncode == 0, result.stderr
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    return [line.get("reason") or line.get("message") for line in lines]


def squeezed(text: str) -> str:
    return " ".join(text.split())


# ---- 1. the decision lines fit the terminal ------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 120])
def test_every_line_fits_the_terminal_and_every_reason_is_complete(columns: int) -> None:
    result = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--until", UNTIL_RESET, columns=columns)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "…" not in out
    too_long = [line for line in out.splitlines() if len(line) > columns]
    assert too_long == []
    text = squeezed(out)
    reasons = reasons_of(SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--until", UNTIL_RESET)
    assert len(reasons) == 40
    for reason in reasons:
        assert squeezed(reason) in text, reason


def test_a_decision_is_one_heading_line_with_a_short_contract_and_its_reason_indented_below() -> None:
    result = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, columns=80)
    lines = result.stdout.splitlines()
    heading = lines.index("08:38:12.175 CST  acct 7  RULE-001  close_position  ES H26 size 1")
    assert lines[heading + 1] == "    open contracts (gross) 6 > limit 5: close 1 of CON.F.US.EP.H26"


def test_wide_keeps_one_table_row_per_decision() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--wide", columns=250)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "RULE-003" in line and "flatten" in line)
    assert "2026-03-02 08:42:00.000 CST" in row and "day P&L -504.44" in row


# ---- 2. one time zone on screen ------------------------------------------------------------------

UTC_TIME = re.compile(r"\d\d:\d\d:\d\d(\.\d+)?Z\b")


def test_human_output_shows_every_time_in_the_configured_zone_including_inside_reasons() -> None:
    result = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--until", UNTIL_RESET)
    assert result.returncode == 0, result.stderr
    assert UTC_TIME.search(result.stdout) is None
    assert "it began 2026-03-02 09:15:19 CST" in result.stdout  # an unlock's reason


def test_json_keeps_utc_times_in_its_fields() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json")
    lockout = next(orjson.loads(line) for line in result.stdout.splitlines() if '"lockout"' in line)
    assert lockout["t"] == "2026-03-02T14:31:00.000Z" and lockout["until"] == "2026-03-02T14:36:00.000Z"


@pytest.mark.parametrize(
    "until",
    [
        "2026-03-02T23:00:00Z",
        "2026-03-02T17:00-06:00",
        "2026-03-02T17:00 CST",
        "2026-03-02 17:00 America/Chicago",
    ],
)
def test_until_accepts_utc_an_offset_a_zone_name_or_the_configured_zones_abbreviation(until: str) -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json", "--until", until)
    assert result.returncode == 0, result.stderr
    # the reset is at 17:00 CST: the lockout until the reset ends first, then the reset itself
    *_, unlock, reset = (orjson.loads(line) for line in result.stdout.splitlines())
    reset_at = "2026-03-02T23:00:00.000Z"
    assert (unlock["t"], unlock["rule"], unlock["action"]) == (reset_at, "RULE-003", "unlock")
    assert (reset["t"], reset["rule"], reset["action"]) == (reset_at, "RESET", "alert")


def test_until_with_an_unknown_zone_exits_2_naming_the_accepted_forms() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--until", "2026-03-02T17:00 Mars/Olympus")
    assert result.returncode == 2
    assert "'Mars/Olympus' is not a time zone; use an IANA name such as America/Chicago or CDT/CST" in (
        result.stderr
    )


# ---- 3. wording ----------------------------------------------------------------------------------


def test_a_contract_count_warning_states_the_real_share_of_the_limit() -> None:
    reasons = reasons_of(SAMPLE_DAY, "--config", SAMPLE_CONFIG)
    assert "4 of 4 MNQ contracts, 100% of the limit" in reasons
    assert "4 of 5 open contracts (gross), 80% of the limit" in reasons
    assert not any("contracts 4 reached 90%" in r for r in reasons)


def test_an_unlock_that_leaves_another_lockout_active_says_the_account_is_still_locked() -> None:
    reasons = reasons_of(SAMPLE_DAY, "--config", SAMPLE_CONFIG)
    ended = [r for r in reasons if r.startswith("RULE-007 lockout ended")]
    # Account 8's last cooldown ends at 10:08 CST while the daily loss lockout holds until 17:00.
    assert ended[-1].endswith("; still locked by RULE-003 until 2026-03-02 17:00:00 CST")
    assert not any("still locked" in r for r in ended[:-1])


# ---- 4. long replays -----------------------------------------------------------------------------


def test_summary_prints_only_the_summary() -> None:
    result = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--summary")
    assert result.returncode == 0, result.stderr
    assert "acct " not in result.stdout
    assert "Replayed 5,295 lines" in result.stdout and "Decisions per rule" in result.stdout


def test_rule_filter_shows_only_that_rules_decisions_in_both_outputs() -> None:
    human = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--rule", "RULE-003", columns=80)
    assert human.returncode == 0, human.stderr
    headings = [line for line in human.stdout.splitlines() if " acct " in line]
    assert len(headings) == 7 and all("  RULE-003  " in line for line in headings)
    as_json = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--rule", "rule-003", "--json")
    assert {orjson.loads(line)["rule"] for line in as_json.stdout.splitlines()} == {"RULE-003"}


def test_a_progress_bar_goes_to_stderr_when_it_is_a_terminal() -> None:
    primary, secondary = pty.openpty()
    try:
        env = {**os.environ, "COLUMNS": "100"}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "risk_manager.cli.main",
                "replay",
                SAMPLE_DAY,
                "--config",
                SAMPLE_CONFIG,
                "--summary",
            ],
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=env,
        )
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal's other end closed: the process has ended
                break
            if not chunk:
                break
            shown += chunk
        stdout, _ = process.communicate(timeout=120)
    finally:
        os.close(primary)
    assert process.returncode == 0
    assert b"replaying sample-day.jsonl.gz" in shown and b"lines/s" in shown
    assert b"lines/s" not in stdout


def test_no_progress_bar_when_stderr_is_not_a_terminal() -> None:
    result = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--summary")
    assert result.returncode == 0
    assert result.stderr == ""


# ---- 5. and 6. bad input does not look like success ----------------------------------------------


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Replayed" not in result.stderr and "decisions above" not in result.stderr
    return lines[0]


def test_a_missing_recording_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    line = _one_error_line(run_cli("replay", tmp_path / "nope.jsonl", "--config", CONFIG))
    assert line.endswith("nope.jsonl: does not exist; name a recording file (.jsonl or .jsonl.gz)")


def test_a_directory_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    line = _one_error_line(run_cli("replay", tmp_path, "--config", CONFIG))
    assert "is a directory, not a recording" in line


@pytest.mark.parametrize("zipped", [False, True])
def test_a_binary_file_is_one_error_line_and_exit_2(tmp_path: Path, zipped: bool) -> None:
    data = bytes(range(256)) * 8
    path = tmp_path / "photo.jpg"
    path.write_bytes(gzip.compress(data) if zipped else data)
    line = _one_error_line(run_cli("replay", path, "--config", CONFIG))
    assert "photo.jpg, line 1: holds binary data, not a recording" in line


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_recording_exits_2_saying_it_is_empty(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    line = _one_error_line(run_cli("replay", path, "--config", CONFIG, "--json"))
    assert line.endswith("empty.jsonl: the recording is empty")


def test_an_account_that_never_appears_is_warned_about_listing_the_accounts_that_do() -> None:
    result = run_cli("replay", SAMPLE_DAY, "--config", SAMPLE_CONFIG, "--account", "99", "--summary")
    assert result.returncode == 0
    assert "warning: account 99 does not appear in sample-day.jsonl.gz; accounts in it: 7, 8" in result.stderr


def test_a_malformed_line_after_good_ones_says_which_lines_the_output_covers() -> None:
    result = run_cli("replay", DATA / "bad-line.jsonl", "--config", CONFIG)
    assert result.returncode == 2
    assert "the output above covers lines 1 to 5, before that line" in result.stderr


def test_the_demo_replay_fits_an_80_column_terminal_too() -> None:
    result = run_cli("demo", "--replay", columns=80)
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "…" not in result.stdout


# ---- the state at the end is the read model (AccountStatus) ---------------------------------------


def test_json_with_summary_prints_one_line_with_each_accounts_status_at_the_end() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json", "--summary")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    summary = orjson.loads(line)["summary"]
    assert (summary["lines"], summary["last_t"]) == (14, "2026-03-02T14:43:00.000Z")
    assert summary["decisions_per_rule"]["RULE-003"] == 3
    (account,) = summary["accounts"]
    assert account["account_id"] == 7 and account["trading_state"] == "halted"
    assert (account["realized"], account["costs"], account["net"]) == ("-500.00", "4.44", "-504.44")
    assert account["connection"] == "replay" and account["next_reset"] == UNTIL_RESET.replace("Z", ".000Z")
    (gauge,) = account["gauges"]
    assert (gauge["rule"], gauge["value"], gauge["limit"], gauge["breached"]) == (
        "RULE-003",
        "-504.44",
        "-500.00",
        True,
    )
    assert [(lk["rule"], lk["until"]) for lk in account["lockouts"]] == [
        ("RULE-003", "2026-03-02T23:00:00.000Z"),
        ("RULE-007", "2026-03-02T14:57:00.000Z"),
    ]


def test_json_without_summary_still_prints_only_decision_lines() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json")
    assert result.returncode == 0, result.stderr
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 9 and all("action" in r and "summary" not in r for r in records)


def test_open_positions_at_the_end_show_the_last_price_and_unrealized_pnl(tmp_path: Path) -> None:
    # The day's first four lines: account, the opening trade, long 2 MNQ at 21000.25, a quote at 20963.
    recording = tmp_path / "open.jsonl"
    recording.write_text("".join(DAY.read_text().splitlines(keepends=True)[:4]))
    human = run_cli("replay", recording, "--config", CONFIG, "--summary")
    assert human.returncode == 0, human.stderr
    assert "Unrealized" in human.stdout
    row = next(line for line in human.stdout.splitlines() if "CON.F.US.MNQ.H26" in line)
    assert [cell.strip() for cell in row.split("│")[3:7]] == ["+2", "21000.25", "20963.0", "-149.00"]
    as_json = run_cli("replay", recording, "--config", CONFIG, "--summary", "--json")
    (position,) = orjson.loads(as_json.stdout)["summary"]["accounts"][0]["positions"]
    assert (position["size"], position["mark"], position["unrealized"]) == (2, "20963.0", "-149.00")
