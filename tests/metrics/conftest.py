"""The metrics are tested on a daemon against the simulated gateway: reuse the daemon tests' helpers."""

import sys
from pathlib import Path

TESTS = Path(__file__).parent.parent
for helpers in ("daemon", "sim", "broker", "notify"):
    sys.path.insert(0, str(TESTS / helpers))
