"""`risk-manager replay` and `risk-manager demo` run as a user runs them: a real process, real files.

The recordings and configs are under tests/data/replay/ (hand-made, small enough to check by eye):

day.jsonl, with config/ (RULE-003 at -500 incl. fees, RULE-007 tiers -100 -> 5m, -200 -> 15m):
  14:31 a -150 closing trade -> RULE-007 cooldown to 14:36; 14:32 an order while locked -> LOCKOUT
  cancel; the cooldown ends at 14:36 (between two lines); 14:42 a -350 trade -> day P&L -504.44:
  RULE-003 flatten + cancel + lock until the 17:00 CT reset (23:00Z), and RULE-007 15-minute cooldown.
  The last line is at 14:43, so the 14:57 and 23:00 unlocks are pending at the end.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "replay"
DAY = DATA / "day.jsonl"
CONFIG = DATA / "config"


def run_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.strip()]


# Every decision on day.jsonl, in decision order, with the numbers its reason must state.
# Everything but the reason wording is compared exactly, key order included (FORMATS.md).
COOLDOWN_1 = "-150.00"
DAILY = "-504.44"
COOLDOWN_2 = "-350.00"
EXPECTED_UNTIL_LAST_LINE: list[tuple[dict[str, Any], str]] = [
    (
        {"t": "2026-03-02T14:31:00.000Z", "account": 7, "rule": "RULE-007", "action": "cancel_orders"},
        COOLDOWN_1,
    ),
    (
        {
            "t": "2026-03-02T14:31:00.000Z",
            "account": 7,
            "rule": "RULE-007",
            "action": "lockout",
            "scope": "account",
            "until": "2026-03-02T14:36:00.000Z",
        },
        COOLDOWN_1,
    ),
    (
        {
            "t": "2026-03-02T14:32:00.000Z",
            "account": 7,
            "rule": "LOCKOUT",
            "action": "cancel_orders",
            "contract": "CON.F.US.MNQ.H26",
        },
        "order 57",
    ),
    # At the cooldown's due time, not at the next line's 14:40 (FORMATS.md: timers fire at their time).
    (
        {
            "t": "2026-03-02T14:36:00.000Z",
            "account": 7,
            "rule": "RULE-007",
            "action": "unlock",
            "scope": "account",
        },
        COOLDOWN_1,
    ),
    ({"t": "2026-03-02T14:42:00.000Z", "account": 7, "rule": "RULE-003", "action": "flatten"}, DAILY),
    ({"t": "2026-03-02T14:42:00.000Z", "account": 7, "rule": "RULE-003", "action": "cancel_orders"}, DAILY),
    (
        {
            "t": "2026-03-02T14:42:00.000Z",
            "account": 7,
            "rule": "RULE-003",
            "action": "lockout",
            "scope": "account",
            "until": "2026-03-02T23:00:00.000Z",
        },
        DAILY,
    ),
    (
        {"t": "2026-03-02T14:42:00.000Z", "account": 7, "rule": "RULE-007", "action": "cancel_orders"},
        COOLDOWN_2,
    ),
    (
        {
            "t": "2026-03-02T14:42:00.000Z",
            "account": 7,
            "rule": "RULE-007",
            "action": "lockout",
            "scope": "account",
            "until": "2026-03-02T14:57:00.000Z",
        },
        COOLDOWN_2,
    ),
]
PENDING_AT_END: list[tuple[dict[str, Any], str]] = [
    (
        {
            "t": "2026-03-02T14:57:00.000Z",
            "account": 7,
            "rule": "RULE-007",
            "action": "unlock",
            "scope": "account",
        },
        COOLDOWN_2,
    ),
    # the lockout belongs to the closing day: it ends before the reset starts the next one
    (
        {
            "t": "2026-03-02T23:00:00.000Z",
            "account": 7,
            "rule": "RULE-003",
            "action": "unlock",
            "scope": "account",
        },
        DAILY,
    ),
    (
        {
            "t": "2026-03-02T23:00:00.000Z",
            "account": 7,
            "rule": "RESET",
            "action": "alert",
            "level": "info",
            "message": "daily reset: trading day 2026-03-03 begins; 2026-03-02 closed with realized P&L "
            "-500.00 and fees + commissions 4.44",
        },
        "",
    ),
]


def assert_decisions(got: list[dict[str, Any]], expected: list[tuple[dict[str, Any], str]]) -> None:
    without_reason = [{k: v for k, v in line.items() if k != "reason"} for line in got]
    assert without_reason == [line for line, _ in expected]
    for line, (want, number) in zip(got, expected, strict=True):
        assert list(line)[: len(want)] == list(want), "fields must come in FORMATS.md order"
        if number:
            assert list(line)[-1] == "reason" and number in line["reason"], line


# ---- --json ---------------------------------------------------------------------------------


def test_json_output_is_one_formats_md_line_per_decision_in_decision_order() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json")
    assert result.returncode == 0, result.stderr
    assert_decisions(json_lines(result.stdout), EXPECTED_UNTIL_LAST_LINE)


def test_without_until_timers_due_after_the_last_line_do_not_fire() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json")
    kinds = [(d["rule"], d["action"]) for d in json_lines(result.stdout)]
    assert ("RULE-003", "unlock") not in kinds
    assert kinds.count(("RULE-007", "unlock")) == 1  # only the 14:36 one, before the last line


def test_until_runs_the_clock_and_fires_each_pending_deadline_at_its_own_time() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json", "--until", "2026-03-02T23:00:00Z")
    assert result.returncode == 0, result.stderr
    assert_decisions(json_lines(result.stdout), EXPECTED_UNTIL_LAST_LINE + PENDING_AT_END)


def test_until_before_a_deadline_fires_only_what_is_due_by_then() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json", "--until", "2026-03-02T16:00:00-06:00")
    assert result.returncode == 0, result.stderr
    assert_decisions(json_lines(result.stdout), EXPECTED_UNTIL_LAST_LINE + PENDING_AT_END[:1])


def test_until_earlier_than_the_last_line_changes_nothing_and_says_so() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--json", "--until", "2026-03-02T14:00:00Z")
    assert result.returncode == 0
    assert_decisions(json_lines(result.stdout), EXPECTED_UNTIL_LAST_LINE)
    assert "before the recording's last line" in result.stderr


def test_a_gzip_recording_gives_the_same_output_as_the_plain_one() -> None:
    plain = run_cli("replay", DAY, "--config", CONFIG, "--json")
    zipped = run_cli("replay", DATA / "day.jsonl.gz", "--config", CONFIG, "--json")
    assert zipped.returncode == 0, zipped.stderr
    assert zipped.stdout == plain.stdout
    assert gzip.decompress((DATA / "day.jsonl.gz").read_bytes()) == DAY.read_bytes()


def test_account_filter_shows_only_that_accounts_decisions(tmp_path: Path) -> None:
    # The same story for account 9, an hour later.
    other = DAY.read_text().replace('"accountId": 7', '"accountId": 9').replace('"id": 7,', '"id": 9,')
    both = tmp_path / "two-accounts.jsonl"
    both.write_text(DAY.read_text() + other.replace('"t": "2026-03-02T14:', '"t": "2026-03-02T15:'))
    everything = json_lines(run_cli("replay", both, "--config", CONFIG, "--json").stdout)
    assert {d["account"] for d in everything} == {7, 9}
    only = run_cli("replay", both, "--config", CONFIG, "--json", "--account", "9")
    assert only.returncode == 0, only.stderr
    assert json_lines(only.stdout) == [d for d in everything if d["account"] == 9]


def test_a_line_earlier_than_the_one_before_is_replayed_at_the_previous_time(tmp_path: Path) -> None:
    lines = DAY.read_text().splitlines()
    # The order at 14:32 arrives stamped 14:29: it is still cancelled, at 14:31:00.001 (the clock
    # does not run backwards), and the replay goes on.
    lines[6] = lines[6].replace('"t": "2026-03-02T14:32:00.000Z"', '"t": "2026-03-02T14:29:00.000Z"')
    path = tmp_path / "out-of-order.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("replay", path, "--config", CONFIG, "--json")
    assert result.returncode == 0, result.stderr
    cancel = [d for d in json_lines(result.stdout) if d["rule"] == "LOCKOUT"]
    assert [d["t"] for d in cancel] == ["2026-03-02T14:31:00.001Z"]


# ---- bad input ------------------------------------------------------------------------------


def test_a_malformed_line_exits_2_naming_the_line_after_printing_the_decisions_before_it() -> None:
    result = run_cli("replay", DATA / "bad-line.jsonl", "--config", CONFIG, "--json")
    assert result.returncode == 2
    assert "bad-line.jsonl, line 6: GatewayUserPosition: field 'accountId' is missing" in result.stderr
    # The decisions of lines 1-5 were made and printed; nothing after line 6 was replayed.
    assert_decisions(json_lines(result.stdout), EXPECTED_UNTIL_LAST_LINE[:2])


def test_a_malformed_line_in_table_mode_still_shows_the_decisions_before_it() -> None:
    result = run_cli("replay", DATA / "bad-line.jsonl", "--config", CONFIG)
    assert result.returncode == 2
    assert "line 6" in result.stderr
    assert result.stdout.count("RULE-007") >= 2 and "lockout" in result.stdout


def test_an_invalid_config_exits_2_with_the_config_error() -> None:
    result = run_cli("replay", DAY, "--config", DATA / "bad-config", "--json")
    assert result.returncode == 2
    assert (
        "risk_config.yaml:3: rules.daily_realized_loss.limit = 500: limit must be negative" in result.stderr
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("until", "message"),
    [("tomorrow", "is not an ISO-8601 time"), ("2026-03-02T23:00:00", "has no time zone; add Z for UTC")],
)
def test_a_bad_until_exits_2_explaining_the_format(until: str, message: str) -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--until", until)
    assert result.returncode == 2
    assert message in result.stderr


# ---- human output ---------------------------------------------------------------------------


def test_human_output_shows_times_in_the_display_zone_and_a_summary() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Monday 2026-03-02" in out
    assert "08:42:00.000 CST  acct 7  RULE-003  flatten" in out  # 14:42Z in Chicago time (CST, UTC-6)
    assert "Replayed 14 lines" in out
    assert "Decisions per rule" in out
    # Realized P&L of the day: -150 - 350 = -500.00, fees 4.44, net -504.44.
    assert "-500.00" in out and "4.44" in out and "-504.44" in out
    assert "Active lockouts at the end" in out and "RULE-003" in out
    assert "pass --until" in out


def test_human_output_with_until_ends_with_no_active_lockout() -> None:
    result = run_cli("replay", DAY, "--config", CONFIG, "--until", "2026-03-02T23:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "No active lockouts at the end" in result.stdout


# ---- demo -----------------------------------------------------------------------------------


def test_demo_replay_replays_the_shipped_sample_day_and_exits_0() -> None:
    result = run_cli("demo", "--replay")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Demo: replaying the sample trading day")
    assert "risk-manager replay FILE --config DIR" in result.stdout
    assert "Decisions per rule" in result.stdout


def test_demo_replay_json_tells_the_sample_days_story() -> None:
    result = run_cli("demo", "--replay", "--json")
    assert result.returncode == 0, result.stderr
    assert "Demo: replaying" in result.stderr  # the intro stays off stdout, which is pure JSON Lines
    decisions = json_lines(result.stdout)
    seen = {(d["account"], d["rule"], d["action"]) for d in decisions}
    for story in [
        (7, "RULE-001", "close_position"),  # max contracts breach reduced
        (8, "RULE-004", "close_position"),  # unrealized-loss limit closes the position
        (7, "RULE-007", "lockout"),  # a losing trade starts a cooldown
        (7, "LOCKOUT", "cancel_orders"),  # an order placed while locked is cancelled
        (8, "RULE-003", "flatten"),  # the daily loss limit flattens ...
        (8, "RULE-003", "lockout"),  # ... and locks until the reset
        (8, "LOCKOUT", "close_position"),  # a position opened while locked is closed
    ]:
        assert story in seen, story
    reduce = next(d for d in decisions if d["rule"] == "RULE-001" and d["action"] == "close_position")
    assert (reduce["contract"], reduce["size"]) == ("CON.F.US.EP.H26", 1)
    lock = next(d for d in decisions if (d["account"], d["rule"], d["action"]) == (8, "RULE-003", "lockout"))
    assert lock["until"] == "2026-03-02T23:00:00.000Z"
    unlock = [d for d in decisions if (d["account"], d["rule"], d["action"]) == (8, "RULE-003", "unlock")]
    assert [d["t"] for d in unlock] == ["2026-03-02T23:00:00.000Z"]  # the 17:00 CT reset unlocks


def test_the_shipped_sample_day_is_what_the_generator_makes() -> None:
    script = Path(__file__).resolve().parents[2] / "examples" / "make_sample_day.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "risk_manager" / "examples"


@pytest.mark.parametrize(
    "output",
    [
        ["--json"],
        ["--json", "--account", "8"],
        ["--json", "--rule", "RULE-003", "--rule", "RULE-007"],
        ["--json", "--summary"],
        [],
        ["--summary", "--account", "8"],
    ],
    ids=" ".join,
)
def test_a_replay_split_over_two_workers_prints_exactly_what_one_process_prints(output: list[str]) -> None:
    day, config = EXAMPLES / "sample-day.jsonl.gz", EXAMPLES / "sample-config"
    args = ["replay", day, "--config", config, "--until", "2026-03-03T00:00:00Z", *output]
    one = run_cli(*args, "--workers", "1")
    two = run_cli(*args, "--workers", "2")
    assert one.returncode == 0, one.stderr
    assert (two.returncode, two.stdout, two.stderr) == (one.returncode, one.stdout, one.stderr)
    assert one.stdout.strip()


def test_a_split_replay_stops_at_a_malformed_line_as_one_process_does(tmp_path: Path) -> None:
    lines = DAY.read_bytes().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(
        b"\n".join([*lines[:5], b'{"t": "2026-03-02T14:40:00Z", "hub": "user"}', *lines[5:]]) + b"\n"
    )
    one = run_cli("replay", broken, "--config", CONFIG, "--json", "--workers", "1")
    two = run_cli("replay", broken, "--config", CONFIG, "--json", "--workers", "2")
    assert one.returncode == 2
    assert "line 6" in one.stderr
    assert (two.returncode, two.stdout, two.stderr) == (one.returncode, one.stdout, one.stderr)


def test_a_replay_into_a_store_stays_in_one_process_even_when_workers_are_asked_for(tmp_path: Path) -> None:
    day, config = EXAMPLES / "sample-day.jsonl.gz", EXAMPLES / "sample-config"
    one = run_cli("replay", day, "--config", config, "--json", "--db", tmp_path / "one.db")
    two = run_cli("replay", day, "--config", config, "--json", "--workers", "2", "--db", tmp_path / "two.db")
    assert one.returncode == 0, one.stderr
    assert (two.returncode, two.stdout) == (one.returncode, one.stdout)
    assert (tmp_path / "two.db").stat().st_size == (tmp_path / "one.db").stat().st_size
