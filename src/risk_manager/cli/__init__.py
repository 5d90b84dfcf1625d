"""The `risk-manager` command line (Typer + Rich)."""
