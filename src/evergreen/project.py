"""The resources of one project, opened once at an entry point and passed down.

Whoever opens a project owns it and closes it (``with open_project(s) as project:``, or
``project.close()``): closing flushes the services made for it on demand, such as the alert service
and its delivery thread. Nothing is registered with the interpreter (no atexit hook), so importing or
opening a project has no process-wide effect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from evergreen.config import Settings
from evergreen.errors import ConfigError, one_line
from evergreen.files import private_dir, tighten_dir
from evergreen.logs import get_logger
from evergreen.redact import Redactor, redactor_for
from evergreen.registry_read import RegistryReader, open_reader
from evergreen.store import Store, open_store

if TYPE_CHECKING:
    from evergreen.registry import Registry

log = get_logger(__name__)


class Closable(Protocol):
    def close(self) -> Any: ...


C = TypeVar("C", bound=Closable)


@dataclass
class Project:
    settings: Settings
    store: Store
    # The one redaction step (evergreen.redact), built from these settings: the store, the HTTP error
    # renderer, the alert channels and the entry points' logging all use this one.
    redactor: Redactor = field(default_factory=Redactor)
    _services: dict[str, Closable] = field(default_factory=dict, init=False, repr=False, compare=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @cached_property
    def registry(self) -> Registry:
        # MLflow's client is slow to import and to create on a new store (it migrates its schema):
        # only on demand, and never for a command that only reads (see registry_reader).
        from evergreen.registry import Registry

        s = self.settings
        return Registry(
            s.storage.mlflow_tracking_uri,
            s.storage.artifact_root,
            s.project,
            s.training.trusted_types,
            redact=self.redactor,
        )

    @cached_property
    def registry_reader(self) -> RegistryReader:
        """Aliases and versions, read without importing MLflow where the tracking store allows it."""
        return open_reader(
            self.settings.storage.mlflow_tracking_uri, self.settings.project, lambda: self.registry
        )

    def service(self, key: str, make: Callable[[], C]) -> C:
        """This project's one ``make()`` under ``key``, made on first use and closed by :meth:`close`."""
        with self._guard:
            svc = self._services.get(key)
            if svc is None:
                svc = self._services[key] = make()
            return svc  # type: ignore[return-value]  # one key is always made by the same factory

    def close(self) -> None:
        """Close the services made for this project (newest first); a later use makes them anew."""
        with self._guard:
            services = list(self._services.items())
            self._services.clear()
        for key, svc in reversed(services):
            try:
                svc.close()
            except Exception as exc:  # one service failing to close must not keep the others open
                log.warning("project_service_close_failed", service=key, error=one_line(exc))

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_project(settings: Settings) -> Project:
    dirs = (
        ("state dir", settings.state_dir),
        ("storage.data_dir", settings.storage.data_dir),
        ("storage.quarantine_dir", settings.storage.quarantine_dir),
    )
    for key, d in dirs:
        try:
            private_dir(d)
        except OSError as exc:  # a file of that name, no permission: was FileExistsError, exit 1
            raise ConfigError(
                f"config key {key}: {d} cannot be a directory ({exc.strerror or one_line(exc)})"
            ) from None
    tighten_dir(settings.state_dir)  # it holds the databases and data: owner-only (DESIGN.md §3)
    redactor = redactor_for(settings)
    store = open_store(settings.storage.database_url, settings.project, redact=redactor)
    return Project(settings=settings, store=store, redactor=redactor)
