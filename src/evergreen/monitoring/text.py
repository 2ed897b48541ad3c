"""Drift of free-text columns: text length, out-of-vocabulary share and a domain classifier.

The verdict is the domain classifier's, like Evidently's text drift: a seeded TF-IDF + logistic
regression model learns to tell reference rows from current rows on one half of them, and a ROC AUC
above the threshold on the other half means the two sets are distinguishable, i.e. drifted. Length
drift and the OOV share are reported beside it as explanations, with the words that separate most.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from evergreen.monitoring.columntests import ColumnDrift, auto_method, numeric_test
from evergreen.monitoring.stattests import DEFAULT_THRESHOLDS, is_drift

DEFAULT_AUC_THRESHOLD = 0.55
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern, so OOV and TF-IDF agree


def _texts(series: pd.Series) -> list[str]:
    return [str(v) for v in series.dropna().tolist()]


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def oov_share(reference: list[str], current: list[str]) -> float:
    """Share of current tokens (with repeats) that never occur in the reference texts."""
    vocabulary = {tok for text in reference for tok in tokens(text)}
    counts = Counter(tok for text in current for tok in tokens(text))
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return sum(n for tok, n in counts.items() if tok not in vocabulary) / total


def length_drift(reference: list[str], current: list[str]) -> dict[str, Any]:
    """Drift of character length, with the automatic numeric test (KS or normed Wasserstein)."""
    ref = np.array([len(t) for t in reference], dtype=np.float64)
    cur = np.array([len(t) for t in current], dtype=np.float64)
    n_unique = int(np.union1d(ref, cur).size)
    method = auto_method("numeric", ref.size, n_unique)
    result = numeric_test(method, ref, cur)
    threshold = DEFAULT_THRESHOLDS[method]
    return {
        "method": method,
        "statistic": result.statistic,
        "p_value": result.p_value,
        "threshold": threshold,
        "drifted": is_drift(method, result.score, threshold),
        "reference_mean": float(ref.mean()),
        "current_mean": float(cur.mean()),
    }


def domain_classifier(
    reference: list[str], current: list[str], seed: int = 42, top_words: int = 10
) -> tuple[float, dict[str, list[str]]]:
    """ROC AUC of a classifier telling current (1) from reference (0) on a held-out half.

    Returns the AUC and the words with the largest weights toward each side. Too little data or no
    usable vocabulary gives 0.5 (indistinguishable) rather than an error.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    words: dict[str, list[str]] = {"current": [], "reference": []}
    if min(len(reference), len(current)) < 2:
        return 0.5, words
    texts = reference + current
    labels = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(current), dtype=int)]
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.5, random_state=seed, shuffle=True, stratify=labels
    )
    vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=TOKEN.pattern)
    try:
        train_matrix = vectorizer.fit_transform(x_train)
    except ValueError:  # empty vocabulary: nothing to tell the two sides apart with
        return 0.5, words
    model = LogisticRegression(random_state=seed, max_iter=1000)
    model.fit(train_matrix, y_train)
    auc = float(roc_auc_score(y_test, model.predict_proba(vectorizer.transform(x_test))[:, 1]))
    vocabulary = vectorizer.get_feature_names_out()
    order = np.argsort(model.coef_[0], kind="stable")
    coef = model.coef_[0]
    words["current"] = [str(vocabulary[i]) for i in order[::-1][:top_words] if coef[i] > 0]
    words["reference"] = [str(vocabulary[i]) for i in order[:top_words] if coef[i] < 0]
    return auc, words


def text_drift(
    column: str,
    reference: pd.Series,
    current: pd.Series,
    threshold: float | None = None,
    seed: int = 42,
) -> ColumnDrift:
    """Drift of a text column; drifted when the domain classifier's AUC exceeds ``threshold``."""
    ref, cur = _texts(reference), _texts(current)
    threshold = DEFAULT_AUC_THRESHOLD if threshold is None else threshold
    auc, words = domain_classifier(ref, cur, seed=seed)
    details = {
        "length": length_drift(ref, cur) if ref and cur else None,
        "oov_share": oov_share(ref, cur),
        "top_words": words,
    }
    return ColumnDrift(column, "text", "domain_classifier", auc, None, threshold, auc > threshold, details)
