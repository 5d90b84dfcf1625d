"""The control API is tested against a daemon on the simulated gateway: reuse the daemon tests' helpers."""

import sys
from pathlib import Path

for _name in ("daemon", "sim", "broker", "notify"):
    sys.path.insert(0, str(Path(__file__).parent.parent / _name))
