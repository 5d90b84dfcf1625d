"""RULE-010 auth_loss_guard: the gateway revoking trading locks the account; connection loss alerts."""

from __future__ import annotations

from risk_manager.domain.actions import Action, Alert
from risk_manager.domain.events import AccountEvent, ConnectionEvent
from risk_manager.domain.lockouts import CONDITION_CAN_TRADE
from risk_manager.rules.api import AccountView, Rule, RuleConfig
from risk_manager.rules.base import hard_lockout

SUBJECT = "account"


class AuthLossGuardConfig(RuleConfig):
    """Nothing to tune: the gateway's canTrade flag and the connection state decide."""


def _duration(seconds: float) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{seconds:.1f}s"


class AuthLossGuard(Rule[AuthLossGuardConfig]):
    """RULE-010: flatten, cancel and lock the account while the gateway says canTrade is false
    (the engine unlocks when it says true again); alert when the gateway connection drops and returns."""

    id = "RULE-010"
    key = "auth_loss_guard"
    config_model = AuthLossGuardConfig
    triggers = frozenset({AccountEvent, ConnectionEvent})

    def evaluate(self, view: AccountView) -> list[Action]:
        event = view.event
        if isinstance(event, ConnectionEvent):
            return self._connection(view, event)
        # Only an explicit false counts: a partial account update (can_trade None) says nothing.
        if not isinstance(event, AccountEvent) or event.can_trade is not False:
            return []
        if view.breached(self.id, SUBJECT) or view.lockout_of(self.id) is not None:
            # Already locked until canTrade comes back (the lockout outlives a daily reset, which
            # re-arms the marker): the gate holds the account, flattening again would add nothing.
            return []
        why = "gateway reports canTrade: false for the account"
        inputs = (("can_trade", "false"),)
        return hard_lockout(view, self.id, why, inputs, SUBJECT, condition=CONDITION_CAN_TRADE)

    def _connection(self, view: AccountView, event: ConnectionEvent) -> list[Action]:
        # Alerts only, never a lockout (RULES.md): no subject, every loss and return is reported.
        hub = "gateway" if event.hub is None else f"{event.hub} hub"
        if event.state == "lost":
            message = f"connection lost ({hub}) at {view.calendar.show(view.now)}"
            inputs: tuple[tuple[str, str], ...] = (("hub", hub), ("state", "lost"))
            level = "warning"
        elif event.state == "restored":
            since = view.connection_lost_since
            if since is None:
                message = f"connection restored ({hub}); outage duration unknown"
                inputs = (("hub", hub), ("state", "restored"))
            else:
                outage = view.now - since
                message = (
                    f"connection restored ({hub}) after {_duration(outage.total_seconds())} "
                    f"(lost at {view.calendar.show(since)})"
                )
                inputs = (
                    ("hub", hub),
                    ("state", "restored"),
                    ("outage_seconds", str(outage.total_seconds())),
                )
            level = "info"
        else:
            return []
        return [
            Alert(
                account_id=view.account_id,
                rule=self.id,
                reason=message,
                inputs=inputs,
                level=level,
                message=message,
            )
        ]

    def describe(self) -> str:
        return (
            f"{self.id} auth_loss_guard: canTrade false -> flatten, cancel orders, lock until canTrade "
            "is true; connection lost/restored -> alert"
        )
