"""Make tests/engine_helpers.py importable as `engine_helpers` from every test module."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
