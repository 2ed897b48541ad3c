"""An object-store landing (``data.landing: s3://bucket/prefix/``, ``gs://…``, ``file:///…``) via fsspec.

Objects directly under the prefix with a supported suffix are candidates. Each is known by its key
and its version (the S3 ``VersionId`` or ``ETag``, GCS ``generation``, or size and mtime for
``file://``): the metadata DB records every (key, version) ingested, so a file is never taken twice,
even when moving it aside fails or ``data.landing_after: keep`` leaves it in place (a read-only
bucket). By default a processed object is moved within the bucket, under ``<prefix>/.processed/``
(accepted, duplicate) or ``<prefix>/.quarantine/`` (with its ``.reason.json`` sidecar).

When is an object complete? S3 shows an object only once its upload finished, but a producer may
rewrite it, or write several files that belong together:

- ``landing_ready: settle``: the same version has been seen for ``triggers.settle_seconds`` (by the
  watcher's own clock: the store's clock may differ from ours);
- ``landing_ready: marker``: a ``_SUCCESS`` object beside it is at least as new as the file, and (for
  a watcher) was listed no earlier than this version of the file (see :func:`_covered`).

Credentials and the endpoint come from the environment, as for any fsspec/boto client
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``,
``FSSPEC_S3_*``, ``GOOGLE_APPLICATION_CREDENTIALS``); nothing here logs or stores them, and URLs are
shown without any user-info part.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from evergreen.config import LANDING_SCHEMES
from evergreen.data.quarantine import expired
from evergreen.errors import ConfigError, one_line
from evergreen.files import FILE_MODE, private_dir, utf8_name

MARKER = "_SUCCESS"
PROCESSED = ".processed"
QUARANTINE = ".quarantine"
Ready = Literal["settle", "marker"]


@dataclass(frozen=True)
class RemoteObject:
    key: str  # the filesystem path fsspec uses (bucket/prefix/name for s3)
    name: str
    version: str
    size: int
    modified: float | None  # epoch seconds by the store's clock, when it says


@dataclass(frozen=True)
class Sighting:
    """A version of a key first seen at ``since`` (the watcher's monotonic clock)."""

    version: str
    since: float


def display_url(url: str) -> str:
    """``url`` without user-info (``s3://key:secret@bucket`` would otherwise print the secret)."""
    parts = urlsplit(url)
    rest = url.split("://", 1)[-1]
    if ":" in parts.netloc and "@" not in parts.netloc and "@" in rest:
        # A secret key with a '/' ends the authority inside it: s3://KEY:SEC/RET@bucket/in/.
        return f"{parts.scheme}://{rest.split('@', 1)[1]}"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def local_name(name: str, limit: int = 200) -> str:
    """``name`` cut to ``limit`` UTF-8 bytes, its suffix kept: an object's name may be up to 1024
    bytes, a local file name (the download, the quarantine sidecar) at most 255."""
    name = utf8_name(name)
    if len(name.encode()) <= limit:
        return name
    suffix = Path(name).suffix
    room = max(limit - len(suffix.encode()), 1)
    return name.encode()[:room].decode(errors="ignore") + suffix


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


_BUCKET_SCHEMES = LANDING_SCHEMES - {"file"}
_VERSION_KEYS = ("VersionId", "generation", "ETag", "etag")


def describe(info: Mapping[str, Any]) -> RemoteObject:
    """A listing entry (s3fs, gcsfs or the local filesystem) as a :class:`RemoteObject`."""
    key = str(info["name"]).rstrip("/")
    modified = _epoch(info.get("LastModified") or info.get("updated") or info.get("mtime"))
    size = int(info.get("size") or 0)
    version = next((info[k] for k in _VERSION_KEYS if info.get(k)), f"{size}:{modified}")
    return RemoteObject(key, key.rsplit("/", 1)[-1], str(version).strip('"'), size, modified)


def ready(
    objects: Iterable[RemoteObject],
    marker: RemoteObject | None,
    mode: Ready,
    seen: Mapping[str, Sighting],
    now: float,
    settle_seconds: float,
) -> tuple[list[RemoteObject], float | None, dict[str, Sighting]]:
    """Which objects are complete (pure): ``(ready, seconds until the next may be, sightings)``.

    ``seen`` is what the previous call returned (a key whose version changed starts again; in marker
    mode the marker has its sighting too); ``now`` is the caller's monotonic clock.
    """
    out, wait, sightings = [], None, {}

    def sight(key: str, version: str) -> Sighting:
        prior = seen.get(key)
        sightings[key] = prior if prior is not None and prior.version == version else Sighting(version, now)
        return sightings[key]

    # An empty _SUCCESS has the same ETag every time: the marker is known by its time as well.
    marked = sight(marker.key, f"{marker.version}@{marker.modified}") if mode == "marker" and marker else None
    for obj in objects:
        sighting = sight(obj.key, obj.version)
        if mode == "marker":
            if marker is not None and marked is not None and _covered(obj, sighting, marker, marked):
                out.append(obj)
            continue
        age = now - sighting.since
        if age >= settle_seconds:
            out.append(obj)
        else:
            wait = max(wait or 0.0, settle_seconds - age)
    return out, wait, sightings


def _covered(obj: RemoteObject, sighting: Sighting, marker: RemoteObject, marked: Sighting) -> bool:
    """Whether the marker says ``obj`` is complete: no newer than it by the store's clock, and this
    version listed no later than the marker was first listed.

    The times alone cannot decide: S3 gives whole seconds, so a file rewritten after ``_SUCCESS``
    within the same second has the marker's very time. The sightings cannot tie: a version first
    listed after the marker was (by this watcher) was written after the marker, whatever its time,
    and waits for a marker of its own. A version listed together with the marker gets the benefit of
    the doubt, as a producer writing its parts and ``_SUCCESS`` within one second needs; a rewrite
    between the marker and that listing, in the same second, stays undecidable from what S3 says.
    A one-off pass (``evergreen ingest``) has no earlier listing: the times decide there.
    """
    if marker.modified is not None and obj.modified is not None and obj.modified > marker.modified:
        return False
    return sighting.since <= marked.since


class StoreClientError(OSError):
    """The store's client failed on its own (botocore's NoCredentialsError, EndpointConnectionError…);
    ``__cause__`` is the client's error, for a caller that tells them apart (the Airflow trigger)."""


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """The store's client failing on its own (no credentials, an endpoint that does not answer) as an
    OSError: s3fs maps S3's answers to OSError but lets botocore's own errors through, and every
    caller here takes an OSError for an unreachable store (the scheduler's pass failed on the
    others, monitoring and the triggers with it)."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, OSError) or not _is_client_error(exc):
            raise
        raise StoreClientError(one_line(exc)) from exc


def _is_client_error(exc: Exception) -> bool:
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:
        return False
    return isinstance(exc, BotoCoreError)


_CHUNK = 1024 * 1024


def _copy_at_most(src: Any, out: Any, max_bytes: int | None, shown: str) -> None:
    copied = 0
    while chunk := src.read(_CHUNK):
        copied += len(chunk)
        if max_bytes is not None and copied > max_bytes:
            raise OSError(
                f"{shown}: larger than data.max_file_mb since it was listed; download stopped, "
                "the next pass refuses it by its new size"
            )
        out.write(chunk)


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


class ObjectLanding:
    """The landing prefix behind an fsspec URL: list, fetch, move aside, prune."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:
            raise ConfigError(
                "data.landing: an object-store URL needs fsspec: pip install 'evergreen-ml[s3]'",
                details={"key": "data.landing"},
            ) from None
        self.url = url
        try:
            # Its own instance: fsspec's cache would keep the credentials of an earlier one.
            self.fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True)
        except (ImportError, ValueError) as exc:
            scheme = urlsplit(url).scheme
            raise ConfigError(
                f"data.landing: no filesystem for {scheme}:// ({exc}); for s3:// install "
                "'evergreen-ml[s3]', for gs:// gcsfs",
                details={"key": "data.landing"},
            ) from None
        self.root = str(root).rstrip("/")
        self.shown = display_url(url)

    def unavailable(self, exc: OSError) -> OSError:
        """``exc`` (the listing failed: wrong keys, no such endpoint) as the same kind of error whose
        one line names the setting and the URL without user-info, as the bucket-missing one does:
        ``PermissionError: Forbidden`` alone did not say which store, nor where it is set."""
        head = f"data.landing {self.shown}"
        if str(exc).startswith(head):
            return exc
        text = f"{head}: {exc.strerror or str(exc) or type(exc).__name__}"
        try:
            named = type(exc)(text)
        except TypeError:  # a subclass with a constructor of its own
            named = OSError(text)
        # Kept for whoever tells a refusal from a missing endpoint by number (EACCES, ECONNREFUSED);
        # set after construction and alone (no strerror, no filename: the raw path may hold the
        # keys), since OSError(errno, text) prints "[Errno 13]" and the file name after the text.
        if exc.errno is not None:
            named.errno = exc.errno
        return named

    def url_of(self, key: str) -> str:
        """A key as a URL with this landing's scheme (what ``batches.source`` records); a ``file://``
        name that is not UTF-8 shows its bad bytes as ``\\xff`` (no column, log or JSON holds it)."""
        rel = key[len(self.root) :].lstrip("/") if key.startswith(self.root) else key
        return utf8_name(self.shown + rel)

    def _entries(self, prefix: str) -> list[dict[str, Any]]:
        self.fs.invalidate_cache(prefix)  # s3fs caches listings: a new file must show at once
        try:
            with _client_errors():
                return list(self.fs.ls(prefix, detail=True))
        except FileNotFoundError:
            return []

    def scan(self, suffixes: Iterable[str]) -> tuple[list[RemoteObject], RemoteObject | None]:
        """Candidate objects by name, and the ``_SUCCESS`` marker if there is one."""
        allowed = {s.lower() for s in suffixes}
        objects, marker = [], None
        entries = self._entries(self.root)
        if not entries:
            self._check_bucket()
        for info in entries:
            if info.get("type") != "file":
                continue
            obj = describe(info)
            if obj.name == MARKER:
                marker = obj
            elif not obj.name.startswith(".") and Path(obj.name).suffix.lower() in allowed:
                objects.append(obj)
        return sorted(objects, key=lambda o: o.name), marker

    def _check_bucket(self) -> None:
        """An empty prefix is no error (nothing landed yet), a missing bucket is: a misspelt one was
        listed as empty, "nothing to ingest" for ever."""
        if urlsplit(self.url).scheme.lower() not in _BUCKET_SCHEMES:
            return
        bucket, _, key = self.root.partition("/")
        list_objects = getattr(self.fs, "call_s3", None)  # s3fs
        try:
            with _client_errors():
                if list_objects is None:
                    if self.fs.exists(bucket):
                        return
                else:
                    # The listing's own request: a policy that grants s3:ListBucket on this prefix
                    # only refuses HeadBucket (fs.exists), which would call an empty prefix missing.
                    list_objects("list_objects_v2", Bucket=bucket, Prefix=f"{key}/" if key else "", MaxKeys=1)
                    return
        except FileNotFoundError:  # NoSuchBucket, as s3fs translates it
            pass
        raise FileNotFoundError(
            f"data.landing {self.shown}: the bucket does not exist (or these credentials cannot see it)"
        )

    def fetch(self, obj: RemoteObject, work_dir: Path, max_bytes: int | None = None) -> Path:
        """Download ``obj`` to an owner-only file named like it (its suffix says the format).

        ``max_bytes``: the size limit the listed size was checked against. The object may have been
        replaced by a larger one since the listing: the download stops past the limit (an OSError,
        so the next pass lists the new size and refuses it unread) instead of filling the disk.
        """
        folder = private_dir(work_dir / uuid.uuid4().hex)
        dest = folder / local_name(obj.name)
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with _client_errors(), os.fdopen(fd, "wb") as out, self.fs.open(obj.key, "rb") as src:
                _copy_at_most(src, out, max_bytes, self.url_of(obj.key))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # no partial download left behind
            raise
        return dest

    def take(self, name: str) -> str | None:
        """Delete ``<prefix>/<name>`` if it is there, returning its URL; None when it is not.

        For a producer's flag (the Airflow watcher's ``_READY``): each one put is consumed once, so
        the producer's next flag fires again. Not atomic: a flag deleted by someone else between the
        look and the delete counts as not there on a local path, but S3's DELETE of a missing key
        succeeds, so two takers racing there may both get it (one watcher per landing is assumed).
        """
        key = f"{self.root}/{name}"
        self.fs.invalidate_cache(self.root)  # s3fs caches listings and infos: a new flag must show
        try:
            with _client_errors():
                if self.fs.info(key).get("type") != "file":
                    return None
                self.fs.rm_file(key)
        except FileNotFoundError:
            return None
        return self.url_of(key)

    def unchanged(self, obj: RemoteObject) -> bool:
        """Whether ``obj.key`` still holds the version listed (asked once more, a HEAD on S3).

        A listing gives an S3 object's ETag and a HEAD its VersionId too (versioned bucket), and a
        store whose listing has no ETag is known there by size and time: the listed version matches
        any of the version, the ETag or the size and time read now.
        """
        try:
            with _client_errors():
                info = self.fs.info(obj.key)
        except FileNotFoundError:
            return False
        plain = {k: v for k, v in info.items() if k not in _VERSION_KEYS}
        etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
        return obj.version in {describe(info).version, describe(plain).version, etag}

    def _aside(self, folder: str, obj: RemoteObject, at: datetime) -> str:
        dest = f"{self.root}/{folder}/{at.strftime('%Y%m%dT%H%M%S%fZ')}-{obj.name}"
        with _client_errors():
            self.fs.makedirs(f"{self.root}/{folder}", exist_ok=True)  # object stores: no-op; file://: needed
            if _is_local(self.fs):
                # A rename: the file keeps its owner-only mode and inode, and a large refused file
                # is not copied byte by byte (fsspec's local cp_file is shutil.copyfile).
                os.replace(obj.key, dest)
            else:
                # One object by its exact key (a server-side copy): fs.mv takes a glob, so a key
                # "w*.csv" (legal on S3) also moved (and deleted) every unread "w1.csv" beside it.
                self.fs.cp_file(obj.key, dest)
                self.fs.rm_file(obj.key)
        return dest

    def move_processed(self, obj: RemoteObject, at: datetime) -> str:
        """Move an accepted or duplicate object under ``<prefix>/.processed/``; returns its URL."""
        return self.url_of(self._aside(PROCESSED, obj, at))

    def move_quarantined(self, obj: RemoteObject, at: datetime, record: Mapping[str, Any]) -> str:
        """Move a refused object under ``<prefix>/.quarantine/`` with its ``.reason.json``; its URL."""
        dest = self._aside(QUARANTINE, obj, at)
        body = {**record, "original": self.url_of(obj.key), "quarantined_file": self.url_of(dest)}
        with _client_errors():
            self.fs.pipe_file(
                dest + ".reason.json", (json.dumps(body, indent=2, default=str) + "\n").encode()
            )
        return self.url_of(dest)

    def prune(self, now: datetime, days: float) -> list[str]:
        """Delete objects under ``.processed/`` and ``.quarantine/`` moved there over ``days`` ago.

        A move is a copy on S3, so an object's modification time there is when it was processed; the
        age rule is the local files' own (:func:`evergreen.data.quarantine.expired`).
        """
        gone = []
        for key in expired(self.set_aside(), now, days):
            with _client_errors():
                self.fs.rm_file(key)
            gone.append(self.url_of(key))
        return gone

    def set_aside(self) -> list[tuple[str, float]]:
        """(key, modification time) of every object under ``.processed/`` and ``.quarantine/``."""
        out = []
        for folder in (PROCESSED, QUARANTINE):
            for info in self._entries(f"{self.root}/{folder}"):
                obj = describe(info)
                if info.get("type") == "file" and obj.modified is not None:
                    out.append((obj.key, obj.modified))
        return out
