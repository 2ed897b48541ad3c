"""The MLflow adapter against a real MLflow store on SQLite in a temporary directory."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from evergreen.errors import ChampionUnavailableError, NotFoundError
from evergreen.registry import CHAMPION, MAX_TAG, PREVIOUS, Registry


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "artifacts", "churn")


def _model(seed: int) -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = np.where(X["a"] + 0.1 * seed > 0, "yes", "no")
    return LogisticRegression().fit(X, y), X


def _register(registry: Registry, seed: int) -> str:
    model, X = _model(seed)
    run = registry.start_run(f"r{seed}", tags={"evergreen.run_id": f"run{seed}"})
    version, size_mb = registry.register_model(
        run, model, X.head(5), tags={"evergreen.dataset_version": f"d{seed}"}
    )
    registry.end_run(run)
    assert size_mb > 0
    return version


def test_versions_aliases_and_previous(registry: Registry):
    v1, v2 = _register(registry, 1), _register(registry, 2)
    assert (v1, v2) == ("1", "2")
    assert registry.version_by_alias(CHAMPION) is None
    assert registry.set_champion(v1) is None
    assert registry.set_champion(v2) == v1
    assert registry.aliases() == {CHAMPION: "2", PREVIOUS: "1"}
    info = registry.get_version("2")
    assert info.aliases == (CHAMPION,) and info.dataset_version == "d2"
    assert [v.version for v in registry.list_versions()] == ["1", "2"]
    with pytest.raises(NotFoundError):
        registry.set_champion("99")
    assert registry.aliases() == {CHAMPION: "2", PREVIOUS: "1"}  # unchanged by the failed call


def test_load_and_a_second_mlflow_client_can_use_the_champion(registry: Registry, tmp_path):
    import mlflow

    v = _register(registry, 3)
    registry.set_champion(v)
    model, X = _model(3)
    ours = registry.load_model(v)
    assert list(ours.predict(X)) == list(model.predict(X))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        pyfunc = mlflow.pyfunc.load_model("models:/churn@champion")
        assert list(pyfunc.predict(X)) == list(model.predict(X))
        assert pyfunc.metadata.get_input_schema().input_names() == ["a", "b"]
    finally:
        mlflow.set_tracking_uri(None)


def test_missing_artifact_is_champion_unavailable(registry: Registry):
    import shutil
    from pathlib import Path
    from urllib.parse import urlparse

    v = _register(registry, 4)
    shutil.rmtree(Path(urlparse(registry.model_uri(v)).path))
    with pytest.raises(ChampionUnavailableError, match="could not be loaded"):
        registry.load_model(v)


def _artifact(registry: Registry, version: str):
    from pathlib import Path
    from urllib.parse import urlparse

    return Path(urlparse(registry.model_uri(version)).path) / "model.skops"


def test_registration_records_the_artifact_sha256(registry: Registry):
    import hashlib

    v = _register(registry, 5)
    digest = hashlib.sha256(_artifact(registry, v).read_bytes()).hexdigest()
    assert registry.get_version(v).tags["evergreen.artifact_sha256"] == digest


def test_a_tampered_artifact_is_refused(registry: Registry):
    from evergreen.errors import UntrustedModelError

    v = _register(registry, 6)
    path = _artifact(registry, v)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed after registration
    path.write_bytes(bytes(data))
    with pytest.raises(UntrustedModelError, match="changed after registration") as err:
        registry.load_model(v)
    assert err.value.code == "untrusted_model"


def test_a_version_without_the_tag_is_refused(registry: Registry):
    from evergreen.errors import UntrustedModelError

    v = _register(registry, 7)
    registry.client.delete_model_version_tag("churn", v, "evergreen.artifact_sha256")
    with pytest.raises(UntrustedModelError, match=r"no evergreen\.artifact_sha256 tag"):
        registry.load_model(v)


def test_a_version_an_older_evergreen_registered_is_refused_saying_how_to_serve_it_again(
    registry: Registry, tmp_path
) -> None:
    """Versions registered before digests were recorded (an upgraded deployment's champion) have
    evergreen's tags but no digest: the refusal says so and what to do (it said only versions
    registered by evergreen are loaded), and the README's adoption recipe makes it load."""
    import subprocess
    import sys

    from evergreen.errors import UntrustedModelError

    v = _register(registry, 8)
    registry.client.delete_model_version_tag("churn", v, "evergreen.artifact_sha256")  # as 0.x left it
    with pytest.raises(UntrustedModelError) as err:
        registry.load_model(v)
    assert str(err.value) == (
        f"model version {v} of churn: no evergreen.artifact_sha256 tag, so its artifact cannot be "
        "checked: an evergreen older than 2026-12-01 registered it, before digests were recorded; "
        "retrain to register a checked version, or adopt this one as the README's Upgrading section says"
    )

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    recipe = re.search(r"adopt a version[^`]*```python\n(.*?)```", readme, re.S)
    assert recipe, "the README's adoption recipe"
    code = (
        recipe.group(1)
        .replace("<storage.mlflow_tracking_uri>", registry.tracking_uri)
        .replace("<project>", "churn")
        .replace("<version>", v)
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    assert registry.load_model(v).predict(_model(8)[1].head(2)).shape == (2,)


def test_an_untrusted_type_is_refused_at_registration_and_at_load(registry: Registry, tmp_path):
    from evergreen.errors import UntrustedModelError
    from tests.support.candidates import CustomLogistic

    model, X = _model(8)
    custom = CustomLogistic().fit(X, model.predict(X))
    run = registry.start_run("r8", tags={})
    # Not on the list: skops refuses to write it, so no version is registered.
    with pytest.raises(Exception, match="CustomLogistic"):
        registry.register_model(run, custom, X.head(5), tags={})
    assert registry.list_versions() == []
    # Listed in training.trusted_types by one process: registered; another without it refuses to load.
    trusting = Registry(registry.tracking_uri, registry.artifact_root, "churn", [CUSTOM])
    v, _ = trusting.register_model(run, custom, X.head(5), tags={})
    assert list(trusting.load_model(v).predict(X)) == list(custom.predict(X))
    with pytest.raises(
        UntrustedModelError, match=re.escape("types evergreen does not trust: " + CUSTOM)
    ) as err:
        registry.load_model(v)
    assert err.value.details == {"untrusted_types": [CUSTOM]}


CUSTOM = "tests.support.candidates.CustomLogistic"


def test_a_registry_it_cannot_reach_is_an_error_not_an_empty_one(tmp_path, monkeypatch) -> None:
    # Every answer but "does not exist" used to read as an empty registry: `evergreen models` printed
    # an empty table with exit 0, and `promote 1` said "model version 1 not found" (exit 2).
    from evergreen.errors import RegistryError
    from tests.support.net import free_port

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries take minutes
    down = Registry(f"http://u:s3cret@127.0.0.1:{free_port()}", tmp_path / "art", "churn")
    for call in (down.aliases, down.list_versions, lambda: down.get_version("1")):
        with pytest.raises(RegistryError, match=r"^MLflow registry unavailable at http://u:\*\*\*@") as err:
            call()
        assert "s3cret" not in err.value.message
    # A store that answers with "no such model" is still an empty registry.
    empty = Registry(f"sqlite:///{tmp_path}/m.db", tmp_path / "art", "churn")
    assert (empty.aliases(), empty.list_versions()) == ({}, [])
    for version in ("7", "abc"):
        with pytest.raises(NotFoundError):
            empty.get_version(version)


def test_a_tag_value_of_any_length_is_cut_not_refused(registry: Registry):
    """A failed run's message or a person's reason longer than MLflow takes (100 000 characters)
    made the tag, and with it the decision's record, fail; every value is cut in one place."""
    version = _register(registry, 1)
    registry.tag_version(version, {"evergreen.reason": "run failed: " + "x" * 200_000})
    stored = registry.client.get_model_version("churn", version).tags["evergreen.reason"]
    assert stored == ("run failed: " + "x" * 200_000)[:MAX_TAG]
    assert len(stored) == 5000
