"""``evergreen runs`` / ``status`` run in this process (``cli.main``) on a real SQLite project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from evergreen.cli.app import main
from evergreen.config import load_settings
from evergreen.examples import churn
from evergreen.project import open_project
from evergreen.store.runs import create_run, finish_run
from tests.support.logging_state import restored_logging


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    with restored_logging():  # main() configures logging on this test's captured stderr
        yield


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    churn.write_config(str(root / "evergreen.yaml"))
    return root


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


def _one_failed_run(project_root: Path, error: str) -> str:
    """The id of a manual run recorded failed with ``error``, the project's store closed again."""
    project = open_project(load_settings(project_root))
    rid = create_run(project.store, trigger="manual", reason="test", actor="cli:me")
    finish_run(project.store, rid, "failed", error=error)
    project.store.engine.dispose()
    return rid


def test_runs_table_shows_a_long_failure_whole(
    project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = "TrainingError: every candidate failed: " + "; ".join(
        f"candidate{i}: fit diverged" for i in range(30)
    )
    rid = _one_failed_run(project_root, error)

    code, out, err = _run(capsys, "runs", "--config", str(project_root))
    assert code == 0, err
    row = next(line for line in out.splitlines() if rid in line)
    assert error in row and "failed" in row
    assert "┃ outcome " in out and "┃ reason " not in out  # the decision or failure, not the ask

    code, out, _ = _run(capsys, "runs", "--json", "--config", str(project_root))
    assert code == 0 and [(r["id"], r["error"]) for r in json.loads(out)] == [(rid, error)]


def test_runs_table_shows_a_failures_line_and_keeps_its_traceback_for_json(
    project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A failed run stores its one line and then the traceback. The table printed the lot: a
    # traceback on the terminal, in a column named "reason".
    error = 'store_error: database unreachable\nTraceback (most recent call last):\n  File "x.py", line 1'
    rid = _one_failed_run(project_root, error)

    code, out, err = _run(capsys, "runs", "--config", str(project_root))
    assert code == 0, err
    row = next(line for line in out.splitlines() if rid in line)
    assert "store_error: database unreachable" in row and "Traceback" not in out and 'File "x.py"' not in out

    code, out, _ = _run(capsys, "runs", "--json", "--config", str(project_root))
    assert code == 0 and [(r["id"], r["error"]) for r in json.loads(out)] == [(rid, error)]


def test_status_says_which_stored_override_is_ignored(
    project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evergreen.store.overrides import replace_overrides

    project = open_project(load_settings(project_root))
    values = {"triggers.new_data.min_rows": "lots", "triggers.drift.share": 0.2}
    replace_overrides(project.store, remove=[], values=values, actor="old")
    project.store.engine.dispose()
    code, out, err = _run(capsys, "status", "--config", str(project_root))
    assert code == 0, err
    [line] = [line for line in out.splitlines() if line.startswith("run-time thresholds: ")]
    assert line == (
        "run-time thresholds: triggers.drift.share=0.2 (by old), triggers.new_data.min_rows=lots (by old; "
        "ignored: thresholds key triggers.new_data.min_rows: must be a number, not 'lots')"
    )


def test_status_of_a_new_project(project_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "status", "--json", "--config", str(project_root))
    assert code == 0, err
    st = json.loads(out)
    assert (st["project"], st["champion"], st["previous"], st["runs"]) == ("churn", None, None, [])
    assert not (project_root / ".evergreen" / "mlflow.db").exists()  # reading created no MLflow store
    code, out, err = _run(capsys, "status", "--config", str(project_root))
    assert code == 0 and "champion: none yet" in out


def test_bad_config_is_one_line_naming_the_key(
    project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = project_root / "evergreen.yaml"
    cfg.write_text(cfg.read_text().replace("min_improvement: 0.", "min_improvement: lots #"))
    code, out, err = _run(capsys, "status", "--config", str(project_root))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: config key promotion.min_improvement:")


def test_alerts_refuses_ack_and_resolve_together(
    project_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project_root)
    code, _out, err = _run(capsys, "alerts", "--ack", "1", "--resolve", "2")
    assert code == 2
    assert err.strip() == "error: --ack and --resolve: give one of them, not both"


@pytest.mark.parametrize("args", [["--version"], ["--version", "status"], ["-v", "--version"]])
def test_version_prints_the_version_and_exits(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from evergreen import __version__

    code, out, err = _run(capsys, *args)
    assert (code, out, err) == (0, f"evergreen {__version__}\n", "")


def test_alerts_lists_an_old_rows_pii_scrubbed(
    project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row written before the rules scrubbed PII (110c6fa) is listed as it would be sent."""
    from evergreen.alerts import repository as repo
    from evergreen.alerts.rules import AlertCandidate
    from evergreen.store.engine import utcnow

    email = "jane.doe@example.com"
    with open_project(load_settings(project_root / "evergreen.yaml")) as project:
        candidate = AlertCandidate("retrain_failed:z", "retrain_failed", "alert", f"failed on {email}")
        repo.insert_alert(project.store, candidate, utcnow())
    code, out, err = _run(capsys, "alerts", "--config", str(project_root / "evergreen.yaml"), "--json")
    assert code == 0, err
    assert email not in out
    assert [r["title"] for r in json.loads(out)] == ["failed on <EMAIL>"]


def test_a_rollback_to_a_version_whose_files_are_gone_is_one_line_naming_it_exit_2(
    project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from evergreen import control
    from evergreen.store.audit import list_actions
    from tests.support.serving import add_version, artifact_dir

    project = open_project(load_settings(project_root))
    v1, v2 = add_version(project), add_version(project)
    control.promote(project, v1, actor="cli:me")
    control.promote(project, v2, actor="cli:me")
    shutil.rmtree(artifact_dir(project, v1))  # the run's artifact directory deleted by hand
    audit = len(list_actions(project.store))
    project.store.engine.dispose()
    capsys.readouterr()  # what the set-up printed

    code, out, err = _run(capsys, "rollback", "--config", str(project_root))
    assert code == 2 and out == "", err
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: v{v1} cannot be served, so the champion was not moved: "), err
    project = open_project(load_settings(project_root))
    assert project.registry.aliases() == {"champion": v2, "previous": v1}
    assert len(list_actions(project.store)) == audit
    project.store.engine.dispose()
