"""The runtime layer: the engine with its journal (PersistentEngine), recovery after a restart.

- daemon/persistent.py: :class:`PersistentEngine` (journal every input, record every decision with
  its action id ``"<journal seq>.<index>"``), :class:`Decision`, :func:`open_for_replay`.
- daemon/recovery.py: :func:`recover` and its :class:`RecoveryReport`.

See docs/persistence.md.
"""

from risk_manager.daemon.persistent import Decision, PersistentEngine, open_for_replay
from risk_manager.daemon.recovery import RecoveryReport, describe, recover

__all__ = ["Decision", "PersistentEngine", "RecoveryReport", "describe", "open_for_replay", "recover"]
