"""The stage references survive JSON both ways, and the stage list chains type to type."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any, get_type_hints

import pytest

from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.policy import ModelScore
from evergreen.pipeline.refs import (
    CandidateSummary,
    DatasetRef,
    Decided,
    Evaluated,
    Finished,
    RunOrder,
    Summary,
    Trained,
    ref_from_dict,
)
from evergreen.pipeline.stages import STAGE_NAMES, STAGES, acts_on, stage_named

AS_OF = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
ORDER = RunOrder("manual", "labels fixed", "api:ann", True, AS_OF, ("r1", "r2"), "run1")
DATASET = DatasetRef("run1", "manual", "ds-abc", (3, 4), AS_OF, 1200, "1")
TRAINED = Trained(
    DATASET,
    "2",
    "mlflow-parent",
    "mlflow-child",
    "logistic_regression",
    (CandidateSummary("logistic_regression", "ok", 0.25, {"f1_macro": 0.81}, None, True),),
    0.25,
)
EVALUATED = Evaluated(
    TRAINED,
    ModelScore("2", {"f1_macro": 0.81}, {"plan": {"basic": {"f1_macro": 0.8, "rows": 40}}}),
    ModelScore("1", {"f1_macro": 0.78}),
    None,
    BootstrapResult(delta=0.03, ci_low=0.01, ci_high=0.05, samples=1000, seed=42, alpha=0.05),
)
DECIDED = Decided(EVALUATED, "promoted", "better", {"outcome": "promoted", "checks": []})
FINISHED = Finished("run1", "promoted", "better", "2")
SUMMARY = Summary("run1", "promoted", "better", "manual", "2", "2")


@pytest.mark.parametrize("ref", [ORDER, DATASET, TRAINED, EVALUATED, DECIDED, FINISHED, SUMMARY])
def test_every_reference_round_trips_through_json(ref: Any) -> None:
    d = json.loads(json.dumps(ref.to_dict()))
    assert d["kind"] == type(ref).kind
    assert ref_from_dict(d) == ref


def test_an_order_from_an_orchestrator_needs_only_the_trigger() -> None:
    assert ref_from_dict({"kind": "order", "trigger": "drift"}) == RunOrder("drift")


def test_a_dict_that_is_no_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="kind 'frame'"):
        ref_from_dict({"kind": "frame"})


def test_the_stages_chain_each_output_into_the_next_input() -> None:
    assert STAGE_NAMES == ("dataset", "train", "evaluate", "decide", "promote", "notify")
    for stage, following in itertools.pairwise(STAGES):
        produced = get_type_hints(stage.run)["return"]
        outputs = set(getattr(produced, "__args__", (produced,)))
        # What a stage gives is what the next one takes, or a finished run on its way to notify.
        assert outputs <= {*following.takes, Finished}, stage.name
    assert stage_named("notify").takes == (Finished,)
    with pytest.raises(KeyError, match="no retrain stage 'assemble'"):
        stage_named("assemble")


def test_a_finished_run_passes_every_stage_but_notify() -> None:
    assert [s.name for s in STAGES if acts_on(s, FINISHED)] == ["notify"]
    assert [s.name for s in STAGES if acts_on(s, ORDER)] == ["dataset"]
