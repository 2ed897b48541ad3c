"""Helpers of the serving tests: a real uvicorn server in a thread, broken model versions, row counts."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select

from evergreen.store.tables import predictions
from tests.support.net import free_port  # re-exported: serving tests start servers

RECORD = {
    "tenure": 13.0,
    "monthly_fee": 44.07,
    "support_calls": 0.0,
    "plan": "standard",
    "region": "east",
    "last_ticket": "thanks for the quick help",
}


def settings_with(project: Any, **serving: Any) -> Any:
    """The project's settings with serving (and optionally storage) keys replaced."""
    s = project.settings
    storage = serving.pop("storage", {})
    return s.model_copy(
        update={
            "serving": s.serving.model_copy(update=serving),
            "storage": s.storage.model_copy(update=storage),
        }
    )


def wait_until(check: Callable[[], Any], what: str, timeout: float = 120.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (a liveness bound, not a timing assertion).

    What is waited for is mostly a model loaded by a background thread (a swap, a warm candidate, a
    shadow) while request threads compete for the GIL and, in CI, two cores: the bound is generous.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(every)


class LiveServer:
    """``app`` served by uvicorn on 127.0.0.1 in a background thread; ``stop()`` is a graceful shutdown."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=30,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, "uvicorn to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "server did not shut down"

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def wait_ready(self, version: str | None = None) -> None:
        with self.client() as c:

            def ok() -> bool:
                r = c.get("/ready")
                return r.status_code == 200 and (version is None or r.json()["model_version"] == version)

            wait_until(ok, f"model {version or 'any'} to be served")


@contextlib.contextmanager
def live(app: Any, *, ready: bool = True) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        if ready:
            server.wait_ready()
        yield server
    finally:
        server.stop()


def count_predictions(store: Any, **where: Any) -> int:
    q = select(func.count()).select_from(predictions).where(predictions.c.project == store.project)
    for k, v in where.items():
        q = q.where(predictions.c[k] == v)
    with store.connect() as conn:
        return int(conn.execute(q).scalar_one())


def stored_ids(store: Any) -> set[str]:
    with store.connect() as conn:
        return {
            r.id for r in conn.execute(select(predictions.c.id).where(predictions.c.project == store.project))
        }


def add_version(project: Any) -> str:
    """A real registered version with its own run and artifacts (a tiny model: fast)."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": np.arange(20, dtype=float), "b": np.arange(20, dtype=float) % 3})
    model = LogisticRegression().fit(x, np.arange(20) % 2)
    reg = project.registry
    run_id = reg.start_run("extra", {})
    version, _ = reg.register_model(run_id, model, x.head(3), {"evergreen.decision": "rejected"})
    reg.end_run(run_id)
    return version


def artifact_dir(project: Any, version: str) -> Path:
    """The directory of ``version``'s run that holds its model's files (file store)."""
    source = project.registry.get_version(version).source
    return Path(source.removeprefix("file://")).parent


def clone_version(project: Any, version: str, edit: Callable[[Path], None]) -> str:
    """Register a copy of ``version``'s artifacts, changed by ``edit(model_dir)``; return the new version."""
    import mlflow

    reg = project.registry
    src = Path(mlflow.artifacts.download_artifacts(reg.model_uri(version)))
    dest = Path(tempfile.mkdtemp(prefix="eg-broken-", dir=project.settings.state_dir)) / "model"
    shutil.copytree(src, dest)
    edit(dest)
    # The clone claims the original's artifact digest: same bytes load, changed bytes are refused.
    sha = reg.get_version(version).tags.get("evergreen.artifact_sha256", "")
    mv = reg.client.create_model_version(
        reg.model_name,
        source=str(dest),
        run_id=None,
        tags={"evergreen.decision": "test", "evergreen.artifact_sha256": sha},
    )
    return str(mv.version)


def tampered_version(project: Any, version: str) -> str:
    """The same version with one byte of its skops file changed after registration."""

    def edit(d: Path) -> None:
        data = bytearray((d / "model.skops").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (d / "model.skops").write_bytes(bytes(data))

    return clone_version(project, version, edit)


def missing_artifact_version(project: Any, version: str) -> str:
    return clone_version(project, version, lambda d: shutil.rmtree(d))


def warmup_failing_version(project: Any, version: str) -> str:
    """Loads fine, but its saved input example makes the pipeline raise on the warm-up prediction."""

    def edit(d: Path) -> None:
        ex = json.loads((d / "input_example.json").read_text())
        ex["data"] = [["not a number" for _ in row] for row in ex["data"]]
        (d / "input_example.json").write_text(json.dumps(ex))

    return clone_version(project, version, edit)


def incompatible_schema_version(project: Any, version: str) -> str:
    """Its signature requires a field clients of ``version`` do not send."""
    import yaml

    def edit(d: Path) -> None:
        mlmodel = yaml.safe_load((d / "MLmodel").read_text())
        cols = json.loads(mlmodel["signature"]["inputs"])
        cols.append({"type": "double", "name": "brand_new_field", "required": True})
        mlmodel["signature"]["inputs"] = json.dumps(cols)
        (d / "MLmodel").write_text(yaml.safe_dump(mlmodel))

    return clone_version(project, version, edit)


def collected(project: Any, version: str) -> None:
    """What an operator does to free space: soft-delete the version's run, then ``mlflow gc``. The
    version and its alias stay; its files are gone."""
    reg = project.registry
    reg.client.delete_run(reg.get_version(version).run_id)
    mlflow_cli = str(Path(sys.executable).parent / "mlflow")
    uri = reg.tracking_uri
    subprocess.run(
        [mlflow_cli, "gc", "--backend-store-uri", uri, "--tracking-uri", uri], check=True, capture_output=True
    )


def foreign_version(project: Any, version: str) -> str:
    """A copy of ``version`` registered by hand, as another tool would: no evergreen tags at all."""
    import mlflow

    reg = project.registry
    src = Path(mlflow.artifacts.download_artifacts(reg.model_uri(version)))
    dest = Path(tempfile.mkdtemp(prefix="eg-foreign-", dir=project.settings.state_dir)) / "model"
    shutil.copytree(src, dest)
    return str(reg.client.create_model_version(reg.model_name, source=str(dest), run_id=None).version)
