"""Keep secrets (webhook URLs, bot tokens) out of every log line, ours and the libraries'.

httpx logs each request with its full URL at INFO, and both a Discord webhook URL and a Telegram
request URL carry the credential in the path. Rather than silence those loggers for everyone, the
notifier registers its secrets here and a filter on the HTTP and SMTP libraries' loggers masks
them in any record before a handler sees it.
"""

from __future__ import annotations

import logging

MASK = "***"
_LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "aiosmtplib",
)


class SecretMasker(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):  # longest first: a URL before its token
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_MASKER = SecretMasker()


def protect(secret: str) -> None:
    """Mask ``secret`` in the HTTP/SMTP libraries' log records and in ``mask()`` from now on."""
    if len(secret) < 4:
        return  # masking a tiny string would mangle unrelated text and protects nothing
    _MASKER.secrets.add(secret)
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _MASKER not in logger.filters:
            logger.addFilter(_MASKER)


def mask(text: str) -> str:
    """``text`` with every protected secret replaced by ``***``."""
    return _MASKER.mask(text)
