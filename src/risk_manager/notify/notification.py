"""What a notification is: one fact a trader should hear about, already worded for a person.

A notification is built once (``NotificationBuilder``) and then rendered by every channel, so a
Discord message, a Telegram message and an email say the same thing. Times are kept in UTC
(``at``) and shown in the configured zone (``shown_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum


class NotificationKind(StrEnum):
    WARNING = "warning"
    ENFORCEMENT = "enforcement"
    LOCKOUT_STARTED = "lockout_started"
    LOCKOUT_ENDED = "lockout_ended"
    CONNECTION_LOST = "connection_lost"
    CONNECTION_RESTORED = "connection_restored"
    DAEMON_STARTED = "daemon_started"
    DAEMON_STOPPED = "daemon_stopped"
    ENFORCEMENT_FAILED = "enforcement_failed"


class Priority(IntEnum):
    """Which notifications a full queue gives up first: LOW ones, oldest first."""

    LOW = 0
    HIGH = 1


# What a trader must not miss (money was taken off the table, trading stopped, or protection is
# gone) is HIGH; everything that only informs is LOW and may be dropped under overload.
DEFAULT_PRIORITY: dict[NotificationKind, Priority] = {
    NotificationKind.WARNING: Priority.LOW,
    NotificationKind.ENFORCEMENT: Priority.HIGH,
    NotificationKind.LOCKOUT_STARTED: Priority.HIGH,
    NotificationKind.LOCKOUT_ENDED: Priority.LOW,
    NotificationKind.CONNECTION_LOST: Priority.HIGH,
    NotificationKind.CONNECTION_RESTORED: Priority.LOW,
    NotificationKind.DAEMON_STARTED: Priority.LOW,
    NotificationKind.DAEMON_STOPPED: Priority.HIGH,
    NotificationKind.ENFORCEMENT_FAILED: Priority.HIGH,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One fact to send. ``title`` is a one-line summary; ``body`` holds the reason and the numbers."""

    kind: NotificationKind
    title: str
    body: str
    at: datetime  # UTC
    shown_at: str  # ``at`` in the configured zone, as shown to the trader
    account: int | None = None
    rule: str | None = None
    priority: Priority = Priority.LOW

    def text(self) -> str:
        """The notification as plain text lines: time, account, title, then the body."""
        where = f" · account {self.account}" if self.account is not None else ""
        rule = f" · {self.rule}" if self.rule else ""
        head = f"[{self.shown_at}{where}{rule}] {self.title}"
        return f"{head}\n{self.body}" if self.body else head
