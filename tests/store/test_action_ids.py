"""Every decided action has the id "<journal seq>.<index>", the same after a crash and a recovery;
and a store written by the previous encodings (schema 1, positional journal and snapshot) still
recovers to the very engine state it held."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from stream import build_engine, stream
from test_recovery import crash, start

from risk_manager.daemon import Decision, recover
from risk_manager.store import migrations
from risk_manager.store.codec import ClearLockout
from risk_manager.store.sqlite import Store

FIXTURE = Path(__file__).parent.parent / "data" / "store" / "v1-journal.db"
FIXTURE_STATE = FIXTURE.with_name("v1-journal.final-state.json")


def test_action_ids_are_journal_seq_and_index_and_survive_a_crash_and_recovery(
    tmp_path: Path, stores: list[Store]
) -> None:
    db = tmp_path / "store.db"
    events = stream(1200)
    first = start(db, build_engine, stores, snapshot_every=300)
    seen: list[Decision] = []
    for t, event in events[:900]:
        decisions = first.decide(event, t)
        assert [d.index for d in decisions] == list(range(len(decisions)))
        assert len({d.seq for d in decisions}) <= 1
        seen += decisions
    assert len(seen) > 30
    assert len({d.action_id for d in seen}) == len(seen)
    crash(first)

    store = Store.open(db)
    stores.append(store)
    recovered, report = recover(store, build_engine, events[899][0])
    rows = {row.action_id: row for row in store.audit()}
    # every decision the caller saw is on file under its id, as it was returned
    for decision in seen:
        row = rows[decision.action_id]
        assert (row.id, row.journal_seq, row.kind, row.rule, row.account) == (
            decision.audit_id,
            decision.seq,
            decision.action.kind,
            decision.action.rule,
            decision.action.account_id,
        )
    assert all(row.action_id is not None for row in rows.values())

    # Replaying the journal through a fresh engine decides, entry by entry, the same actions at
    # the same indices: the ids are a function of the journal, whatever process computes them.
    engine = build_engine()
    replayed: dict[str, dict[str, object]] = {}
    for seq, at, entry in store.iter_journal():
        if type(entry) is ClearLockout:
            actions = engine.clear_lockout(entry.account_id, at, entry.by, entry.why, entry.rule)
        else:
            actions = engine.apply(entry, at)  # type: ignore[arg-type]
        for index, action in enumerate(actions):
            replayed[f"{seq}.{index}"] = action.record(at)
    startup = {d.action_id for d in report.decisions}
    for action_id, row in rows.items():
        if action_id in startup:
            continue  # start-up's own decisions carry notes (expired while down): same ids, new words
        assert replayed[action_id] == row.record, action_id

    # going on after the restart: new decisions get new, unique ids
    later = [d for t, event in events[900:] for d in recovered.decide(event, t)]
    assert later and not {d.action_id for d in later} & set(rows)


def test_a_store_written_by_the_previous_encodings_recovers_to_the_state_it_held(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, db)
    with sqlite3.connect(db) as con:  # written before action ids existed
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 1
    con.close()
    with Store.open(db) as store:  # the writer upgrades it
        assert store.version().version == migrations.SCHEMA_VERSION
        assert all(row.action_id is None for row in store.audit())
        entries = list(store.iter_journal())  # every old positional row decodes
        kinds = {type(entry).__name__ for _, _, entry in entries}
        assert kinds >= {"AccountEvent", "OrderEvent", "PositionEvent", "TradeEvent", "QuoteEvent"}
        assert "ClearLockout" in kinds
        persistent, report = recover(store, build_engine, entries[-1][1])
        assert report.snapshot_seq is not None and report.replayed > 100  # an old snapshot + old rows
        # the state the old program held at the end (its own, version 1, snapshot of it)
        held = build_engine()
        held.restore(orjson.loads(FIXTURE_STATE.read_bytes()))
        assert persistent.engine.export_state() == held.export_state()
        persistent.close()


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()
