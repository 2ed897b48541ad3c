"""Benchmark: hot swap under steady load. Re-points ``champion`` 5 times, once to a broken version.

    .venv/bin/python benchmarks/hot_swap.py [--clients 8] [--steady 10] [--gap 6]

Starts `evergreen serve` (reload_interval_seconds 2, prediction log on) on the churn demo, sends
single-record requests from ``--clients`` concurrent asyncio clients, and re-points the alias every
``--gap`` seconds: v2, v3, a broken version (missing artifact), v4, back to v1. Prints non-2xx
responses, each swap's delay, responses from an old version after the new one was answered (must be
0), and p99 latency at steady state and in the 3 s after each re-point.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from serving_common import EVERGREEN, RECORD, free_port, make_trained_project, start_server


def clone_version(project: Any, version: str, *, broken: bool = False) -> str:
    """A new registered version with the artifacts of ``version`` (or none at all when ``broken``)."""
    import mlflow

    reg = project.registry
    src = Path(mlflow.artifacts.download_artifacts(reg.model_uri(version)))
    dest = Path(tempfile.mkdtemp(prefix="eg-swap-", dir=project.settings.state_dir)) / "model"
    if not broken:
        shutil.copytree(src, dest)
    return str(reg.client.create_model_version(reg.model_name, source=str(dest), run_id=None).version)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else float("nan")


async def load(
    url: str, clients: int, stop: threading.Event, out: list[tuple[float, float, int, str]]
) -> None:
    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            while not stop.is_set():
                t0 = time.monotonic()
                r = await c.post("/predict", json={"record": RECORD})
                t1 = time.monotonic()
                out.append(
                    (t0, t1, r.status_code, r.json().get("model_version", "") if r.status_code == 200 else "")
                )

    await asyncio.gather(*(client() for _ in range(clients)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--steady", type=float, default=10.0)
    ap.add_argument("--gap", type=float, default=6.0)
    args = ap.parse_args()
    project = make_trained_project(reload_interval_seconds=2)
    s = project.settings
    plan = [
        ("good", clone_version(project, "1")),
        ("good", clone_version(project, "1")),
        ("broken", clone_version(project, "1", broken=True)),
        ("good", clone_version(project, "1")),
        ("good", "1"),
    ]
    port = free_port()
    server = start_server(
        [*EVERGREEN, "serve", "--config", str(s.root), "--port", str(port)],
        port,
        cwd=s.root,
        log=s.root / "serve.log",
    )
    results: list[tuple[float, float, int, str]] = []
    stop = threading.Event()
    loader = threading.Thread(target=lambda: asyncio.run(load(server.url, args.clients, stop, results)))
    swaps: list[tuple[float, str, str]] = []
    try:
        loader.start()
        time.sleep(args.steady)
        for kind, version in plan:
            project.registry.set_champion(version)
            swaps.append((time.monotonic(), kind, version))
            time.sleep(args.gap)
        stop.set()
        loader.join(60)
    finally:
        server.stop()

    # Steady state: the second half of the warm-up period (connections open, caches warm).
    steady_from = swaps[0][0] - args.steady / 2
    steady = [(t1 - t0) * 1000 for t0, t1, _, _ in results if steady_from <= t0 < swaps[0][0]]
    print(
        f"requests: {len(results)}, non-2xx: {sum(1 for r in results if r[2] != 200)}, "
        f"clients: {args.clients}, poll interval: 2 s"
    )
    print(f"steady state: {len(steady) / (args.steady / 2):.0f} req/s, p99 {p99(steady):.1f} ms")
    serving = "1"
    for at, kind, version in swaps:
        window = [r for r in results if at <= r[0] < at + 3.0]
        lat = [(t1 - t0) * 1000 for t0, t1, _, _ in window]
        after = sorted((r for r in results if r[0] >= at), key=lambda r: r[1])
        first_new = next((r[1] for r in after if r[3] == version), None) if kind == "good" else None
        stale = sum(
            1
            for r in after
            if first_new is not None and r[0] > first_new and r[3] != version and r[0] < at + args.gap
        )
        if kind == "good":
            delay = f"{first_new - at:.2f} s" if first_new else "never"
            serving = version
        else:
            delay = f"n/a (broken: kept serving v{serving})"
            wrong = sum(1 for r in after if r[0] < at + args.gap and r[3] != serving)
            stale = wrong
        print(
            f"re-point to v{version} ({kind}): first answer from it after {delay}; "
            f"responses from another version afterwards: {stale}; p99 in the next 3 s: {p99(lat):.1f} ms"
        )


if __name__ == "__main__":
    main()
