"""A plain MLflow client predicts with the champion on the users' own frame (int, float, bool, string).

The frame is read back from the ingested CSV (``landing/.processed``) with pandas, the target
dropped, nothing converted: the signature must describe those columns as they are (``long``,
``double``, ``boolean``, ``string``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evergreen.serving.model import load_version
from tests.support.interop import trained_mixed_project


def test_the_champion_predicts_on_a_frame_read_from_the_ingested_csv(tmp_path: Path) -> None:
    import mlflow

    project = trained_mixed_project(tmp_path / "p")
    settings = project.settings
    try:
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
