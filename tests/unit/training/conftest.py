"""Make the helper estimators importable as ``evergreen_training_helpers`` whatever the import mode,
so custom candidates can name them as "evergreen_training_helpers:factory"."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
