"""Text drift: OOV share, length drift and the seeded domain classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evergreen.monitoring import data_drift
from evergreen.monitoring.text import domain_classifier, oov_share, text_drift

WORDS = ["price", "late", "refund", "app", "login", "crash", "great", "slow", "support", "bill"]


def _texts(rng: np.random.Generator, rows: int, vocab: list[str]) -> list[str]:
    return [" ".join(rng.choice(vocab, rng.integers(3, 8))) for _ in range(rows)]


def test_oov_share_counts_repeated_tokens() -> None:
    # Current tokens: hello, world, world, new -> "world" twice and "new" are not in the reference.
    assert oov_share(["hello there"], ["hello world world", "new"]) == 0.75
    assert oov_share(["a"], [""]) == 0.0


def test_same_vocabulary_is_not_drift() -> None:
    rng = np.random.default_rng(0)
    ref = pd.Series(_texts(rng, 150, WORDS))
    cur = pd.Series(_texts(rng, 150, WORDS))
    result = text_drift("t", ref, cur)
    assert result.method == "domain_classifier"
    assert result.statistic == pytest.approx(0.5228444444444444, abs=1e-12)
    assert not result.drifted
    assert result.details is not None
    assert result.details["oov_share"] == 0.0


def test_new_topic_is_drift_with_separating_words() -> None:
    rng = np.random.default_rng(1)
    ref = pd.Series(_texts(rng, 150, WORDS))
    cur = pd.Series(_texts(rng, 150, [*WORDS[:5], "outage", "outage", "timeout"]))
    result = text_drift("t", ref, cur)
    assert result.drifted
    assert result.statistic == pytest.approx(0.9836444444444444, abs=1e-12)
    assert result.details is not None
    assert result.details["top_words"]["current"][:2] == ["outage", "timeout"]
    assert result.details["oov_share"] == pytest.approx(0.40229885057471265, abs=1e-12)
    assert result.details["length"]["method"] == "ks"


def test_too_little_text_is_indistinguishable() -> None:
    assert domain_classifier(["one"], ["two", "three"]) == (0.5, {"current": [], "reference": []})


def test_text_columns_are_inferred_in_data_drift() -> None:
    ref = pd.DataFrame({"note": [f"ticket {i} about billing" for i in range(40)]})
    cur = pd.DataFrame({"note": [f"ticket {i} about outage" for i in range(40)]})
    column = data_drift(ref, cur)["note"]
    assert (column.kind, column.method, column.threshold, column.drifted) == (
        "text",
        "domain_classifier",
        0.55,
        True,
    )
