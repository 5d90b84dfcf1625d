"""SQLite persistence: event journal, lockouts, day counters, audit trail, snapshots.

- :class:`Store` (store/sqlite.py): the file -- open/validate/migrate, batched writes, readers.
- :class:`PersistentEngine` and :func:`recover` (store/recovery.py): the engine with a journal,
  and its restart.
- store/codec.py: exact (de)serialization of journal entries; store/migrations.py: the schema.

See docs/persistence.md.
"""

from risk_manager.store.errors import StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from risk_manager.store.recovery import Decision, PersistentEngine, RecoveryReport, open_for_replay, recover
from risk_manager.store.sqlite import Store

__all__ = [
    "Decision",
    "PersistentEngine",
    "RecoveryReport",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "open_for_replay",
    "recover",
]
