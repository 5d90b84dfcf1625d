"""RULE-009 session_block_outside: no position outside the allowed session; none left open past its end.

The windows, holidays and early closes live in timers.yaml and reach the rule as ``view.calendar``
(see engine/calendar.py for how holidays and early closes cut a window); a symbol with a per-symbol
window is judged by it, others by the global one, and no window configured means always open.

Two breaches, each followed by an account lockout until the next session start:

- a position opens, grows or reverses while its symbol is outside the session → close it
  (subject ``pos:<contract>``). When a lockout already covers it, the engine's lockout gate closes it
  and the rule does not send a second close for the same contract.
- a session ends while a position that was open before that end is still open
  (``close_at_session_end``, default true) → flatten (subject ``session_end:<end, ISO UTC>``); the
  rule asks to be woken at the end of the session of every open position.
"""

from __future__ import annotations

from datetime import datetime

from risk_manager.domain.actions import (
    Action,
    CancelOrders,
    ClosePosition,
    Flatten,
    Inputs,
    LockAccount,
    format_time,
)
from risk_manager.domain.events import ClockEvent, PositionEvent
from risk_manager.rules.api import AccountView, PositionView, Rule, RuleConfig

# What a PositionEvent did to a position that makes it a new exposure.
GROWTH = frozenset({"opened", "grew", "reversed"})


class SessionBlockOutsideConfig(RuleConfig):
    close_at_session_end: bool = True


class SessionBlockOutside(Rule[SessionBlockOutsideConfig]):
    """RULE-009: close positions that open or grow outside the allowed session, flatten at the session end,
    and lock the account until the next session start."""

    id = "RULE-009"
    key = "session_block_outside"
    config_model = SessionBlockOutsideConfig
    triggers = frozenset({PositionEvent, ClockEvent})

    def __init__(self, config: SessionBlockOutsideConfig) -> None:
        super().__init__(config)
        self._close_at_session_end = config.close_at_session_end  # the config is frozen

    def evaluate(self, view: AccountView) -> list[Action]:
        if view.calendar.always_open:
            return []  # no session configured: nothing is ever outside one
        actions = self._opened_outside(view)
        if self.config.close_at_session_end:
            actions.extend(self._session_ended(view))
        return actions

    def _opened_outside(self, view: AccountView) -> list[Action]:
        cal, now = view.calendar, view.now
        offending: list[tuple[str, PositionView]] = []
        for cid, change in view.changes.items():
            position = view.positions.get(cid)
            if change not in GROWTH or position is None or cal.in_session(position.root, now):
                continue
            if not view.breached(self.id, f"pos:{cid}"):
                offending.append((change, position))
        actions: list[Action] = []
        for change, position in offending:
            cid = position.contract_id
            until = cal.next_session_start(position.root, now)
            why = (
                f"position {change} ({position.size:+d} {cid}) outside the {position.root} session at "
                f"{cal.show(now)}; locked until the session starts {cal.show(until)}"
            )
            inputs = (
                ("contract", cid),
                ("change", change),
                ("size", str(position.size)),
                ("now", format_time(now)),
                ("next_session_start", format_time(until)),
            )
            subject = f"pos:{cid}"
            if view.locked(cid) is None:  # else the lockout gate is closing it already
                actions.append(
                    ClosePosition(
                        account_id=view.account_id,
                        rule=self.id,
                        contract_id=cid,
                        size=None,
                        reason=why,
                        inputs=inputs,
                        subject=subject,
                    )
                )
            actions += self._lock(view, until, subject, why, inputs)
        return actions

    def _session_ended(self, view: AccountView) -> list[Action]:
        cal, now = view.calendar, view.now
        ends: list[tuple[datetime, PositionView]] = []
        for position in view.positions.values():
            if position.size == 0 or cal.in_session(position.root, now):
                continue
            end = cal.previous_session_end(position.root, now)
            # Only a position that was open when the session ended; one opened later is a "pos:" breach.
            if end is not None and position.opened_at < end:
                ends.append((end, position))
        if not ends:
            return []
        # The latest end names the breach: acting on it covers every earlier end still in the list.
        end = max(e for e, _ in ends)
        subject = f"session_end:{format_time(end)}"
        if view.breached(self.id, subject):
            return []
        until = max(cal.next_session_start(p.root, now) for _, p in ends)
        held = ", ".join(f"{p.size:+d} {p.contract_id}" for _, p in ends)
        why = (
            f"session ended {cal.show(end)} with positions open ({held}); flatten and lock until the "
            f"session starts {cal.show(until)}"
        )
        inputs = (
            ("session_end", format_time(end)),
            ("positions", held),
            ("next_session_start", format_time(until)),
        )
        flatten = Flatten(
            account_id=view.account_id, rule=self.id, reason=why, inputs=inputs, subject=subject
        )
        return [flatten, *self._lock(view, until, subject, why, inputs)]

    def _lock(
        self, view: AccountView, until: datetime, subject: str, why: str, inputs: Inputs
    ) -> list[Action]:
        """Cancel orders and lock until ``until`` — unless this rule's lockout already lasts that long."""
        active = view.lockout_of(self.id)
        if active is not None and active.until is not None and active.until >= until:
            return []
        aid, rule = view.account_id, self.id
        return [
            CancelOrders(account_id=aid, rule=rule, reason=why, inputs=inputs, subject=subject),
            LockAccount(
                account_id=aid,
                rule=rule,
                reason=why,
                inputs=inputs,
                subject=subject,
                scope="account",
                until=until,
            ),
        ]

    def next_wakeup(self, view: AccountView) -> datetime | None:
        """The earliest end of the session of an open position (asked after every account event)."""
        calendar, now = view.calendar, view.now
        if not self._close_at_session_end or calendar.always_open:
            return None
        earliest: datetime | None = None
        for position in view.positions.values():
            if position.size != 0:
                end = calendar.session_end_after(position.root, now)
                if end is not None and (earliest is None or end < earliest):
                    earliest = end
        return earliest

    def describe(self) -> str:
        end = "flatten at the session end, " if self.config.close_at_session_end else ""
        return (
            f"{self.id} session_block_outside: close positions opened outside the session "
            f"(holidays, early closes included), {end}lock until the next session start"
        )
