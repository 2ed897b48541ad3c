"""The resources of one project, opened once at an entry point and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from evergreen.config import Settings
from evergreen.registry import Registry
from evergreen.store import Store, open_store


@dataclass
class Project:
    settings: Settings
    store: Store

    @cached_property
    def registry(self) -> Registry:
        # MLflow's client is slow to create on a new store (it migrates its schema): only on demand.
        s = self.settings
        return Registry(s.storage.mlflow_tracking_uri, s.storage.artifact_root, s.project)


def open_project(settings: Settings) -> Project:
    for d in (settings.state_dir, settings.storage.data_dir, settings.storage.quarantine_dir):
        d.mkdir(parents=True, exist_ok=True)
    return Project(settings=settings, store=open_store(settings.storage.database_url, settings.project))
