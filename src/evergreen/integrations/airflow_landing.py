"""An Airflow event trigger: fire when a producer puts ``_READY`` into an object-store landing prefix.

The Asset variant of the generated DAG (:func:`evergreen.integrations.airflow.landing_asset`) is
scheduled by an ``AssetWatcher``; for a landing directory it uses Airflow's own
``FileDeleteTrigger``, for an fsspec URL (``s3://bucket/prefix/``, ``gs://…``, ``file:///…``) this
trigger, with the same contract: poll ``<landing>/_READY``, delete it, yield one event, end.

It runs in Airflow's triggerer, which builds it from its classpath and the keyword arguments that
:meth:`LandingFlagTrigger.serialize` returns (stored in Airflow's metadata database): those are the
URL without credentials, the flag's name and the poll interval. The store is reached through
:class:`evergreen.data.objectstore.ObjectLanding`, so the credentials and endpoint come from the
triggerer's environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``) exactly as for the
scheduler's landing; the triggerer needs ``evergreen-ml[s3]`` (or gcsfs) installed, the DAG
processor only needs Airflow.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from evergreen.data.objectstore import ObjectLanding, StoreClientError, display_url
from evergreen.errors import one_line
from evergreen.redact import Redactor

READY_FLAG = "_READY"  # touched by a producer once its files are in the landing (Asset variant)
# Environment secrets a store's error text could echo; masked in the triggerer's log.
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class LandingFlagTrigger(BaseEventTrigger):
    """Fires once when ``<url><flag>`` exists, after deleting it (the producer's next flag fires again).

    ``url``: the landing prefix, as ``data.landing`` holds it (no user-info: it is stored).
    """

    def __init__(self, url: str, flag: str = READY_FLAG, poke_interval: float = 5.0) -> None:
        super().__init__()
        if display_url(url) != url:
            # The config refuses these already; a hand-built trigger must not store a secret either.
            raise ValueError(
                "url: credentials in the landing URL are refused (the trigger's arguments are stored "
                "in Airflow's database); give them in the triggerer's environment"
            )
        if not flag or "/" in flag:
            raise ValueError("flag: a file name directly under the landing prefix")
        if poke_interval <= 0:
            raise ValueError("poke_interval: must be > 0 seconds")
        self.url = url
        self.flag = flag
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"url": self.url, "flag": self.flag, "poke_interval": self.poke_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # fsspec's sync API runs its own IO loop and must not be called from a running loop; a worker
        # thread also keeps a slow store from stalling the triggerer's other triggers.
        landing = await asyncio.to_thread(ObjectLanding, self.url)
        fatal = await asyncio.to_thread(_fatal_errors)  # an import: not on the triggerer's loop
        while True:
            try:
                taken = await asyncio.to_thread(landing.take, self.flag)
            except Exception as wrapped:
                # ObjectLanding raises the client's own failures as StoreClientError (an OSError,
                # for its other callers): judge (and show) the error the client raised.
                exc = _client_error(wrapped)
                if isinstance(exc, fatal):
                    # Wrong or missing keys, or policy: fail visibly in the UI, retrying won't help.
                    raise exc from None
                # A store unreachable for a while: raising would end the watcher (the triggerer
                # fails it), so log and poll again.
                self.log.warning("landing %s unavailable: %s", landing.shown, self._redacted(exc))
                taken = None
            if taken is not None:
                self.log.info("flag %s found and deleted", taken)
                yield TriggerEvent({"flag": taken})
                return
            await asyncio.sleep(self.poke_interval)

    @staticmethod
    def _redacted(exc: BaseException) -> str:
        return Redactor.of(v for k in _SECRET_ENV if (v := os.environ.get(k)))(one_line(exc))


def _client_error(exc: BaseException) -> BaseException:
    """The store client's own error behind ObjectLanding's StoreClientError, else ``exc``."""
    if isinstance(exc, StoreClientError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def _fatal_errors() -> tuple[type[BaseException], ...]:
    """What polling again cannot fix. botocore's NoCredentialsError (no keys in the triggerer's
    environment) is no PermissionError; botocore is only there with the s3 extra."""
    try:
        from botocore.exceptions import NoCredentialsError
    except ImportError:
        return (PermissionError,)
    return (PermissionError, NoCredentialsError)
