"""The admin daemon commands run against a daemon on the simulated gateway: the daemon tests' helpers."""

import sys
from pathlib import Path

TESTS = Path(__file__).parent.parent
for helpers in ("daemon", "sim", "broker", "notify"):
    sys.path.insert(0, str(TESTS / helpers))
