"""Which models evergreen loads: skops files whose bytes match the registered sha256 and whose types
are all on evergreen's own list (plus ``training.trusted_types``). Never pickle.

Why not ``mlflow.sklearn.load_model``: it takes the trusted-type list from the artifact's own MLmodel
file and loads pickle too, so whoever can write the artifact store (or register a version) would run
code in ``serve`` and in every retrain. Here the list is ours, the format is skops only, and the
bytes are checked against ``evergreen.artifact_sha256``, the tag written when evergreen registered
the version (tags live in the tracking database, not beside the artifact).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evergreen.errors import UntrustedModelError

__all__ = [
    "ARTIFACT_SHA256_TAG",
    "BUILTIN_TRUSTED_TYPES",
    "MODEL_FILE",
    "check_registrable",
    "load_trusted",
    "sha256_of",
    "trusted_types",
]

ARTIFACT_SHA256_TAG = "evergreen.artifact_sha256"
MODEL_FILE = "model.skops"  # what mlflow.sklearn writes with serialization_format="skops"

# Every non-default type the built-in candidates need (binary, multiclass and regression); skops
# trusts scikit-learn's and numpy's own types without being told.
BUILTIN_TRUSTED_TYPES: tuple[str, ...] = (
    "collections.OrderedDict",
    "evergreen.training.candidates.LabelEncodedClassifier",
    "evergreen.training.preprocessing.categories_as_str",
    "evergreen.training.preprocessing.text_column",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
)


def trusted_types(extra: Iterable[str] = ()) -> list[str]:
    """evergreen's list plus the project's ``training.trusted_types`` (a custom candidate's classes)."""
    return sorted(set(BUILTIN_TRUSTED_TYPES) | {t for t in extra if t})


def check_registrable(model: Any, allowed: Iterable[str], what: str) -> None:
    """Refuse, before anything is written, a model holding a type outside ``allowed``."""
    import skops.io

    _refuse_untrusted(skops.io.get_untrusted_types(data=skops.io.dumps(model)), allowed, what)


def _refuse_untrusted(found: Iterable[str], allowed: Iterable[str], what: str) -> None:
    untrusted = sorted(set(found) - set(allowed))
    if untrusted:
        raise UntrustedModelError(
            f"{what}: contains types evergreen does not trust: {', '.join(untrusted)} "
            "(list them in training.trusted_types only if you trust their code)",
            details={"untrusted_types": untrusted},
        )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_trusted(path: Path, expected_sha256: str | None, allowed: Iterable[str], what: str) -> Any:
    """The model in the skops file ``path``, after both checks; :class:`UntrustedModelError` otherwise."""
    import skops.io

    if not path.is_file():
        raise UntrustedModelError(f"{what}: no {MODEL_FILE} in the artifact: only skops models are loaded")
    if not expected_sha256:
        raise UntrustedModelError(
            f"{what}: no {ARTIFACT_SHA256_TAG} tag, so its artifact cannot be checked "
            "(only versions registered by evergreen are loaded)"
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise UntrustedModelError(
            f"{what}: the artifact's sha256 {actual[:16]}… is not the registered {expected_sha256[:16]}…: "
            "it changed after registration",
            details={"expected_sha256": expected_sha256, "actual_sha256": actual},
        )
    allowed = list(allowed)
    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # not a skops file at all
        raise UntrustedModelError(f"{what}: not a readable skops file: {type(exc).__name__}") from exc
    _refuse_untrusted(found, allowed, what)
    return skops.io.loads(data, trusted=allowed)
