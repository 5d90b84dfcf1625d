"""Configuration: pydantic models for the four YAML files, loading with file/line-aware errors."""
