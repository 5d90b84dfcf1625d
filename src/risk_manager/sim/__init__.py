"""A local ProjectX-compatible gateway: REST + SignalR, market simulator, paper broker."""
