"""The CLI's output rules (DESIGN.md §2) on a stdout and stderr that are not terminals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from evergreen.cli.app import main
from evergreen.cli.common import NO_TTY_WIDTH, error_line, print_json, print_table
from tests.support.logging_state import restored_logging


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    with restored_logging():  # main() configures logging on this test's captured stderr
        yield


def test_a_long_error_is_one_unwrapped_line(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    name = "no-such-example-" + "x" * 400
    with pytest.raises(SystemExit) as exit_:
        main(["init", "--example", name, str(tmp_path / "p")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: --example {name!r}: unknown example (available: churn)\n"


def test_a_multi_line_message_becomes_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    error_line("data/x.csv: column tenure\n  expected a number\n\n  got 'abc'")
    assert capsys.readouterr().err == "error: data/x.csv: column tenure; expected a number; got 'abc'\n"


def test_a_usage_error_is_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["status", "--no-such-option"])
    assert exit_.value.code == 2
    assert (
        capsys.readouterr().err == "error: No such option: --no-such-option (see 'evergreen status --help')\n"
    )
    with pytest.raises(SystemExit) as exit_:
        main(["no-such-verb"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: No such command 'no-such-verb'.")


def test_a_table_is_not_truncated_without_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    long_value = "reason " + "-".join(str(i) for i in range(200))  # ~700 characters, no spaces to wrap at
    words = " ".join(f"word{i}" for i in range(150))  # ~1000 characters a width-limited table would fold
    print_table("runs", ["run", "reason", "notes"], [["r1", long_value, words], ["r2", None, "short"]])
    out = capsys.readouterr().out
    assert long_value in out and words in out
    assert "…" not in out
    row = next(line for line in out.splitlines() if "r1" in line)
    assert long_value in row and words in row  # on one line, not folded over several
    assert len(row) < NO_TTY_WIDTH


def test_json_without_a_tty_is_plain_parseable_json(capsys: pytest.CaptureFixture[str]) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    print_json({"at": at, "title": "é" * 300})
    assert json.loads(capsys.readouterr().out) == {"at": str(at), "title": "é" * 300}


@pytest.mark.parametrize(
    ("args", "line"),
    [
        # A typo'd status listed nothing and exited 0.
        (
            ["runs", "--status", "promotd"],
            "error: --status 'promotd': use one of running, promoted, rejected, pending_approval, "
            "approved, skipped, failed, abandoned\n",
        ),
        (
            ["alerts", "--status", "closed"],
            "error: --status 'closed': use one of open, acknowledged, resolved\n",
        ),
        # A huge limit was OverflowError from the database (exit 1); a negative one listed everything.
        (
            ["runs", "--limit", str(2**64)],
            "error: Invalid value for '--limit' / '-n': Input should be less than or equal to 2147483647 "
            "(see 'evergreen runs --help')\n",
        ),
        (
            ["alerts", "-n", "-1"],
            "error: Invalid value for '--limit' / '-n': Input should be greater than or equal to 1 "
            "(see 'evergreen alerts --help')\n",
        ),
    ],
)
def test_a_bad_filter_or_limit_is_exit_2_naming_the_option(
    args: list[str], line: str, capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no project here: the option is refused before one is looked for
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert (exit_.value.code, capsys.readouterr().err) == (2, line)
