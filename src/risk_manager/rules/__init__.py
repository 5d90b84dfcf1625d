"""The 13 risk rules of RULES.md, one module each, registered by id and config name (registry.py)."""
