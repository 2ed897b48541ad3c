"""Regenerate golden_evidently.json: Evidently 0.7's verdicts on the frames of golden_data.py.

Run from the repository root with the Evidently venv (not the project venv):
    .venv-evidently/bin/python tests/unit/monitoring/make_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[2] / "benchmarks")]

from evidently_runner import evidently_report  # noqa: E402
from golden_data import golden_cases  # noqa: E402


def main() -> None:
    import evidently

    out: dict[str, object] = {"evidently_version": evidently.__version__, "cases": {}}
    for name, case in golden_cases().items():
        report = evidently_report(case.reference, case.current, case.methods, case.thresholds)
        out["cases"][name] = report  # type: ignore[index]
        print(name, f"share={report['share']:.3f}", file=sys.stderr)
    # repr-exact floats: json writes the shortest string that round-trips, so no precision is lost.
    (HERE / "golden_evidently.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
