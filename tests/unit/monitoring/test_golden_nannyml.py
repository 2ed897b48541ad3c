"""evergreen's CBPE / DLE against NannyML 0.13's, stored once in golden_nannyml.json.

The fixture is made by make_golden_nannyml.py in .venv-nannyml on benchmarks/estimation.py's seeded
frames (binary, multiclass, regression; 3000 rows, ten chunks); this test needs only the project venv.
Targets of issue 11: estimates within 1e-6, sampling errors within 5 %, the same realised values.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "golden_nannyml.json").read_text())


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load("evergreen_bench_estimation", HERE.parents[2] / "benchmarks" / "estimation.py")
maker = _load("evergreen_make_golden_nannyml", HERE / "make_golden_nannyml.py")


@pytest.mark.parametrize("task", sorted(GOLDEN["tasks"]))
def test_same_numbers_as_nannyml(task: str) -> None:
    want: dict[str, Any] = GOLDEN["tasks"][task]
    frames = bench.build(task, GOLDEN["rows"])
    assert maker.frame_digest(frames) == want["data_sha256"]  # the very data NannyML saw
    got = bench.run_evergreen(task, frames["reference"], frames["analysis"], GOLDEN["chunk"])
    for metric, theirs in want["metrics"].items():
        ours = got[metric]
        assert ours["value"] == pytest.approx(theirs["value"], abs=1e-6), metric
        assert ours["sigma"] == pytest.approx(theirs["sigma"], rel=0.05), metric
        assert ours["realised"] == pytest.approx(theirs["realised"], abs=1e-9), metric
