"""Read the project's registered model (aliases, versions, tags) without importing MLflow.

``evergreen status`` and ``models`` only read the champion alias and the version list, but creating
an ``MlflowClient`` imports MLflow, which takes seconds. For the tracking stores evergreen ships with
(``sqlite://`` and ``postgresql://`` URIs, i.e. MLflow's SQLAlchemy store), this module reads MLflow's
own tables with SQLAlchemy Core: ``registered_model_aliases``, ``model_versions`` and
``model_version_tags``, filtered as MLflow's store filters them (versions marked ``Deleted_Internal``
hidden; the ``default`` workspace, which is the only one when workspaces are off). Any other URI, or
a database whose schema does not fit the queries, is read through the MLflow client
(:class:`evergreen.registry.Registry`) instead. For an ``mlflow server`` (``http(s)://``), the same
REST calls MLflow's client makes are made with httpx. Nothing here writes.

The answers are exactly what :class:`~evergreen.registry.Registry` returns for the same calls
(``tests/integration/test_registry_read.py`` checks them side by side).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from evergreen.errors import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Engine

CHAMPION = "champion"
PREVIOUS = "previous"
TAG_PREFIX = "evergreen."

# MLflow's marker for a deleted version that is kept for redaction; its store never returns them.
_DELETED = "Deleted_Internal"
# Rows of MLflow ≥ 3 carry a workspace; with workspaces off everything lives in this one.
_DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str | None
    created_at: float
    tags: dict[str, str]
    aliases: tuple[str, ...]
    source: str

    @property
    def dataset_version(self) -> str | None:
        return self.tags.get(TAG_PREFIX + "dataset_version")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "mlflow_run_id": self.run_id,
            "created_at": self.created_at,
            "aliases": list(self.aliases),
            "tags": self.tags,
            "source": self.source,
        }


class RegistryReader(Protocol):
    """The read-only part of the registry that status pages need."""

    def aliases(self) -> dict[str, str]: ...

    def get_version(self, version: str) -> VersionInfo: ...

    def list_versions(self) -> list[VersionInfo]: ...


class _UseClient(Exception):
    """This store cannot be read directly (tables missing or shaped differently, an HTTP answer we
    do not handle): read through the MLflow client instead, which reports any real error."""


class _DirectReader:
    """A :class:`RegistryReader` that reads the store itself and hands every call it cannot answer
    (:class:`_UseClient`) to ``fallback()``, the MLflow client. Subclasses say how to read."""

    def __init__(self, model_name: str, fallback: Callable[[], RegistryReader]) -> None:
        self.model_name = model_name
        self._fallback = fallback

    def aliases(self) -> dict[str, str]:
        try:
            return self._aliases()
        except _UseClient:
            return self._fallback().aliases()

    def get_version(self, version: str) -> VersionInfo:
        try:
            found = self._one_version(str(version))
        except _UseClient:
            return self._fallback().get_version(version)
        if found is None:
            raise NotFoundError(f"model version {version} of {self.model_name} not found")
        return found

    def list_versions(self) -> list[VersionInfo]:
        try:
            return self._all_versions()
        except _UseClient:
            return self._fallback().list_versions()

    def _aliases(self) -> dict[str, str]:
        raise NotImplementedError

    def _one_version(self, version: str) -> VersionInfo | None:
        raise NotImplementedError

    def _all_versions(self) -> list[VersionInfo]:
        raise NotImplementedError


class SqlRegistryReader(_DirectReader):
    """Reads a SQLAlchemy-backed MLflow registry directly; falls back to ``fallback()`` on a mismatch."""

    def __init__(self, url: str, model_name: str, fallback: Callable[[], RegistryReader]) -> None:
        super().__init__(model_name, fallback)
        self.url = url
        self._engine: Engine | None = None
        self._workspace: bool | None = None  # does model_versions have MLflow 3's workspace column?

    def _one_version(self, version: str) -> VersionInfo | None:
        found = self._versions(version=version)
        return found[0] if found else None

    def _all_versions(self) -> list[VersionInfo]:
        return self._versions(version=None)

    # ---- queries -------------------------------------------------------------------------
    def _missing_sqlite_file(self) -> bool:
        # MLflow creates the file on first use; until then there is no model (and we create nothing).
        if not self.url.startswith("sqlite:"):
            return False
        path = self.url.split("///", 1)[-1].split("?", 1)[0]
        return path not in ("", ":memory:") and not Path(path).exists()

    def _engine_or_mismatch(self) -> Engine:
        if self._engine is None:
            from sqlalchemy import create_engine, inspect
            from sqlalchemy.exc import SQLAlchemyError
            from sqlalchemy.pool import NullPool

            try:
                engine = create_engine(self.url, poolclass=NullPool)
                with engine.connect() as conn:
                    insp = inspect(conn)
                    tables = set(insp.get_table_names())
                    if not {"registered_model_aliases", "model_versions", "model_version_tags"} <= tables:
                        raise _UseClient("MLflow's registry tables are missing")
                    columns = {c["name"] for c in insp.get_columns("model_versions")}
            except (SQLAlchemyError, ImportError) as exc:  # ImportError: the URI names a missing driver
                raise _UseClient(str(exc)) from exc
            self._workspace = "workspace" in columns
            self._engine = engine
        return self._engine

    def _run(self, build: Callable[[Any], Any]) -> list[Any]:
        """Run the statement ``build(workspace_filter)`` returns; any SQL error is a schema mismatch."""
        from sqlalchemy.exc import SQLAlchemyError

        engine = self._engine_or_mismatch()
        try:
            with engine.connect() as conn:
                return list(conn.execute(build(self._workspace)).all())
        except SQLAlchemyError as exc:
            raise _UseClient(str(exc)) from exc

    def _aliases(self) -> dict[str, str]:
        if self._missing_sqlite_file():
            return {}
        from sqlalchemy import column, select, table

        t = table(
            "registered_model_aliases",
            column("name"),
            column("alias"),
            column("version"),
            column("workspace"),
        )

        def build(workspace: bool) -> Any:
            q = select(t.c.alias, t.c.version).where(t.c.name == self.model_name)
            return q.where(t.c.workspace == _DEFAULT_WORKSPACE) if workspace else q

        return {str(alias): str(version) for alias, version in self._run(build)}

    def _versions(self, version: str | None) -> list[VersionInfo]:
        if self._missing_sqlite_file():
            return []
        if version is not None and not version.isdigit():
            return []  # MLflow rejects it as not a version number: no such version
        from sqlalchemy import column, select, table

        mv = table(
            "model_versions",
            column("name"),
            column("version"),
            column("creation_time"),
            column("source"),
            column("run_id"),
            column("current_stage"),
            column("workspace"),
        )
        tags = table(
            "model_version_tags",
            column("name"),
            column("version"),
            column("key"),
            column("value"),
            column("workspace"),
        )

        def versions_query(workspace: bool) -> Any:
            q = select(mv.c.version, mv.c.run_id, mv.c.creation_time, mv.c.source).where(
                mv.c.name == self.model_name, mv.c.current_stage != _DELETED
            )
            if version is not None:
                q = q.where(mv.c.version == int(version))
            return q.where(mv.c.workspace == _DEFAULT_WORKSPACE) if workspace else q

        def tags_query(workspace: bool) -> Any:
            q = select(tags.c.version, tags.c.key, tags.c.value).where(tags.c.name == self.model_name)
            if version is not None:
                q = q.where(tags.c.version == int(version))
            return q.where(tags.c.workspace == _DEFAULT_WORKSPACE) if workspace else q

        rows = self._run(versions_query)
        if not rows:
            return []
        by_version: dict[str, dict[str, str]] = {}
        for v, key, value in self._run(tags_query):
            by_version.setdefault(str(v), {})[str(key)] = value
        aliases: dict[str, list[str]] = {}
        for alias, v in self._aliases().items():
            aliases.setdefault(v, []).append(alias)
        # As Registry does: one version's aliases in the database's order, a listing's sorted.
        order: Callable[[list[str]], Any] = tuple if version is not None else sorted
        out = [
            VersionInfo(
                version=str(v),
                run_id=run_id,
                created_at=int(created) / 1000.0,
                tags=by_version.get(str(v), {}),
                aliases=tuple(order(aliases.get(str(v), []))),
                source=source or "",
            )
            for v, run_id, created, source in rows
        ]
        return sorted(out, key=lambda info: int(info.version))


# Client set-ups the REST reader does not reproduce (auth plugins, SigV4, client certificates,
# workspaces): with any of them set, the MLflow client reads instead.
_REST_UNSUPPORTED_ENV = (
    "MLFLOW_TRACKING_AUTH",
    "MLFLOW_TRACKING_AWS_SIGV4",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_WORKSPACE",
)


class RestRegistryReader(_DirectReader):
    """Reads an ``mlflow server``'s registry over its REST API (the calls MLflow's client makes).

    Authentication as MLflow's client does it from the environment: ``MLFLOW_TRACKING_TOKEN``
    (bearer) or ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` (basic); ``MLFLOW_TRACKING_INSECURE_TLS``
    and ``MLFLOW_TRACKING_SERVER_CERT_PATH`` for TLS. Any answer other than a success or "does not
    exist" (an auth error, a server error, no server) is left to the client, which reports it.
    """

    PAGE = 1000

    def __init__(
        self, base_url: str, model_name: str, fallback: Callable[[], RegistryReader], env: dict[str, str]
    ) -> None:
        super().__init__(model_name, fallback)
        self.base_url = base_url.rstrip("/")
        self._env = env

    def _get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON of ``GET /api/2.0/mlflow/<endpoint>``; None when the object does not exist."""
        import httpx

        env = self._env
        headers = {}
        auth: tuple[str, str] | None = None
        if env.get("MLFLOW_TRACKING_TOKEN"):
            headers["Authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
        elif env.get("MLFLOW_TRACKING_USERNAME"):
            auth = (env["MLFLOW_TRACKING_USERNAME"], env.get("MLFLOW_TRACKING_PASSWORD", ""))
        verify: bool | str = env.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or True
        if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("true", "1"):
            verify = False
        try:
            resp = httpx.get(
                f"{self.base_url}/api/2.0/mlflow/{endpoint}",
                params=params,
                headers=headers,
                auth=auth,
                verify=verify,
                timeout=30,
            )
        except httpx.HTTPError as exc:
            raise _UseClient(str(exc)) from exc
        if resp.status_code == 404 and "RESOURCE_DOES_NOT_EXIST" in resp.text:
            return None
        if resp.status_code != 200:
            raise _UseClient(f"{endpoint}: HTTP {resp.status_code}")
        data: dict[str, Any] = resp.json()
        return data

    def _one_version(self, version: str) -> VersionInfo | None:
        if not version.isdigit():
            return None
        found = self._get("model-versions/get", {"name": self.model_name, "version": version})
        if found is None:
            return None
        mv = found["model_version"]
        aliases = self._aliases()
        return _rest_version(mv, tuple(a for a, v in aliases.items() if v == str(mv["version"])))

    def _all_versions(self) -> list[VersionInfo]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"filter": f"name='{self.model_name}'", "max_results": self.PAGE}
            if token:
                params["page_token"] = token
            page = self._get("model-versions/search", params) or {}
            found.extend(page.get("model_versions", []))
            token = page.get("next_page_token")
            if not token:
                break
        aliases = self._aliases() if found else {}
        by_version: dict[str, list[str]] = {}
        for alias, v in aliases.items():
            by_version.setdefault(v, []).append(alias)
        out = [_rest_version(mv, tuple(sorted(by_version.get(str(mv["version"]), [])))) for mv in found]
        return sorted(out, key=lambda info: int(info.version))

    def _aliases(self) -> dict[str, str]:
        found = self._get("registered-models/get", {"name": self.model_name})
        if found is None:
            return {}
        return {str(a["alias"]): str(a["version"]) for a in found["registered_model"].get("aliases", [])}


def _rest_version(mv: dict[str, Any], aliases: tuple[str, ...]) -> VersionInfo:
    return VersionInfo(
        version=str(mv["version"]),
        run_id=mv.get("run_id", ""),  # as MLflow's client reads it from REST: "" when there is none
        created_at=int(mv.get("creation_timestamp", 0)) / 1000.0,
        tags={t["key"]: t.get("value", "") for t in mv.get("tags", [])},
        aliases=aliases,
        source=mv.get("source") or "",
    )


def open_reader(
    tracking_uri: str,
    model_name: str,
    fallback: Callable[[], RegistryReader],
    env: dict[str, str] | None = None,
) -> RegistryReader:
    """The fastest reader for ``tracking_uri``: SQL for MLflow's SQLAlchemy stores, REST for an
    ``mlflow server`` (http/https), else ``fallback()`` (the MLflow client)."""
    env = dict(os.environ) if env is None else env
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("sqlite", "postgresql"):
        return SqlRegistryReader(tracking_uri, model_name, fallback)
    if scheme in ("http", "https") and not any(env.get(k) for k in _REST_UNSUPPORTED_ENV):
        return RestRegistryReader(tracking_uri, model_name, fallback, env)
    return fallback()
