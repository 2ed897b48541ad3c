"""The MLflow adapter: experiment runs, model versions, aliases, tags and loading.

Uses an explicit ``MlflowClient`` bound to the project's tracking URI instead of MLflow's global
fluent state, so two projects (or a test and the app under test) never share a tracking URI.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Dataset as MlflowDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from evergreen.errors import (
    ChampionUnavailableError,
    ModelFilesMissingError,
    NotFoundError,
    RegistryError,
    UntrustedModelError,
    one_line,
)
from evergreen.redact import Redactor

# The names and the version record live with the MLflow-free reader; re-exported for callers here.
from evergreen.registry_read import CHAMPION as CHAMPION
from evergreen.registry_read import PREVIOUS as PREVIOUS
from evergreen.registry_read import TAG_PREFIX as TAG_PREFIX
from evergreen.registry_read import VersionInfo as VersionInfo
from evergreen.telemetry import bound_mlflow_http_waits, disable_mlflow_telemetry
from evergreen.trust import (
    ARTIFACT_SHA256_TAG,
    MODEL_FILE,
    check_registrable,
    load_trusted,
    sha256_of,
    trusted_types,
)

MODEL_ARTIFACT = "model"
# The longest model-version tag value written: MLflow 3 takes 100 000 characters, but a tracking
# server whose schema predates its Text column holds 5000 (varchar), and a reason is read by people.
MAX_TAG = 5000
# An upgrade from an evergreen of before 2026-12-01 keeps its versions, which carry evergreen's tags
# but no digest: serving, monitoring and rollback refuse them like a foreign version, and the reason
# must tell the operator how to serve again rather than deny evergreen made them.
_REGISTERED_BEFORE_DIGESTS = (
    "{what}: no {tag} tag, so its artifact cannot be checked: an evergreen older than 2026-12-01 "
    "registered it, before digests were recorded; retrain to register a checked version, or adopt "
    "this one as the README's Upgrading section says"
)

# Packages a served model needs; listing them avoids MLflow's slow requirement inference
# (a subprocess that re-imports the model, ~1 s per logged model).
# MLflow's answers that say the model or the version is not there: facts about the registry. Any
# other error (no server, refused credentials, a broken store) is a failure of the registry, and must
# not read as "no versions" (`evergreen models` printed an empty table, exit 0; gc planned nothing) or
# "no such version" (a promote during an outage said "not found", exit 2).
_ABSENT = frozenset({"RESOURCE_DOES_NOT_EXIST"})
_NO_SUCH_VERSION = _ABSENT | {"INVALID_PARAMETER_VALUE"}  # "abc" is not a version number


# How an artifact that is not there reads in MLflow's stores, on the exception itself or one it was
# raised from: the local file store's OSError, the tracking server's proxy (RESOURCE_DOES_NOT_EXIST,
# "No such artifact"), S3's NoSuchKey. Anything else (a store down, no credentials) is not proof.
_MISSING_WORDS = ("No such file or directory", "No such artifact", "NoSuchKey")


def _files_missing(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, FileNotFoundError) or getattr(seen, "error_code", None) in _ABSENT:
            return True
        if any(word in str(seen) for word in _MISSING_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _unavailable(tracking_uri: str, exc: MlflowException) -> RegistryError:
    # The URI, and MLflow's message (it quotes the request URL), may carry a password.
    return RegistryError(Redactor()(f"MLflow registry unavailable at {tracking_uri}: {one_line(exc)}"))


_REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "xgboost-cpu", "lightgbm", "skops")


def _pip_requirements() -> list[str]:
    reqs = []
    for name in _REQUIREMENTS:
        try:
            reqs.append(f"{name}=={pkg_version(name)}")
        except PackageNotFoundError:
            continue
    return reqs


def _metric_entities(metrics: Mapping[str, float], ts: int) -> list[Metric]:
    return [Metric(k, float(v), ts, 0) for k, v in metrics.items() if v is not None]


def is_tracking_server(tracking_uri: str) -> bool:
    """An MLflow tracking server (REST), as opposed to a database or file store opened in-process."""
    return tracking_uri.split(":", 1)[0].lower() in ("http", "https", "databricks")


def _storable_version(version: str) -> bool:
    """False for a number no version can have (MLflow's store keeps a 64-bit integer: a 20-digit
    one failed in the store and read as "registry unavailable"); text is MLflow's to judge."""
    try:
        number = int(version.strip())
    except ValueError:
        return True
    return 0 < number < 2**63


class Registry:
    """One project's registered model and experiment in MLflow."""

    def __init__(
        self,
        tracking_uri: str,
        artifact_root: Path,
        model_name: str,
        extra_trusted_types: Sequence[str] = (),
        redact: Redactor | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        # Tag values can quote a person's reason, which may paste a URL with its password or a
        # token: MLflow, and GET /api/models after it, get them redacted like every stored row.
        self.redact = redact or Redactor()
        self.model_name = model_name
        self.artifact_root = artifact_root
        # The only types a model may contain, at registration and at load (evergreen.trust).
        self.trusted_types = trusted_types(extra_trusted_types)
        disable_mlflow_telemetry()  # before our first MLflow call (MLflow checks it on every event)
        if is_tracking_server(tracking_uri):
            bound_mlflow_http_waits()  # MLflow reads them at each request
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        except Exception as exc:  # MLflow raises many types when the store is unreachable
            where = Redactor()(tracking_uri)  # the URI may carry a password: never in the message
            raise RegistryError(f"MLflow tracking store unavailable at {where}: {one_line(exc)}") from exc
        self._experiment_id: str | None = None

    # ---- experiment and runs -------------------------------------------------------------
    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.model_name)
            if exp is None:
                location = None
                # A tracking server decides where artifacts go (`--artifacts-destination s3://…
                # --serve-artifacts`); a local path here would bypass it and write to this host's disk.
                if not is_tracking_server(self.tracking_uri):
                    self.artifact_root.mkdir(parents=True, exist_ok=True)
                    location = self.artifact_root.resolve().as_uri()
                self._experiment_id = self.client.create_experiment(
                    self.model_name, artifact_location=location
                )
            else:
                self._experiment_id = exp.experiment_id
        return self._experiment_id

    def start_run(self, name: str, tags: Mapping[str, str], parent_run_id: str | None = None) -> str:
        all_tags = dict(tags)
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=name)
        return str(run.info.run_id)

    def log(
        self,
        run_id: str,
        *,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        ts = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=_metric_entities(metrics or {}, ts),
            params=[Param(k, str(v)[:6000]) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
        )

    def log_dataset(
        self, run_id: str, *, name: str, digest: str, source: str, frame: pd.DataFrame, target: str
    ) -> None:
        schema = {"mlflow_colspec": [{"name": str(c), "type": str(t)} for c, t in frame.dtypes.items()]}
        entity = MlflowDataset(
            name=name,
            digest=digest[:36],
            source_type="local",
            source=json.dumps({"uri": source}),
            schema=json.dumps(schema),
            profile=json.dumps({"num_rows": len(frame), "num_elements": int(frame.size), "target": target}),
        )
        self.client.log_inputs(
            run_id, [DatasetInput(entity, tags=[InputTag("mlflow.data.context", "training")])]
        )

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    # ---- model versions ------------------------------------------------------------------
    def register_model(
        self,
        run_id: str,
        model: Any,
        input_example: pd.DataFrame,
        tags: Mapping[str, str],
        serialization_format: str = "skops",
    ) -> tuple[str, float]:
        """Save ``model`` under the run, register it as a new version; return (version, size MB).

        Saved with skops and evergreen's trusted types only (a model needing another type is refused
        here, by skops); the version is tagged with the sha256 of the saved file, checked at load.
        """
        if serialization_format != "skops":
            raise RegistryError(f"models are saved as skops only, not {serialization_format!r}")
        check_registrable(model, self.trusted_types, f"a new version of {self.model_name}")
        prediction = model.predict(input_example)
        signature = infer_signature(input_example, prediction)
        # skops loads the file back at save time with this list: an untrusted type fails right here.
        extra: dict[str, Any] = {"serialization_format": "skops", "skops_trusted_types": self.trusted_types}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / MODEL_ARTIFACT
            mlflow.sklearn.save_model(
                model,
                str(path),
                signature=signature,
                input_example=input_example,
                pip_requirements=_pip_requirements(),
                **extra,
            )
            size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
            digest = sha256_of(path / MODEL_FILE)
            self.client.log_artifacts(run_id, str(path), MODEL_ARTIFACT)
        run = self.client.get_run(run_id)
        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code not in _ABSENT:
                raise _unavailable(self.tracking_uri, exc) from exc
            self.client.create_registered_model(self.model_name)
        mv = self.client.create_model_version(
            self.model_name,
            source=f"{run.info.artifact_uri}/{MODEL_ARTIFACT}",
            run_id=run_id,
            tags={**tags, ARTIFACT_SHA256_TAG: digest},
        )
        return str(mv.version), size_mb

    def tag_version(self, version: str, tags: Mapping[str, str]) -> None:
        """:class:`NotFoundError` for a version that does not exist (deleted by hand in MLflow's UI):
        MLflow's own exception was a 500 to whoever asked. A value is cut to :data:`MAX_TAG`
        characters here, after redaction, so that no caller's reason (a person's, or a failed run's
        message) can make the tag, and with it the decision's record, fail."""
        for k, v in tags.items():
            value = self.redact(str(v))[:MAX_TAG]
            try:
                self.client.set_model_version_tag(self.model_name, version, k, value)
            except MlflowException as exc:
                # INVALID_PARAMETER_VALUE is also a tag value over MLflow's limit, asked before the
                # version is looked up: "not found" only for a version that is no number.
                missing = exc.error_code in _ABSENT or (
                    exc.error_code in _NO_SUCH_VERSION and not str(version).isdigit()
                )
                if not missing:
                    raise _unavailable(self.tracking_uri, exc) from exc
                raise NotFoundError(f"model version {version} of {self.model_name} not found") from exc

    def aliases(self) -> dict[str, str]:
        try:
            rm = self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code not in _ABSENT:
                # An outage is not "no champion": a retrain reading it so would judge its candidate
                # as the first model and promote it with no comparison at all.
                raise _unavailable(self.tracking_uri, exc) from exc
            return {}  # no registered model yet: no aliases
        return {k: str(v) for k, v in (rm.aliases or {}).items()}

    def version_by_alias(self, alias: str) -> str | None:
        return self.aliases().get(alias)

    def get_version(self, version: str) -> VersionInfo:
        if not _storable_version(str(version)):  # MLflow's store fails on it: "registry unavailable"
            raise NotFoundError(f"model version {version} of {self.model_name} not found")
        try:
            mv = self.client.get_model_version(self.model_name, str(version))
        except MlflowException as exc:
            if exc.error_code not in _NO_SUCH_VERSION:
                raise _unavailable(self.tracking_uri, exc) from exc
            raise NotFoundError(f"model version {version} of {self.model_name} not found") from exc
        aliases = tuple(a for a, v in self.aliases().items() if v == str(mv.version))
        return VersionInfo(
            version=str(mv.version),
            run_id=mv.run_id,
            created_at=mv.creation_timestamp / 1000.0,
            tags=dict(mv.tags or {}),
            aliases=aliases,
            source=mv.source or "",
        )

    def list_versions(self) -> list[VersionInfo]:
        try:
            found = self.client.search_model_versions(f"name='{self.model_name}'")
        except MlflowException as exc:
            if exc.error_code not in _ABSENT:
                raise _unavailable(self.tracking_uri, exc) from exc
            return []
        by_version: dict[str, list[str]] = {}
        for a, v in self.aliases().items():
            by_version.setdefault(v, []).append(a)
        out = [
            VersionInfo(
                version=str(mv.version),
                run_id=mv.run_id,
                created_at=mv.creation_timestamp / 1000.0,
                tags=dict(mv.tags or {}),
                aliases=tuple(sorted(by_version.get(str(mv.version), []))),
                source=mv.source or "",
            )
            for mv in found
        ]
        return sorted(out, key=lambda v: int(v.version))

    def set_champion(self, version: str) -> str | None:
        """Point ``champion`` at ``version`` and ``previous`` at the old champion; return the old one."""
        old = self.version_by_alias(CHAMPION)
        self.get_version(version)  # fail before touching aliases if the version does not exist
        if old is not None and old != str(version):
            self.client.set_registered_model_alias(self.model_name, PREVIOUS, old)
        self.client.set_registered_model_alias(self.model_name, CHAMPION, str(version))
        return old

    def model_uri(self, version: str) -> str:
        return str(self.client.get_model_version_download_uri(self.model_name, str(version)))

    def download(self, version: str) -> str:
        """A version's model directory on this host. Through this registry's tracking URI, not the
        process-wide one: with ``mlflow server --serve-artifacts`` the artifacts are
        ``mlflow-artifacts:/…`` URIs that only the server can resolve (the host needs no S3 access)."""
        return str(
            mlflow.artifacts.download_artifacts(
                artifact_uri=self.model_uri(version), tracking_uri=self.tracking_uri
            )
        )

    def load_model(self, version: str, local: str | Path | None = None) -> Any:
        """A version's scikit-learn pipeline, loaded only if trusted (:func:`evergreen.trust.load_trusted`).

        ``local``: the version's directory already downloaded (:meth:`download`; serving reads its
        MLmodel first). Raises :class:`UntrustedModelError` when a check fails,
        ``ChampionUnavailableError`` when the artifact cannot be read.
        """
        what = f"model version {version} of {self.model_name}"
        try:
            tags = self.get_version(version).tags
            expected = tags.get(ARTIFACT_SHA256_TAG)
            if not expected and any(k.startswith(TAG_PREFIX) for k in tags):
                raise UntrustedModelError(
                    _REGISTERED_BEFORE_DIGESTS.format(what=what, tag=ARTIFACT_SHA256_TAG)
                )
            if local is not None:
                return load_trusted(Path(local) / MODEL_FILE, expected, self.trusted_types, what)
            with tempfile.TemporaryDirectory(prefix="evergreen-model-") as tmp:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{self.model_uri(version).rstrip('/')}/{MODEL_FILE}",
                    dst_path=tmp,
                    tracking_uri=self.tracking_uri,
                )
                return load_trusted(Path(path), expected, self.trusted_types, what)
        except UntrustedModelError:
            raise
        except Exception as exc:
            # A version whose files are gone is told from a store that did not answer: only the first
            # proves the version cannot be served (control refuses a move onto it).
            failed = ModelFilesMissingError if _files_missing(exc) else ChampionUnavailableError
            # Redacted here, at the source: the message reaches /ready, the dashboard and the API, and
            # MLflow's download errors quote the artifact URI (with a tracking server's user:password).
            raise failed(f"{what} could not be loaded: {self.redact(one_line(exc))}") from exc
