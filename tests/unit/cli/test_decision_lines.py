"""The human output of `risk-manager replay` (cli/replay_view.py) is written without rich's per-line
machinery, for speed: these tests pin that it is character for character what printing each line
through rich's ``console.print`` gives — piped, and on terminals of every colour system — for a
variety of decisions, widths and texts, and that ``wrapped`` is textwrap's wrapping.
"""

from __future__ import annotations

import io
import textwrap
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from risk_manager.cli.replay_cmd import ReplayReport
from risk_manager.cli.replay_view import (
    INDENT,
    STYLES,
    WIDE_PAGE,
    DecisionLines,
    StyledLines,
    describe_target,
    local_time,
    wide_tables,
    wrapped,
)
from risk_manager.domain.actions import (
    Action,
    Alert,
    CancelOrders,
    ClosePosition,
    Flatten,
    LockAccount,
    ModifyStop,
    PlaceStop,
    Unlock,
)

CHICAGO = ZoneInfo("America/Chicago")
UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 08:30 CST
LONG = (
    "RULE-007 lockout ended (its time ran out); it began 2026-03-02 10:03:28 CST (loss -187.50 on "
    "trade 90011 <= tier -100.00: cooldown 5m); still locked by RULE-003 until 2026-03-02 17:00:00 CST"
)


def textwrap_wrapped(
    text: str, width: int, indent: str = INDENT, first_indent: str | None = None
) -> list[str]:
    """``wrapped`` as it was: textwrap for every line."""
    return textwrap.wrap(
        text,
        width=max(width, len(indent) + 10),
        initial_indent=indent if first_indent is None else first_indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def printed_by_rich(console: Console, zone: ZoneInfo, decisions: list[tuple[datetime, Action]]) -> None:
    """The decision lines as they were printed before: each line a rich Text through console.print."""
    current: date | None = None
    for t, action in decisions:
        day = t.astimezone(zone).date()
        if day != current:
            current = day
            console.print(Text(day.strftime("%A %Y-%m-%d"), style="bold"), soft_wrap=True)
        parts = (
            local_time(t, zone, with_date=False, millis=True),
            f"acct {action.account_id}",
            action.rule,
            action.kind,
            describe_target(action, zone, day),
        )
        head = "  ".join(part for part in parts if part)
        for n, line in enumerate(textwrap_wrapped(head, console.width, first_indent="")):
            text = Text(line)
            if n == 0:
                start = line.find(f"  {action.kind}")
                if start >= 0 and action.kind in STYLES:
                    text.stylize(STYLES[action.kind], start + 2, start + 2 + len(action.kind))
            console.print(text, soft_wrap=True)
        reason = action.reason or getattr(action, "message", "") or ""
        if reason:
            for line in textwrap_wrapped(reason, console.width):
                console.print(Text(line), soft_wrap=True)


def console_for(kind: str, width: int) -> Console:
    """A console writing to memory: piped (no styles), or a terminal of a colour system."""
    buffer = io.StringIO()
    if kind == "piped":
        return Console(file=buffer, width=width)
    if kind == "no_color":
        return Console(file=buffer, width=width, force_terminal=True, color_system="truecolor", no_color=True)
    if kind == "legacy_windows":
        return Console(
            file=buffer, width=width, force_terminal=True, color_system="windows", legacy_windows=True
        )
    return Console(file=buffer, width=width, force_terminal=True, color_system=kind)  # type: ignore[arg-type]


def both(
    kind: str, width: int, decisions: list[tuple[datetime, Action]], zone: ZoneInfo = CHICAGO
) -> tuple[str, str]:
    """(this module's output, rich's output) for the same decisions on the same kind of console."""
    fast, slow = console_for(kind, width), console_for(kind, width)
    DecisionLines(fast, zone).print_all(decisions)
    printed_by_rich(slow, zone, decisions)
    return fast.file.getvalue(), slow.file.getvalue()  # type: ignore[attr-defined]


def a_day_of_decisions() -> list[tuple[datetime, Action]]:
    """Every kind of action, targets of every shape, reasons short and long, a date change."""
    mnq = "CON.F.US.MNQ.H26"
    actions: list[Action] = [
        Alert(
            account_id=7, rule="RULE-002", reason="4 of 4 MNQ contracts, 100% of the limit", level="warning"
        ),
        Alert(account_id=7, rule="RULE-004", reason=None, level="critical", message="only a message"),
        ClosePosition(
            account_id=7, rule="RULE-001", reason="open contracts 6 > limit 5", contract_id=mnq, size=1
        ),
        ClosePosition(account_id=8, rule="RULE-004", reason="unrealized -300.00 <= limit", contract_id=mnq),
        ClosePosition(account_id=8, rule="RULE-004", reason="odd id", contract_id="NOT-A-CONTRACT"),
        Flatten(account_id=8, rule="RULE-003", reason="day P&L -507.00 <= limit -500.00"),
        CancelOrders(account_id=8, rule="RULE-011", reason="RTY is blocked", symbol="RTY"),
        CancelOrders(account_id=8, rule="RULE-006", reason="all of them", contract_id=mnq),
        LockAccount(account_id=8, rule="RULE-003", reason="day P&L", until=T0 + timedelta(hours=8)),
        LockAccount(account_id=8, rule="RULE-007", reason="cooldown", until=T0 + timedelta(days=1, hours=1)),
        LockAccount(account_id=9, rule="RULE-010", reason="auth", condition="canTrade=false"),
        LockAccount(account_id=9, rule="RULE-011", reason="blocked", scope="symbol", symbol="RTY"),
        Unlock(account_id=8, rule="RULE-007", reason=LONG),
        PlaceStop(
            account_id=12,
            rule="RULE-012",
            reason="no stop",
            contract_id=mnq,
            stop_price=Decimal("20990.25"),
            side=1,
            size=2,
        ),
        ModifyStop(
            account_id=51,
            rule="RULE-012",
            contract_id=mnq,
            order_id=5,
            stop_price=Decimal("21001.50"),
            reason="CON.F.US.MNQ.H26 +1: best 21010.0 is 40 ticks from entry 21000.0: "
            "breakeven stop 21001.50",
        ),
        Alert(account_id=123456789, rule="ENGINE", reason=LONG + " " + "x" * 150),
        Alert(account_id=7, rule="INPUT", reason="tabs\there, a bell\x07, a\r\nnew line, and   spaces   "),
        Alert(account_id=7, rule="INPUT", reason="wide 日本語 and é accents, then \x1b[31mescape\x1b[0m"),
        Alert(account_id=7, rule="INPUT", reason="   "),
    ]
    times = [T0 + timedelta(minutes=40 * n, milliseconds=7 * n) for n in range(len(actions))]
    times[1] = times[0]  # two decisions at the same instant
    return list(zip(times, actions, strict=True))


DECISIONS = a_day_of_decisions()


@pytest.mark.parametrize("kind", ["piped", "standard", "256", "truecolor", "no_color", "legacy_windows"])
@pytest.mark.parametrize("width", [12, 40, 80, 180])
def test_decision_lines_are_what_rich_prints_line_by_line(kind: str, width: int) -> None:
    fast, slow = both(kind, width, DECISIONS)
    assert fast == slow


@pytest.mark.parametrize("kind", ["piped", "truecolor", "legacy_windows"])
def test_held_decision_lines_reach_the_console_only_when_flushed_and_then_unchanged(kind: str) -> None:
    days = [(t + timedelta(days=n), action) for n in range(300) for t, action in DECISIONS]  # many blocks
    held = console_for(kind, 80)
    lines = DecisionLines(held, CHICAGO, hold=True)
    for t, action in days:
        lines.add(t, action)
    assert held.file.getvalue() == ""  # type: ignore[attr-defined]
    lines.flush()
    reference = console_for(kind, 80)
    printed_by_rich(reference, CHICAGO, days)
    assert held.file.getvalue() == reference.file.getvalue()  # type: ignore[attr-defined]


def test_a_replay_report_with_decision_lines_renders_the_decisions_it_shows_instead_of_keeping_them() -> None:
    console = console_for("piped", 100)
    report = ReplayReport(lines=DecisionLines(console, CHICAGO, hold=True))
    for t, action in DECISIONS:
        report.add(t, action, keep=action.rule != "INPUT")
    assert report.decisions == [] and report.shown == len(DECISIONS) - 3
    assert report.per_rule["INPUT"] == 3
    report.lines.flush()  # type: ignore[union-attr]
    assert "RULE-002" in console.file.getvalue() and "INPUT" not in console.file.getvalue()  # type: ignore[attr-defined]


def test_on_a_terminal_the_action_is_coloured_with_richs_codes_and_the_date_is_bold() -> None:
    fast, _ = both("standard", 120, DECISIONS)
    assert "\x1b[1mMonday 2026-03-02\x1b[0m\n" in fast
    assert "  \x1b[31mflatten\x1b[0m" in fast and "  \x1b[33mclose_position\x1b[0m  MNQ H26 size 1" in fast


def test_piped_decision_lines_carry_no_escape_codes_but_those_in_the_text() -> None:
    fast, _ = both("piped", 180, DECISIONS)
    assert fast.count("\x1b[") == 2  # the two written into a reason above
    assert "08:30:00.000 CST  acct 7  RULE-002  alert  warning\n    4 of 4 MNQ contracts" in fast


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=120)
    | st.text(alphabet=" \t\n\r\x0b\x0c\x07ab-", max_size=40),
    width=st.integers(min_value=0, max_value=200),
    indent=st.sampled_from(["", "  ", INDENT, "      "]),
    first=st.sampled_from([None, "", "> "]),
)
def test_wrapped_is_textwraps_wrapping(text: str, width: int, indent: str, first: str | None) -> None:
    assert wrapped(text, width, indent, first) == textwrap_wrapped(text, width, indent, first)


@settings(max_examples=100, deadline=None)
@given(
    reason=st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    contract=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
    rule=st.text(alphabet=st.characters(codec="utf-8"), max_size=10),
    width=st.integers(min_value=1, max_value=160),
    kind=st.sampled_from(["piped", "standard", "truecolor"]),
)
def test_any_text_in_a_decision_prints_as_rich_prints_it(
    reason: str, contract: str, rule: str, width: int, kind: str
) -> None:
    decisions: list[tuple[datetime, Action]] = [
        (T0, ClosePosition(account_id=1, rule=rule, reason=reason, contract_id=contract)),
        (T0, Flatten(account_id=1, rule=rule, reason=reason)),
    ]
    fast, slow = both(kind, width, decisions)
    assert fast == slow


class WritesRecorded(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@settings(max_examples=300, deadline=None)
@given(
    t=st.datetimes(timezones=st.just(UTC)),
    zone=st.sampled_from([CHICAGO, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Lord_Howe"), UTC_ZONE]),
    with_date=st.booleans(),
    millis=st.booleans(),
)
def test_local_time_is_the_strftime_of_the_local_time(
    t: datetime, zone: ZoneInfo, with_date: bool, millis: bool
) -> None:
    local = t.astimezone(zone)
    expected = local.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    if millis:
        expected += f".{local.microsecond // 1000:03d}"
    assert local_time(t, zone, with_date=with_date, millis=millis) == f"{expected} {local.strftime('%Z')}"


def test_styled_lines_reach_the_file_when_flushed_in_order_in_blocks_rich_would_write() -> None:
    file = WritesRecorded()
    out = StyledLines(Console(file=file, width=80))
    out.line("first")
    assert file.writes == []
    for n in range(5_000):
        out.line(f"line {n}")
    out.flush()
    assert file.getvalue() == "first\n" + "".join(f"line {n}\n" for n in range(5_000))
    assert len(file.writes) > 1 and max(map(len, file.writes)) <= StyledLines.BLOCK


def test_a_target_is_described_by_the_fields_its_action_has() -> None:
    day = T0.astimezone(CHICAGO).date()
    described = [describe_target(action, CHICAGO, day) for _, action in DECISIONS[:16]]
    assert described == [
        "warning",
        "critical",
        "MNQ H26 size 1",
        "MNQ H26 all",
        "NOT-A-CONTRACT all",
        "",
        "RTY",
        "MNQ H26",
        "until 16:30:00 CST",
        "until 2026-03-03 09:30:00 CST",
        "until canTrade=false clears",
        "RTY",
        "",
        "MNQ H26 stop 20990.25",
        "MNQ H26 stop 21001.50",
        "warning",
    ]


def test_wide_output_is_one_table_up_to_a_page_and_then_one_table_per_page() -> None:
    decisions = [(T0 + timedelta(seconds=n), DECISIONS[0][1]) for n in range(2 * WIDE_PAGE + 1)]
    pages = list(wide_tables(decisions, CHICAGO, "Decisions"))
    assert [page.row_count for page in pages] == [WIDE_PAGE, WIDE_PAGE, 1]
    assert [page.title for page in pages] == ["Decisions", None, None]
    shown = console_for("piped", 250)
    for page in pages:
        shown.print(page)
    rows = [line for line in shown.file.getvalue().splitlines() if "RULE-002" in line]  # type: ignore[attr-defined]
    assert len(rows) == len(decisions) and "08:30:00.000 CST" in rows[0] and "09:03:20.000 CST" in rows[-1]
