"""Admin commands and hot reload: the daemon runs against the simulated gateway (reuse its helpers)."""

import sys
from pathlib import Path

for folder in ("daemon", "control", "sim", "broker", "notify"):
    sys.path.insert(0, str(Path(__file__).parent.parent / folder))
