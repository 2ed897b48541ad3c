"""Labelled streams with a change of concept, from the literature's definitions (seeded, no download).

- STAGGER (Schlimmer & Granger, 1986): three categorical attributes - size (small, medium, large),
  color (red, green, blue), shape (square, circle, triangle) - drawn uniformly; the label is one of
  three concepts: 0 ``size == small and color == red``, 1 ``color == green or shape == circle``,
  2 ``size in (medium, large)``. A *sudden* change swaps the concept from one row to the next.
- SEA (Street & Kim, 2001): three attributes uniform on [0, 10], only the first two relevant; the
  label is ``x1 + x2 <= theta`` with theta 8, 9, 7 or 9.5 (concepts 0-3), and a share of labels
  flipped as noise (10 % in the paper).
- SINE (Gama et al., 2004, "SINE1"): two attributes uniform on [0, 1]; concept 0 labels a row
  positive when ``x2 < sin(x1)``, concept 1 is the reversal (``x2 >= sin(x1)``), so a sudden change
  turns every answer of the old model into the wrong one.
- A *gradual* change (Minku et al., 2010; river's ``ConceptDriftStream``): during a transition of
  ``width`` rows centred on ``position``, each row comes from the new concept with a probability that
  rises along a sigmoid, ``1 / (1 + exp(-4 (t - position) / width))``.

Each batch carries a unique ``row_id`` (so identical attribute values are distinct records, as a
stream's rows are) and a ``batch`` index. Used by ``benchmarks/concept_change.py`` and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

SIZES = ("small", "medium", "large")
COLORS = ("red", "green", "blue")
SHAPES = ("square", "circle", "triangle")
SEA_THETA = (8.0, 9.0, 7.0, 9.5)


def stagger_attributes(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size": rng.choice(SIZES, n),
            "color": rng.choice(COLORS, n),
            "shape": rng.choice(SHAPES, n),
        }
    )


def stagger_label(x: pd.DataFrame, concept: int) -> np.ndarray:
    if concept == 0:
        return np.asarray((x["size"] == "small") & (x["color"] == "red"))
    if concept == 1:
        return np.asarray((x["color"] == "green") | (x["shape"] == "circle"))
    if concept == 2:
        return np.asarray(x["size"].isin(["medium", "large"]))
    raise ValueError(f"STAGGER has concepts 0, 1 and 2, not {concept}")


def sea_attributes(rng: np.random.Generator, n: int) -> pd.DataFrame:
    values = rng.uniform(0.0, 10.0, size=(n, 3))
    return pd.DataFrame({"x1": values[:, 0], "x2": values[:, 1], "x3": values[:, 2]})


def sea_label(x: pd.DataFrame, concept: int) -> np.ndarray:
    return np.asarray(x["x1"] + x["x2"] <= SEA_THETA[concept])


def sine_attributes(rng: np.random.Generator, n: int) -> pd.DataFrame:
    values = rng.uniform(0.0, 1.0, size=(n, 2))
    return pd.DataFrame({"x1": values[:, 0], "x2": values[:, 1]})


def sine_label(x: pd.DataFrame, concept: int) -> np.ndarray:
    below = np.asarray(x["x2"] < np.sin(x["x1"]))
    if concept == 0:
        return below
    if concept == 1:
        return ~below
    raise ValueError(f"SINE has concepts 0 and 1, not {concept}")


Generator = Literal["stagger", "sea", "sine"]
# name -> (attributes, label, numeric features, categorical features)
GENERATORS = {
    "stagger": (stagger_attributes, stagger_label, (), ("size", "color", "shape")),
    "sea": (sea_attributes, sea_label, ("x1", "x2", "x3"), ()),
    "sine": (sine_attributes, sine_label, ("x1", "x2"), ()),
}


@dataclass(frozen=True)
class Stream:
    """``batches`` batches of ``rows`` rows; the concept goes from ``before`` to ``after``.

    ``kind`` sudden: rows from batch ``change_batch`` on follow ``after``. ``kind`` gradual: the
    sigmoid transition is centred on the first row of ``change_batch`` + ``width_batches / 2`` and
    ``width_batches`` batches wide.
    """

    generator: Generator
    kind: Literal["sudden", "gradual"]
    before: int
    after: int
    change_batch: int
    batches: int = 12
    rows: int = 1000
    width_batches: float = 2.0
    noise: float = 0.0
    seed: int = 0

    def new_concept_probability(self, t: np.ndarray) -> np.ndarray:
        """Per global row index ``t``: the probability that the row follows the new concept."""
        start = self.change_batch * self.rows
        if self.kind == "sudden":
            return (t >= start).astype(float)
        width = self.width_batches * self.rows
        centre = start + width / 2
        return np.asarray(1.0 / (1.0 + np.exp(-4.0 * (t - centre) / width)))

    def features(self, *, numeric: bool | None = None) -> tuple[str, ...]:
        """The generator's attributes: all, or only the numeric (``True``) / categorical ones."""
        _attrs, _label, num, cat = GENERATORS[self.generator]
        return num if numeric else cat if numeric is False else (*num, *cat)

    def batch(self, i: int) -> pd.DataFrame:
        """Batch ``i`` (seeded by the stream's seed and ``i``: any batch can be made alone)."""
        rng = np.random.default_rng([self.seed, i])
        attrs, label, _numeric, _categorical = GENERATORS[self.generator]
        x = attrs(rng, self.rows)
        t = np.arange(i * self.rows, (i + 1) * self.rows)
        new = rng.random(self.rows) < self.new_concept_probability(t)
        y = np.where(new, label(x, self.after), label(x, self.before))
        if self.noise:
            y = np.where(rng.random(self.rows) < self.noise, ~y, y)
        x.insert(0, "row_id", [f"{self.seed}-{i}-{k}" for k in range(self.rows)])
        x["batch"] = i
        x["label"] = np.where(y, "yes", "no")
        return x


STREAM_CONFIG = """\
project: {project}
task: binary
data:
  landing: ./landing
  target: label
  id_column: row_id
  features: {{numeric: {numeric}, categorical: {categorical}}}
  window: {{max_age_days: null, max_batches: {max_batches}}}
training:
  candidates: {candidates}
  selection_metric: accuracy
  holdout_fraction: 0.2
  seed: 42
promotion:
  metric: accuracy
  min_improvement: 0.0
  significance: 0.05
  bootstrap_samples: 500
  evaluate_on: {evaluate_on}
triggers:
  new_data: {{min_rows: 1}}
  cooldown_minutes: 0
"""


def stream_config(
    stream: Stream,
    *,
    project: str = "stream",
    max_batches: int = 3,
    candidates: tuple[str, ...] = ("logistic_regression",),
    evaluate_on: str = "auto",
) -> str:
    """An ``evergreen.yaml`` for a stream's batches (``batch`` is kept out of the features)."""
    return STREAM_CONFIG.format(
        project=project,
        numeric="[" + ", ".join(stream.features(numeric=True)) + "]",
        categorical="[" + ", ".join(stream.features(numeric=False)) + "]",
        max_batches=max_batches,
        candidates="[" + ", ".join(candidates) + "]",
        evaluate_on=evaluate_on,
    )
