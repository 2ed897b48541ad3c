"""What one column's drift test is: the kinds, the default test per column, a result, a numeric test.

Shared by :mod:`.drift` (every column of a frame) and :mod:`.text` (text columns), so neither imports
the other at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from evergreen.monitoring import stattests as st
from evergreen.monitoring.stattests import FloatArray, TestResult

Kind = Literal["numeric", "categorical", "text"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "text")
SMALL_REFERENCE_ROWS = 1000  # Evidently switches from p-value tests to distances above this
INTEGER_CARDINALITY_LIMIT = 10  # integer columns with at most this many values are categorical
DOMAIN_CLASSIFIER = "domain_classifier"


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: Kind
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    details: dict[str, Any] | None = None

    @property
    def score(self) -> float:
        """What Evidently reports as drift_score: the p-value of a test, else the distance."""
        return self.statistic if self.p_value is None else self.p_value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "method": self.method,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "score": self.score,
        }
        if self.details is not None:
            out["details"] = self.details
        return out


def auto_method(kind: Kind, reference_rows: int, n_unique: int) -> str:
    """Evidently's ``_get_default_stattest`` for numeric and categorical columns."""
    if kind == "text":
        return DOMAIN_CLASSIFIER
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numeric" and n_unique > 5:
            return "ks"
        return "chisquare" if n_unique > 2 else "z"
    return "wasserstein" if kind == "numeric" and n_unique > 5 else "jensenshannon"


def numeric_test(
    method: str, reference: FloatArray, current: FloatArray, integer: bool = False
) -> TestResult:
    """Run ``method`` on a numeric column's finite values, binning the way Evidently does.

    ``integer``: both columns had an integer dtype before conversion to float (Sturges bins differ).
    """
    if method in st.SAMPLE_TEST_FUNCS:
        return st.SAMPLE_TEST_FUNCS[method](reference, current)
    if method == "hellinger":
        ref_counts, cur_counts = st.hellinger_bin_counts(reference, current, integer)
    elif method in st.BINNED_TESTS and np.unique(reference).size > 20:
        ref_counts, cur_counts = st.sturges_counts(reference, current, integer)
    else:
        _, ref_counts, cur_counts = st.value_counts(reference, current)
    return st.FREQUENCY_TESTS[method](ref_counts, cur_counts)
