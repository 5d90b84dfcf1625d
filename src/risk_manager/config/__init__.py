"""Configuration: pydantic models for the four YAML files, loading with file/line-aware errors.

    load_config(directory, env=None) -> LoadedConfig        # raises ConfigError
    load_config_texts({"risk_config.yaml": text, ...}, env=None) -> LoadedConfig
    LoadedConfig.policy() / .calendar() / .contracts() / .rules_for(account) / .redacted()
    ConfigError(.errors: list[ConfigIssue]), ConfigIssue(file, line, path, value, message)
    default_config_dir()
"""

from __future__ import annotations

from risk_manager.config.errors import ConfigError, ConfigIssue
from risk_manager.config.loader import LoadedConfig, load_config, load_config_texts
from risk_manager.config.paths import default_config_dir

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "LoadedConfig",
    "default_config_dir",
    "load_config",
    "load_config_texts",
]
