"""Where a fit runs (``training.parallel_backend``): a forked process of this machine, or a cluster.

- ``loky`` (the default): each fit in its own forked child, one after the other, so a candidate that
  hangs past ``timeout_minutes`` is killed without taking the run down and a crash (even a segfault
  in a native library) is that candidate's failure. The child sends the fitted pipeline and its
  validation predictions back pickled through a pipe.
- ``dask`` / ``ray``: every fit handed at once to joblib's backend of that name, so the cluster fits
  them in parallel (``training.cluster_address``: its scheduler; unset, a local one). A fit that
  raises there is that candidate's failure; fits the cluster has not answered within the timeout are
  recorded as timed out (a remote task cannot be killed from here, only given up on).

A stop asked for while fitting (``stop``, the scheduler's SIGTERM flag) is seen by the wait itself: a
local child is killed at once and :class:`RunStoppedError` raised; a cluster's fits are given up on at
once too (the cluster is waited on in a thread of its own, which cancels what is not answered yet at
the cluster's next answer). The signal handler only sets the flag, so no exception is ever
thrown into the middle of whatever the process was doing (a lock held, a transaction open, a fork).
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from evergreen.errors import ConfigError, RunStoppedError, TrainingError, one_line
from evergreen.logs import get_logger

log = get_logger(__name__)

# The packages each cluster backend needs, and the extra that installs them.
BACKEND_PACKAGES: dict[str, tuple[str, ...]] = {"dask": ("dask", "distributed"), "ray": ("ray",)}

# How often a fit's wait looks at the stop flag: the longest a stop asked for mid-fit waits.
STOP_POLL_SECONDS = 0.25


@dataclass
class FitOutcome:
    status: str  # ok | failed | timeout
    pipeline: Pipeline | None = None
    fit_seconds: float = 0.0
    y_pred: Any = None
    proba: Any = None
    classes: Any = None
    error: str | None = None


@dataclass(frozen=True)
class FitJob:
    """One fit: ``pipeline`` on (``X``, ``y``), then predictions for ``X_val`` (None: a refit)."""

    index: int
    name: str
    pipeline: Pipeline
    X: pd.DataFrame
    y: Any
    X_val: pd.DataFrame | None


def fit_and_predict(pipeline: Pipeline, X: pd.DataFrame, y: Any, X_val: pd.DataFrame | None) -> FitOutcome:
    """Fit, then predict the validation rows (wherever this runs)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    # One OpenMP thread: candidates are meant to be cheap, and an OpenMP pool inherited across
    # fork is a known source of hangs.
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        pipeline.fit(X, y)
        outcome = FitOutcome("ok", pipeline, time.perf_counter() - start)
        if X_val is not None:
            outcome.y_pred = np.asarray(pipeline.predict(X_val))
            if hasattr(pipeline, "predict_proba") and hasattr(pipeline, "classes_"):
                outcome.proba = np.asarray(pipeline.predict_proba(X_val), dtype=np.float64)
                outcome.classes = np.asarray(pipeline.classes_)
    return outcome


def _child(conn: Connection, pipeline: Pipeline, X: pd.DataFrame, y: Any, X_val: pd.DataFrame | None) -> None:
    """Runs in the forked process: fit, predict the validation rows, send everything back."""
    # The fork keeps the parent's Python signal handlers: the scheduler's only sets a stop flag that
    # nobody reads in this copy, so a SIGTERM sent here (a control group stopped, an operator, a
    # parent gone) would be ignored and the fit run on to its end. The defaults again: it ends.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    try:
        conn.send(fit_and_predict(pipeline, X, y, X_val))
    except BaseException as exc:
        try:
            conn.send(FitOutcome("failed", error=one_line(exc)[:500]))
        except BaseException as send_exc:  # the parent sees the closed pipe and records the exit code
            log.error("candidate_result_not_sent", error=one_line(exc), send_error=one_line(send_exc))
    finally:
        conn.close()


def _check_stop(stop: threading.Event | None, during: str) -> None:
    if stop is not None and stop.is_set():
        raise RunStoppedError(f"the process was asked to stop: {during} was cut short")


def run_isolated(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: Any,
    X_val: pd.DataFrame | None,
    timeout_seconds: float,
    stop: threading.Event | None = None,
) -> FitOutcome:
    """Fit ``pipeline`` in a forked child; kill it after ``timeout_seconds``, or at once when ``stop``
    is set (:class:`RunStoppedError`)."""
    _check_stop(stop, "the candidates' fitting")
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, pipeline, X, y, X_val), daemon=True)
    try:
        process.start()
        # Close our copy of the sending end, so a child that dies without sending shows up as EOF.
        sender.close()
        deadline = time.monotonic() + timeout_seconds
        # The wait comes back to Python every STOP_POLL_SECONDS to look at the flag: a signal handler
        # runs only in the main thread between two bytecodes, and may not even interrupt this wait.
        while not receiver.poll(max(0.0, min(STOP_POLL_SECONDS, deadline - time.monotonic()))):
            _check_stop(stop, "the candidates' fitting")
            if time.monotonic() >= deadline:
                return FitOutcome(
                    "timeout",
                    fit_seconds=timeout_seconds,
                    error=f"fit exceeded the timeout of {timeout_seconds:g} s and was killed",
                )
        try:
            outcome: FitOutcome = receiver.recv()
        except (EOFError, OSError):
            process.join(5)
            return FitOutcome("failed", error=f"candidate process died (exit code {process.exitcode})")
        process.join(5)
        return outcome
    finally:
        receiver.close()
        sender.close()
        if process.is_alive():
            process.kill()
            process.join()


def _remote(index: int, pipeline: Pipeline, X: pd.DataFrame, y: Any, X_val: Any) -> tuple[int, FitOutcome]:
    """A cluster task: a failing fit is an answer (that candidate failed), never a lost task."""
    import joblib

    try:
        # joblib inside the estimator (n_jobs) stays on this worker: the backend that sent the task
        # is no place for the task's own helpers.
        with joblib.parallel_config(backend="sequential"):
            return index, fit_and_predict(pipeline, X, y, X_val)
    except Exception as exc:
        return index, FitOutcome("failed", error=one_line(exc)[:500])


def require_backend(backend: str) -> None:
    """ConfigError naming the key and the extra when the backend's packages are not installed."""
    missing = [p for p in BACKEND_PACKAGES.get(backend, ()) if importlib.util.find_spec(p) is None]
    if missing:
        raise ConfigError(
            f"training.parallel_backend: {backend} needs {', '.join(missing)}, which is not installed "
            f"here (pip install 'evergreen-ml[{backend}]')",
            details={"key": "training.parallel_backend", "missing": missing},
        )


@contextlib.contextmanager
def cluster(backend: str, address: str | None) -> Iterator[None]:
    """joblib's ``backend`` in force, connected to the cluster at ``address`` (unset: a local one)."""
    import joblib

    if backend == "dask":
        from distributed import Client

        try:
            # Unset: a cluster in this process's threads, to try the backend out; production names
            # a scheduler (tcp://host:8786) whose workers have evergreen installed.
            # Not the process's default client: whoever else uses Dask here keeps theirs.
            client = (
                Client(address, timeout=30, set_as_default=False)
                if address
                else Client(processes=False, set_as_default=False)
            )
        except (OSError, TimeoutError) as exc:
            raise TrainingError(
                f"training.cluster_address: cannot reach the dask scheduler: {one_line(exc)}"
            ) from None
        try:
            with joblib.parallel_config(backend="dask", client=client):
                yield
        finally:
            client.close()
    elif backend == "ray":
        import ray
        from ray.util.joblib import register_ray

        register_ray()
        if not ray.is_initialized():
            ray.init(address=address)
        with joblib.parallel_config(backend="ray"):
            yield
    else:
        raise ConfigError(f"training.parallel_backend: unknown backend {backend!r} (loky, dask or ray)")


# What the cluster's waiter thread hands the fitting thread besides (index, outcome) and errors.
_ALL_ANSWERED = object()
_TIMED_OUT = object()


def _cluster_answers(
    jobs: Sequence[FitJob],
    backend: str,
    address: str | None,
    timeout: float,
    answers: queue.SimpleQueue[Any],
    abandon: threading.Event,
) -> None:
    """Runs in its own thread: hand ``jobs`` to the cluster, put each answer on ``answers``.

    joblib's backend setting is per thread, so the cluster is entered here. Ends with
    :data:`_ALL_ANSWERED`, :data:`_TIMED_OUT` or the exception, each put once the cluster's client
    is closed; ``abandon`` set (the fitting thread stopped): leaves at the next answer.
    """
    from joblib import Parallel, delayed

    try:
        with cluster(backend, address):
            tasks = (delayed(_remote)(j.index, j.pipeline, j.X, j.y, j.X_val) for j in jobs)
            for answer in Parallel(
                n_jobs=max(len(jobs), 1), timeout=timeout, return_as="generator_unordered"
            )(tasks):
                if abandon.is_set():
                    return  # leaving the generator early makes joblib cancel the tasks not answered
                answers.put(answer)
    except (TimeoutError, multiprocessing.TimeoutError):
        # joblib raises multiprocessing's TimeoutError, which is not the builtin one.
        answers.put(_TIMED_OUT)
    except BaseException as exc:  # handed over: the fitting thread raises it
        answers.put(exc)
    else:
        answers.put(_ALL_ANSWERED)


def fit_jobs(
    jobs: Sequence[FitJob],
    backend: str,
    address: str | None,
    timeout: float,
    on_start: Callable[[FitJob], None],
    on_done: Callable[[FitJob, FitOutcome], None],
    stop: threading.Event | None = None,
) -> None:
    """Run every job where ``backend`` says; ``on_done`` is called once per job, as each finishes.

    ``stop`` set: :class:`RunStoppedError` (a local fit is killed; a cluster's are given up on).
    """
    if backend == "loky":
        for job in jobs:
            _check_stop(stop, "the candidates' fitting")  # before the start is announced, as below
            on_start(job)
            on_done(job, run_isolated(job.pipeline, job.X, job.y, job.X_val, timeout, stop))
        return
    require_backend(backend)
    _check_stop(stop, "the candidates' fitting")
    waiting = {job.index: job for job in jobs}
    for job in jobs:
        on_start(job)
    # joblib's wait for the next answer never comes back here before that answer (or the timeout):
    # the cluster is waited on in a thread of its own, and this one looks at the stop flag meanwhile.
    answers: queue.SimpleQueue[Any] = queue.SimpleQueue()
    abandon = threading.Event()
    waiter = threading.Thread(
        target=_cluster_answers,
        args=(jobs, backend, address, timeout, answers, abandon),
        name=f"evergreen-{backend}-fits",
        daemon=True,
    )
    waiter.start()
    try:
        while True:
            try:
                answer = answers.get(timeout=STOP_POLL_SECONDS)
            except queue.Empty:
                _check_stop(stop, "the candidates' fitting on the cluster")
                continue
            if answer is _ALL_ANSWERED:
                break
            if answer is _TIMED_OUT:
                late = [j.name for j in waiting.values()]
                log.warning("cluster_fit_timeout", backend=backend, waiting=late)
                break
            if isinstance(answer, BaseException):
                raise answer
            _check_stop(stop, "the candidates' fitting on the cluster")
            index, outcome = answer
            on_done(waiting.pop(index), outcome)
    finally:
        # Stopped (or failed) here: the waiter leaves at the cluster's next answer, which makes joblib
        # cancel the tasks not yet answered; a remote task cannot be killed from here anyway.
        abandon.set()
    # A stop asked for while no answer came is a stop, not fits that timed out (a failed run).
    _check_stop(stop, "the candidates' fitting on the cluster")
    for job in waiting.values():
        on_done(
            job,
            FitOutcome(
                "timeout",
                fit_seconds=timeout,
                error=f"the {backend} cluster did not finish the fit within the timeout of {timeout:g} s",
            ),
        )
