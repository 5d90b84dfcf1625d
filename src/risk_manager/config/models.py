"""Pydantic models of the four config files (CONFIG.md), with their defaults.

Every model forbids unknown keys: a misspelt key must be an error, never a silently ignored
setting. The ``rules:`` section of risk_config.yaml is built from the rule registry (each rule owns
its config model), see ``config/rules_section.py``.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    field_validator,
    model_validator,
)

from risk_manager.domain.calendar import WEEKDAYS
from risk_manager.domain.values import ClockTime, Money, Symbol, TimeZoneName, TrueFalseOnly


class StrictModel(TrueFalseOnly, BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- risk_config.yaml: general, instruments ------------------------------------------------------


def _fraction(value: Decimal) -> Decimal:
    if not Decimal(0) < value < Decimal(1):
        raise ValueError(f"a warning level is a fraction between 0 and 1, e.g. 0.75; got {value}")
    return value


WarnFraction = Annotated[Money, AfterValidator(_fraction)]


def _url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be a URL starting with https://")
    return value


def _secret_url(value: SecretStr) -> SecretStr:
    _url(value.get_secret_value())
    return value


# A URL that embeds a credential (a Discord webhook): validated like a URL, shown as ``***``.
SecretUrl = Annotated[SecretStr, AfterValidator(_secret_url)]


class TelegramConfig(StrictModel):
    bot_token: SecretStr
    chat_id: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]


class EmailConfig(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    smtp_host: str
    smtp_port: int = Field(25, ge=1, le=65535)
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)

    @field_validator("to", mode="before")
    @classmethod
    def _one_address_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class NotificationsConfig(StrictModel):
    discord_webhook: SecretUrl | None = None
    telegram: TelegramConfig | None = None
    email: EmailConfig | None = None


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"must be 0 or more (an amount of money, e.g. 0.01); got {value}")
    return value


class GeneralConfig(StrictModel):
    timezone: TimeZoneName = "America/Chicago"
    warn_at: tuple[WarnFraction, ...] = (Decimal("0.5"), Decimal("0.75"), Decimal("0.9"))
    # The day's net realized P&L from trades may differ from the account balance's change since the
    # day began by this much before an alert is raised (a cent of rounding is not news).
    balance_tolerance: Annotated[Money, AfterValidator(_not_negative)] = Decimal("0.01")
    notifications: NotificationsConfig = NotificationsConfig()

    @field_validator("warn_at")
    @classmethod
    def _sorted_unique(cls, value: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each warning level may appear once, e.g. [0.5, 0.75, 0.9]")
        return tuple(sorted(value))


def _positive_amount(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be a positive number, e.g. 0.25; got {value}")
    return value


PositiveAmount = Annotated[Money, AfterValidator(_positive_amount)]


class InstrumentSpec(StrictModel):
    """An override/addition to the built-in contract table (tick size in points, tick value in USD)."""

    tick_size: PositiveAmount
    tick_value: PositiveAmount
    description: str = ""


# ---- timers.yaml ---------------------------------------------------------------------------------

_DAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i
    for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}


def _weekday(value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() in _DAY_NAMES:
        return _DAY_NAMES[value.strip().lower()]
    raise ValueError(f"{value!r} is not a day: use mon, tue, wed, thu, fri, sat or sun")


Weekday = Annotated[int, BeforeValidator(_weekday), PlainSerializer(lambda i: WEEKDAYS[i])]


def _unique_days(value: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(value)) != len(value):
        raise ValueError("each day may appear once, e.g. [mon, tue, wed, thu, fri]")
    return value


Days = Annotated[tuple[Weekday, ...], AfterValidator(_unique_days)]
MON_FRI: tuple[int, ...] = (0, 1, 2, 3, 4)


class DailyResetConfig(StrictModel):
    time: ClockTime = time(17, 0)
    timezone: TimeZoneName = "America/Chicago"


class SymbolSessionConfig(StrictModel):
    """A per-symbol session; ``timezone`` and ``days`` default to those of ``session_hours``."""

    start: ClockTime
    end: ClockTime
    timezone: TimeZoneName | None = None
    days: Days | None = None


class SessionHoursConfig(StrictModel):
    start: ClockTime
    end: ClockTime  # may be earlier than start: the window wraps midnight
    timezone: TimeZoneName = "America/Chicago"
    days: Days = MON_FRI  # days on which a window STARTS
    per_symbol: dict[Symbol, SymbolSessionConfig] = {}


class EarlyClose(StrictModel):
    date: date
    time: ClockTime


def _calendar_name(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("none", "cme"):
        return value.strip().lower()
    if value is None:
        return "none"
    return value


class HolidaysConfig(StrictModel):
    calendar: Annotated[Literal["none", "cme"], BeforeValidator(_calendar_name)] = "none"
    dates: tuple[date, ...] = ()
    early_close: tuple[EarlyClose, ...] = ()

    @model_validator(mode="after")
    def _one_early_close_per_day(self) -> HolidaysConfig:
        days = [e.date for e in self.early_close]
        if len(set(days)) != len(days):
            raise ValueError("each date may have one early close")
        return self


class TimersConfig(StrictModel):
    daily_reset: DailyResetConfig = DailyResetConfig()
    session_hours: SessionHoursConfig | None = None
    holidays: HolidaysConfig = HolidaysConfig()


# ---- risk_config.yaml: daemon (runtime settings of `risk-manager run`) ----------------------------


class DaemonStoreConfig(StrictModel):
    journal_days: int = Field(30, gt=0)
    audit_days: int = Field(365, gt=0)


class DashboardConfig(StrictModel):
    enabled: bool = False
    port: int = Field(8765, ge=0, lt=65536)  # 0: any free port (the daemon logs the one it bound)


class MetricsConfig(StrictModel):
    """The Prometheus endpoint of the daemon (docs/daemon.md, Metrics): off unless asked for; only
    ever bound to 127.0.0.1 (a scraper on another host goes through its own tunnel or agent)."""

    enabled: bool = False
    port: int = Field(9464, ge=0, lt=65536)  # 0: any free port (the bound one is logged)


class DaemonLogConfig(StrictModel):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class DaemonConfig(StrictModel):
    store: DaemonStoreConfig = DaemonStoreConfig()
    dashboard: DashboardConfig = DashboardConfig()
    metrics: MetricsConfig = MetricsConfig()
    log: DaemonLogConfig = DaemonLogConfig()


# ---- risk_config.yaml: admin (who may do what through the control API) ---------------------------


def _group_name(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("a group name cannot be blank: give the OS group's name, or leave the key out")
    return value


GroupName = Annotated[str | None, AfterValidator(_group_name)]


class AdminConfig(StrictModel):
    """The control API's roles (docs/control-api.md). ``allow_unlock`` is off by default: the seed
    design deliberately has no manual unlock, so a lockout holds until its own end."""

    allow_unlock: bool = False
    group: GroupName = None  # this OS group's members are admin (root and the daemon's user always are)
    trader_group: GroupName = None  # the group given trader.sock (0660); None: the daemon's own group
    # Advanced: how the control API is served. auto: Unix sockets on POSIX, a loopback port with a
    # token on Windows; loopback forces the port-and-token transport (docs/control-api.md).
    control_transport: Literal["auto", "unix", "loopback"] = "auto"


# ---- accounts.yaml -------------------------------------------------------------------------------


class AccountOverrides(StrictModel):
    """Settings deep-merged over risk_config.yaml for one account (validated again after merging)."""

    rules: dict[str, Any] = {}

    @field_validator("rules", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return {} if value is None else value


class AccountEntry(StrictModel):
    id: int = Field(gt=0)
    name: str = ""
    enabled: bool = True
    overrides: AccountOverrides = AccountOverrides()

    @field_validator("overrides", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return {} if value is None else value


class AccountsConfig(StrictModel):
    monitor: Literal["all_active", "listed"] = "all_active"
    accounts: tuple[AccountEntry, ...] = ()

    # A duplicate id is found by the loader (config/loader.py), which knows the lines of both entries.

    def entry(self, account_id: int) -> AccountEntry | None:
        return next((a for a in self.accounts if a.id == account_id), None)


# ---- api_config.yaml -----------------------------------------------------------------------------

HttpUrl = Annotated[str, AfterValidator(_url)]


class ProjectXConfig(StrictModel):
    api_url: HttpUrl = "https://api.topstepx.com/api"
    user_hub_url: HttpUrl = "https://rtc.topstepx.com/hubs/user"
    market_hub_url: HttpUrl = "https://rtc.topstepx.com/hubs/market"
    username: str | None = None
    api_key: SecretStr | None = None


class ConnectionConfig(StrictModel):
    request_timeout: float = Field(10, gt=0)
    reconnect_max_delay: float = Field(60, gt=0)
    stale_quote_seconds: float = Field(10, gt=0)


class ApiConfig(StrictModel):
    projectx: ProjectXConfig = ProjectXConfig()
    connection: ConnectionConfig = ConnectionConfig()

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with the API key replaced by ``***`` (safe to print or serve)."""
        data = self.model_dump(mode="json")
        if self.projectx.api_key is not None:
            data["projectx"]["api_key"] = "***"
        return data
