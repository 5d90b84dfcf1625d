"""Turn what happened into notifications: the engine's actions, and the daemon's own facts.

The engine answers one event with a list of actions; a breach usually gives several of one rule at
once (RULE-003: flatten, cancel orders, lock). A trader wants to hear that once, so the actions of
one account and one rule in one step become one notification that lists what was done and why.
Alerts stay separate: each is its own fact (a warning threshold, a connection change).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from risk_manager.domain.actions import (
    RESET_RULE,
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
from risk_manager.notify.notification import DEFAULT_PRIORITY, Notification, NotificationKind, Priority

# Trade management (RULE-012) moves stops as price moves: worth a line, never worth a dropped lockout.
_LOW_PRIORITY_ACTIONS = (PlaceStop, ModifyStop)


class NotificationBuilder:
    """Words notifications for one display zone (``general.timezone``)."""

    def __init__(self, zone: str | ZoneInfo) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)

    def show(self, t: datetime) -> str:
        return t.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    # ---- engine actions ---------------------------------------------------------------------

    def from_actions(self, actions: Iterable[Action], at: datetime) -> list[Notification]:
        """The notifications for the actions the engine returned for one event or timer at ``at``."""
        out: list[Notification] = []
        groups: dict[tuple[int, str], list[Action]] = {}
        for action in actions:
            if isinstance(action, Alert):
                note = self._alert(action, at)
                if note is not None:
                    out.append(note)
            elif isinstance(action, Unlock):
                out.append(self._unlock(action, at))
            else:
                groups.setdefault((action.account_id, action.rule), []).append(action)
        out.extend(self._enforcement(group, at) for group in groups.values())
        return out

    def _alert(self, alert: Alert, at: datetime) -> Notification | None:
        if alert.rule == RESET_RULE:
            return None  # the daily reset is routine, not news
        state = dict(alert.inputs).get("state")
        if state == "lost":
            kind, title = NotificationKind.CONNECTION_LOST, "Connection to the gateway lost"
        elif state == "restored":
            kind, title = NotificationKind.CONNECTION_RESTORED, "Connection to the gateway restored"
        else:
            kind, title = NotificationKind.WARNING, _alert_title(alert)
        priority = Priority.HIGH if alert.level == "critical" else DEFAULT_PRIORITY[kind]
        body = _lines(alert.message or alert.reason, alert.inputs)
        return self._note(kind, title, body, at, alert.account_id, alert.rule, priority)

    def _unlock(self, unlock: Unlock, at: datetime) -> Notification:
        what = "Account" if unlock.scope == "account" else f"Symbol {unlock.symbol}"
        return self._note(
            NotificationKind.LOCKOUT_ENDED,
            f"{what} unlocked: trading allowed again",
            _lines(unlock.reason, unlock.inputs),
            at,
            unlock.account_id,
            unlock.rule,
        )

    def _enforcement(self, group: Sequence[Action], at: datetime) -> Notification:
        first = group[0]
        done = [self._describe(action) for action in group]
        lock = next((a for a in group if isinstance(a, LockAccount)), None)
        if lock is not None:
            kind = NotificationKind.LOCKOUT_STARTED
            title = f"{self._lock_title(lock)}; " + ", ".join(d for d in done if d != "locked")
            title = title.removesuffix("; ")
        else:
            kind = NotificationKind.ENFORCEMENT
            title = _capitalized(", ".join(done))
        priority = (
            Priority.LOW
            if all(isinstance(a, _LOW_PRIORITY_ACTIONS) for a in group)
            else DEFAULT_PRIORITY[kind]
        )
        inputs = tuple(dict.fromkeys(pair for action in group for pair in action.inputs))
        reason = next((a.reason for a in group if a.reason), None)
        return self._note(kind, title, _lines(reason, inputs), at, first.account_id, first.rule, priority)

    def _lock_title(self, lock: LockAccount) -> str:
        what = "Account locked" if lock.scope == "account" else f"Symbol {lock.symbol} locked"
        if lock.until is not None:
            return f"{what} until {self.show(lock.until)}"
        if lock.condition is not None:
            return f"{what} until {lock.condition.replace('_', ' ')} clears"
        return what

    def _describe(self, action: Action) -> str:
        if isinstance(action, ClosePosition):
            size = "position" if action.size is None else f"{action.size} contract(s)"
            return f"closed {size} in {action.contract_id}"
        if isinstance(action, Flatten):
            return "flattened all positions"
        if isinstance(action, CancelOrders):
            scope = action.contract_id or action.symbol
            return "cancelled working orders" + (f" in {scope}" if scope else "")
        if isinstance(action, PlaceStop):
            return f"placed a stop at {action.stop_price} for {action.contract_id}"
        if isinstance(action, ModifyStop):
            return f"moved the stop to {action.stop_price} for {action.contract_id}"
        if isinstance(action, LockAccount):
            return "locked"
        return action.kind.replace("_", " ")

    # ---- daemon facts -----------------------------------------------------------------------

    def daemon_started(self, at: datetime, accounts: Sequence[int] = (), detail: str = "") -> Notification:
        watching = f"watching {len(accounts)} account(s): {', '.join(map(str, accounts))}" if accounts else ""
        body = "\n".join(part for part in (watching, detail) if part)
        return self._note(NotificationKind.DAEMON_STARTED, "Risk Manager started", body, at)

    def daemon_stopped(self, at: datetime, reason: str) -> Notification:
        body = f"{reason}\nRules are NOT enforced until it runs again."
        return self._note(NotificationKind.DAEMON_STOPPED, "Risk Manager stopped", body, at)

    def connection_lost(
        self, at: datetime, hub: str | None = None, account: int | None = None
    ) -> Notification:
        which = "gateway" if hub is None else f"{hub} hub"
        body = f"connection lost ({which}) at {self.show(at)}; reconnecting"
        return self._note(
            NotificationKind.CONNECTION_LOST, "Connection to the gateway lost", body, at, account
        )

    def connection_restored(
        self, at: datetime, since: datetime | None = None, hub: str | None = None, account: int | None = None
    ) -> Notification:
        which = "gateway" if hub is None else f"{hub} hub"
        outage = "" if since is None else f" after {_duration(at - since)} (lost at {self.show(since)})"
        body = f"connection restored ({which}){outage}"
        return self._note(
            NotificationKind.CONNECTION_RESTORED, "Connection to the gateway restored", body, at, account
        )

    def enforcement_failed(self, action: Action, at: datetime, error: str, attempts: int) -> Notification:
        """The enforcer could not carry ``action`` out after ``attempts`` tries (``error``: the last)."""
        did = self._describe(action)
        body = _lines(
            f"could not {_infinitive(did)} after {attempts} attempt(s): {error}\n"
            f"ACT NOW: check the account in your trading platform. Reason for the action: {action.reason}",
            action.inputs,
        )
        return self._note(
            NotificationKind.ENFORCEMENT_FAILED,
            f"ENFORCEMENT FAILED: {action.kind.replace('_', ' ')}",
            body,
            at,
            action.account_id,
            action.rule,
        )

    # ---- shared -----------------------------------------------------------------------------

    def _note(
        self,
        kind: NotificationKind,
        title: str,
        body: str,
        at: datetime,
        account: int | None = None,
        rule: str | None = None,
        priority: Priority | None = None,
    ) -> Notification:
        at = at.astimezone(UTC)
        return Notification(
            kind=kind,
            title=title,
            body=body,
            at=at,
            shown_at=self.show(at),
            account=account,
            rule=rule,
            priority=DEFAULT_PRIORITY[kind] if priority is None else priority,
        )


def _alert_title(alert: Alert) -> str:
    inputs = dict(alert.inputs)
    if "fraction" in inputs:
        return f"Warning: {int(Decimal(inputs['fraction']) * 100)}% of a limit reached"
    return {"critical": "Critical", "info": "Notice"}.get(alert.level, "Warning")


def _lines(reason: str | None, inputs: Iterable[tuple[str, str]]) -> str:
    numbers = ", ".join(f"{name} {value}" for name, value in inputs)
    return "\n".join(part for part in (reason or "", numbers) if part)


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _infinitive(done: str) -> str:
    # "closed position in X" -> "close position in X"; the descriptions all start with a past tense.
    verb, _, rest = done.partition(" ")
    stem = {
        "closed": "close",
        "flattened": "flatten",
        "cancelled": "cancel",
        "placed": "place",
        "moved": "move",
        "locked": "lock",
    }.get(verb, verb)
    return f"{stem} {rest}".strip()


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
