"""Config problems as data: each names the file, the line, the key path, the bad value and the fix.

A loader collects every problem of every file before giving up, so a user fixes a file in one pass
instead of one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "***"

# Key names whose values are secrets. Matching is on the last key of a path, by substring, so
# ``api_key``, ``bot_token``, ``smtp_password`` and ``discord_webhook`` (a URL that embeds a token)
# are all covered.
_SECRET_MARKERS = ("key", "token", "secret", "password", "webhook")


def is_secret_key(name: object) -> bool:
    """True when a value under this key must never be shown (errors, output, logs)."""
    return isinstance(name, str) and any(marker in name.lower() for marker in _SECRET_MARKERS)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem (or warning) in one config file.

    ``path`` is the dotted key path (``rules.daily_realized_loss.limit``, ``accounts[0].id``),
    ``value`` the offending value as written in the file (already redacted when secret), ``message``
    what is wrong and how to fix it.
    """

    file: str
    line: int | None
    path: str
    value: str | None
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = self.path
        if self.value is not None:
            what = f"{what} = {self.value}" if what else self.value
        return f"{where}: {what}: {self.message}" if what else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "value": self.value,
            "message": self.message,
            "severity": self.severity,
        }


class ConfigError(Exception):
    """The configuration cannot be used; ``errors`` holds every problem found, in file order."""

    def __init__(self, errors: Iterable[ConfigIssue]) -> None:
        self.errors: list[ConfigIssue] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.errors)
