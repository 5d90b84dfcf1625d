"""Hot reload: the config directory is watched, and a valid change applies without a restart.

``Daemon.reload_config(trigger)`` (the watcher, ``admin config reload`` through the control API)
loads the directory again with the real loader and compares it with the running config:

- **invalid** (any loader error, or a calendar that cannot be built): the running config stays, the
  reason is logged, raised as an alert (notifications) and kept in the audit trail;
- **valid**: rules, per-account overrides and warning levels go to the engine through
  ``PersistentEngine.update_policy`` (journaled and snapshotted there, so a restart never replays old
  events under the new rules); timers.yaml and ``general.timezone`` through ``Engine.update_calendar``;
  ``general.notifications`` rebuilds the notification channels;
- some settings are read once at start and are reported as **needing a restart** rather than
  pretended applied: api_config.yaml (gateway, credentials), ``daemon.*``, ``instruments`` and which
  accounts are monitored (the gateway subscriptions are made at start).

A loosened limit never ends a lockout already taken: ``update_policy`` only ends *condition* lockouts
whose rule no longer holds them (a symbol unblocked); lockouts with an end time keep it.

Every attempt leaves an audit row of kind ``config_reload`` (account 0, rule ``config``) whose reason
is the summary of what changed (``rules.daily_realized_loss.limit: -500 → -250``) and whose outcome
is ``applied``, ``no change`` or ``refused: …``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from risk_manager.config.errors import REDACTED, ConfigError, is_secret_key
from risk_manager.config.loader import FILE_ORDER, LoadedConfig, load_config
from risk_manager.domain.actions import Action, Alert
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.engine.policy import Policy
from risk_manager.notify.service import Notifications

if TYPE_CHECKING:
    from risk_manager.daemon.app import Daemon

__all__ = ["ConfigReloadRecord", "ConfigReloader", "ReloadOutcome", "describe_changes"]

log = logging.getLogger("risk_manager.reload")

WATCH_DEBOUNCE_MS = 1600  # an editor's save is often several writes: one reload for all of them
RESTART = " (needs a restart)"
AUDIT_ACCOUNT = 0  # the audit row of a reload concerns the daemon, not one account
AUDIT_RULE = "config"


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: ``applied`` when the running config now follows the files; ``changes`` one
    readable line each (those ending in "(needs a restart)" are not in effect yet); ``error`` why an
    invalid config was refused (the running one stays)."""

    applied: bool
    changes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def restart_needed(self) -> list[str]:
        return [line for line in self.changes if line.endswith(RESTART)]

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "changes": list(self.changes), "error": self.error}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigReloadRecord(Action):
    """The audit row of one reload attempt (never sent to a broker)."""

    kind: ClassVar[str] = "config_reload"
    trigger: str = ""
    changes: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "changes": list(self.changes)}


@dataclass(frozen=True)
class _Change:
    path: str
    old: str
    new: str
    restart: bool

    def line(self) -> str:
        return f"{self.path}: {self.old} → {self.new}" + (RESTART if self.restart else "")


class ConfigReloader:
    def __init__(self, daemon: Daemon, *, debounce_ms: int = WATCH_DEBOUNCE_MS) -> None:
        self.daemon = daemon
        self.debounce_ms = debounce_ms
        self.started_with = daemon.config  # the settings read once at start are compared to this
        self._lock = asyncio.Lock()
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._renewing: asyncio.Task[None] | None = None

    # ---- the watcher ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Watch the config directory (none when the config was not loaded from one)."""
        directory = self.daemon.config.directory
        if directory is None or self._task is not None:
            return
        self.started_with = self.daemon.config
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._watch(directory), name="config-watch")

    async def stop(self) -> None:
        renewing, self._renewing = self._renewing, None
        if renewing is not None:  # the daemon closes the channels it holds: let the swap finish first
            with contextlib.suppress(Exception):
                await renewing
        task, self._task = self._task, None
        if task is None:
            return
        assert self._stop is not None
        self._stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def _watch(self, directory: Path) -> None:
        from watchfiles import awatch

        names = set(FILE_ORDER)
        try:
            async for batch in awatch(
                directory,
                watch_filter=lambda _change, path: Path(path).name in names,
                debounce=self.debounce_ms,
                step=min(50, self.debounce_ms),
                stop_event=self._stop,
                recursive=False,
            ):
                files = sorted({Path(path).name for _change, path in batch})
                log.info("config files changed (%s): reloading", ", ".join(files))
                try:
                    await self.reload("watch")
                except Exception:
                    log.exception("the config reload failed")
        except FileNotFoundError:
            log.error("config directory %s is gone: no hot reload until the daemon restarts", directory)

    # ---- a reload ------------------------------------------------------------------------------------

    async def reload(self, trigger: str) -> ReloadOutcome:
        async with self._lock:
            daemon = self.daemon
            directory = daemon.config.directory
            if directory is None:
                return ReloadOutcome(False, [], "the config was not read from a directory: nothing to reload")
            try:
                new, calendar, policy = await asyncio.to_thread(_load, directory)
            except ConfigError as exc:
                return self._refused(trigger, "\n".join(str(issue) for issue in exc.errors))
            except (ValueError, RuntimeError, ImportError, OSError) as exc:
                return self._refused(trigger, f"config in {directory} cannot be used: {exc}")
            changes = describe_changes(daemon.config, new, self.started_with)
            if not changes:
                self._audit(trigger, [], "no change")
                return ReloadOutcome(False, [], None)
            applied = any(not c.restart for c in changes)
            if applied:
                self._apply(daemon.config, new, calendar, policy)
            else:
                daemon.config = new
            lines = [c.line() for c in changes]
            for line in lines:
                log.info("config reloaded (%s): %s", trigger, line)
            self._audit(trigger, lines, "applied" if applied else "needs a restart")
            return ReloadOutcome(applied, lines, None)

    def _apply(self, old: LoadedConfig, new: LoadedConfig, calendar: TradingCalendar, policy: Policy) -> None:
        daemon = self.daemon
        persistent = daemon.persistent
        supervisor = daemon.supervisor
        daemon.config = new
        if persistent is None:
            return  # not started: start() builds the engine from daemon.config
        now = supervisor.now() if supervisor is not None else daemon.wall()
        zone_changed = old.risk.general.timezone != new.risk.general.timezone
        if old.timers != new.timers or zone_changed:
            persistent.engine.update_calendar(calendar, now)
        decisions = persistent.update_policy(policy, now)
        if decisions and supervisor is not None:
            supervisor._dispatch(decisions, None)  # same package: the supervisor's own enforcement path
        if old.risk.general.notifications != new.risk.general.notifications or zone_changed:
            self._renewing = asyncio.get_running_loop().create_task(self._renew_notifications(new))

    async def _renew_notifications(self, config: LoadedConfig) -> None:
        daemon = self.daemon
        general = config.risk.general
        try:
            fresh = Notifications.from_config(general.notifications, general.timezone)
            await fresh.start()
        except Exception:
            log.exception("the notification channels could not be rebuilt; the previous ones stay")
            return
        stale, daemon.notifications = daemon.notifications, fresh
        if daemon.supervisor is not None:
            daemon.supervisor.notifications = fresh
        if stale is not None:
            await stale.aclose(1.0)
        log.info("notification channels rebuilt from general.notifications")

    def _refused(self, trigger: str, why: str) -> ReloadOutcome:
        daemon = self.daemon
        log.error("config reload (%s) refused, the running config stays:\n%s", trigger, why)
        message = f"config change refused, the running config stays: {why}"
        alert = Alert(account_id=AUDIT_ACCOUNT, rule=AUDIT_RULE, level="warning", message=message)
        if daemon.alert is not None:
            with contextlib.suppress(Exception):
                daemon.alert(alert)
        if daemon.notifications is not None:
            daemon.notifications.on_actions([alert], daemon.wall())
        self._audit(trigger, [], f"refused: {why}")
        return ReloadOutcome(False, [], why)

    def _audit(self, trigger: str, lines: list[str], outcome: str) -> None:
        persistent = self.daemon.persistent
        if persistent is None:
            return
        t = self.daemon.wall()
        reason = "; ".join(lines) if lines else ("no change" if outcome == "no change" else outcome)
        record = ConfigReloadRecord(
            account_id=AUDIT_ACCOUNT, rule=AUDIT_RULE, reason=reason, trigger=trigger, changes=tuple(lines)
        )
        persistent.flush()  # the engine's staged rows first: audit ids stay in order
        [audit_id] = persistent.store.record_actions(t, [record], note=trigger, durable=True)
        persistent.store.record_outcome(audit_id, outcome, None, t)


def _load(directory: Path) -> tuple[LoadedConfig, TradingCalendar, Policy]:
    """Load and build everything the engine would get (in a thread: the CME calendar is slow)."""
    loaded = load_config(directory)
    calendar = loaded.calendar()
    loaded.contracts()
    return loaded, calendar, loaded.policy()


# ---- what changed ------------------------------------------------------------------------------------


def describe_changes(
    old: LoadedConfig, new: LoadedConfig, started_with: LoadedConfig | None = None
) -> list[_Change]:
    """The differences between two configs, one per setting, secrets masked. Settings read only at
    start are compared with ``started_with`` (default ``old``) and marked as needing a restart, so a
    pending one is reported again until the daemon restarts."""
    boot = started_with if started_with is not None else old
    out: list[_Change] = []
    hot_risk = {"general", "rules", "admin"}
    out += _diff("", _risk_part(old, hot_risk), _risk_part(new, hot_risk), restart=False)
    out += _diff("", _risk_part(boot, None, hot_risk), _risk_part(new, None, hot_risk), restart=True)
    timers_name = next((n for n in new.files if n.startswith("timers")), "timers.yaml")
    out += _diff(f"{timers_name} ", _dump(old.timers), _dump(new.timers), restart=False)
    out += _diff("accounts.yaml ", _overrides(old), _overrides(new), restart=False)
    out += _diff("accounts.yaml ", _monitoring(boot), _monitoring(new), restart=True)
    out += _diff("api_config.yaml ", _dump(boot.api), _dump(new.api), restart=True)
    return out


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="python", by_alias=True)
    return data


def _risk_part(config: LoadedConfig, keep: set[str] | None, drop: set[str] | None = None) -> dict[str, Any]:
    data = _dump(config.risk)
    return {k: v for k, v in data.items() if (keep is None or k in keep) and (drop is None or k not in drop)}


def _overrides(config: LoadedConfig) -> dict[str, Any]:
    accounts = config.accounts.accounts
    return {f"accounts[id={a.id}].overrides": a.overrides.model_dump(mode="python") for a in accounts}


def _monitoring(config: LoadedConfig) -> dict[str, Any]:
    accounts = config.accounts
    return {"monitor": accounts.monitor, "accounts": {a.id: a.enabled for a in accounts.accounts}}


def _diff(prefix: str, old: Any, new: Any, *, restart: bool, path: str = "") -> list[_Change]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[_Change] = []
        for key in [*old.keys(), *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(_Change(prefix + sub, _show(old[key], key), "(removed)", restart))
            elif key not in old:
                out.append(_Change(prefix + sub, "(unset)", _show(new[key], key), restart))
            else:
                out += _diff(prefix, old[key], new[key], restart=restart, path=sub)
        return out
    if old == new:
        return []
    last = path.rsplit(".", 1)[-1]
    shown_old, shown_new = _show(old, last), _show(new, last)
    if shown_old == shown_new:  # a secret: say that it changed, never what to
        shown_old, shown_new = REDACTED, f"{REDACTED} (changed)"
    return [_Change(prefix + path, shown_old, shown_new, restart)]


def _show(value: Any, key: object = None) -> str:
    if value is None:
        return "null"
    if isinstance(value, SecretStr) or (is_secret_key(key) and value not in ("", None)):
        return REDACTED
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_show(v, k)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(_show(v, key) for v in _items(value)) + "]"
    return str(value)


def _items(value: Any) -> Iterator[Any]:
    yield from (sorted(value, key=str) if isinstance(value, set | frozenset) else value)
