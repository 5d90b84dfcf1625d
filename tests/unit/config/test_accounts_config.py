"""accounts.yaml: who is monitored, per-account overrides deep-merged and validated per account."""

from __future__ import annotations

from decimal import Decimal

from config_samples import ACCOUNTS_EXAMPLE, EXAMPLES, RISK_EXAMPLE, issues, line_of, load

from risk_manager.config.loader import deep_merge


def limit(config: object) -> Decimal:
    value = config.limit  # type: ignore[attr-defined]
    assert isinstance(value, Decimal)
    return value


def test_config_md_accounts_example_overrides_one_limit_and_keeps_the_rest() -> None:
    config = load(EXAMPLES)
    own = config.rules_for(123456)
    assert own is not None
    assert limit(own.get("daily_realized_loss")) == Decimal(-400)
    # Deep merge: the rule's other settings still come from risk_config.yaml.
    loss = own.get("daily_realized_loss")
    assert loss is not None and loss.enabled and loss.include_unrealized  # type: ignore[attr-defined]
    assert own.get("max_contracts") == config.risk.rules.get("max_contracts")
    other = config.rules_for(999)
    assert other is not None and limit(other.get("daily_realized_loss")) == Decimal(-500)


def test_config_md_examples_together_are_rejected_because_the_day_limit_equals_the_position_limit() -> None:
    [error] = issues({**EXAMPLES, "accounts.yaml": ACCOUNTS_EXAMPLE})
    assert (error.file, error.line) == ("accounts.yaml", line_of(ACCOUNTS_EXAMPLE, "limit: -300"))
    assert "daily_unrealized_loss.limit (-300) must be above daily_realized_loss.limit (-300)" in (
        error.message)


def test_monitor_all_active_watches_unlisted_accounts_too() -> None:
    accounts = ACCOUNTS_EXAMPLE.replace("-300", "-400")
    config = load({"risk_config.yaml": RISK_EXAMPLE, "accounts.yaml": accounts})
    assert config.monitored(123456) and config.monitored(42)


def test_monitor_listed_watches_only_the_listed_enabled_accounts() -> None:
    text = "monitor: listed\naccounts:\n  - id: 1\n  - id: 2\n    enabled: false\n"
    config = load({"risk_config.yaml": RISK_EXAMPLE, "accounts.yaml": text})
    assert config.monitored(1)
    assert not config.monitored(2)
    assert not config.monitored(3)
    assert config.rules_for(3) is None


def test_a_disabled_account_is_not_monitored_even_with_monitor_all_active() -> None:
    text = "accounts:\n  - {id: 5, enabled: false}\n"
    config = load({"risk_config.yaml": RISK_EXAMPLE, "accounts.yaml": text})
    assert not config.monitored(5)
    assert config.monitored(6)


def test_monitor_listed_with_nobody_listed_warns() -> None:
    config = load({"risk_config.yaml": RISK_EXAMPLE, "accounts.yaml": "monitor: listed\n"})
    [warning] = config.warnings
    assert warning.severity == "warning" and "no account is monitored" in warning.message


def test_monitor_must_be_all_active_or_listed() -> None:
    [error] = issues({"risk_config.yaml": RISK_EXAMPLE, "accounts.yaml": "monitor: everyone\n"})
    assert (error.file, error.line, error.path, error.value) == ("accounts.yaml", 1, "monitor", "everyone")
    assert "'all_active' or 'listed'" in error.message


def test_an_override_can_enable_a_rule_that_is_off_in_risk_config() -> None:
    text = "accounts:\n  - id: 7\n    overrides:\n      rules:\n" \
           "        max_unrealized_profit: {enabled: true}\n"
    config = load({**EXAMPLES, "accounts.yaml": text})
    own = config.rules_for(7)
    assert own is not None and "max_unrealized_profit" in dict(own.enabled())
    assert "max_unrealized_profit" not in dict(config.risk.rules.enabled())


def test_an_override_can_disable_a_rule() -> None:
    text = "accounts:\n  - id: 7\n    overrides: {rules: {max_contracts: {enabled: false}}}\n"
    own = load({**EXAMPLES, "accounts.yaml": text}).rules_for(7)
    assert own is not None and "max_contracts" not in dict(own.enabled())


def test_override_lists_replace_instead_of_appending() -> None:
    text = (
        "accounts:\n  - id: 7\n    overrides:\n      rules:\n"
        "        cooldown_after_loss: {tiers: [{loss: -50, cooldown: 1m}]}\n"
    )
    own = load({**EXAMPLES, "accounts.yaml": text}).rules_for(7)
    assert own is not None
    tiers = own.get("cooldown_after_loss").tiers  # type: ignore[union-attr]
    assert [t.loss for t in tiers] == [Decimal(-50)]


def test_override_error_names_the_account_and_its_accounts_yaml_line() -> None:
    text = "accounts:\n  - id: 1\n  - id: 123456\n    overrides:\n      rules:\n" \
           "        daily_realized_loss:\n          limit: 300\n"
    [error] = issues({**EXAMPLES, "accounts.yaml": text})
    assert (error.file, error.line) == ("accounts.yaml", 7)
    assert error.path == "accounts[1].overrides.rules.daily_realized_loss.limit"
    assert error.value == "300"
    assert error.message.startswith("account 123456: limit must be negative")


def test_override_typo_is_an_unknown_key_error() -> None:
    text = "accounts:\n  - id: 9\n    overrides: {rules: {daily_realized_loss: {limitt: -300}}}\n"
    [error] = issues({**EXAMPLES, "accounts.yaml": text})
    assert (error.line, error.path) == (3, "accounts[0].overrides.rules.daily_realized_loss.limitt")
    assert "did you mean 'limit'?" in error.message


def test_overrides_other_than_rules_are_rejected() -> None:
    text = "accounts:\n  - id: 9\n    overrides:\n      general: {timezone: UTC}\n"
    [error] = issues({**EXAMPLES, "accounts.yaml": text})
    assert (error.line, error.path) == (4, "accounts[0].overrides.general")


def test_cross_rule_check_runs_per_account_and_names_both_files() -> None:
    # -450 is fine against risk_config's -500 but not against this account's day limit of -400.
    risk = RISK_EXAMPLE.replace("limit: -300, price_source", "limit: -450, price_source")
    text = "accounts:\n  - id: 3\n    overrides: {rules: {daily_realized_loss: {limit: -400}}}\n"
    [error] = issues({**EXAMPLES, "risk_config.yaml": risk, "accounts.yaml": text})
    assert (error.file, error.line) == ("accounts.yaml", 3)
    assert error.path == "accounts[0].overrides.rules.daily_realized_loss.limit"
    assert error.message.startswith("account 3: daily_unrealized_loss.limit (-450) must be above")
    assert f"risk_config.yaml line {line_of(RISK_EXAMPLE, 'daily_unrealized_loss:')}" in error.message


def test_account_ids_must_be_positive_and_unique() -> None:
    errors = issues({**EXAMPLES, "accounts.yaml": "accounts:\n  - id: -1\n"})
    assert [(e.line, e.path) for e in errors] == [(2, "accounts[0].id")]
    [dup] = issues({**EXAMPLES, "accounts.yaml": "accounts:\n  - id: 4\n  - id: 4\n"})
    assert "listed twice" in dup.message


def test_unknown_key_in_an_account_entry_is_an_error() -> None:
    [error] = issues({**EXAMPLES, "accounts.yaml": "accounts:\n  - id: 4\n    enable: false\n"})
    assert (error.line, error.path) == (3, "accounts[0].enable")
    assert "did you mean 'enabled'?" in error.message


def test_deep_merge_merges_mappings_and_replaces_everything_else() -> None:
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2], "s": 1}
    assert deep_merge(base, {"a": {"y": {"q": 3}}, "l": [9], "n": 0}) == {
        "a": {"x": 1, "y": {"p": 1, "q": 3}}, "l": [9], "s": 1, "n": 0}
    assert base["a"]["y"] == {"p": 1, "q": 2}  # inputs untouched


def test_an_override_that_enables_session_block_without_sessions_is_reported_at_the_account() -> None:
    text = "accounts:\n  - id: 8\n    overrides:\n      rules:\n" \
           "        session_block_outside: {enabled: true}\n"
    [error] = issues({"risk_config.yaml": RISK_EXAMPLE, "accounts.yaml": text}, None)
    assert (error.file, error.line) == ("accounts.yaml", 5)
    assert error.path == "accounts[0].overrides.rules.session_block_outside"
    assert error.message.startswith("account 8: session_block_outside is enabled but no session_hours")


def test_empty_sections_take_their_defaults() -> None:
    accounts = "accounts:\n  - id: 1\n    overrides:\n"
    config = load({"risk_config.yaml": "general:\nrules:\n", "accounts.yaml": accounts})
    assert config.risk.rules.enabled() == []
    assert config.rules_for(1) is not None
