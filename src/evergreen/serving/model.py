"""A loaded, warmed model version and the holder whose one reference the requests read.

Loading happens off the request path (a worker thread); the holder only ever swaps a finished,
warmed :class:`LoadedModel` in with one assignment, so a request sees either the old or the new
model, never a half-loaded one, and a batch that started on the old model finishes on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evergreen.data.values import is_missing
from evergreen.errors import BadInputError, ChampionUnavailableError, NotReadyError, one_line
from evergreen.registry import Registry
from evergreen.serving.schema import InputSchema, schema_from_signature, to_frame

if TYPE_CHECKING:
    from mlflow.models import Model


@dataclass(frozen=True)
class Scored:
    """One model call's answer, record by record."""

    version: str
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: Any
    schema: InputSchema
    classes: tuple[Any, ...] | None  # None for regressors
    load_seconds: float = 0.0
    loaded_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        # Once per load, not per request: classes as JSON-ready values, and their names as text.
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(_plain(c) for c in self.classes))

    @cached_property
    def _class_names(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.classes or ())

    def score(self, records: Sequence[dict[str, Any]]) -> Scored:
        """Blocking model call: run it in a worker thread, never on the event loop."""
        frame = to_frame(self.schema, records)
        if self.classes is None:
            preds = np.asarray(self.model.predict(frame))
            return Scored(self.version, [_plain(v) for v in preds], None)
        proba = np.asarray(self.model.predict_proba(frame), dtype="float64")
        # argmax of the probabilities is what predict() returns for these classifiers, at half the cost.
        labels = [self.classes[i] for i in proba.argmax(axis=1)]
        names = self._class_names
        probs = [dict(zip(names, (round(float(p), 6) for p in row), strict=True)) for row in proba]
        return Scored(self.version, labels, probs)


def _plain(value: Any) -> Any:
    """numpy scalars → JSON-ready Python values."""
    return value.item() if isinstance(value, np.generic) else value


def _input_example(meta: Model, local_path: str, schema: InputSchema) -> list[dict[str, Any]]:
    """The example saved with the model (it must load), or a synthetic record when there is none."""
    if meta.saved_input_example_info is None:
        filler = {
            "number": 0.0,
            "integer": 0,
            "string": "",
            "boolean": False,
            "datetime": "1970-01-01T00:00:00",
        }
        return [{f.name: filler[f.kind] for f in schema.fields}]
    example = meta.load_input_example(local_path)  # MLflow checks it against the signature
    frame = pd.DataFrame(example).head(8)
    return [
        {str(k): None if is_missing(v) else _plain(v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def load_version(
    registry: Registry,
    version: str,
    *,
    passthrough: Sequence[str] = (),
    time_field: str | None = None,
    current: InputSchema | None = None,
) -> LoadedModel:
    """Load ``version``, check its schema, warm it up; ChampionUnavailableError when any step fails."""
    from mlflow.models import Model

    start = time.perf_counter()
    try:
        local = registry.download(version)  # once: the load below reads the same directory
        meta = Model.load(local)
        signature = meta.signature
    except Exception as exc:
        raise ChampionUnavailableError(f"v{version}: model artifact unavailable: {one_line(exc)}") from exc
    if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
        raise ChampionUnavailableError(f"v{version}: incompatible schema: no column-based input signature")
    try:
        schema = schema_from_signature(signature.inputs.to_dict(), passthrough, time_field)
    except BadInputError as exc:
        raise ChampionUnavailableError(f"v{version}: incompatible schema: {exc.message}") from exc
    if current is not None and (why := schema.compatible_with(current)):
        raise ChampionUnavailableError(f"v{version}: incompatible schema: {why}")
    model = registry.load_model(version, local)  # checked (sha256, trusted types); raises itself
    classes = getattr(model, "classes_", None) if hasattr(model, "predict_proba") else None
    loaded = LoadedModel(version, model, schema, None if classes is None else tuple(classes))
    try:
        loaded.score(_input_example(meta, local, schema))
    except Exception as exc:
        raise ChampionUnavailableError(f"v{version}: warm-up prediction failed: {one_line(exc)}") from exc
    return replace(loaded, load_seconds=time.perf_counter() - start)


class ModelHolder:
    """The champion (and optional shadow) being served. Reads are lock-free; swaps are one assignment."""

    def __init__(self) -> None:
        self._current: LoadedModel | None = None
        self._shadow: LoadedModel | None = None
        self._lock = threading.Lock()  # serialises writers only

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    @property
    def shadow(self) -> LoadedModel | None:
        return self._shadow

    @property
    def version(self) -> str | None:
        cur = self._current
        return None if cur is None else cur.version

    def require(self) -> LoadedModel:
        cur = self._current
        if cur is None:
            raise NotReadyError("no champion model is loaded yet")
        return cur

    def swap(self, new: LoadedModel) -> LoadedModel | None:
        """Serve ``new`` from now on; return the model it replaced."""
        with self._lock:
            old, self._current = self._current, new
        return old

    def set_shadow(self, new: LoadedModel | None) -> None:
        with self._lock:
            self._shadow = new
