"""evergreen's drift verdicts against Evidently 0.7's, stored once in golden_evidently.json.

The fixture is made by make_golden.py in .venv-evidently; this test needs only the project venv.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from evergreen.monitoring import data_drift

HERE = Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "golden_evidently.json").read_text())


def _load_golden_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location("evergreen_golden_data", HERE / "golden_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


CASES = _load_golden_data().golden_cases()


def test_fixture_covers_every_case() -> None:
    assert GOLDEN["evidently_version"].startswith("0.7.")
    assert sorted(GOLDEN["cases"]) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_scores_and_verdicts_as_evidently(name: str) -> None:
    case = CASES[name]
    expected = GOLDEN["cases"][name]
    report = data_drift(case.reference, case.current, methods=case.methods, thresholds=case.thresholds)
    got = {c.column: c for c in report.columns}
    assert sorted(got) == sorted(expected["columns"])
    for column, want in expected["columns"].items():
        col = got[column]
        assert col.method == want["method"], column
        assert col.threshold == want["threshold"], column
        if math.isinf(want["score"]):
            assert col.score == want["score"], column
        else:
            assert abs(col.score - want["score"]) <= 1e-9, (column, col.score, want["score"])
        assert col.drifted == want["drifted"], column
    assert report.share == expected["share"]
    assert report.dataset_drift == expected["dataset_drift"]
