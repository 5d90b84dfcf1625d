"""A replay split by account over worker processes (``risk-manager replay --workers N``).

Accounts are independent: what the rules decide for one never depends on another's events. A
replay of a busy day is nearly all engine work, so it is split by account over N processes, one
per core: worker k replays, through its own copy of the engine, the account events of the accounts
whose id is k modulo N, and every line that concerns all accounts (quotes, connection and clock
lines). Every worker reads the whole recording itself: each needs every quote, and reading is a
sixth of a busy replay.

Each worker sends its groups of decisions (``runner.replay_groups``) back over a pipe; the parent
merges them by (line, phase, time) and lists each instant's decisions by account id, which is the
order of a replay in one process (``runner.by_account``): the output is the same, byte for byte,
whatever the number of workers. A malformed line stops every worker at that line; the decisions
before it are all yielded, then the error is raised, as in one process.

Workers are forked: they inherit the engine built from the config, so nothing but decisions and
the final figures cross a pipe. Where fork is not available, ``available_workers`` answers 1.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import multiprocessing
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from risk_manager.domain.actions import Action
from risk_manager.domain.events import Event
from risk_manager.domain.records import fast_maker
from risk_manager.replay.reader import GZIP_MAGIC, Progress, ReplayInputError, ReplayLine, read_recording
from risk_manager.replay.runner import Applied, ReplayStats, by_account, replay_groups

__all__ = [
    "SPLIT_FROM_BYTES",
    "AccountShare",
    "SplitReplay",
    "WorkerHooks",
    "available_workers",
    "workers_for",
]

# Every worker reads the whole recording and handles every quote, a floor the split does not
# divide: past a few workers it outweighs the shrinking share (measured here on 2 cores only).
MAX_WORKERS = 4
_BATCH = 256  # groups per message: fewer, larger writes to the pipe

# Encoded decision: the record's class, its field values but ``inputs``, then ``inputs``. A pickled
# dataclass is rebuilt field by field through its __setstate__, at three times the cost of a tuple.
_Encoded = tuple[type[Action], tuple[Any, ...], tuple[tuple[str, str], ...]]
# An (input name, value) pair already in a batch, by value: the decisions of one instant share most
# of theirs (the best price, the new stop...), and a pair sent once in a message is unpickled once.
# Most of the parent's unpickling was building (and collecting) these small tuples.
_Pairs = dict[tuple[str, str], tuple[str, str]]
# A runner.Group as it crosses the pipe, with the worker's index: groups order as tuples (the
# index settles a tie before the lists are compared).
_Sent = tuple[int, int, datetime, int, list[_Encoded] | list[tuple[int, bytes]]]


# Below this size a recording replays in a few seconds in one process: not worth the workers'
# start and their duplicate reading. Gzip recordings count at their usual compression.
SPLIT_FROM_BYTES = 16 * 2**20
_GZIP_RATIO = 8


def workers_for(path: Path, requested: int | None) -> int:
    """The workers to replay ``path`` with: ``requested`` (capped at what is available), or, when
    None, every available core for a recording of SPLIT_FROM_BYTES or more and one otherwise. One
    for anything but a regular file: every worker reads the whole recording."""
    try:
        if not path.is_file():
            return 1  # a pipe (each worker would read a part of it), or nothing the reader can read
        size = path.stat().st_size
        with path.open("rb") as head:
            gzipped = head.read(2) == GZIP_MAGIC
    except OSError:
        return 1  # the reader names the problem
    available = available_workers()
    if requested is not None:
        return max(1, min(requested, available))
    return available if size * (_GZIP_RATIO if gzipped else 1) >= SPLIT_FROM_BYTES else 1


def available_workers() -> int:
    """How many workers a split replay can use here: the cores this process may run on (at most
    MAX_WORKERS), or 1 where worker processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


class AccountShare:
    """The share of the accounts one worker replays: those whose id is ``index`` modulo ``count``.

    ``keep`` picks a line's events of those accounts (``runner.replay_groups`` asks it for lines of
    account events only: a quote, a connection change concern all accounts, and every worker gets
    them). Every line reaches every worker, so that each worker's clock runs as in one process."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index
        self.count = count

    def keep(self, events: tuple[Event, ...]) -> tuple[Event, ...]:
        index, count = self.index, self.count
        if len(events) == 1:  # nearly every user-hub line: no generator to build
            return events if getattr(events[0], "account_id", index) % count == index else ()
        return tuple(event for event in events if getattr(event, "account_id", index) % count == index)


@dataclass(frozen=True, slots=True)
class WorkerHooks:
    """What a caller runs inside each worker, on that worker's engine (not the parent's copy).

    ``lines`` wraps the lines the worker reads; ``applied`` is called with each line's account
    events of the worker's accounts once its engine applied them (runner.replay_groups); ``finish``
    is called once the worker's replay ended (also after a malformed line) and its answer, which
    must pickle, is in ``SplitReplay.results``. ``render``, if given, turns each decision into the
    bytes the caller writes (None leaves it out), in the worker: ``SplitReplay.rendered`` then
    gives those bytes in order, and the parent only merges and writes them."""

    lines: Callable[[Iterable[ReplayLine], Any], Iterable[ReplayLine]] | None = None
    finish: Callable[[Any], Any] | None = None
    render: Callable[[datetime, Action], bytes | None] | None = None
    applied: Callable[[tuple[Event, ...], Any], None] | None = None


class SplitReplay:
    """(time, action) pairs of a replay split over ``workers`` processes, in the order one process
    gives. The workers start at construction (before the caller starts any thread); iterate once.

    After the iteration: ``stats`` holds the replay's figures, ``results`` each worker's
    ``hooks.finish`` answer and ``worker_seconds`` the CPU time each worker took. ``progress``, if
    set before iterating, gets worker 0's reading progress (lines, bytes)."""

    def __init__(
        self,
        path: Path | str,
        engine: Any,
        workers: int,
        until: datetime | None = None,
        *,
        stats: ReplayStats | None = None,
        hooks: WorkerHooks = WorkerHooks(),
    ) -> None:
        if workers < 2:
            raise ValueError(f"a split replay needs 2 workers or more, not {workers}")
        self.stats = stats if stats is not None else ReplayStats()
        self.results: list[Any] = []
        self.worker_seconds: list[float] = []  # each worker's CPU time, for a benchmark's balance
        self.progress: Progress | None = None
        self._render = hooks.render is not None
        self._ends: list[tuple[Any, ...] | None] = [None] * workers
        self._queues: list[queue.SimpleQueue[Any]] = []
        self._processes: list[Any] = []
        context = multiprocessing.get_context("fork")
        # Buffered output would be written again by each worker when it exits.
        sys.stdout.flush()
        sys.stderr.flush()
        for index in range(workers):
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_work,
                args=(Path(path), engine, AccountShare(index, workers), until, hooks, sending),
                name=f"risk-manager-replay-{index}",
                daemon=True,
            )
            process.start()
            sending.close()  # the worker's end: closed here, so the pipe ends when the worker does
            inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
            # A thread empties each pipe as fast as the worker writes, so that no worker waits on
            # the parent (or on another worker) while the merge waits for the slowest.
            threading.Thread(target=_drain, args=(receiving, inbox), daemon=True).start()
            self._queues.append(inbox)
            self._processes.append(process)

    def __iter__(self) -> Iterator[tuple[datetime, Action]]:
        if self._render:
            raise TypeError("this split replay renders its decisions in the workers: read rendered()")
        for t, held, shared in self._instants():
            if shared:
                for action in by_account([_decode(one) for one in held]):
                    yield t, action
            else:  # the usual case: an instant only one worker decided in
                for one in held:
                    yield t, _decode(one)

    def rendered(self) -> Generator[bytes, None, None]:
        """The decisions as ``hooks.render`` wrote them, in the order one process gives: the bytes
        of one instant at a time. The parent never rebuilds a decision."""
        if not self._render:
            raise TypeError("this split replay sends decisions, not rendered bytes: iterate it")
        for _, held, shared in self._instants():
            if shared:  # each worker's are by account and the accounts disjoint (see by_account)
                held = sorted(held, key=_first)
            yield b"".join([line for _, line in held])

    def _instants(self) -> Iterator[tuple[datetime, list[Any], bool]]:
        """(time, what the workers sent of that instant's decisions, whether several workers did),
        instant by instant; then the figures are in place, and a malformed line's error is raised."""
        finished = False
        try:
            streams = [self._groups(index) for index in range(len(self._queues))]
            # One instant's groups from several workers come one after the other: they are held
            # until the next instant's first group shows, then listed by account together.
            at: tuple[int, int, datetime] = (-1, 0, datetime.min)
            held: list[Any] = []
            shared = False  # held holds the groups of several workers
            for line_no, phase, t, _, encoded in heapq.merge(*streams):
                if line_no != at[0] or phase != at[1] or t != at[2]:
                    if held:
                        yield at[2], held, shared
                    at, held, shared = (line_no, phase, t), encoded, False
                else:
                    held = held + encoded
                    shared = True
            if held:
                yield at[2], held, shared
            finished = True
        finally:
            self._stop(finished)
        first = self._ends[0]
        assert first is not None
        _, worker_stats, _, error, _ = first
        for name in ReplayStats.__slots__:
            setattr(self.stats, name, getattr(worker_stats, name))
        self.results = [end[2] for end in self._ends if end is not None]
        self.worker_seconds = [end[4] for end in self._ends if end is not None]
        if error is not None:
            raise error

    def _groups(self, index: int) -> Iterator[_Sent]:
        inbox = self._queues[index]
        while True:
            message = inbox.get()
            if message is None:
                code = self._processes[index].exitcode
                raise RuntimeError(f"replay worker {index} stopped without finishing (exit code {code})")
            tag = message[0]
            if tag == "groups":
                yield from message[1]
            elif tag == "progress":
                if self.progress is not None:
                    self.progress(message[1], message[2])
            elif tag == "end":
                self._ends[index] = message
                return
            else:  # "crash"
                raise RuntimeError(f"replay worker {index} failed:\n{message[1]}")

    def _stop(self, finished: bool) -> None:
        """Wait for workers that sent their end; stop the others (the caller stopped reading, or
        a worker failed) at once."""
        for process in self._processes:
            if finished and process.is_alive():
                process.join(timeout=5)
            if process.is_alive():
                process.terminate()
            process.join()


def _applied_to(
    hook: Callable[[tuple[Event, ...], Any], None], engine: Any, events: tuple[Event, ...]
) -> None:
    hook(events, engine)


def _first(pair: tuple[int, bytes]) -> int:
    return pair[0]


def _drain(connection: Any, inbox: queue.SimpleQueue[Any]) -> None:
    try:
        while True:
            inbox.put(connection.recv())
    except (EOFError, OSError):
        inbox.put(None)
    finally:
        connection.close()


def _work(
    path: Path, engine: Any, share: AccountShare, until: datetime | None, hooks: WorkerHooks, out: Any
) -> None:
    """A worker's whole life: replay its share, send the groups, then ("end", stats, finish answer,
    error, CPU seconds)."""
    stats = ReplayStats()
    progress: Progress | None = None
    if share.index == 0:

        def progress(lines: int, offset: int) -> None:
            out.send(("progress", lines, offset))

    lines: Iterable[ReplayLine] = read_recording(path, progress)
    if hooks.lines is not None:
        lines = hooks.lines(lines, engine)
    batch: list[_Sent] = []
    pairs: _Pairs = {}  # the pairs in ``batch``
    error: ReplayInputError | None = None
    render = hooks.render
    applied: Applied | None = None
    if hooks.applied is not None:
        applied = functools.partial(_applied_to, hooks.applied, engine)
    try:
        try:
            for line_no, phase, t, actions in replay_groups(lines, engine, until, stats, share.keep, applied):
                if render is None:
                    batch.append(
                        (line_no, phase, t, share.index, [_encode(action, pairs) for action in actions])
                    )
                else:
                    # (account, bytes) pairs: the parent lists an instant that several workers
                    # decided in by account, as for decisions (by_account).
                    out_lines = [(a.account_id, text) for a in actions if (text := render(t, a)) is not None]
                    if not out_lines:
                        continue
                    batch.append((line_no, phase, t, share.index, out_lines))
                if len(batch) >= _BATCH:
                    out.send(("groups", batch))
                    batch, pairs = [], {}
        except ReplayInputError as exc:
            error = exc
        if batch:
            out.send(("groups", batch))
        finished = hooks.finish(engine) if hooks.finish is not None else None
        out.send(("end", stats, finished, error, time.process_time()))
    except (KeyboardInterrupt, BrokenPipeError):
        pass  # Ctrl-C reached the whole process group, or the parent stopped reading: just stop
    except BaseException:  # the parent reports it; a worker has no one else to tell
        with contextlib.suppress(OSError):
            out.send(("crash", traceback.format_exc()))
    finally:
        out.close()


_codecs: dict[type, tuple[Callable[[Any], tuple[Any, ...]], Callable[..., Action]]] = {}


def _codec(cls: type[Action]) -> tuple[Callable[[Any], tuple[Any, ...]], Callable[..., Action]]:
    """A decision kind's (values but inputs, in field order; maker from those values, then inputs)."""
    codec = _codecs.get(cls)
    if codec is None:
        names = tuple(f.name for f in fields(cls) if f.name != "inputs")
        codec = _codecs[cls] = (attrgetter(*names), fast_maker(cls, (*names, "inputs")))
    return codec


def _encode(action: Action, pairs: _Pairs) -> _Encoded:
    cls = type(action)
    inputs = action.inputs
    if inputs:
        # Pairs of strings (Inputs): equal ones are interchangeable.
        inputs = tuple([pairs.setdefault(pair, pair) for pair in inputs])
    return cls, _codec(cls)[0](action), inputs


def _decode(encoded: _Encoded) -> Action:
    cls, values, inputs = encoded
    return _codec(cls)[1](*values, inputs)
