"""The daemon's logs: text or JSON lines (``daemon.log`` in risk_config.yaml), rotated, in
``<data-dir>/logs/daemon.log``, and the same lines on stderr.

Every record passes a masking filter on the handlers themselves, so whatever logger wrote it (ours,
httpx, websockets), the API key and anything shaped like a session token (a JWT) never reach a file
or the terminal.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from risk_manager.notify.redact import MASK, SecretMasker

__all__ = ["LOG_FILE", "TokenMasker", "setup_logging"]

LOG_FILE = "daemon.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TokenMasker(SecretMasker):
    """Masks the registered secrets and any JWT, in the message and in an exception's text."""

    def mask(self, text: str) -> str:
        return _JWT.sub(MASK, super().mask(text))

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.mask(formatted)
            record.exc_info = None
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "t": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            line["exception"] = record.exc_text
        return orjson.dumps(line).decode()


class Text(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record.created)


def setup_logging(data_dir: Path, *, fmt: str = "text", level: str = "info",
                  secrets: tuple[str, ...] = (), stderr: bool = True) -> list[logging.Handler]:
    """Install the handlers on the root logger; returns them (to remove them again)."""
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    masker = TokenMasker()
    masker.secrets.update(s for s in secrets if s)
    formatter: logging.Formatter = JsonLines() if fmt == "json" else Text()
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(logs / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                             encoding="utf-8")
    ]
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(masker)
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # websockets' debug log prints request headers (the token): keep it at INFO whatever the level.
    logging.getLogger("websockets").setLevel(max(logging.INFO, root.level))
    return handlers
