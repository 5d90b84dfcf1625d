"""Configuration: pydantic models for the four YAML files, loading with file/line-aware errors.

Public API (imported lazily, because rule modules import ``risk_manager.config.types`` and the
loader imports the rule registry)::

    load_config(directory, env=None) -> LoadedConfig        # raises ConfigError
    load_config_texts({"risk_config.yaml": text, ...}, env=None) -> LoadedConfig
    LoadedConfig.policy() / .calendar() / .contracts() / .rules_for(account) / .redacted()
    ConfigError(.errors: list[ConfigIssue]), ConfigIssue(file, line, path, value, message)
    default_config_dir()
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_config": "risk_manager.config.loader",
    "load_config_texts": "risk_manager.config.loader",
    "LoadedConfig": "risk_manager.config.loader",
    "ConfigError": "risk_manager.config.errors",
    "ConfigIssue": "risk_manager.config.errors",
    "default_config_dir": "risk_manager.config.paths",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'risk_manager.config' has no attribute {name!r}")
