"""A replay split by account over worker processes gives what one process gives, byte for byte.

The workers are real forked processes replaying real recordings through the real engine; the
streams are the generated gateway traffic of test_replay_properties and the shipped sample day.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import MISSING, fields
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_properties import CONFIGS, SAMPLE, engine_for, parse, raw_lines

from risk_manager.domain.actions import ACTION_KINDS, Action, ModifyStop
from risk_manager.domain.events import AccountEvent, ConnectionEvent, Event, QuoteEvent, TradeEvent
from risk_manager.replay.reader import GZIP_MAGIC, ReplayInputError, ReplayLine, read_recording
from risk_manager.replay.runner import ReplayStats, replay, replay_groups
from risk_manager.replay.split import (
    SPLIT_FROM_BYTES,
    AccountShare,
    SplitReplay,
    WorkerHooks,
    _decode,
    _encode,
    available_workers,
    workers_for,
)

SAMPLE_DAY = SAMPLE / "sample-day.jsonl.gz"


def whole(t: datetime, action: Action) -> bytes:
    """A decision's output line, then every field of it, those the output leaves out too."""
    values = [(f.name, getattr(action, f.name)) for f in fields(action)]
    return orjson.dumps(action.record(t)) + repr((type(action), values)).encode()


def one_process(path: Path, config: str, until: Any = None) -> tuple[list[bytes], ReplayStats]:
    stats = ReplayStats()
    out = [whole(t, a) for t, a in replay(read_recording(path), engine_for(config), until, stats)]
    return out, stats


def split(path: Path, config: str, workers: int, until: Any = None) -> tuple[list[bytes], ReplayStats]:
    stats = ReplayStats()
    decisions = SplitReplay(path, engine_for(config), workers, until, stats=stats)
    return [whole(t, a) for t, a in decisions], stats


def written(raw: Iterable[bytes], directory: str) -> Path:
    path = Path(directory) / "day.jsonl"
    path.write_bytes(b"\n".join(raw) + b"\n")
    return path


@settings(max_examples=30, deadline=None)
@given(
    raw=raw_lines(),
    config=st.sampled_from(sorted(CONFIGS)),
    workers=st.integers(2, 3),
    extra_hours=st.integers(0, 30),
)
def test_a_split_replay_of_any_stream_gives_the_decisions_and_figures_of_one_process(
    raw: list[bytes], config: str, workers: int, extra_hours: int
) -> None:
    until = max(line.t for line in parse(raw)) + timedelta(hours=extra_hours)
    with tempfile.TemporaryDirectory() as directory:
        path = written(raw, directory)
        expected, expected_stats = one_process(path, config, until)
        got, stats = split(path, config, workers, until)
    assert got == expected
    assert stats == expected_stats


def rendered(path: Path, config: str, workers: int, until: Any = None) -> tuple[bytes, ReplayStats]:
    stats = ReplayStats()
    decisions = SplitReplay(
        path, engine_for(config), workers, until, stats=stats, hooks=WorkerHooks(render=whole)
    )
    return b"".join(decisions.rendered()), stats


@settings(max_examples=30, deadline=None)
@given(raw=raw_lines(), config=st.sampled_from(sorted(CONFIGS)), workers=st.integers(2, 3))
def test_decisions_rendered_in_the_workers_come_out_as_one_process_renders_them(
    raw: list[bytes], config: str, workers: int
) -> None:
    until = max(line.t for line in parse(raw)) + timedelta(hours=2)
    with tempfile.TemporaryDirectory() as directory:
        path = written(raw, directory)
        expected, expected_stats = one_process(path, config, until)
        got, stats = rendered(path, config, workers, until)
    assert got == b"".join(expected)
    assert stats == expected_stats


def test_decisions_the_render_leaves_out_are_not_written_and_the_rest_keep_their_order() -> None:
    def odd_accounts(t: datetime, action: Action) -> bytes | None:
        return whole(t, action) if action.account_id % 2 else None

    expected, _ = one_process(SAMPLE_DAY, "sample")
    every = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2)
    kept = [whole(t, a) for t, a in every if a.account_id % 2]
    assert expected != kept and kept  # the sample day has decisions on both kinds of account
    decisions = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2, hooks=WorkerHooks(render=odd_accounts))
    assert b"".join(decisions.rendered()) == b"".join(kept)


def test_a_split_replay_is_read_the_way_its_hooks_say() -> None:
    rendering = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2, hooks=WorkerHooks(render=whole))
    with pytest.raises(TypeError, match="read rendered"):
        list(rendering)
    list(rendering.rendered())  # the workers end
    deciding = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2)
    with pytest.raises(TypeError, match="iterate it"):
        list(deciding.rendered())
    list(deciding)


@pytest.mark.parametrize("workers", [2, 3])
def test_the_sample_day_split_over_workers_gives_the_output_of_one_process(workers: int) -> None:
    expected, expected_stats = one_process(SAMPLE_DAY, "sample")
    got, stats = split(SAMPLE_DAY, "sample", workers)
    assert len(expected) > 20
    assert got == expected
    assert stats == expected_stats


@settings(max_examples=60, deadline=None)
@given(raw=raw_lines(), config=st.sampled_from(sorted(CONFIGS)))
def test_the_decisions_of_one_instant_are_listed_by_account_id(raw: list[bytes], config: str) -> None:
    for _, _, _, actions in replay_groups(parse(raw), engine_for(config)):
        ids = [a.account_id for a in actions]
        assert ids == sorted(ids)


def test_a_malformed_line_stops_the_split_replay_after_every_decision_before_it() -> None:
    lines = gzip.decompress(SAMPLE_DAY.read_bytes()).splitlines()
    bad_at = len(lines) * 2 // 3
    raw = [*lines[: bad_at - 1], b'{"t": "not a time"}', *lines[bad_at - 1 :]]
    with tempfile.TemporaryDirectory() as directory:
        path = written(raw, directory)
        before = [
            orjson.dumps(a.record(t)) for t, a in replay(parse(lines[: bad_at - 1]), engine_for("sample"))
        ]
        stats = ReplayStats()
        got: list[bytes] = []
        with pytest.raises(ReplayInputError) as raised:
            for t, action in SplitReplay(path, engine_for("sample"), 2, stats=stats):
                got.append(orjson.dumps(action.record(t)))
    assert raised.value.line_no == bad_at
    assert '"t" is not an ISO-8601 time' in str(raised.value)
    assert got == before
    assert stats.lines == bad_at - 1


def test_a_malformed_line_stops_a_rendering_split_replay_after_every_line_before_it() -> None:
    lines = gzip.decompress(SAMPLE_DAY.read_bytes()).splitlines()
    bad_at = len(lines) // 2
    raw = [*lines[: bad_at - 1], b"{not json", *lines[bad_at - 1 :]]
    with tempfile.TemporaryDirectory() as directory:
        path = written(raw, directory)
        before = b"".join(whole(t, a) for t, a in replay(parse(lines[: bad_at - 1]), engine_for("sample")))
        got: list[bytes] = []
        decisions = SplitReplay(path, engine_for("sample"), 2, hooks=WorkerHooks(render=whole))
        with pytest.raises(ReplayInputError) as raised:
            for chunk in decisions.rendered():
                got.append(chunk)
    assert raised.value.line_no == bad_at
    assert before and b"".join(got) == before


def test_a_worker_that_fails_is_reported_with_its_traceback() -> None:
    def failing(lines: Iterable[ReplayLine], engine: Any) -> Iterator[ReplayLine]:
        for line in lines:
            if line.line_no == 40:
                raise RuntimeError("the wrapped lines broke at line 40")
            yield line

    decisions = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2, hooks=WorkerHooks(lines=failing))
    with pytest.raises(RuntimeError, match=r"replay worker 0 failed:(.|\n)*broke at line 40"):
        list(decisions)


def test_each_worker_answers_for_its_own_share_of_the_accounts() -> None:
    def accounts(engine: Any) -> list[int]:
        return sorted(engine.accounts)

    decisions = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2, hooks=WorkerHooks(finish=accounts))
    seen = {a.account_id for _, a in decisions}
    first, second = decisions.results
    assert all(a % 2 == 0 for a in first) and all(a % 2 == 1 for a in second)
    assert seen <= set(first) | set(second)
    assert len(first) + len(second) >= 2


def test_an_account_share_gives_its_engine_only_its_accounts_events_and_every_quote() -> None:
    lines = list(read_recording(SAMPLE_DAY))
    share = AccountShare(1, 2)
    engine = engine_for("sample")
    stats, everyones_stats = ReplayStats(), ReplayStats()
    list(replay_groups(lines, engine, stats=stats, keep=share.keep))
    everyone = engine_for("sample")
    list(replay_groups(lines, everyone, stats=everyones_stats))
    assert set(engine.accounts) == {a for a in everyone.accounts if a % 2 == 1}
    quoted = {e.contract_id for line in lines for e in line.events if isinstance(e, QuoteEvent)}
    assert set(engine.quotes) == quoted == set(everyone.quotes)
    assert stats == everyones_stats  # every line and event counts: the clock runs as in one process


def test_the_applied_hook_gets_each_lines_account_events_once_the_engine_applied_them() -> None:
    lines = list(read_recording(SAMPLE_DAY))
    engine = engine_for("sample")
    seen: list[tuple[Event, ...]] = []
    trades_applied: list[int] = []

    def applied(events: tuple[Event, ...]) -> None:
        seen.append(events)
        for event in events:
            if isinstance(event, TradeEvent):  # the engine counted it before the hook ran
                day = engine.day_figures(event.account_id)
                assert day is not None
                trades_applied.append(day.trade_count)

    list(replay_groups(lines, engine, applied=applied))
    assert seen == [
        line.events for line in lines if line.events and not isinstance(line.events[0], QuoteEvent)
    ]
    assert trades_applied and all(count >= 1 for count in trades_applied)


def test_the_applied_hook_of_a_share_gets_only_the_events_the_share_keeps() -> None:
    lines = list(read_recording(SAMPLE_DAY))
    share = AccountShare(0, 2)
    seen: list[tuple[Event, ...]] = []
    list(replay_groups(lines, engine_for("sample"), keep=share.keep, applied=seen.append))
    kept = [
        share.keep(line.events)
        for line in lines
        if line.events and not isinstance(line.events[0], QuoteEvent)
    ]
    assert seen == [events for events in kept if events]
    assert seen and all(getattr(e, "account_id", 0) % 2 == 0 for events in seen for e in events)


def test_an_account_share_keeps_the_events_of_its_accounts_and_those_of_no_account() -> None:
    def account(account_id: int) -> AccountEvent:
        return AccountEvent(
            account_id=account_id, name=f"ACC-{account_id}", balance=Decimal(50000), can_trade=True
        )

    share = AccountShare(1, 3)
    mine, other, both = account(7), account(9), ConnectionEvent("lost")
    assert share.keep((mine,)) == (mine,)
    assert share.keep((other,)) == ()
    assert share.keep((both,)) == (both,)
    assert share.keep((other, mine, both, account(4), other)) == (mine, both, account(4))


def test_a_split_replay_needs_two_workers() -> None:
    with pytest.raises(ValueError, match="2 workers or more"):
        SplitReplay(SAMPLE_DAY, engine_for("sample"), 1)


def test_small_recordings_replay_in_one_process_and_large_ones_over_the_cores(tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"{}\n")
    large = tmp_path / "large.jsonl"
    with large.open("wb") as fh:
        fh.truncate(SPLIT_FROM_BYTES)  # sparse: the size is what counts
    packed = tmp_path / "large.jsonl.gz"
    with packed.open("wb") as fh:
        fh.write(GZIP_MAGIC)
        fh.truncate(SPLIT_FROM_BYTES // 8)  # gzip counts at its usual ratio
    assert workers_for(small, None) == 1
    assert workers_for(large, None) == available_workers()
    assert workers_for(packed, None) == available_workers()
    assert workers_for(large, 1) == 1
    assert workers_for(small, 64) == available_workers()  # asked for: used, up to the cores
    assert workers_for(tmp_path / "missing.jsonl", None) == 1  # the reader names the problem
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    assert workers_for(fifo, 2) == 1  # each worker would read a part of a pipe
    assert 1 <= available_workers() <= max(1, os.cpu_count() or 1)


def test_a_recording_error_crosses_a_process_boundary_intact() -> None:
    error = ReplayInputError("day.jsonl", 12, '"t" is missing')
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line_no, copy.problem, str(copy)) == (
        "day.jsonl",
        12,
        '"t" is missing',
        'day.jsonl, line 12: "t" is missing',
    )


def test_a_caller_that_stops_reading_early_stops_the_workers() -> None:
    decisions = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2)
    iterator = iter(decisions)
    next(iterator)
    iterator.close()  # type: ignore[attr-defined]
    assert all(not process.is_alive() for process in decisions._processes)


def test_a_caller_that_stops_reading_rendered_decisions_early_stops_the_workers() -> None:
    decisions = SplitReplay(SAMPLE_DAY, engine_for("sample"), 2, hooks=WorkerHooks(render=whole))
    chunks = decisions.rendered()
    next(chunks)
    chunks.close()
    assert all(not process.is_alive() for process in decisions._processes)


def crossed(action: Action) -> Action:
    """The decision as the parent rebuilds it from what a worker sends over the pipe."""
    decoded = _decode(pickle.loads(pickle.dumps(_encode(action, {}))))
    assert type(decoded) is type(action)
    assert [getattr(decoded, f.name) for f in fields(action)] == [
        getattr(action, f.name) for f in fields(action)
    ]
    assert repr(decoded) == repr(action)
    return decoded


def test_a_decision_of_every_kind_crosses_the_pipe_whole() -> None:
    for cls in ACTION_KINDS.values():
        required = {f.name: f"x-{f.name}" for f in fields(cls) if f.default is MISSING}
        for inputs in [(), (("best", "21010.25"),), (("a", "1"), ("b", "2"), ("c", "3"))]:
            action = cls(**{**required, "account_id": 7, "inputs": inputs, "subject": "pos:MNQ"})
            assert type(crossed(action)) is cls and crossed(action).inputs == inputs


def test_the_equal_input_pairs_of_a_batch_cross_the_pipe_once_and_every_decision_keeps_its_own() -> None:
    def stop(account_id: int, entry: str) -> ModifyStop:
        inputs = (("entry", entry), ("best", "21010.25"), ("stop", "21008.25"))
        return ModifyStop(
            account_id=account_id,
            rule="RULE-012",
            contract_id="CON.F.US.MNQ.H26",
            order_id=account_id,
            stop_price=Decimal("21008.25"),
            inputs=tuple((name, value + "") for name, value in inputs),  # equal pairs, not the same
        )

    pairs: dict[tuple[str, str], tuple[str, str]] = {}
    sent = [stop(1, "21000.25"), stop(2, "21001.5")]
    first, second = (_decode(one) for one in pickle.loads(pickle.dumps([_encode(a, pairs) for a in sent])))
    assert [first.inputs, second.inputs] == [a.inputs for a in sent]
    assert first.inputs[1] is second.inputs[1] and first.inputs[2] is second.inputs[2]
    assert first.inputs[0] != second.inputs[0]
