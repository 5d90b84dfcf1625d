"""Ports and adapters to the gateway: normalization of raw hub payloads, the ProjectX client."""
