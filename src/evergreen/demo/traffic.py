"""The demo's clients: customers scored through ``POST /predict`` and their outcomes sent to
``POST /feedback``, over real HTTP, with every failed request counted (a swap must cause none)."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from evergreen.errors import one_line

CHUNK = 50  # records per /predict request: a client sending its customers in small lists
WORKERS = 4  # clients at once
# The steady load during a retrain: two clients, ten records a request, a short pause between.
LOAD_CHUNK, LOAD_WORKERS, LOAD_PAUSE_SECONDS = 10, 2, 0.02


@dataclass(frozen=True)
class Scored:
    """One record's answer; ``prediction_id`` None when its request failed."""

    prediction_id: str | None
    version: str | None
    prediction: Any


class Traffic:
    def __init__(self, base_url: str, *, chunk: int = CHUNK, workers: int = WORKERS) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60.0)
        self.chunk, self.workers = chunk, workers
        self.requests = 0
        self.failed = 0
        self.errors: list[str] = []  # the first few failures, for the summary
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        error = None
        try:
            r = self.client.post(path, json=body)
            if r.status_code != 200:
                error = f"{path}: HTTP {r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{path}: {one_line(exc)}"
        with self._lock:
            self.requests += 1
            if error is not None:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(error)
                return None
        result: dict[str, Any] = r.json()
        return result

    def _predict_chunk(self, records: Sequence[dict[str, Any]]) -> list[Scored]:
        body = self._post("/predict", {"records": list(records)})
        if body is None:
            return [Scored(None, None, None)] * len(records)
        version = str(body["model_version"])
        return [
            Scored(pid, version, pred)
            for pid, pred in zip(body["prediction_ids"], body["predictions"], strict=True)
        ]

    def _chunks(self, items: Sequence[Any]) -> list[Sequence[Any]]:
        return [items[i : i + self.chunk] for i in range(0, len(items), self.chunk)]

    def predict(self, records: Sequence[dict[str, Any]]) -> list[Scored]:
        """Every record scored, in order, by ``workers`` clients at once."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix="demo-client") as pool:
            parts = list(pool.map(self._predict_chunk, self._chunks(records)))
        return list(itertools.chain.from_iterable(parts))

    def feedback(self, labels: Sequence[tuple[str, Any]]) -> int:
        """Send ``(prediction_id, label)`` pairs; the number the server accepted."""

        def send(part: Sequence[tuple[str, Any]]) -> int:
            body = self._post("/feedback", {"feedback": [{"prediction_id": p, "label": y} for p, y in part]})
            return int(body["accepted"]) if body else 0

        with ThreadPoolExecutor(self.workers, thread_name_prefix="demo-client") as pool:
            return sum(pool.map(send, self._chunks(labels)))

    @contextlib.contextmanager
    def steady(self, records: Sequence[dict[str, Any]]) -> Iterator[Background]:
        """Clients sending ``records`` over and over in the background while the block runs."""
        bg = Background(self, records)
        bg.start()
        try:
            yield bg
        finally:
            bg.stop()


class Background:
    """A steady load of ``/predict`` requests on threads of its own (see :meth:`Traffic.steady`)."""

    def __init__(self, traffic: Traffic, records: Sequence[dict[str, Any]]) -> None:
        self.traffic = traffic
        self.chunks = [records[i : i + LOAD_CHUNK] for i in range(0, len(records), LOAD_CHUNK)]
        self.answers: list[Scored] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"demo-load-{i}", daemon=True)
            for i in range(LOAD_WORKERS)
        ]

    def _run(self, offset: int) -> None:
        for chunk in itertools.islice(itertools.cycle(self.chunks), offset, None):
            if self._stop.wait(LOAD_PAUSE_SECONDS):
                return
            answers = self.traffic._predict_chunk(chunk)
            with self.traffic._lock:
                self.answers.extend(answers)

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def served_by(self, version: str) -> bool:
        with self.traffic._lock:
            return any(a.version == version for a in self.answers)

    def wait_for(self, version: str, timeout: float = 60.0) -> bool:
        """Until an answer comes from ``version`` (then a little longer, so both sides show)."""
        deadline = time.monotonic() + timeout
        while not self.served_by(version):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        time.sleep(0.3)
        return True

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def versions(self) -> Counter[str]:
        with self.traffic._lock:
            return Counter(a.version for a in self.answers if a.version is not None)
