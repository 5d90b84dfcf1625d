"""SQLite persistence: event journal, lockouts, day counters, audit trail, snapshots."""
