"""Write what the gateway sent as a FORMATS.md recording: the input of ``risk-manager replay``.

One JSON line per hub message, in the order received, with its receive time:
``{"t", "hub", "target", "arguments"}``, arguments exactly as parsed from the wire; and
``{"t", "connection": "lost" | "restored", "hub"}`` when a hub connection is lost or restored, so a
replay sees the same gap the live engine saw. Hub messages carry no credentials (the token travels in
a header, never in a message), so nothing needs scrubbing; the recorder never sees REST traffic.

Each line is flushed as written: after a crash the recording ends at the last message received.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from risk_manager.broker.port import ConnectionChange, HubMessage


def iso_utc(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Recorder:
    """Appends recording lines to ``path`` (created with its directory; 0600: it holds account data)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)
        self._file: IO[bytes] = self.path.open("ab")
        self.lines = 0

    def __repr__(self) -> str:
        return f"Recorder({str(self.path)!r}, lines={self.lines})"

    def message(self, message: HubMessage) -> None:
        self._write({
            "t": iso_utc(message.received_at),
            "hub": message.hub,
            "target": message.target,
            "arguments": message.arguments,
        })

    def connection(self, change: ConnectionChange) -> None:
        """A ``lost`` or ``restored`` line for a change that is one; other changes are not recorded."""
        if change.lost:
            state = "lost"
        elif change.restored:
            state = "restored"
        else:
            return
        self._write({"t": iso_utc(change.at), "connection": state, "hub": change.hub})

    def _write(self, line: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(line) + b"\n")
        self._file.flush()
        self.lines += 1

    def close(self) -> None:
        self._file.close()
