"""Config texts shared by the config tests: CONFIG.md's examples verbatim, and load/fail helpers.

(A uniquely named module rather than conftest.py, so tests can import it by name.)
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from risk_manager.config.errors import ConfigError, ConfigIssue
from risk_manager.config.loader import LoadedConfig, load_config_texts

RISK_EXAMPLE = """\
general:
  timezone: America/Chicago          # zone used to show times
  warn_at: [0.5, 0.75, 0.9]          # fractions of a limit that raise one alert each per day
  notifications:                     # all optional
    discord_webhook: ${DISCORD_WEBHOOK_URL}
    telegram: {bot_token: ${TELEGRAM_TOKEN}, chat_id: "12345"}
    email: {smtp_host: localhost, smtp_port: 25, from: rm@example.com, to: [me@example.com]}
instruments:                         # optional overrides/additions to the built-in contract table
  MNQ: {tick_size: 0.25, tick_value: 0.5}
rules:
  max_contracts:                {enabled: true,  limit: 5, count_type: gross, enforcement: reduce_to_limit}
  max_contracts_per_instrument: {enabled: true,  default_limit: 3, instrument_limits: {MNQ: 2, ES: 1},
                                 unknown_symbol_action: allow, enforcement: reduce_to_limit}
  daily_realized_loss:          {enabled: true,  limit: -500, include_unrealized: true, include_fees: true}
  daily_unrealized_loss:        {enabled: true,  limit: -300, price_source: last}
  max_unrealized_profit:        {enabled: false, target: 1000, price_source: last}
  trade_frequency_limit:        {enabled: true,  per_minute: 3, per_hour: 10, per_session: 50,
                                 cooldowns: {per_minute: 60s, per_hour: 30m, per_session: until_reset},
                                 close_positions: false}
  cooldown_after_loss:          {enabled: true,  close_positions: true,
                                 tiers: [{loss: -100, cooldown: 5m}, {loss: -200, cooldown: 15m}]}
  no_stop_loss_grace:           {enabled: false, grace_period_seconds: 10}
  session_block_outside:        {enabled: false, close_at_session_end: true}
  auth_loss_guard:              {enabled: true}
  symbol_blocks:                {enabled: false, blocked_symbols: [RTY]}
  trade_management:             {enabled: false,
                                 breakeven: {enabled: true, trigger_ticks: 10, offset_ticks: 1},
                                 trailing:  {enabled: true, activation_ticks: 20, distance_ticks: 10}}
  daily_realized_profit:        {enabled: false, target: 1000, include_unrealized: false,
                                 message: "Target reached - see you tomorrow"}
"""

TIMERS_EXAMPLE = """\
daily_reset: {time: "17:00", timezone: America/Chicago}
session_hours:
  start: "08:30"
  end: "15:00"                       # may be earlier than start: the window wraps midnight
  timezone: America/Chicago
  days: [mon, tue, wed, thu, fri]    # days on which a window STARTS
  per_symbol:
    ES: {start: "17:00", end: "16:00", timezone: America/Chicago, days: [sun, mon, tue, wed, thu]}
holidays:
  calendar: none                     # or CME: the exchange calendar's closed days and early closes
  dates: ["2026-12-25"]              # closed all day
  early_close: [{date: "2026-11-27", time: "12:15"}]
"""

ACCOUNTS_EXAMPLE = """\
monitor: all_active                  # or: listed — only the accounts below
accounts:
  - id: 123456
    name: "50K Combine"
    enabled: true
    overrides:                       # deep-merged over risk_config.yaml's rules for this account
      rules: {daily_realized_loss: {limit: -300}}
"""

API_EXAMPLE = """\
projectx:
  api_url: https://api.topstepx.com/api
  user_hub_url: https://rtc.topstepx.com/hubs/user
  market_hub_url: https://rtc.topstepx.com/hubs/market
  username: ${PROJECTX_USERNAME}
  api_key: ${PROJECTX_API_KEY}
connection: {request_timeout: 10, reconnect_max_delay: 60, stale_quote_seconds: 10}
"""

SECRET_KEY_VALUE = "pk_live_SUPERSECRET_0123456789"
ENV = {
    "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/SECRETHOOK",
    "TELEGRAM_TOKEN": "123:SECRETTOKEN",
    "PROJECTX_USERNAME": "trader1",
    "PROJECTX_API_KEY": SECRET_KEY_VALUE,
}

# CONFIG.md's accounts example lowers the account's day loss limit to -300, equal to the example's
# per-position limit of -300; RULES.md requires daily_unrealized_loss.limit > daily_realized_loss.limit,
# so together the two examples are (correctly) rejected. The working set uses -400 for the account.
ACCOUNTS_WORKING = ACCOUNTS_EXAMPLE.replace("limit: -300", "limit: -400")

EXAMPLES = {
    "risk_config.yaml": RISK_EXAMPLE,
    "timers.yaml": TIMERS_EXAMPLE,
    "accounts.yaml": ACCOUNTS_WORKING,
    "api_config.yaml": API_EXAMPLE,
}


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle`` (so tests do not hard-code line numbers)."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not in text"
    return hits[occurrence - 1]


def load(texts: Mapping[str, str], env: Mapping[str, str] | None = None) -> LoadedConfig:
    return load_config_texts(texts, env=ENV if env is None else env)


def issues(texts: Mapping[str, str], env: Mapping[str, str] | None = None) -> list[ConfigIssue]:
    """The errors a config gives (fails the test when it loads)."""
    with pytest.raises(ConfigError) as caught:
        load(texts, env)
    return caught.value.errors


def only_risk(text: str) -> dict[str, str]:
    return {"risk_config.yaml": text}
