"""The live `risk-manager demo`: the simulated gateway, the daemon and a scripted trader, in-process."""
