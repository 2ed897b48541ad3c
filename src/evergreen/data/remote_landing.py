"""Ingest from an object-store landing: list → which are complete → not taken before → claim →
download → the same ingest as a local file → move aside within the bucket → record (key, version).

Each object is claimed (a ``landing_objects`` row) before it is downloaded, so two passes at once (the
scheduler and an ``evergreen ingest``) never both read it; the claim becomes the record afterwards,
written whether or not the move worked, so a failed move (a read-only bucket, a lost connection)
never makes a file ingested twice; ``data.landing_after: keep`` does not move at all. An object that
could not be read is released for the next pass. A crash between the claim and the record leaves a
claim that goes stale (``catalog.CLAIM_STALE_AFTER``) and is then taken over; if the batch had been
committed already, the content hash makes that second ingest a ``duplicate`` (nothing stored twice).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evergreen.config import Settings
from evergreen.data import catalog
from evergreen.data.ingest import IngestResult, ingest_file, refuse_unread
from evergreen.data.objectstore import ObjectLanding, RemoteObject, Sighting, local_name, ready
from evergreen.data.read import FORMATS, bad_file_name, max_file_bytes, too_large
from evergreen.errors import one_line
from evergreen.files import utf8_name
from evergreen.logs import get_logger
from evergreen.store.engine import Store, utcnow

log = get_logger("evergreen.landing")


@dataclass
class RemoteWatch:
    """What a long-running watcher (the scheduler) keeps between passes over the prefix."""

    landing: ObjectLanding
    sightings: dict[str, Sighting] = field(default_factory=dict)

    def due(self, settings: Settings, settle_seconds: float) -> tuple[list[RemoteObject], float | None]:
        """The complete objects now, and in how many seconds a settling one may be."""
        objects, marker = self.landing.scan(FORMATS)
        out, wait, self.sightings = ready(
            objects, marker, settings.data.landing_ready, self.sightings, time.monotonic(), settle_seconds
        )
        return out, wait


def open_watch(settings: Settings) -> RemoteWatch:
    url = settings.data.landing_url
    if url is None:
        raise ValueError("data.landing is a directory, not an object-store URL")
    return RemoteWatch(ObjectLanding(url))


def ingest_remote_landing(
    settings: Settings, store: Store, env: Mapping[str, str] | None = None
) -> list[IngestResult]:
    """One pass (``evergreen ingest``, the retrain's ingest stage): every complete object now. Without
    a watcher there is no history to settle against: as for a local directory, every file is taken
    (``marker`` mode still waits for its marker)."""
    watch = open_watch(settings)
    try:
        objects, _ = watch.due(settings, settle_seconds=0.0)
    except OSError as exc:  # the scheduler logs these as landing_unavailable, with the same URL
        raise watch.landing.unavailable(exc) from exc
    return ingest_objects(settings, store, watch.landing, objects, os.environ if env is None else env)


def ingest_objects(
    settings: Settings,
    store: Store,
    landing: ObjectLanding,
    objects: Sequence[RemoteObject],
    env: Mapping[str, str],
) -> list[IngestResult]:
    with store.connect() as conn:  # one look at the records for the whole listing
        taken = catalog.landing_taken_among(conn, store.project, (landing.url_of(o.key) for o in objects))
    out = []
    for obj in objects:
        if (landing.url_of(obj.key), obj.version) in taken:
            continue
        result = ingest_object(settings, store, landing, obj, env)
        if result is not None:
            out.append(result)
    return out


def ingest_object(
    settings: Settings, store: Store, landing: ObjectLanding, obj: RemoteObject, env: Mapping[str, str]
) -> IngestResult | None:
    """Ingest one object unless this version of it was taken before, or another process is taking
    it now (then None): it is claimed before it is read, so of two passes only one reads it."""
    source = landing.url_of(obj.key)
    with store.begin() as conn:
        claim = catalog.claim_landing(conn, store.project, source, obj.version, utcnow())
    if claim is None:
        return None
    try:
        result = _ingest_claimed(settings, store, landing, obj, source, env)
    except BaseException:
        _release(store, claim)  # a failure of ours (a bug, the database gone): the next pass tries it
        raise
    if result is None:
        _release(store, claim)
        return None
    moved = _move_aside(settings, landing, obj, result)
    with store.begin() as conn:
        catalog.record_landing(
            conn,
            store.project,
            claim,
            status=result.status,
            batch_id=result.batch_id,
            moved_to=moved,
            recorded_at=utcnow(),
        )
    return result


def _ingest_claimed(
    settings: Settings,
    store: Store,
    landing: ObjectLanding,
    obj: RemoteObject,
    source: str,
    env: Mapping[str, str],
) -> IngestResult | None:
    # Refused unread (never downloaded): too large, or (file:// only: S3 and GCS keys are UTF-8) a name
    # that is not UTF-8, as in a landing directory.
    refusal = bad_file_name(obj.name) or too_large(utf8_name(obj.name), obj.size, settings.data.max_file_mb)
    if refusal is not None:
        return refuse_unread(settings, store, local_name(obj.name), source, refusal)
    try:
        limit = max_file_bytes(settings.data.max_file_mb)
        path = landing.fetch(obj, settings.state_dir / "incoming", max_bytes=limit)
    except OSError as exc:
        # Gone since the listing, or unreadable on its own (a per-object permission): not
        # recorded, so the next pass tries it again; the objects after it are not held up.
        log.warning("landing_fetch_failed", file=source, error=one_line(exc))
        return None
    try:
        return ingest_file(settings, store, path, env, move=False, source=source)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _release(store: Store, claim: catalog.LandingClaim) -> None:
    try:
        with store.begin() as conn:
            catalog.release_landing(conn, store.project, claim)
    except Exception as exc:  # the database gone too: the claim goes stale and is taken over then
        log.warning("landing_claim_not_released", file=claim.source, error=one_line(exc))


def _move_aside(
    settings: Settings, landing: ObjectLanding, obj: RemoteObject, result: IngestResult
) -> str | None:
    if settings.data.landing_after != "move":
        return None
    at = utcnow()
    try:
        if not landing.unchanged(obj):
            # Rewritten since the listing: moving it would set aside a version never ingested. It
            # stays; the next pass takes the new version (its content hash tells a duplicate).
            log.warning("landing_changed_since_listing", file=landing.url_of(obj.key))
            return None
        if result.quarantined:
            record = {
                "reason": result.reason,
                "file": utf8_name(obj.name),
                "column": result.column,
                "message": result.message,
            }
            return landing.move_quarantined(obj, at, record)
        return landing.move_processed(obj, at)
    except OSError as exc:  # s3fs maps access and connection errors to OSError subclasses
        log.warning("landing_move_failed", file=landing.url_of(obj.key), error=one_line(exc))
        return None
