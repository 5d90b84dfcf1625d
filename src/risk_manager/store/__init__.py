"""SQLite persistence, a repository: event journal, lockouts, day counters, audit trail, snapshots.

- :class:`Store` (store/sqlite.py): the file -- open/validate/migrate, batched writes, readers.
- store/codec.py: exact (de)serialization of journal entries; store/migrations.py: the schema.

What to write and how durably is the caller's to say (the runtime layer, risk_manager.daemon:
PersistentEngine and recover). See docs/persistence.md.
"""

from risk_manager.store.errors import StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from risk_manager.store.sqlite import Store

__all__ = [
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
]
