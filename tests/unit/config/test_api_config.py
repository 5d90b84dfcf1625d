"""api_config.yaml: defaults, secret handling (never printed), validation."""

from __future__ import annotations

from config_samples import API_EXAMPLE, ENV, EXAMPLES, SECRET_KEY_VALUE, issues, load

RISK = "rules:\n  auth_loss_guard: {enabled: true}\n"


def test_config_md_api_example_loads_the_key_from_the_environment() -> None:
    config = load(EXAMPLES)
    assert config.api.projectx.username == "trader1"
    assert config.api.projectx.api_key is not None
    assert config.api.projectx.api_key.get_secret_value() == SECRET_KEY_VALUE
    assert config.api.connection.request_timeout == 10


def test_api_defaults_point_at_topstepx() -> None:
    api = load({"risk_config.yaml": RISK}).api
    assert api.projectx.api_url == "https://api.topstepx.com/api"
    assert api.projectx.user_hub_url == "https://rtc.topstepx.com/hubs/user"
    assert api.projectx.market_hub_url == "https://rtc.topstepx.com/hubs/market"
    assert api.projectx.api_key is None
    assert (api.connection.reconnect_max_delay, api.connection.stale_quote_seconds) == (60, 10)


def test_redacted_view_and_reprs_never_contain_the_api_key() -> None:
    config = load(EXAMPLES)
    redacted = config.api.redacted()
    assert redacted["projectx"]["api_key"] == "***"
    assert SECRET_KEY_VALUE not in repr(config.api)
    assert SECRET_KEY_VALUE not in str(config.redacted())
    assert ENV["TELEGRAM_TOKEN"] not in str(config.redacted())
    assert "SECRETHOOK" not in str(config.redacted())


def test_literal_api_key_in_an_error_is_shown_as_stars() -> None:
    text = f"projectx:\n  api_key: {SECRET_KEY_VALUE}\n  api_url: ftp://nowhere\n" \
           f"  apikey: {SECRET_KEY_VALUE}\n"
    errors = issues({"risk_config.yaml": RISK, "api_config.yaml": text})
    rendered = "\n".join(str(e) for e in errors)
    assert SECRET_KEY_VALUE not in rendered
    assert [(e.line, e.path) for e in errors] == [(3, "projectx.api_url"), (4, "projectx.apikey")]


def test_connection_timeouts_must_be_positive() -> None:
    text = API_EXAMPLE.replace("request_timeout: 10", "request_timeout: 0")
    [error] = issues({**EXAMPLES, "api_config.yaml": text})
    assert (error.path, error.value) == ("connection.request_timeout", "0")
    assert "greater than 0" in error.message
