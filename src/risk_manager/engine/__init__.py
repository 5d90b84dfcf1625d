"""The pure engine: per-account state, timers, the lockout book, the read model; events in, actions out."""
