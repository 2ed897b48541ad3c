"""Read the project's registered model (aliases, versions, tags) without importing MLflow.

``evergreen status`` and ``models`` only read the champion alias and the version list, but creating
an ``MlflowClient`` imports MLflow, which takes seconds. For the tracking stores evergreen ships with
(``sqlite://`` and ``postgresql://`` URIs, i.e. MLflow's SQLAlchemy store), this module reads MLflow's
own tables with SQLAlchemy Core: ``registered_model_aliases``, ``model_versions`` and
``model_version_tags``, filtered as MLflow's store filters them (versions marked ``Deleted_Internal``
hidden; the ``default`` workspace, which is the only one when workspaces are off). Any other URI, or
a database whose schema does not fit the queries, is read through the MLflow client
(:class:`evergreen.registry.Registry`) instead. Nothing here writes.

The answers are exactly what :class:`~evergreen.registry.Registry` returns for the same calls
(``tests/integration/test_registry_read.py`` checks them side by side).
"""

from __future__ import annotations

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


class _SchemaMismatch(Exception):
    """MLflow's tables are missing or shaped differently: read through the client instead."""


class SqlRegistryReader:
    """Reads a SQLAlchemy-backed MLflow registry directly; falls back to ``fallback()`` on a mismatch."""

    def __init__(self, url: str, model_name: str, fallback: Callable[[], RegistryReader]) -> None:
        self.url = url
        self.model_name = model_name
        self._fallback = fallback
        self._engine: Engine | None = None
        self._workspace: bool | None = None  # does model_versions have MLflow 3's workspace column?

    # ---- RegistryReader ------------------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        try:
            return self._aliases()
        except _SchemaMismatch:
            return self._fallback().aliases()

    def get_version(self, version: str) -> VersionInfo:
        try:
            found = self._versions(version=str(version))
        except _SchemaMismatch:
            return self._fallback().get_version(version)
        if not found:
            raise NotFoundError(f"model version {version} of {self.model_name} not found")
        return found[0]

    def list_versions(self) -> list[VersionInfo]:
        try:
            return self._versions(version=None)
        except _SchemaMismatch:
            return self._fallback().list_versions()

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
                        raise _SchemaMismatch("MLflow's registry tables are missing")
                    columns = {c["name"] for c in insp.get_columns("model_versions")}
            except (SQLAlchemyError, ImportError) as exc:  # ImportError: the URI names a missing driver
                raise _SchemaMismatch(str(exc)) from exc
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
            raise _SchemaMismatch(str(exc)) from exc

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


def open_reader(tracking_uri: str, model_name: str, fallback: Callable[[], RegistryReader]) -> RegistryReader:
    """The fastest reader for ``tracking_uri``: SQL for MLflow's SQLAlchemy stores, else ``fallback()``."""
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("sqlite", "postgresql"):
        return SqlRegistryReader(tracking_uri, model_name, fallback)
    return fallback()
