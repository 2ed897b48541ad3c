"""``evergreen init`` and ``demo`` take ``--config PATH`` like every other command (DESIGN.md §2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evergreen.cli.app import main
from evergreen.config import load_settings
from tests.support.logging_state import restored_logging


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    with restored_logging():  # main() configures logging on this test's captured stderr
        yield


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


def test_init_config_names_the_project_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    code, out, err = _run(capsys, "init", "--config", str(root))
    assert code == 0, err
    assert sorted(p.name for p in (root / "landing").iterdir()) == [
        "customers-week00.csv",
        "customers-week01.csv",
    ]
    assert load_settings(root).project == "churn"
    assert f"next: cd {root} && evergreen retrain\n" in out


def test_init_says_to_export_the_salt_only_when_it_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example hashes customer_id: without the salt the first retrain stops, naming the variable.
    monkeypatch.delenv("EVERGREEN_PII_SALT", raising=False)
    code, out, err = _run(capsys, "init", str(tmp_path / "a"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith('next: export EVERGREEN_PII_SALT="$(openssl rand -hex 16)"   # the salt of')
    assert "(customer_id)" in lines[1] and lines[2] == f"next: cd {tmp_path / 'a'} && evergreen retrain"
    monkeypatch.setenv("EVERGREEN_PII_SALT", "set-by-the-team")
    code, out, err = _run(capsys, "init", str(tmp_path / "b"))
    assert code == 0 and "EVERGREEN_PII_SALT" not in out and "set-by-the-team" not in out, out
    # A variable of the shell the settings cannot take: init still succeeds, the retrain will say why.
    monkeypatch.setenv("EVERGREEN_SERVING__PORT", "not-a-port")
    code, out, err = _run(capsys, "init", str(tmp_path / "c"))
    assert code == 0 and out.splitlines()[-1] == f"next: cd {tmp_path / 'c'} && evergreen retrain", err


def test_the_demo_option_default_is_the_demos_own() -> None:
    # Written out in the CLI (the demo's package is imported only when it runs): the two must agree.
    import inspect

    from evergreen.cli.project import demo
    from evergreen.demo.replay import DEFAULT_ROWS

    assert inspect.signature(demo).parameters["rows"].default == DEFAULT_ROWS


def test_init_config_names_the_file_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "proj" / "churn.yaml"
    code, out, err = _run(capsys, "init", "-c", str(cfg))
    assert code == 0, err
    assert cfg.is_file() and not (cfg.parent / "evergreen.yaml").exists()
    assert load_settings(cfg).data.landing == cfg.parent / "landing"
    assert len(list((cfg.parent / "landing").iterdir())) == 2
    # Walking up from the directory finds only evergreen.yaml: the next step names the file.
    assert "evergreen retrain --config churn.yaml\n" in out

    code, _, err = _run(capsys, "init", "--config", str(cfg))
    assert code == 2 and err == f"error: {cfg}: already exists (use --force to overwrite)\n"


def test_init_directory_and_config_that_disagree_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    code, out, err = _run(capsys, "init", str(a), "--config", str(b))
    assert (code, out) == (2, "")
    assert err == (
        f"error: --config {b} and the directory {a} name two different projects: give one of them\n"
    )
    assert not a.exists() and not b.exists()
    # The same place named twice is one project.
    code, _, err = _run(capsys, "init", str(a), "--config", str(a / "evergreen.yaml"))
    assert code == 0, err
    assert (a / "evergreen.yaml").is_file()


def test_demo_config_is_checked_like_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = _run(capsys, "demo", str(a), "--config", str(b), "--no-serve")
    assert code == 2
    assert err == (
        f"error: --config {b} and the directory {a} name two different projects: give one of them\n"
    )
    other = b / "mine.yaml"
    code, _, err = _run(capsys, "demo", "--config", str(other), "--no-serve")
    assert code == 2
    assert err == f"error: --config {other}: the demo project's file is evergreen.yaml; give its directory\n"
    assert not a.exists() and not b.exists()


def test_init_into_a_file_is_exit_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    # was "error: FileExistsError: [Errno 17] File exists: ...", exit 1
    assert _run(capsys, "init", str(taken)) == (
        2,
        "",
        f"error: {taken}: is a file, not a directory; give a new or empty directory\n",
    )
    assert taken.read_text() == "mine"


@pytest.mark.parametrize("verb", ["airflow-dag", "prefect-flow"])
def test_an_output_that_cannot_be_a_file_is_exit_2_naming_it(
    verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proj"
    assert _run(capsys, "init", str(root))[0] == 0
    # was "error: IsADirectoryError: [Errno 21] Is a directory: ...", exit 1
    assert _run(capsys, verb, "--config", str(root), "-o", str(tmp_path)) == (
        2,
        "",
        f"error: --output {tmp_path}: is a directory; give the path of the file to write\n",
    )
    code, out, err = _run(capsys, verb, "--config", str(root), "-o", str(root / "evergreen.yaml" / "x.py"))
    assert (code, out) == (2, "") and err.startswith(f"error: --output {root / 'evergreen.yaml' / 'x.py'}: ")


def test_demo_rows_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "demo", "--rows", "-5", "--no-serve", str(tmp_path / "demo"))
    assert (code, out) == (2, "")
    assert err == (
        "error: Invalid value for '--rows': Input should be greater than or equal to 1 "
        "(see 'evergreen demo --help')\n"
    )
    assert not (tmp_path / "demo").exists()
