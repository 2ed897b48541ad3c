"""``evergreen.cli.app``: a run builds only the verb it names; help and unknown verbs see them all."""

from __future__ import annotations

import re

import pytest

from evergreen.cli.app import _command_name, app_for, build_app, pause_garbage_collection

ALL_VERBS = sorted(_command_name(c) for c in build_app().registered_commands)


def _verbs(args: list[str]) -> list[str]:
    return sorted(_command_name(c) for c in app_for(args).registered_commands)


def test_every_verb_is_registered_once() -> None:
    assert len(ALL_VERBS) == len(set(ALL_VERBS)) > 10
    assert {"status", "runs", "alerts", "models", "airflow-dag", "prefect-flow"} <= set(ALL_VERBS)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["runs"], ["runs"]),
        (["-v", "status", "--json"], ["status"]),
        (["airflow-dag", "--help"], ["airflow-dag"]),
    ],
)
def test_a_named_verb_builds_only_its_command(args: list[str], expected: list[str]) -> None:
    assert _verbs(args) == expected


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"], ["no-such-verb"]])
def test_without_a_known_verb_every_command_is_there(args: list[str]) -> None:
    assert _verbs(args) == ALL_VERBS


@pytest.mark.parametrize(
    ("args", "paused"),
    [
        (["status"], True),
        (["-v", "runs", "--limit", "5"], True),
        (["alerts", "--json"], True),
        (["models"], True),
        (["status", "--help"], False),
        (["retrain"], False),
        (["serve", "--port", "8000"], False),
        ([], False),
    ],
)
def test_only_quick_verbs_pause_the_garbage_collector(args: list[str], paused: bool) -> None:
    import atexit
    import gc

    assert gc.isenabled()
    try:
        assert pause_garbage_collection(args) is paused
        assert gc.isenabled() is not paused
    finally:
        gc.enable()
        atexit.unregister(gc.freeze)  # the test process must not freeze its heap at exit


def _readme_cli_rows() -> dict[str, str]:
    from pathlib import Path

    readme = Path(__file__).resolve().parents[3] / "README.md"
    section = readme.read_text(encoding="utf-8").split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    rows = (re.match(r"^\| `([a-z-]+)([^`]*)` \|", line) for line in section.splitlines())
    return {m[1]: m[2] for m in rows if m}


def test_every_verb_and_option_has_its_place_in_the_readme_reference() -> None:
    # DESIGN.md §2 names the verbs; --help, --config and --json are said once above the table.
    import typer

    rows = _readme_cli_rows()
    shared = {"--help", "--config", "--json"}
    missing = []
    for name, command in typer.main.get_command(build_app()).commands.items():
        if name not in rows:
            missing.append(name)
            continue
        for param in command.params:
            spelled = [o for o in param.opts if o.startswith("-")]  # an option (or its short form)
            named = any(re.search(rf"(?<![\w-]){o}(?![\w-])", rows[name]) for o in spelled)
            if spelled and not set(spelled) & shared and not named:
                missing.append(f"{name} {spelled[0]}")
    assert missing == []
