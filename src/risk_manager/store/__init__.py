"""SQLite persistence, a repository: event journal, lockouts, day counters, audit trail, snapshots.

- :class:`Store` (store/writer.py): the single writer -- open/validate/migrate, batched writes.
- :class:`StoreReader` (store/reader.py): read-only access (the trader view, ``db check``).
- store/files.py: opening a file safely; store/rows.py: what reads return;
  store/codec.py: journal rows (the domain codec by field name); store/migrations.py: the schema.

What to write and how durably is the caller's to say (the runtime layer, risk_manager.daemon:
PersistentEngine and recover). See docs/persistence.md.
"""

from risk_manager.store.errors import StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from risk_manager.store.reader import StoreReader
from risk_manager.store.writer import Store

__all__ = [
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreReader",
    "StoreVersionError",
]
