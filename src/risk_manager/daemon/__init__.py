"""The runtime layer: the daemon that connects to the gateway, feeds the engine and enforces.

- daemon/persistent.py: :class:`PersistentEngine` (journal every input, record every decision with
  its action id ``"<journal seq>.<index>"``), :class:`Decision`, :func:`open_for_replay`.
- daemon/recovery.py: :func:`recover` and its :class:`RecoveryReport`.
- daemon/app.py, supervisor.py, enforcer.py, reconcile.py, feed_health.py, logs.py: ``risk-manager run``
  (docs/daemon.md).

See docs/persistence.md.
"""

from risk_manager.daemon.persistent import Decision, PersistentEngine, open_for_replay
from risk_manager.daemon.recovery import RecoveryReport, describe, recover

__all__ = ["Decision", "PersistentEngine", "RecoveryReport", "describe", "open_for_replay", "recover"]
