"""MLServer 1.7 as the third server of benchmarks/serving.py: its MLflow runtime on the same champion.

MLServer lives in its own virtual environment (``make venv-mlserver``: ``.venv-mlserver`` from
``requirements-mlserver.lock``; it pins fastapi<0.116 and needs uvloop<0.22). Settings as the issue
asks: adaptive batching with ``max_batch_size`` 32 and ``max_batch_time`` 5 ms, ``parallel_workers`` 0
(inference in the server's own process, as ``evergreen serve`` does). The champion's artifacts are
downloaded once and served from a local folder; evergreen's preprocessing helpers (types the skops
file names) are importable through ``PYTHONPATH=src``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv-mlserver" / "bin" / "python"
MODEL = "churn"
MAX_BATCH_SIZE = 32
MAX_BATCH_TIME_SECONDS = 0.005

# MLflow signature type -> V2 inference protocol datatype.
_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "string": "BYTES",
    "boolean": "BOOL",
}


def available() -> bool:
    return PYTHON.exists()


def prepare(
    project: Any, version: str, folder: Path, http_port: int, grpc_port: int, metrics_port: int
) -> tuple[list[str], Path]:
    """Write MLServer's settings for the champion into ``folder``: the command, the model's folder."""
    import mlflow

    model_dir = Path(
        mlflow.artifacts.download_artifacts(
            project.registry.model_uri(version), dst_path=str(folder / "artifacts")
        )
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": http_port,
                "grpc_port": grpc_port,
                "metrics_port": metrics_port,
                "parallel_workers": 0,
                "debug": False,
            }
        )
    )
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL,
                "implementation": "mlserver_mlflow.MLflowRuntime",
                "max_batch_size": MAX_BATCH_SIZE,
                "max_batch_time": MAX_BATCH_TIME_SECONDS,
                "parameters": {"uri": str(model_dir)},
            }
        )
    )
    return [str(PYTHON.parent / "mlserver"), "start", str(folder)], model_dir


def env() -> dict[str, str]:
    return {
        "PYTHONPATH": str(ROOT / "src"),
        # MLflow 3 loads a scikit-learn model (skops here) only when told it may (training/serialization.py).
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def infer_body(model_dir: Path, record: dict[str, Any]) -> str:
    """One record as a V2 inference request, each column typed as the champion's signature says."""
    from mlflow.models import Model

    signature = Model.load(str(model_dir)).signature
    assert signature is not None
    inputs = []
    for col in signature.inputs.to_dict():
        name, kind = col["name"], col["type"]
        value = record[name]
        datatype = _DATATYPES[kind]
        if datatype in ("INT64", "INT32"):
            value = int(value)
        entry: dict[str, Any] = {"name": name, "shape": [1], "datatype": datatype, "data": [value]}
        if datatype == "BYTES":
            entry["parameters"] = {"content_type": "str"}
        inputs.append(entry)
    return json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs})
