"""Risk Manager: real-time risk enforcement for ProjectX Gateway (TopstepX) futures accounts."""

__version__ = "0.1.0"
