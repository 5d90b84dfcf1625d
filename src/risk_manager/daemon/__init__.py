"""The runtime layer: the daemon that connects to the gateway, feeds the engine and enforces."""
