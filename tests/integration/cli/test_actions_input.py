"""The action verbs under a careless user, on PostgreSQL: one line naming the option, exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from evergreen.cli.app import main
from evergreen.config import load_settings
from evergreen.examples import churn
from evergreen.project import open_project
from evergreen.store.audit import list_actions
from tests.support.logging_state import restored_logging


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    with restored_logging():  # main() configures logging on this test's captured stderr
        yield


@pytest.fixture
def pg_root(tmp_path: Path, postgres_url: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    churn.write_config(str(root / "evergreen.yaml"))
    cfg = yaml.safe_load((root / "evergreen.yaml").read_text())
    cfg.setdefault("storage", {})["database_url"] = postgres_url
    (root / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    return root


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("alerts", "--ack", "99999999999"), "--ack"),  # was PostgreSQL's "integer out of range", exit 1
        (("alerts", "--resolve", "0"), "--resolve"),
        (("alerts", "--ack", "1", "--actor", "x" * 101), "--actor"),
        (("promote", "3", "--actor", "x" * 101), "--actor"),  # was "version 3 not found", the actor unseen
        (("rollback", "--actor", "x" * 101), "--actor"),
        # was recorded on the run as typed; refused by control.request_retrain, which names the field
        (("retrain", "--trigger", "nightly"), "trigger 'nightly'"),
    ],
)
def test_a_bad_option_is_one_line_naming_it_exit_2(
    pg_root: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], option: str
) -> None:
    code, out, err = _run(capsys, *args, "--config", str(pg_root))
    assert code == 2 and out == "", err
    assert err.count("\n") == 1 and err.startswith("error: ") and option in err, err
    project = open_project(load_settings(pg_root))
    try:
        assert list_actions(project.store) == []
    finally:
        project.store.engine.dispose()


def test_an_actor_of_the_columns_width_is_recorded(pg_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evergreen.store.audit import MAX_ACTOR

    code, _out, err = _run(
        capsys, "alerts", "--ack", "7", "--actor", "y" * MAX_ACTOR, "--config", str(pg_root)
    )
    assert code == 2 and err.strip() == "error: alert 7 not found"  # the actor passed; the alert is unknown


def test_a_retrain_failing_off_a_terminal_is_the_one_error_line(
    pg_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rich's progress display, started before the run failed, left a blank line on a non-terminal
    # stderr (CI, a pipe) before the error.
    monkeypatch.delenv("EVERGREEN_PII_SALT", raising=False)
    cfg = yaml.safe_load((pg_root / "evergreen.yaml").read_text())
    cfg["data"]["pii"] = {"hash": ["customer_id"]}  # needs the salt the environment lacks
    (pg_root / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    landing = load_settings(pg_root).data.landing_dir
    assert landing is not None
    landing.mkdir(parents=True, exist_ok=True)
    churn.make_batch(0, rows=50, drifted=False).to_csv(landing / "b0.csv", index=False)
    code, out, err = _run(capsys, "retrain", "--config", str(pg_root))
    assert (code, out) == (2, "")
    assert (
        err.startswith("error: environment variable EVERGREEN_PII_SALT is not set") and err.count("\n") == 1
    ), err
