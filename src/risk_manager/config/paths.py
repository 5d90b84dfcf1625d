"""Where the config directory is when ``--config`` is not given."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "RISK_MANAGER_CONFIG"


def default_config_dir() -> Path:
    """``$RISK_MANAGER_CONFIG`` if set, else the platform's per-user config directory.

    Linux/BSD: ``$XDG_CONFIG_HOME/risk-manager`` (``~/.config/risk-manager``); macOS:
    ``~/Library/Application Support/risk-manager``; Windows: ``%APPDATA%\\risk-manager``.
    """
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "risk-manager"
