"""The literature's streams: each generator's concepts, and the project config a stream gets."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from evergreen.examples.streams import Stream, sine_attributes, sine_label, stream_config


def test_sine_concept_one_is_the_reversal_of_concept_zero() -> None:
    x = sine_attributes(np.random.default_rng(0), 20_000)
    before, after = sine_label(x, 0), sine_label(x, 1)
    assert (before == ~after).all()
    # P(x2 < sin x1) for x1, x2 uniform on [0, 1] is the integral of sin over [0, 1]: 1 - cos(1).
    assert before.mean() == pytest.approx(1 - np.cos(1.0), abs=0.01)
    with pytest.raises(ValueError, match="SINE has concepts 0 and 1"):
        sine_label(x, 2)


def test_a_sudden_sine_change_flips_every_label_from_its_batch_on() -> None:
    stream = Stream("sine", "sudden", before=0, after=1, change_batch=2, batches=4, rows=500, seed=3)
    for i in range(4):
        b = stream.batch(i)
        expected = sine_label(b, 1 if i >= 2 else 0)
        assert (b["label"] == np.where(expected, "yes", "no")).all()
        assert list(b.columns) == ["row_id", "x1", "x2", "batch", "label"]


@pytest.mark.parametrize(
    ("generator", "numeric", "categorical"),
    [
        ("stagger", [], ["size", "color", "shape"]),
        ("sea", ["x1", "x2", "x3"], []),
        ("sine", ["x1", "x2"], []),
    ],
)
def test_each_generator_declares_its_features_in_the_project_config(
    generator: str, numeric: list[str], categorical: list[str]
) -> None:
    stream = Stream(generator, "sudden", before=0, after=1, change_batch=6)  # type: ignore[arg-type]
    features = yaml.safe_load(stream_config(stream))["data"]["features"]
    assert features == {"numeric": numeric, "categorical": categorical}
    assert list(stream.features()) == numeric + categorical
