"""Peak memory and time of the promotion's paired bootstrap: one matrix of all resamples vs blocks.

Each variant runs in its own process on the same seeded holdout (binary, f1_macro, 1000 resamples):
"one matrix" sets ``BLOCK_CELLS`` above samples x rows, which is the code before the blocks (every
resample drawn and counted at once); "blocks" is the shipped default. Both must give the same
numbers. Peak memory is the child process's max RSS, the interpreter and numpy included.

    .venv/bin/python benchmarks/bootstrap_memory.py --rows 10000 100000 250000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

CHILD = """
import json, resource, sys, time
import numpy as np
import evergreen.evaluation.bootstrap as b
n, one_matrix = int(sys.argv[1]), sys.argv[2] == "1"
if one_matrix:
    b.BLOCK_CELLS = 1000 * n + 1
rng = np.random.default_rng(0)
y = rng.integers(0, 2, n)
a = np.where(rng.random(n) < 0.80, y, 1 - y)
c = np.where(rng.random(n) < 0.78, y, 1 - y)
t = time.perf_counter()
r = b.paired_bootstrap("binary", "f1_macro", y, a, c, samples=1000, seed=42)
seconds = time.perf_counter() - t
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "ci": [r.delta, r.ci_low, r.ci_high]}))
"""


def run(n: int, one_matrix: bool) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), "1" if one_matrix else "0"],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 250_000])
    args = ap.parse_args()
    print("holdout rows | one matrix: s, peak MB | blocks: s, peak MB | memory ratio | same numbers")
    for n in args.rows:
        new, old = run(n, one_matrix=False), run(n, one_matrix=True)
        print(
            f"{n:>12,} | {old['seconds']:6.2f} s {old['peak_mb']:8.0f} MB"
            f" | {new['seconds']:6.2f} s {new['peak_mb']:8.0f} MB"
            f" | {old['peak_mb'] / new['peak_mb']:5.1f}x | {old['ci'] == new['ci']}"
        )


if __name__ == "__main__":
    main()
