"""The SQLite store: exact journal round trips, files it must refuse (untouched), schema versions,
one writer with non-blocking readers, retention, and the integrity check."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk_manager import __version__
from risk_manager.domain.actions import Alert, ClosePosition, LockAccount, Unlock
from risk_manager.domain.events import (
    AccountEvent,
    ClockEvent,
    ConnectionEvent,
    OrderEvent,
    PositionEvent,
    QuoteEvent,
    TradeEvent,
)
from risk_manager.domain.lockouts import Lockout
from risk_manager.store import migrations
from risk_manager.store.codec import ClearLockout, Entry, decode, encode
from risk_manager.store.errors import StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from risk_manager.store.sqlite import Batch, Store, StoreReader

T = datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.H26"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = Store.open(db)
    yield s
    s.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def filled(db: Path, n: int = 5000) -> None:
    with Store.open(db) as s:
        s.append_events((T + timedelta(seconds=i), QuoteEvent(MNQ, 21000 + i * 0.25)) for i in range(n))


# ---- codec ---------------------------------------------------------------------------------------

EVERY_KIND: list[Entry] = [
    AccountEvent(7, "50K-1", Decimal("50123.45"), False, True, None),
    AccountEvent(7),
    OrderEvent(
        55, 7, MNQ, 1, 4, 1, 2, None, Decimal("20990.25"), 0, None, "tag", T, T + timedelta(seconds=1)
    ),
    OrderEvent(56, 7, MNQ, 2, 2, 0, 1, Decimal("1E+2"), None, 1, Decimal("21000.000000001")),
    PositionEvent(31, 7, MNQ, 2, 3, Decimal("21000.125"), T),
    PositionEvent(31, 7, MNQ, 1, 0, Decimal(0)),
    TradeEvent(901, 7, MNQ, Decimal("21000.25"), None, Decimal("0.37"), 0, 2, False, 55, T),
    TradeEvent(902, 7, MNQ, Decimal("20990"), Decimal("-20.50"), Decimal("0"), 1, 2, True, None),
    QuoteEvent(MNQ, 21001.0, 21000.75, 21001.0, T),
    QuoteEvent(MNQ, None, 0.1 + 0.2, None),
    QuoteEvent(MNQ, 21000),  # an int price stays an int
    ConnectionEvent("lost", "market"),
    ConnectionEvent("restored"),
    ClockEvent(),
    ClearLockout(7, "alice", "verified flat", "RULE-003"),
    ClearLockout(7, "bob", "all of them"),
]


@pytest.mark.parametrize("entry", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_journal_entry_kind_reads_back_identical(entry: Entry) -> None:
    kind, account, payload = encode(entry)
    back = decode(kind, payload)
    assert back == entry
    assert [type(v) for v in vars_of(back)] == [type(v) for v in vars_of(entry)]
    assert account == getattr(entry, "account_id", None)


def vars_of(obj: object) -> list[object]:
    return [getattr(obj, name) for name in getattr(obj, "__slots__", ())]


@given(
    pnl=st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**7), max_value=10**7),
    price=st.floats(min_value=0.01, max_value=1e6, allow_nan=False),
    micros=st.integers(min_value=0, max_value=10**15),
)
def test_money_quote_prices_and_times_are_exact_after_the_round_trip(
    pnl: Decimal, price: float, micros: int
) -> None:
    t = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    trade = TradeEvent(1, 7, MNQ, pnl, pnl, pnl, 0, 1, False, 1, t)
    quote = QuoteEvent(MNQ, price, price, price, t)
    assert decode(*encode(trade)[::2]) == trade
    back = decode(*encode(quote)[::2])
    assert isinstance(back, QuoteEvent) and back.last == price and back.timestamp == t


def test_a_journal_row_of_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(StoreCorruptError, match=r"journal row 12 has kind 'Z'.*newer risk-manager"):
        decode("Z", b"[]", 12)
    with pytest.raises(StoreCorruptError, match=r"journal row 13 \(trade\) is damaged"):
        decode("T", b"[1, 2]", 13)


def test_appended_events_come_back_in_order_with_their_times(store: Store) -> None:
    entries = [(T + timedelta(milliseconds=i), e) for i, e in enumerate(EVERY_KIND)]
    assert store.append_events(entries) == len(entries)
    assert [(seq, t, e) for seq, t, e in store.iter_journal()] == [
        (i + 1, t, e) for i, (t, e) in enumerate(entries)
    ]
    assert [seq for seq, _, _ in store.iter_journal(after_seq=14)] == [15, 16]


# ---- opening -------------------------------------------------------------------------------------


def test_a_new_store_is_created_with_the_current_schema_in_wal_mode(db: Path) -> None:
    with Store.open(db) as s:
        info = s.version()
        assert (info.version, info.program) == (migrations.SCHEMA_VERSION, __version__)
        assert s.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "created_at" in s.meta()
    assert not db.with_name(db.name + ".creating").exists()
    with Store.open(db) as again:  # reopening migrates nothing and keeps the rows
        assert again.version().version == migrations.SCHEMA_VERSION


def test_a_creation_interrupted_before_the_file_was_in_place_leaves_nothing_to_refuse(db: Path) -> None:
    leftover = db.with_name(db.name + ".creating")
    leftover.write_bytes(b"half-written by a killed process")
    with Store.open(db) as s:
        assert s.version().version == migrations.SCHEMA_VERSION
    assert not leftover.exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "malformed"),
        (lambda b: b[:100], "malformed"),
        (lambda b: b[:8192] + bytes(range(256)) * 16 + b[12288:], "malformed"),
        (lambda b: b"not a database\n" * 500, "file is not a database"),
    ],
    ids=["truncated-half", "truncated-header", "garbage-pages", "text-file"],
)
def test_a_damaged_or_truncated_file_is_a_clear_error_and_is_never_written(
    db: Path, damage: object, message: str
) -> None:
    filled(db)
    db.write_bytes(damage(db.read_bytes()))  # type: ignore[operator]
    before = (digest(db), db.stat().st_size)
    with pytest.raises(StoreCorruptError, match=message) as err:
        Store.open(db)
    assert "left untouched" in str(err.value)
    assert (digest(db), db.stat().st_size) == before
    # A reader (the trader view) does not scan the whole file on open; if the damage is past what
    # opening reads, its first read of the damaged part fails, and `check` reports it.
    try:
        reader = Store.open(db, readonly=True)
    except StoreCorruptError as exc:
        assert message in str(exc)
    else:
        with reader:
            assert not reader.check().ok
            with pytest.raises(StoreCorruptError, match=message):
                reader.counts()
                list(reader.iter_journal())
    assert (digest(db), db.stat().st_size) == before


def test_an_empty_file_is_refused_not_initialized(db: Path) -> None:
    db.write_bytes(b"")
    with pytest.raises(StoreCorruptError, match=r"empty \(0 bytes\)"):
        Store.open(db)
    assert db.read_bytes() == b""


def test_someone_elses_sqlite_database_is_refused_and_untouched(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    before = digest(db)
    with pytest.raises(StoreCorruptError, match=r"not a risk-manager store \(it has tables customers"):
        Store.open(db)
    assert digest(db) == before


def test_a_database_from_a_newer_program_names_the_version_needed_and_stays_untouched(db: Path) -> None:
    filled(db, 10)
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO schema_version VALUES (?, '2027-01-01', '4.2.0')", (migrations.SCHEMA_VERSION + 1,)
    )
    con.commit()
    con.close()
    before = digest(db)
    for readonly in (False, True):
        with pytest.raises(StoreVersionError) as err:
            Store.open(db, readonly=readonly)
        text = str(err.value)
        assert f"schema version {migrations.SCHEMA_VERSION + 1}" in text
        assert "risk-manager 4.2.0" in text and "Upgrade risk-manager to 4.2.0 or later" in text
        assert digest(db) == before


def test_a_missing_file_is_an_error_for_readers_and_created_for_writers(db: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(db, readonly=True)
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(db, create=False)
    with pytest.raises(StoreError, match=r"directory .* does not exist"):
        Store.open(db.parent / "nope" / "x.db")
    Store.open(db).close()
    assert db.exists()


def test_only_one_writer_at_a_time_but_readers_are_welcome(db: Path) -> None:
    with Store.open(db):
        with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
            Store.open(db)
        with Store.open(db, readonly=True) as reader:
            assert reader.counts()["journal"] == 0
    Store.open(db).close()  # the lock went with the first writer


def test_a_reader_cannot_write(db: Path) -> None:
    Store.open(db).close()
    with Store.open(db, readonly=True) as reader, pytest.raises(StoreError, match="read-only"):
        reader.append_events([(T, ClockEvent())])


# ---- migrations ----------------------------------------------------------------------------------


def _with_migration(monkeypatch: pytest.MonkeyPatch, *statements: str) -> None:
    extra = migrations.Migration(migrations.SCHEMA_VERSION + 1, "test", statements)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, extra))
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", extra.version)


def test_an_older_store_is_migrated_once_and_keeps_its_rows(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(db, 10)
    _with_migration(monkeypatch, "ALTER TABLE audit ADD COLUMN operator TEXT")
    with Store.open(db) as s:
        assert s.version().version == migrations.SCHEMA_VERSION
        assert s.counts()["journal"] == 10
        assert "operator" in [r[1] for r in s.connection.execute("PRAGMA table_info(audit)")]
    with Store.open(db) as s:
        rows = s.connection.execute("SELECT version FROM schema_version").fetchall()
        assert [r[0] for r in rows] == list(range(1, migrations.SCHEMA_VERSION + 1))


def test_a_failing_migration_leaves_the_previous_version_intact(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(db, 10)
    old = migrations.SCHEMA_VERSION
    _with_migration(monkeypatch, "CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL")
    with pytest.raises(
        StoreError, match=f"upgrading the schema to version {old + 1}.*stays at version {old}"
    ):
        Store.open(db)
    monkeypatch.undo()
    with Store.open(db) as s:
        assert s.version().version == old
        assert "extra" not in {r[0] for r in s.connection.execute("SELECT name FROM sqlite_master")}


def test_a_reader_of_an_older_store_is_told_to_let_the_daemon_upgrade_it(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(db, 10)
    _with_migration(monkeypatch, "CREATE TABLE extra (x INTEGER)")
    with pytest.raises(StoreVersionError, match="Open it once for writing with this version"):
        Store.open(db, readonly=True)


# ---- lockouts and audit rows ---------------------------------------------------------------------


def test_lockout_rows_follow_lock_supersede_and_unlock(store: Store) -> None:
    short = LockAccount(account_id=7, rule="RULE-007", until=T + timedelta(minutes=5), reason="loss -120")
    longer = LockAccount(account_id=7, rule="RULE-007", until=T + timedelta(minutes=15), reason="loss -250")
    ids = store.record_actions(T, [short, ClosePosition(account_id=7, rule="RULE-004", contract_id=MNQ)])
    store.record_actions(T + timedelta(minutes=1), [longer])
    [active] = store.active_lockouts(7)
    assert (active.until, active.reason) == (T + timedelta(minutes=15), "loss -250")
    first = store.lockouts(7)[0]
    assert (first.cleared_by, first.audit_id) == ("superseded", ids[0])
    assert first.cleared_why is not None and first.cleared_why.startswith("replaced (until")
    store.record_actions(T + timedelta(minutes=15), [Unlock(account_id=7, rule="RULE-007", reason="time")])
    assert store.active_lockouts() == []
    assert store.lockouts(7)[1].cleared_at == T + timedelta(minutes=15)


class SyncRecordingStore(Store):
    """A real Store noting SQLite's synchronous level at each COMMIT (2 = FULL: fsync, 1 = NORMAL)."""

    levels: list[int]

    def _commit(self) -> None:
        self.levels.append(self.connection.execute("PRAGMA synchronous").fetchone()[0])
        super()._commit()


def test_a_batch_the_caller_marks_durable_commits_with_fsync_others_without(db: Path) -> None:
    # The store decides nothing about durability (no rule names in it): the caller says.
    with SyncRecordingStore.open(db) as s:
        assert isinstance(s, SyncRecordingStore)
        s.levels = []
        s.append_events([(T, QuoteEvent(MNQ, 1.0))])
        s.record_actions(T, [Alert(account_id=7, rule="RULE-001", message="warning")])
        s.record_actions(
            T, [LockAccount(account_id=7, rule="RULE-003", until=T + timedelta(hours=1))], durable=True
        )
        s.record_actions(T, [Unlock(account_id=7, rule="RULE-003")], durable=True)
        s.append_events([(T, QuoteEvent(MNQ, 2.0))], durable=True)
        assert s.levels == [1, 1, 2, 2, 2]
        assert s.connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # back to NORMAL


def test_a_durable_lockout_commit_is_fast(store: Store) -> None:
    times = []
    for i in range(200):
        batch = Batch()
        lock = LockAccount(account_id=i, rule="RULE-003", until=T + timedelta(hours=1), reason="x")
        store.stage_actions(batch, T, [lock])
        start = time.perf_counter()
        store.write(batch)
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[int(len(times) * 0.99) - 1] < 0.05  # generous for CI; bench/store.py measures 5 ms


class FailingStore(Store):
    """A real Store whose next ``fail`` commits fail as a full disk would."""

    fail = 0

    def _commit(self) -> None:
        if self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super()._commit()


def test_a_failed_write_keeps_its_rows_reserved_so_the_batch_can_be_retried(db: Path) -> None:
    with FailingStore.open(db) as s:
        assert isinstance(s, FailingStore)
        batch = Batch()
        s.stage_entry(batch, T, QuoteEvent(MNQ, 1.0))
        lock = LockAccount(account_id=7, rule="RULE-003", until=T + timedelta(hours=1))
        [audit_id] = s.stage_actions(batch, T, [lock], journal_seq=1)
        s.stage_lockout_start(batch, Lockout(7, "RULE-003", "", T, until=T + timedelta(hours=1)), audit_id)
        s.fail = 1
        with pytest.raises(StoreError, match="disk is full"):
            s.write(batch)
        assert s.counts()["journal"] == 0 and s.counts()["lockouts"] == 0  # nothing half-written
        s.stage_entry(batch, T, QuoteEvent(MNQ, 2.0))  # more arrives meanwhile
        s.write(batch)
        assert [seq for seq, _, _ in s.iter_journal()] == [1, 2]
        assert len(s.active_lockouts(7)) == 1
        # A one-shot writer that fails gives its numbers back.
        s.fail = 1
        with pytest.raises(StoreError):
            s.append_events([(T, QuoteEvent(MNQ, 3.0))])
        assert s.append_events([(T, QuoteEvent(MNQ, 4.0))]) == 3
        assert s.check().ok


def test_an_outcome_for_an_unknown_audit_row_is_an_error(store: Store) -> None:
    [audit_id] = store.record_actions(T, [Alert(account_id=7, rule="RULE-001", message="hi")])
    store.record_outcome(audit_id, "sent", 1.5)
    with pytest.raises(StoreError, match="no audit row 99"):
        store.record_outcome(99, "done", 2.0)


# ---- readers never block the writer --------------------------------------------------------------


def _hold_read_transaction(path: str, ready: multiprocessing.Event, done: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    with Store.open(path, readonly=True) as reader:
        con = reader.connection
        con.execute("BEGIN")
        con.execute("SELECT count(*) FROM journal").fetchone()
        ready.set()  # type: ignore[attr-defined]
        done.wait(30)  # type: ignore[attr-defined]
        con.execute("COMMIT")


def test_a_reader_holding_a_long_read_transaction_never_blocks_the_writer(db: Path) -> None:
    filled(db, 1000)
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_read_transaction, args=(str(db), ready, done))
    proc.start()
    try:
        assert ready.wait(30)
        local_reader = Store.open(db, readonly=True)
        local_reader.connection.execute("BEGIN")
        seen_before = local_reader.connection.execute("SELECT count(*) FROM journal").fetchone()[0]
        with Store.open(db) as writer:
            slowest = 0.0
            for i in range(50):
                start = time.perf_counter()
                writer.append_events([(T + timedelta(hours=1, seconds=i), QuoteEvent(MNQ, 1.0))] * 200)
                lock = LockAccount(account_id=i, rule="RULE-003", until=T + timedelta(days=1), reason="r")
                writer.record_actions(T, [lock])
                slowest = max(slowest, time.perf_counter() - start)
            assert slowest < 1.0  # a blocked writer would wait for the 5 s busy timeout or fail
            # The reader's snapshot is stable; a new transaction sees everything committed.
            assert (
                local_reader.connection.execute("SELECT count(*) FROM journal").fetchone()[0] == seen_before
            )
            local_reader.connection.execute("COMMIT")
            assert local_reader.counts()["journal"] == 1000 + 50 * 200
            assert len(local_reader.active_lockouts()) == 50
        local_reader.close()
    finally:
        done.set()
        proc.join(30)
    assert proc.exitcode == 0


# ---- retention -----------------------------------------------------------------------------------


def test_prune_keeps_recent_rows_what_a_restart_needs_and_active_lockouts(store: Store) -> None:
    now = datetime(2027, 6, 1, tzinfo=UTC)
    days = [now - timedelta(days=d) for d in (400, 100, 40, 31, 29, 2, 1)]
    for t in days:
        store.append_events([(t, QuoteEvent(MNQ, 1.0))] * 10)
    # The snapshot covers the rows up to 31 days ago; rows after it are needed whatever their age.
    store.save_snapshot({"version": 1}, journal_seq=40)
    for t in days:
        store.record_actions(t, [Alert(account_id=7, rule="RULE-001", message=str(t))])
        store.record_actions(t, [LockAccount(account_id=7, rule="RULE-007", until=t + timedelta(minutes=5))])
        store.record_actions(t + timedelta(minutes=5), [Unlock(account_id=7, rule="RULE-007")])
    kept_lock = LockAccount(account_id=8, rule="RULE-010", condition="can_trade")
    store.record_actions(days[0], [kept_lock])  # active for 400 days: never pruned
    report = store.prune(now, journal_days=30, audit_days=365)
    assert report.journal == 40
    assert store.journal_bounds()[0][0] == 41  # type: ignore[index]
    assert report.audit == 3 + 1  # the 400-day-old alert, lock, unlock and the active lock's audit row
    assert {r.account for r in store.active_lockouts()} == {8}
    assert all(r.since > now - timedelta(days=366) for r in store.lockouts(7))
    assert store.prune(now).journal == 0  # nothing older left


def test_prune_never_removes_rows_newer_than_the_last_snapshot(store: Store) -> None:
    now = datetime(2027, 6, 1, tzinfo=UTC)
    store.append_events([(now - timedelta(days=90), QuoteEvent(MNQ, 1.0))] * 10)
    assert store.prune(now).journal == 0  # no snapshot: the journal is the only copy of the state
    store.save_snapshot({"version": 1}, journal_seq=4)
    assert store.prune(now).journal == 4


def test_retention_of_less_than_a_day_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        store.prune(T, journal_days=0)


# ---- check ---------------------------------------------------------------------------------------


def test_check_passes_a_healthy_store_and_reports_a_gap_in_the_journal(db: Path) -> None:
    filled(db, 100)
    with Store.open(db) as s:
        s.save_snapshot({"version": 1, "now": None}, journal_seq=10)
        report = s.check()
        assert report.ok, report.problems
        assert report.counts["journal"] == 100 and report.snapshot_seq == 10
        s.connection.execute("DELETE FROM journal WHERE seq = 50")
        report = s.check()
        assert not report.ok and "gaps" in report.problems[0]
        s.connection.execute("DELETE FROM journal WHERE seq < 20")
        assert any("rows 11..19 are missing" in p for p in s.check().problems)


def test_symbol_and_account_lockouts_of_one_rule_are_separate_rows(store: Store) -> None:
    rty = LockAccount(account_id=7, rule="RULE-011", scope="symbol", symbol="RTY", condition="symbol_blocked")
    cl = LockAccount(account_id=7, rule="RULE-011", scope="symbol", symbol="CL", condition="symbol_blocked")
    whole = LockAccount(account_id=7, rule="RULE-011", until=T + timedelta(hours=1))
    store.record_actions(T, [rty, cl, whole])
    assert sorted((r.scope, r.symbol) for r in store.active_lockouts(7)) == [
        ("account", None),
        ("symbol", "CL"),
        ("symbol", "RTY"),
    ]
    store.record_actions(T, [Unlock(account_id=7, rule="RULE-011", scope="symbol", symbol="RTY")])
    assert sorted((r.scope, r.symbol) for r in store.active_lockouts(7)) == [
        ("account", None),
        ("symbol", "CL"),
    ]
    [ended] = store.lockouts(7, active=False)
    assert (ended.symbol, ended.condition, ended.to_lockout().covers("RTY")) == (
        "RTY",
        "symbol_blocked",
        True,
    )


def test_a_store_reader_reads_what_the_writer_committed_and_cannot_write(db: Path) -> None:
    with Store.open(db) as writer:
        writer.append_events([(T, QuoteEvent(MNQ, 1.0))])
        writer.record_actions(T, [LockAccount(account_id=7, rule="RULE-003", until=T + timedelta(hours=1))])
        with StoreReader.open(db) as reader:
            assert reader.readonly and reader.last_seq == 1
            assert [row.rule for row in reader.active_lockouts(7)] == ["RULE-003"]
            assert not hasattr(reader, "stage_entry")
    with pytest.raises(ValueError, match="only reads"):
        StoreReader.open(db, readonly=False)
