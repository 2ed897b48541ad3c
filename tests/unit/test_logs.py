"""``evergreen.logs``: structlog is loaded on first use and a configuration made before then holds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_read_only_cli_path_does_not_load_structlog() -> None:
    # What ``evergreen runs`` imports before it prints: the CLI, the store, the project.
    proc = _run(
        """
        import sys
        import evergreen.cli.app, evergreen.store.runs, evergreen.project, evergreen.control.state
        print(sorted(m for m in ("structlog", "rich.traceback") if m in sys.modules))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_configuration_made_before_structlog_loads_applies_at_the_first_line() -> None:
    proc = _run(
        """
        import logging, sys
        from evergreen.logs import configure_logging, get_logger
        configure_logging(logging.WARNING)
        assert "structlog" not in sys.modules
        log = get_logger("evergreen.test")
        log.info("below the level")
        log.warning("kept", answer=42)
        """
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    assert [(r["event"], r["level"], r.get("answer")) for r in lines] == [("kept", "warning", 42)]


def test_lines_go_to_the_stderr_of_the_moment() -> None:
    proc = _run(
        """
        import io, logging, sys
        from evergreen.logs import configure_logging, get_logger
        configure_logging(logging.INFO)
        log = get_logger("evergreen.test")
        log.info("first")
        real, sys.stderr = sys.stderr, io.StringIO()
        log.info("second")
        caught, sys.stderr = sys.stderr.getvalue(), real
        print(caught, end="")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["event"] for x in proc.stderr.splitlines()] == ["first"]
    assert [json.loads(x)["event"] for x in proc.stdout.splitlines()] == ["second"]
