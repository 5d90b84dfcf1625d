"""LoadedConfig -> engine objects: Policy (RuleSets per account), TradingCalendar, ContractTable."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from config_samples import EXAMPLES, RISK_EXAMPLE, TIMERS_EXAMPLE, load

from risk_manager.domain.calendar import SessionWindow
from risk_manager.rules.registry import RULE_KEYS


def test_policy_gives_unlisted_accounts_the_risk_config_rules_in_rules_md_order() -> None:
    policy = load(EXAMPLES).policy()
    rule_set = policy.rules_for(555)
    assert rule_set is not None
    assert [rule.key for rule in rule_set.rules] == [
        "max_contracts", "max_contracts_per_instrument", "daily_realized_loss", "daily_unrealized_loss",
        "trade_frequency_limit", "cooldown_after_loss", "auth_loss_guard",
    ]
    assert [rule.id for rule in rule_set.rules] == ["RULE-001", "RULE-002", "RULE-003", "RULE-004",
                                                   "RULE-006", "RULE-007", "RULE-010"]
    assert rule_set.warn_at == (Decimal("0.5"), Decimal("0.75"), Decimal("0.9"))


def test_policy_gives_an_account_with_overrides_its_merged_rules() -> None:
    policy = load(EXAMPLES).policy()
    own = policy.rules_for(123456)
    assert own is not None
    loss = next(rule for rule in own.rules if rule.key == "daily_realized_loss")
    assert loss.config.limit == Decimal(-400)
    shared = policy.rules_for(555)
    assert shared is not None
    assert next(r for r in shared.rules if r.key == "daily_realized_loss").config.limit == Decimal(-500)


def test_policy_returns_none_for_unmonitored_accounts() -> None:
    accounts = "monitor: listed\naccounts:\n  - id: 1\n  - {id: 2, enabled: false}\n"
    policy = load({**EXAMPLES, "accounts.yaml": accounts}).policy()
    assert policy.rules_for(1) is not None
    assert policy.rules_for(2) is None
    assert policy.rules_for(3) is None


def test_policy_uses_configured_warning_levels() -> None:
    risk = RISK_EXAMPLE.replace("warn_at: [0.5, 0.75, 0.9]", "warn_at: [0.8]")
    rule_set = load({**EXAMPLES, "risk_config.yaml": risk}).policy().rules_for(1)
    assert rule_set is not None and rule_set.warn_at == (Decimal("0.8"),)


def test_every_one_of_the_13_rules_can_be_built_and_describes_itself() -> None:
    text = "rules:\n" + "".join(f"  {key}: {{enabled: true}}\n" for key in RULE_KEYS)
    text = text.replace("max_contracts_per_instrument: {enabled: true}",
                        "max_contracts_per_instrument: {enabled: true, default_limit: 2}")
    text = text.replace("symbol_blocks: {enabled: true}",
                        "symbol_blocks: {enabled: true, blocked_symbols: [RTY]}")
    rule_set = load({"risk_config.yaml": text, "timers.yaml": TIMERS_EXAMPLE}).policy().rules_for(1)
    assert rule_set is not None
    assert [rule.key for rule in rule_set.rules] == list(RULE_KEYS)
    for number, rule in enumerate(rule_set.rules, start=1):
        assert rule.id == f"RULE-{number:03d}"
        line = rule.describe()
        assert line.startswith(rule.id) and "\n" not in line


def test_calendar_takes_reset_sessions_and_holidays_from_timers() -> None:
    calendar = load(EXAMPLES).calendar()
    chicago = ZoneInfo("America/Chicago")
    assert (calendar.reset_time, calendar.reset_zone) == (time(17, 0), chicago)
    assert calendar.session == SessionWindow(time(8, 30), time(15, 0), chicago, frozenset({0, 1, 2, 3, 4}))
    assert calendar.per_symbol["ES"] == SessionWindow(time(17, 0), time(16, 0), chicago,
                                                      frozenset({6, 0, 1, 2, 3}))
    assert calendar.holidays.closed == frozenset({datetime(2026, 12, 25).date()})
    assert calendar.holidays.early_close == {datetime(2026, 11, 27).date(): time(12, 15)}
    assert calendar.cme_holidays is False


def test_calendar_reset_follows_the_configured_time_and_zone() -> None:
    timers = 'daily_reset: {time: "16:00", timezone: America/New_York}\n'
    calendar = load({"risk_config.yaml": RISK_EXAMPLE, "timers.yaml": timers}).calendar()
    # 2026-07-01 16:00 New York (EDT, UTC-4) is 20:00 UTC.
    noon = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert calendar.next_reset(noon) == datetime(2026, 7, 1, 20, 0, tzinfo=UTC)


def test_calendar_shows_times_in_the_general_timezone() -> None:
    risk = RISK_EXAMPLE.replace("timezone: America/Chicago", "timezone: Europe/London")
    calendar = load({**EXAMPLES, "risk_config.yaml": risk}).calendar()
    assert calendar.display_zone == ZoneInfo("Europe/London")
    assert calendar.reset_zone == ZoneInfo("America/Chicago")


def test_per_symbol_session_inherits_zone_and_days_from_session_hours() -> None:
    timers = (
        "session_hours:\n  start: \"08:30\"\n  end: \"15:00\"\n  timezone: America/New_York\n"
        "  days: [mon, wed]\n  per_symbol:\n    CLE: {start: \"18:00\", end: \"17:00\"}\n"
    )
    calendar = load({"risk_config.yaml": RISK_EXAMPLE, "timers.yaml": timers}).calendar()
    assert calendar.per_symbol["CL"] == SessionWindow(time(18, 0), time(17, 0), ZoneInfo("America/New_York"),
                                                      frozenset({0, 2}))


def test_calendar_cme_turns_on_the_exchange_calendar() -> None:
    pytest.importorskip("exchange_calendars")
    timers = TIMERS_EXAMPLE.replace("calendar: none", "calendar: CME")
    calendar = load({**EXAMPLES, "timers.yaml": timers}).calendar()
    assert calendar.cme_holidays is True


def test_contracts_apply_instrument_overrides_over_the_built_in_table() -> None:
    risk = RISK_EXAMPLE.replace(
        "MNQ: {tick_size: 0.25, tick_value: 0.5}",
        "MNQ: {tick_size: 0.25, tick_value: 0.75}\n  ZB: {tick_size: 0.03125, tick_value: 31.25}",
    )
    contracts = load({**EXAMPLES, "risk_config.yaml": risk}).contracts()
    mnq = contracts.for_contract("CON.F.US.MNQ.H26")
    assert mnq is not None and mnq.tick_value == Decimal("0.75")
    zb = contracts.for_root("ZB")
    assert zb is not None and zb.point_value == Decimal(1000)
    es = contracts.for_root("ES")
    assert es is not None and es.tick_value == Decimal("12.50")  # untouched built-in


def test_loading_twice_gives_equal_configs() -> None:
    first, second = load(EXAMPLES), load(EXAMPLES)
    assert first == second
