"""risk_config.yaml: CONFIG.md's example loads; every error names file, line, key path, value and fix."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from config_samples import ENV, EXAMPLES, RISK_EXAMPLE, TIMERS_EXAMPLE, issues, line_of, load, only_risk

from risk_manager.config.yaml_source import parse_yaml
from risk_manager.domain.values import Duration
from risk_manager.rules.registry import RULE_KEYS, rule_class


def test_config_md_example_loads_with_the_settings_it_spells_out() -> None:
    config = load(EXAMPLES)
    rules = config.risk.rules
    assert [key for key, _ in rules.enabled()] == [
        "max_contracts", "max_contracts_per_instrument", "daily_realized_loss", "daily_unrealized_loss",
        "trade_frequency_limit", "cooldown_after_loss", "auth_loss_guard",
    ]
    loss = rules.get("daily_realized_loss")
    assert loss is not None and loss.limit == Decimal(-500)  # type: ignore[attr-defined]
    assert config.risk.general.warn_at == (Decimal("0.5"), Decimal("0.75"), Decimal("0.9"))
    assert config.risk.instruments["MNQ"].tick_value == Decimal("0.5")
    assert config.risk.general.notifications.email is not None
    assert config.risk.general.notifications.email.from_ == "rm@example.com"


def test_risk_config_with_only_rules_gets_the_documented_general_defaults() -> None:
    config = load(only_risk("rules:\n  auth_loss_guard: {enabled: true}\n"))
    general = config.risk.general
    assert general.timezone == "America/Chicago"
    assert general.warn_at == (Decimal("0.5"), Decimal("0.75"), Decimal("0.9"))
    assert general.notifications.discord_webhook is None
    assert config.risk.instruments == {}


def test_an_empty_risk_config_loads_with_every_rule_disabled() -> None:
    config = load(only_risk(""))
    assert config.risk.rules.enabled() == []


def test_a_rule_missing_from_rules_is_disabled() -> None:
    config = load(only_risk("rules:\n  daily_realized_loss: {enabled: true, limit: -400}\n"))
    assert [key for key, _ in config.risk.rules.enabled()] == ["daily_realized_loss"]
    assert config.risk.rules.get("max_contracts") is None


def test_rule_settings_left_out_take_the_rule_defaults() -> None:
    config = load(only_risk("rules:\n  trade_frequency_limit: {enabled: true}\n"))
    frequency = config.risk.rules.get("trade_frequency_limit")
    assert frequency is not None
    assert (frequency.per_minute, frequency.per_hour, frequency.per_session) == (3, 10, 50)  # type: ignore[attr-defined]
    assert frequency.cooldowns.per_hour == Duration(seconds=1800)  # type: ignore[attr-defined]


def test_wrong_sign_of_a_loss_limit_reads_like_the_documented_message() -> None:
    text = RISK_EXAMPLE.replace("limit: -500", "limit: 500")
    errors = issues({**EXAMPLES, "risk_config.yaml": text})
    assert [str(e) for e in errors] == [
        "risk_config.yaml:14: rules.daily_realized_loss.limit = 500: "
        "limit must be negative (a loss), e.g. -500"
    ]
    [error] = errors
    assert (error.file, error.line, error.path, error.value) == (
        "risk_config.yaml", 14, "rules.daily_realized_loss.limit", "500")


def test_negative_profit_target_is_an_error() -> None:
    [error] = issues(only_risk("rules:\n  daily_realized_profit: {enabled: true, target: -100}\n"))
    assert (error.line, error.path, error.value) == (2, "rules.daily_realized_profit.target", "-100")
    assert "positive" in error.message


def test_contract_limit_must_be_a_positive_whole_number() -> None:
    errors = issues(only_risk("rules:\n  max_contracts: {enabled: true, limit: 0}\n"
                              "  max_contracts_per_instrument: {enabled: true, default_limit: 2.5}\n"))
    assert [(e.line, e.path) for e in errors] == [
        (2, "rules.max_contracts.limit"), (3, "rules.max_contracts_per_instrument.default_limit")]


def test_unknown_key_inside_a_rule_is_an_error_on_its_line_with_a_suggestion() -> None:
    text = RISK_EXAMPLE.replace("limit: -300, price_source", "limt: -300, price_source")
    [error] = issues({**EXAMPLES, "risk_config.yaml": text})
    assert error.line == line_of(RISK_EXAMPLE, "daily_unrealized_loss:")
    assert error.path == "rules.daily_unrealized_loss.limt"
    assert "unknown key 'limt': did you mean 'limit'?" in error.message


def test_unknown_rule_name_is_an_error_that_lists_the_rules() -> None:
    [error] = issues(only_risk("rules:\n  auth_loss_guard: {enabled: true}\n  daily_los: {enabled: true}\n"))
    assert (error.line, error.path) == (3, "rules.daily_los")
    assert "unknown rule 'daily_los'" in error.message
    assert "daily_realized_loss" in error.message


def test_unknown_top_level_key_is_an_error() -> None:
    [error] = issues(only_risk("rule:\n  auth_loss_guard: {enabled: true}\n"))
    assert (error.line, error.path) == (1, "rule")
    assert "did you mean 'rules'?" in error.message


def test_unknown_key_in_general_is_an_error() -> None:
    [error] = issues(only_risk("general:\n  time_zone: UTC\n"))
    assert (error.line, error.path) == (2, "general.time_zone")
    assert "did you mean 'timezone'?" in error.message


@pytest.mark.parametrize("key", RULE_KEYS)
def test_every_rule_rejects_unknown_keys(key: str) -> None:
    [error] = issues(only_risk(f"rules:\n  {key}:\n    enabled: false\n    no_such_setting: 1\n"))
    assert (error.line, error.path) == (4, f"rules.{key}.no_such_setting")
    assert "unknown key" in error.message


@pytest.mark.parametrize("key", RULE_KEYS)
def test_every_rule_of_the_config_md_example_loads_when_enabled_on_its_own(key: str) -> None:
    example = parse_yaml(RISK_EXAMPLE, "risk_config.yaml", ENV).data
    settings = {**example["rules"][key], "enabled": True}
    text = yaml.safe_dump({"rules": {key: settings}})
    config = load({"risk_config.yaml": text, "timers.yaml": TIMERS_EXAMPLE})
    [(loaded_key, rule_config)] = config.risk.rules.enabled()
    assert loaded_key == key
    assert type(rule_config) is rule_class(key).config_model


def test_enabled_must_be_a_boolean() -> None:
    [error] = issues(only_risk("rules:\n  auth_loss_guard: {enabled: maybe}\n"))
    assert (error.path, error.value) == ("rules.auth_loss_guard.enabled", "maybe")
    assert error.message == "must be true or false"


def test_bad_duration_names_the_value_and_the_accepted_forms() -> None:
    text = RISK_EXAMPLE.replace("per_hour: 30m", "per_hour: 30 minutes")
    [error] = issues({**EXAMPLES, "risk_config.yaml": text})
    assert error.line == line_of(RISK_EXAMPLE, "cooldowns:")
    assert (error.path, error.value) == ("rules.trade_frequency_limit.cooldowns.per_hour", "30 minutes")
    assert "30s, 15m, 1h" in error.message and "until_reset" in error.message


def test_error_inside_a_list_item_names_the_item_index() -> None:
    text = RISK_EXAMPLE.replace("{loss: -200, cooldown: 15m}", "{loss: 200, cooldown: 15m}")
    [error] = issues({**EXAMPLES, "risk_config.yaml": text})
    assert error.path == "rules.cooldown_after_loss.tiers[1].loss"
    assert error.value == "200"
    assert error.line == line_of(RISK_EXAMPLE, "tiers:")


def test_bad_time_zone_in_general_is_an_error_with_an_example() -> None:
    [error] = issues(only_risk("general:\n  timezone: Chicago\n"))
    assert (error.line, error.path, error.value) == (2, "general.timezone", "Chicago")
    assert "America/Chicago" in error.message


def test_warn_at_levels_must_be_fractions_between_zero_and_one() -> None:
    [error] = issues(only_risk("general:\n  warn_at: [0.5, 75]\n"))
    assert (error.path, error.value) == ("general.warn_at[1]", "75")
    assert "between 0 and 1" in error.message


def test_warn_at_is_sorted_and_may_be_empty() -> None:
    assert load(only_risk("general:\n  warn_at: [0.9, 0.5]\n")).risk.general.warn_at == (
        Decimal("0.5"), Decimal("0.9"))
    assert load(only_risk("general:\n  warn_at: []\n")).risk.general.warn_at == ()


def test_instrument_override_needs_positive_tick_size_and_value() -> None:
    text = "instruments:\n  MNQ: {tick_size: 0, tick_value: 0.5}\n  ZZ: {tick_size: 0.1}\n"
    errors = issues(only_risk(text))
    assert [(e.line, e.path) for e in errors] == [
        (2, "instruments.MNQ.tick_size"), (3, "instruments.ZZ.tick_value")]
    assert "required setting is missing" in errors[1].message


def test_product_code_aliases_name_the_same_root() -> None:
    config = load(only_risk("instruments:\n  ENQ: {tick_size: 0.25, tick_value: 5}\n"
                            "rules:\n  symbol_blocks: {enabled: true, blocked_symbols: [CLE]}\n"))
    assert "NQ" in config.risk.instruments
    blocks = config.risk.rules.get("symbol_blocks")
    assert blocks is not None and tuple(blocks.blocked_symbols) == ("CL",)  # type: ignore[attr-defined]


def test_all_errors_of_a_file_are_reported_in_line_order() -> None:
    text = (
        "general:\n  timezone: Nowhere/Land\n"
        "rules:\n"
        "  max_contracts: {enabled: true, limit: -1}\n"
        "  daily_realized_loss: {enabled: true, limit: 100}\n"
        "  bogus_rule: {}\n"
    )
    errors = issues(only_risk(text))
    assert [e.line for e in errors] == [2, 4, 5, 6]


def test_within_rule_check_per_minute_per_hour_per_session_is_reported_at_the_rule() -> None:
    [error] = issues(only_risk("rules:\n  trade_frequency_limit:\n    enabled: true\n"
                               "    per_minute: 5\n    per_hour: 4\n"))
    assert (error.line, error.path) == (2, "rules.trade_frequency_limit")
    assert "per_minute" in error.message and "per_hour" in error.message


def test_within_rule_check_trailing_activation_at_least_breakeven_trigger() -> None:
    text = (
        "rules:\n  trade_management:\n    enabled: true\n"
        "    breakeven: {enabled: true, trigger_ticks: 30, offset_ticks: 1}\n"
        "    trailing: {enabled: true, activation_ticks: 20, distance_ticks: 10}\n"
    )
    errors = issues(only_risk(text))
    assert errors, "activation_ticks < trigger_ticks must be rejected"
    assert all(e.path.startswith("rules.trade_management") for e in errors)
    assert any("activation_ticks" in e.message for e in errors)


def test_missing_env_var_for_a_notification_is_an_error_and_not_a_second_url_error() -> None:
    env = {k: v for k, v in ENV.items() if k != "DISCORD_WEBHOOK_URL"}
    [error] = issues(EXAMPLES, env)
    assert (error.file, error.line) == ("risk_config.yaml", 5)
    assert error.path == "general.notifications.discord_webhook"
    assert "DISCORD_WEBHOOK_URL is not set" in error.message


def test_env_var_can_supply_a_number() -> None:
    text = "rules:\n  daily_realized_loss: {enabled: true, limit: '${LOSS}'}\n"
    config = load(only_risk(text), {"LOSS": "-750"})
    rule = config.risk.rules.get("daily_realized_loss")
    assert rule is not None and rule.limit == Decimal(-750)  # type: ignore[attr-defined]


def test_secrets_never_appear_in_errors() -> None:
    text = (
        "general:\n  notifications:\n    discord_webhook: not-a-url-SECRET\n"
        "    telegram: {bot_token: 5, chat: 1}\n"
    )
    errors = issues(only_risk(text))
    rendered = "\n".join(str(e) for e in errors)
    assert "SECRET" not in rendered
    assert "general.notifications.discord_webhook = ***: must be a URL" in rendered


def test_settings_without_enabled_load_but_warn_that_the_rule_is_off() -> None:
    config = load(only_risk("rules:\n  daily_realized_loss: {limit: -400}\n"))
    assert config.risk.rules.enabled() == []
    [warning] = config.warnings
    assert (warning.severity, warning.line, warning.path) == ("warning", 2, "rules.daily_realized_loss")
    assert "enabled: true" in warning.message
