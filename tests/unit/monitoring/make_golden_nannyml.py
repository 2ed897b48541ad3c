"""Regenerate golden_nannyml.json: NannyML 0.13's CBPE / DLE numbers on small seeded frames.

The frames are benchmarks/estimation.py's ``build`` at 3000 rows (ten chunks of 300). Run from the
repository root with the NannyML venv (built by benchmarks/estimation.py, see requirements-nannyml.lock):
    .venv-nannyml/bin/python tests/unit/monitoring/make_golden_nannyml.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[2] / "benchmarks")]

from estimation import METRICS, build, run_nannyml  # noqa: E402

ROWS = 3000
CHUNK = 300


def frame_digest(frames: dict[str, pd.DataFrame]) -> str:
    """sha256 of the frames' columns: the test checks it sees the very data NannyML saw.

    Other columns (labels, predictions) exactly; a float column by its sum and sum of squares to
    6 decimals and its sum weighted by row number to 4 (the rows' order: chunks are cut by it).
    numpy's exp differs in the last bits between CPUs (its AVX-512 and AVX2 loops), so a hash of the
    raw floats made on one machine failed on another with the same data.
    """
    h = hashlib.sha256()
    for name in sorted(frames):
        for col in frames[name].columns:
            column = frames[name][col]
            h.update(f"{name}.{col}:{column.dtype.kind}:".encode())
            if column.dtype.kind == "f":
                values = column.to_numpy()
                order = (values * np.arange(1, len(values) + 1)).sum()
                h.update(f"{values.sum():.6f},{(values**2).sum():.6f},{order:.4f}".encode())
            else:
                h.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    import nannyml

    out: dict[str, object] = {
        "nannyml_version": nannyml.__version__,
        "rows": ROWS,
        "chunk": CHUNK,
        "tasks": {},
    }
    for task in METRICS:
        frames = build(task, ROWS)
        result = run_nannyml(task, frames["reference"], frames["analysis"], CHUNK)
        out["tasks"][task] = {"data_sha256": frame_digest(frames), "metrics": result}  # type: ignore[index]
        print(task, file=sys.stderr)
    (HERE / "golden_nannyml.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
