"""Replaying recorded gateway feeds through the engine (`risk-manager replay`)."""
