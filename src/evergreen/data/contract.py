"""The data contract: which columns a batch must have, of which kind, within which limits.

A contract is learned from the first accepted batch (or taken from ``data.features``), stored in the
``contracts`` table and then frozen: every later batch is validated against it by :func:`validate`,
so a model never sees a column change type under it. Contracts are plain JSON (``to_dict`` /
``from_dict``) so the table, the sidecars and other tools can read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from evergreen.config import Settings
from evergreen.data import checks
from evergreen.data.target import learn_classes
from evergreen.data.validate import ValidationResult, check_batch, validate
from evergreen.data.values import to_canonical_strings

Kind = Literal["numeric", "categorical", "text"]
SCHEMA_VERSION = 1

__all__ = [
    "ColumnSpec",
    "Contract",
    "ValidationResult",
    "check_batch",
    "feature_kinds",
    "infer_contract",
    "validate",
]

# Text vs categorical for string columns (DESIGN §3: inferred if features are not configured).
TEXT_MEAN_LENGTH = 30
TEXT_UNIQUE_SHARE = 0.5
TEXT_MIN_WORDS = 3


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    dtype: str  # family seen when learned: integer | float | bool | string | unknown
    max_null_rate: float
    categories: tuple[str, ...] | None = None  # categorical only, canonical strings
    categories_fixed: bool = False  # True when configured in data.categories: always enforced
    min: float | None = None
    max: float | None = None

    def refused_categories_by(self, allow_new_categories: bool) -> str | None:
        """The setting under which a category this column has not seen is refused (ingest refuses the
        batch; monitoring sets the value aside), or None when a new one is accepted and learnt."""
        if self.kind != "categorical" or self.categories is None:
            return None
        if self.categories_fixed:
            return "data.categories"
        return None if allow_new_categories else "data.allow_new_categories: false"

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "kind": self.kind, "dtype": self.dtype, "max_null_rate": self.max_null_rate}
        if self.kind == "categorical":
            out["categories"] = None if self.categories is None else list(self.categories)
            out["categories_fixed"] = self.categories_fixed
        if self.min is not None or self.max is not None:
            out["range"] = [self.min, self.max]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSpec:
        low, high = d.get("range") or (None, None)
        cats = d.get("categories")
        return cls(
            name=d["name"],
            kind=d["kind"],
            dtype=d.get("dtype", "unknown"),
            max_null_rate=float(d["max_null_rate"]),
            categories=None if cats is None else tuple(cats),
            categories_fixed=bool(d.get("categories_fixed", False)),
            min=low,
            max=high,
        )


@dataclass(frozen=True)
class Contract:
    target: str
    task: str
    features: tuple[ColumnSpec, ...]
    # Classification: the labels of the first labelled batch (None until one arrived).
    target_classes: tuple[Any, ...] | None = None
    id_column: str | None = None
    timestamp_column: str | None = None
    schema_version: int = field(default=SCHEMA_VERSION)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def columns(self) -> tuple[str, ...]:
        """Snapshot column order: id, timestamp, features, target."""
        lead = tuple(c for c in (self.id_column, self.timestamp_column) if c)
        return (*lead, *self.feature_names, self.target)

    def of_kind(self, kind: Kind) -> tuple[str, ...]:
        return tuple(f.name for f in self.features if f.kind == kind)

    def with_target_classes(self, classes: tuple[Any, ...] | None) -> Contract:
        return replace(self, target_classes=classes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "target": self.target,
            "task": self.task,
            "target_classes": None if self.target_classes is None else list(self.target_classes),
            "id_column": self.id_column,
            "timestamp_column": self.timestamp_column,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Contract:
        classes = d.get("target_classes")
        return cls(
            target=d["target"],
            task=d["task"],
            features=tuple(ColumnSpec.from_dict(f) for f in d["features"]),
            target_classes=None if classes is None else tuple(classes),
            id_column=d.get("id_column"),
            timestamp_column=d.get("timestamp_column"),
            schema_version=int(d.get("schema_version", SCHEMA_VERSION)),
        )


def feature_kinds(contract: Contract) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(numeric, categorical, text) feature names, each in contract order."""
    return contract.of_kind("numeric"), contract.of_kind("categorical"), contract.of_kind("text")


def _dtype_family(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return "datetime"
    values = series.dropna().tolist()
    if not values:
        return "unknown"
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "integer" if all(float(v).is_integer() for v in values) else "float"
    return "string"


def _infer_kind(series: pd.Series, family: str) -> Kind | None:
    """None means "not a usable feature" (datetimes, nested values): the column is dropped as extra."""
    if family in ("integer", "float"):
        return "numeric"
    if family in ("bool", "unknown"):
        return "categorical"
    if family != "string":
        return None
    values = series.dropna()
    if not values.map(lambda v: isinstance(v, str | int | float)).all():
        return None
    text = values.astype(str)
    mean_len = float(text.str.len().mean())
    unique_share = text.nunique() / len(text)
    mean_words = float(text.str.split().str.len().mean())
    if mean_len > TEXT_MEAN_LENGTH or (unique_share > TEXT_UNIQUE_SHARE and mean_words >= TEXT_MIN_WORDS):
        return "text"
    return "categorical"


# A first batch's column of numbers with a few stray words: the words are refused, rather than the
# column frozen as categorical for good (every later number then a "new category").
NUMERIC_SHARE = 0.9
NUMERIC_MIN_VALUES = 10


def _refuse_stray_text(series: pd.Series, column: str, file: str) -> None:
    values = series.dropna()
    if len(values) < NUMERIC_MIN_VALUES or pd.api.types.is_bool_dtype(series):
        return
    # A sample first: a column of words (the usual categorical) is let go after 1000 values.
    sample = pd.to_numeric(_stripped(values.iloc[:1000]), errors="coerce")
    if sample.notna().mean() < NUMERIC_SHARE:
        return
    parsed = pd.to_numeric(_stripped(values), errors="coerce")
    numbers = int(parsed.notna().sum())
    if NUMERIC_SHARE * len(values) <= numbers < len(values):
        bad = values[parsed.isna()]
        raise checks.column_error(
            file,
            column,
            "wrong_type",
            f"wrong type: {numbers} of {len(values)} values are numbers, the rest text like "
            f"{checks.examples(bad)}; fix them, or declare the column's kind (data.categories, or "
            "data.features listing every feature)",
            expected="numeric",
            found="text values",
        )


def _stripped(values: pd.Series) -> pd.Series:
    return values.map(lambda v: v.strip() if isinstance(v, str) else v)


def _spec(name: str, kind: Kind, df: pd.DataFrame, settings: Settings) -> ColumnSpec:
    data = settings.data
    family = _dtype_family(df[name]) if name in df.columns else "unknown"
    low, high = data.ranges.get(name, (None, None)) if kind == "numeric" else (None, None)
    categories: tuple[str, ...] | None = None
    fixed = False
    if kind == "categorical":
        if name in data.categories:
            categories, fixed = tuple(str(c) for c in data.categories[name]), True
        elif name in df.columns:
            categories = tuple(sorted(set(to_canonical_strings(df[name]).dropna().tolist())))
    return ColumnSpec(
        name=name,
        kind=kind,
        dtype=family,
        max_null_rate=data.max_null_rate,
        categories=categories,
        categories_fixed=fixed,
        min=low,
        max=high,
    )


def infer_contract(df: pd.DataFrame, settings: Settings, file: str = "batch") -> Contract:
    """Build the contract from the first batch (after PII handling) and the settings."""
    data = settings.data
    reserved = {data.target, data.id_column, data.timestamp_column, *data.pii.drop, *data.pii.hash}
    specs: list[ColumnSpec] = []
    if data.features is not None:
        configured: tuple[tuple[tuple[str, ...], Kind], ...] = (
            (data.features.numeric, "numeric"),
            (data.features.categorical, "categorical"),
            (data.features.text, "text"),
        )
        for names, fixed_kind in configured:
            specs.extend(_spec(name, fixed_kind, df, settings) for name in names)
    else:
        for name in df.columns:
            if name in reserved:
                continue
            kind: Kind | None = (
                "text" if name in data.pii.scrub_text else _infer_kind(df[name], _dtype_family(df[name]))
            )
            declared = name in data.pii.scrub_text or name in data.categories
            if kind in ("categorical", "text") and not declared:
                _refuse_stray_text(df[name], str(name), file)
            if kind is not None:
                specs.append(_spec(str(name), kind, df, settings))
    classes = None
    if data.target in df.columns:
        classes = learn_classes(df[data.target], settings.task, data.target, file)
    return Contract(
        target=data.target,
        task=settings.task,
        features=tuple(specs),
        target_classes=classes,
        id_column=data.id_column,
        timestamp_column=data.timestamp_column,
    )
