"""A plain MLflow client predicts with the champion on the users' own frame (int, float, bool, string).

The frame is read back from the ingested CSV (``landing/.processed``) with pandas, the target
dropped, nothing converted: the signature must describe those columns as they are (``long``,
``double``, ``boolean``, ``string``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from evergreen.config import settings_from_dict
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import open_project
from evergreen.serving.model import load_version


def _frame(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    visits = rng.integers(0, 20, n)
    spend = rng.gamma(2.0, 30.0, n).round(2)
    member = rng.random(n) < 0.4
    plan = rng.choice(["basic", "plus", "pro"], n)
    score = 0.15 * visits - 0.02 * spend + 1.2 * member + (plan == "pro") * 0.8
    return pd.DataFrame(
        {
            "customer_id": [f"K{i:05d}" for i in range(n)],
            "event_time": [datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=i) for i in range(n)],
            "visits": visits,
            "spend": spend,
            "member": member,
            "plan": plan,
            "left": np.where(score + rng.normal(0, 0.5, n) > 0.5, "yes", "no"),
        }
    )


def test_the_champion_predicts_on_a_frame_read_from_the_ingested_csv(tmp_path: Path) -> None:
    import mlflow

    raw = {
        "project": "interop",
        "task": "binary",
        "data": {"target": "left", "id_column": "customer_id", "timestamp_column": "event_time"},
        "training": {"candidates": ["logistic_regression"]},
        "promotion": {"min_metrics": {}, "significance": None},
    }
    settings = settings_from_dict(raw, tmp_path / "p", env={"EVERGREEN_PII_SALT": "s"})
    settings.data.landing.mkdir(parents=True)
    _frame(600).to_csv(settings.data.landing / "batch.csv", index=False)
    project = open_project(settings)
    try:
        out = RetrainRunner(project).run(RetrainRequest(trigger="manual"))
        assert out.status == "promoted", out.reason

        mlflow.set_tracking_uri(settings.storage.mlflow_tracking_uri)
        try:
            model = mlflow.pyfunc.load_model("models:/interop@champion")
            types = {c["name"]: c["type"] for c in model.metadata.signature.inputs.to_dict()}
            assert types == {"visits": "long", "spend": "double", "member": "boolean", "plan": "string"}
            users_frame = pd.read_csv(settings.data.landing / ".processed" / "batch.csv").drop(
                columns=["left"]
            )
            assert {str(t) for t in users_frame[["visits", "spend", "member", "plan"]].dtypes} == {
                "int64",
                "float64",
                "bool",
                "object",
            }
            predictions = model.predict(users_frame)
            assert len(predictions) == 600 and set(predictions) <= {"yes", "no"}
            # The same answers as the pipeline itself gives on the ingested (float, canonical) frame.
            pipeline = project.registry.load_model("1")
            ingested = users_frame.assign(
                visits=users_frame["visits"].astype(float), member=users_frame["member"].map(str)
            )
            assert list(predictions) == list(pipeline.predict(ingested))
        finally:
            mlflow.set_tracking_uri(None)

        # evergreen's own server takes the same signature: long and boolean fields by their JSON types.
        loaded = load_version(project.registry, "1", passthrough=("customer_id", "event_time"))
        kinds = {f.name: f.kind for f in loaded.schema.fields}
        assert kinds == {"visits": "integer", "spend": "number", "member": "boolean", "plan": "string"}
        scored = loaded.score([{"visits": 3, "spend": 12.5, "member": True, "plan": "pro"}])
        assert scored.predictions[0] in ("yes", "no")
    finally:
        project.store.engine.dispose()
