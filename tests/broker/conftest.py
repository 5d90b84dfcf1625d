"""The client is tested against the simulated gateway: reuse the sim tests' helpers (gateway, Api, run)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "sim"))
