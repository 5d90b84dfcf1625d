"""Plain frozen data shared by every layer: events, actions, lockouts, contract specs."""
