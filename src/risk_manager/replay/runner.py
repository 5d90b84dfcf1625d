"""Driving the engine with recorded lines (FORMATS.md "Replay output" semantics).

For each line, in file order:

1. every timer due up to the line's time fires *at its due time* (``engine.advance(deadline)`` for
   each deadline in turn, so a cooldown ending at 14:35:00 is reported at 14:35:00, not at the time
   of the next line);
2. the line's events are applied at the line's time.

After the last line the clock runs to the last line's time and then, if given, to ``until``.

Decisions taken at one instant (one line, or one timer deadline) are listed account by account, by
account id, each account's in the engine's order. Accounts are independent: the engine may decide
them in any order (a quote crossing the bands of several accounts wakes them in band order), and
this order is the same whether one engine replays every account or several engines each replay a
share of them (replay/split.py).

The replay is *dry*: actions are reported, not executed and not fed back. The recording already
holds what the gateway did afterwards (the closing trade, the flat position).

Recordings are in receive order, and receive times from a live socket can step back by a few
milliseconds (clock adjustments, two hubs). A line whose time is earlier than the previous line's is
replayed at the previous line's time, so time never runs backwards in the engine; such lines are
counted in ``ReplayStats.out_of_order``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from risk_manager.domain.actions import Action
from risk_manager.domain.events import Event, QuoteEvent
from risk_manager.replay.reader import ReplayLine

__all__ = [
    "END",
    "Applied",
    "EngineLike",
    "Group",
    "ReplayStats",
    "by_account",
    "replay",
    "replay_groups",
    "run_clock",
]


class EngineLike(Protocol):
    """The part of ``risk_manager.engine.engine.Engine`` a replay uses."""

    def apply(self, event: Event, now: datetime) -> list[Action]: ...

    def advance(self, now: datetime) -> list[Action]: ...

    def next_deadline(self) -> datetime | None: ...


@dataclass(slots=True)
class ReplayStats:
    """What a replay went through, for the summary."""

    lines: int = 0
    events: int = 0
    out_of_order: int = 0  # lines replayed at the previous line's time (see module doc)
    first_t: datetime | None = None
    last_t: datetime | None = None  # the time the engine's clock reached


class StuckDeadlineError(RuntimeError):
    """The engine kept reporting a deadline it had already been advanced to (an engine bug)."""


# A group of decisions: (line number, 0 for timers fired before the line / 1 for the line's own
# events, time, the actions by account). Groups come in (line number, phase, time) order.
Group = tuple[int, int, datetime, list[Action]]
END = 2**62  # the line number of the groups the clock fires after the last line


def by_account(actions: list[Action]) -> list[Action]:
    """The decisions of one instant account by account (stable: each account's keep their order)."""
    if len(actions) > 1:
        first = actions[0].account_id
        for action in actions:
            if action.account_id != first:
                return sorted(actions, key=_account_of)  # a copy: the engine may keep its list
    return actions


def _account_of(action: Action) -> int:
    return action.account_id


def run_clock(engine: EngineLike, until: datetime) -> Iterator[tuple[datetime, list[Action]]]:
    """Fire every deadline <= ``until`` at its own time, earliest first: (deadline, its actions)."""
    deadline = engine.next_deadline()
    while deadline is not None and deadline <= until:
        actions = engine.advance(deadline)
        if actions:
            yield deadline, by_account(actions)
        following = engine.next_deadline()
        if following is not None and following <= deadline:
            # Advancing to a deadline must consume it; otherwise this loop would never end.
            raise StuckDeadlineError(
                f"the engine still reports deadline {following.isoformat()} after advancing to "
                f"{deadline.isoformat()}"
            )
        deadline = following


# Called with a line's account events (not its quotes) once the engine applied them: a caller
# reading the engine after a trade (the day's P&L) without wrapping every line in a generator.
Applied = Callable[[tuple[Event, ...]], None]


def replay(
    lines: Iterable[ReplayLine],
    engine: EngineLike,
    until: datetime | None = None,
    stats: ReplayStats | None = None,
    applied: Applied | None = None,
) -> Iterator[tuple[datetime, Action]]:
    """(time, action) pairs in decision order. Errors of ``lines`` propagate after what came before."""
    for _, _, t, actions in replay_groups(lines, engine, until, stats, applied=applied):
        for action in actions:
            yield t, action


def replay_groups(
    lines: Iterable[ReplayLine],
    engine: EngineLike,
    until: datetime | None = None,
    stats: ReplayStats | None = None,
    keep: Callable[[tuple[Event, ...]], tuple[Event, ...]] | None = None,
    applied: Applied | None = None,
) -> Iterator[Group]:
    """The decisions of each instant that has some, as ``Group``s, in decision order.

    ``keep``, if given, picks the events the engine gets among a line's account events (a split
    replay's share of the accounts, replay/split.py); a quote always reaches the engine, and every
    line and event still counts in ``stats``. ``applied``, if given, is called with a line's account
    events (those kept) once the engine applied them, before the clock runs to the next line."""
    if stats is None:
        stats = ReplayStats()
    apply = engine.apply
    clock: datetime | None = None
    # The next deadline is asked for again only when the engine scheduled a timer since it last
    # answered, or when a line reaches it (see Engine.timers_pushed): most lines fire nothing.
    counted: Any = engine if isinstance(getattr(engine, "timers_pushed", None), int) else None
    known: datetime | None = None
    known_at = -1  # the push count when ``known`` was read; -1: never read
    # Millions of lines go through here: the bookkeeping is kept to a few cheap steps per line,
    # counted in locals and added to ``stats`` once, when the lines end or fail or the caller stops.
    lines_read = events_read = late = 0
    try:
        for line_no, t, _, events in lines:
            if clock is None:
                stats.first_t = t
            elif t < clock:
                t = clock
                late += 1
            lines_read += 1
            if counted is None or known_at != counted.timers_pushed or (known is not None and known <= t):
                for deadline, fired in run_clock(engine, t):
                    yield line_no, 0, deadline, fired
                if counted is not None:
                    known_at, known = counted.timers_pushed, engine.next_deadline()
            if events:
                events_read += len(events)
                quote = type(events[0]) is QuoteEvent
                if keep is not None and not quote:
                    events = keep(events)
                if len(events) == 1:
                    actions = apply(events[0], t)
                else:
                    actions = []
                    for event in events:
                        actions += apply(event, t)
                if applied is not None and not quote and events:
                    applied(events)
                if actions:
                    yield line_no, 1, t, by_account(actions)
            clock = t
    finally:
        stats.lines += lines_read
        stats.events += events_read
        stats.out_of_order += late
        if clock is not None:
            stats.last_t = clock
    end = clock
    if until is not None and (end is None or until > end):
        end = until
    if end is not None:
        for deadline, fired in run_clock(engine, end):
            yield END, 0, deadline, fired
        stats.last_t = end
