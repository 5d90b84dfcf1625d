"""Runtime objects built from a LoadedConfig: the engine's Policy, TradingCalendar and ContractTable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from risk_manager.domain.calendar import Holidays, SessionWindow, TradingCalendar
from risk_manager.domain.contracts import ContractSpec, ContractTable
from risk_manager.engine.policy import Policy, RuleSet
from risk_manager.rules.api import Rule
from risk_manager.rules.registry import rule_class

if TYPE_CHECKING:
    from risk_manager.config.loader import LoadedConfig
    from risk_manager.config.rules_section import RulesBase


def build_rules(rules: RulesBase) -> tuple[Rule[Any], ...]:
    """One instance of each enabled rule, in RULES.md order, with its (merged) config."""
    return tuple(rule_class(key)(config) for key, config in rules.enabled())


def build_policy(config: LoadedConfig) -> Policy:
    """Account id -> RuleSet: overrides give an account its own set; unmonitored accounts get None.

    Accounts without overrides share one RuleSet (and one set of rule instances), which is fine
    because rules keep no per-account state: the engine does.
    """
    warn_at = config.risk.general.warn_at
    tolerance = config.risk.general.balance_tolerance
    shared = RuleSet(build_rules(config.risk.rules), warn_at, tolerance)
    own = {
        account: RuleSet(build_rules(rules), warn_at, tolerance)
        for account, rules in config.account_rules.items()
    }

    def resolve(account_id: int) -> RuleSet | None:
        if not config.monitored(account_id):
            return None
        return own.get(account_id, shared)

    return Policy(resolve)


def build_calendar(config: LoadedConfig) -> TradingCalendar:
    """Daily reset, sessions (with per-symbol overrides) and holidays from timers.yaml.

    Raises CalendarUnavailable when ``holidays.calendar: CME`` is set without exchange_calendars.
    """
    timers = config.timers
    session: SessionWindow | None = None
    per_symbol: dict[str, SessionWindow] = {}
    hours = timers.session_hours
    if hours is not None:
        zone = ZoneInfo(hours.timezone)
        session = SessionWindow(hours.start, hours.end, zone, frozenset(hours.days))
        for root, window in hours.per_symbol.items():
            per_symbol[root] = SessionWindow(
                window.start,
                window.end,
                ZoneInfo(window.timezone) if window.timezone else zone,
                frozenset(window.days if window.days is not None else hours.days),
            )
    holidays = Holidays(
        closed=frozenset(timers.holidays.dates),
        early_close={early.date: early.time for early in timers.holidays.early_close},
    )
    return TradingCalendar(
        reset_time=timers.daily_reset.time,
        reset_zone=timers.daily_reset.timezone,
        session=session,
        per_symbol=per_symbol,
        holidays=holidays,
        display_zone=config.risk.general.timezone,
        cme_holidays=timers.holidays.calendar == "cme",
    )


def build_contracts(config: LoadedConfig) -> ContractTable:
    """The built-in contract table with risk_config.yaml's ``instruments:`` on top."""
    overrides = {
        root: ContractSpec(root, spec.tick_size, spec.tick_value, spec.description)
        for root, spec in config.risk.instruments.items()
    }
    return ContractTable(overrides)
