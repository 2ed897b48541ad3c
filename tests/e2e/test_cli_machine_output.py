"""The CLI read by machines (DESIGN.md §2): a real subprocess, no TTY, a 40-column terminal width.

Every error is exactly one ``error: <file or key>: <what>`` line on stderr however long it is; a
table keeps every value whole; ``ingest`` and ``retrain`` answer ``--json``.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

from tests.support.cli import Runner, set_config

NARROW = {"COLUMNS": "40", "LINES": "10"}  # what a CI log or a narrow pane would say


def _error_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), stderr
    return lines


def test_errors_are_one_unwrapped_line_at_40_columns(project_dir: Path, run_cli: Runner) -> None:
    bad = project_dir / ("bad-" + "y" * 90 + ".csv")
    bad.write_text("tenure,monthly_fee\nabc,1\n")
    res = run_cli("ingest", str(bad), env=NARROW)
    assert res.code == 2
    (line,) = _error_lines(res.stderr)
    assert line.startswith(f"error: {bad.name}: column 'customer_id': missing column") and len(line) > 150

    res = run_cli("retrain", "--json", "--as-of", "not-a-date-" + "z" * 80, env=NARROW)
    assert res.code == 2 and res.stdout == ""
    (line,) = _error_lines(res.stderr)
    assert (
        line == f"error: --as-of {'not-a-date-' + 'z' * 80!r}: not an ISO date or datetime (e.g. 2026-03-01)"
    )

    set_config(project_dir, "serving", feedback_relabel="sometimes")
    res = run_cli("retrain", "--json", env=NARROW)
    assert res.code == 2
    (line,) = _error_lines(res.stderr)
    assert line == "error: config key serving.feedback_relabel: Input should be 'refuse' or 'latest'"

    res = run_cli("ingest", "--no-such-option", env=NARROW)  # a usage error too
    assert res.code == 2 and len(_error_lines(res.stderr)) == 1


def test_tables_keep_every_value_whole_and_ingest_answers_json(project_dir: Path, run_cli: Runner) -> None:
    week = project_dir / "landing" / "customers-week00.csv"
    long_name = project_dir / ("a-landing-file-with-a-rather-long-name-" + "x" * 70 + ".csv")
    shutil.copy(week, long_name)
    bad = project_dir / "bad.csv"
    bad.write_text("tenure\n1\n")
    res = run_cli("ingest", str(long_name), str(bad), env=NARROW)
    assert res.code == 2, res.stderr
    assert "…" not in res.stdout
    row = next(line for line in res.stdout.splitlines() if long_name.name in line)
    assert "accepted" in row and "1500" in row  # the whole row on one line, nothing folded
    assert next(line for line in res.stdout.splitlines() if "bad.csv" in line).count("missing_column") == 1
    assert _error_lines(res.stderr)[0].startswith("error: bad.csv: ")

    other = project_dir / "landing" / "customers-week01.csv"
    res = run_cli("ingest", "--json", str(other), str(week), env=NARROW)
    assert res.code == 0, res.stderr
    fresh, again = json.loads(res.stdout)
    assert fresh["status"] == "accepted" and fresh["rows"] == 1500 and fresh["source"].endswith(other.name)
    assert again["status"] == "duplicate"  # the long-named copy had the same bytes


def test_a_tracking_server_that_is_down_is_one_error_line_not_minutes_of_retries(
    project_dir: Path, run_cli: Runner
) -> None:
    # MLflow's client retried the refused connection 7 times with a backoff factor of 2 (~4 min)
    # before `status` said anything; evergreen bounds MLflow's waits unless the user set them.
    with socket.socket() as s:  # a loopback port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    set_config(project_dir, "storage", mlflow_tracking_uri=f"http://127.0.0.1:{port}")
    for verb in ("status", "models"):
        res = run_cli(verb, timeout=120)  # a hang guard: MLflow's own retries alone take ~4 min
        assert res.code == 1, res.stderr
        [line] = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
        assert line.startswith(f"error: MLflow registry unavailable at http://127.0.0.1:{port}: "), line
