"""The error tree: one class per code, codes named in errors.py only, and the one line a person reads."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import evergreen.errors as errors
from evergreen.errors import (
    BadInputError,
    ConfigError,
    DataValidationError,
    EvergreenError,
    LockHeldError,
    MalformedJSONError,
    one_line,
)

SRC = Path(errors.__file__).parent
ERROR_CLASSES = [
    obj
    for _, obj in inspect.getmembers(errors, inspect.isclass)
    if issubclass(obj, EvergreenError) and obj.__module__ == errors.__name__
]


def test_every_error_class_has_its_own_snake_case_code_and_a_one_line_docstring() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(codes) == len(set(codes)), sorted(codes)
    for cls in ERROR_CLASSES:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls
        doc = cls.__doc__ or ""
        assert doc.strip() and "\n" not in doc.strip(), cls
        assert 400 <= cls.http_status <= 599 and cls.exit_code in (1, 2), cls
        assert cls.__name__ in errors.__all__, cls


def test_the_tree_in_the_docstring_is_the_class_tree() -> None:
    """Each line of the drawn tree names a class, its code, and sits under its parent."""
    drawn = [line for line in (errors.__doc__ or "").splitlines() if re.search(r"Error\s+[a-z_]+", line)]
    assert len(drawn) == len(ERROR_CLASSES)
    stack: list[tuple[int, type[EvergreenError]]] = []
    for line in drawn:
        name, code = re.search(r"(\w+Error)\s+([a-z_]+)", line).groups()  # type: ignore[union-attr]
        cls = getattr(errors, name)
        depth = line.index(name)
        assert cls.code == code, line
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            assert cls.__bases__ == (stack[-1][1],), line
        else:
            assert cls is EvergreenError
        stack.append((depth, cls))


def test_statuses_and_exit_codes_follow_the_tree() -> None:
    assert (BadInputError.http_status, BadInputError.exit_code) == (422, 2)
    assert (ConfigError.http_status, ConfigError.exit_code) == (422, 2)
    assert (MalformedJSONError.code, MalformedJSONError.http_status) == ("malformed_json", 400)
    assert (LockHeldError.code, LockHeldError.http_status, LockHeldError.exit_code) == ("lock_held", 409, 1)
    err = DataValidationError("bad", reason="wrong_type", file="a.csv", column="x")
    assert err.to_dict() == {
        "code": "data_invalid",
        "message": "bad",
        "details": {"reason": "wrong_type", "file": "a.csv", "column": "x"},
    }


def test_no_raise_site_in_src_passes_a_code_string() -> None:
    """A code is chosen by picking the error class, never by a ``code="..."`` keyword or attribute."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and any(k.arg == "code" for k in node.keywords):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name.endswith("Error"):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
    with pytest.raises(TypeError):
        EvergreenError("x", code="made_up")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("exc", "line", "with_code"),
    [
        (
            LockHeldError("a retrain is already running (run r1)"),
            "a retrain is already running (run r1)",
            None,
        ),
        (ConfigError("evergreen.yaml: data.target: missing"), "evergreen.yaml: data.target: missing", None),
        (LockHeldError("held\nsecond line"), "held", "lock_held: held"),
        (EvergreenError(""), "internal_error", "internal_error: internal_error"),
        (KeyboardInterrupt(), "interrupted", "interrupted"),
        (ValueError("bad value\n  at line 3"), "ValueError: bad value", "ValueError: bad value"),
        (ValueError("\n\n  indented first\nnext"), "ValueError: indented first", None),
        (RuntimeError(), "RuntimeError", "RuntimeError"),
        (  # MLflow's failed download: a first line that announces the failure, which comes after
            RuntimeError(
                "failures downloading from file:///m:\n##### File model.skops #####\nNo such artifact"
            ),
            "RuntimeError: No such artifact (failures downloading from file:///m)",
            None,
        ),
        (  # two files failed: the first one's failure, not the last line (nor a traceback after it)
            RuntimeError(
                "failures from s3://b/m:\n##### File a #####\nNoSuchKey a\n##### File b #####\n"
                "Denied b\nTraceback (most recent call last):\n  File x\nEnd"
            ),
            "RuntimeError: NoSuchKey a (failures from s3://b/m)",
            None,
        ),
        (KeyError("tenure"), "KeyError: 'tenure'", None),
        (
            OSError(2, "No such file or directory"),
            "FileNotFoundError: [Errno 2] No such file or directory",
            None,
        ),
    ],
)
def test_one_line(exc: BaseException, line: str, with_code: str | None) -> None:
    assert one_line(exc) == line
    if with_code is not None:
        assert one_line(exc, with_code=True) == with_code
    assert "\n" not in one_line(exc) and "\n" not in one_line(exc, with_code=True)


def test_one_line_is_the_only_hand_rolled_first_line_of_an_exception() -> None:
    """``str(exc).splitlines()[0]`` and ``f"{type(exc).__name__}: ..."`` are written once, in errors.py."""
    pattern = re.compile(r"str\(exc?\)\.(strip\(\)\.)?splitlines\(\)|type\(exc?\)\.__name__\}?: ")
    found = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "errors.py"
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(text)
    ]
    assert found == []


def test_a_value_quoted_back_is_a_bounded_repr_whose_cut_string_keeps_its_quotes() -> None:
    from evergreen.errors import shown

    assert shown("7x") == "'7x'"
    assert shown("a\nb\x00") == "'a\\nb\\x00'"  # no line break or control character gets through
    assert shown("y" * 100) == "'" + "y" * 80 + "'…"
    assert shown(["z"] * 40) == repr(["z"] * 40)[:80] + "…"
    assert shown(None) == "None" and shown("q" * 5, limit=3) == "'qqq'…"


def test_a_json_value_quoted_back_is_json() -> None:
    import numpy as np

    from evergreen.errors import shown_json

    assert shown_json(None) == "null" and shown_json(True) == "true"
    assert shown_json(["no", "yes"]) == '["no", "yes"]'
    assert shown_json([np.int64(0), np.int64(1)]) == "[0, 1]"  # a model's classes, as plain values
    assert shown_json("a\nb\x00") == '"a\\nb\\u0000"'  # escaped: no line break gets through
    assert shown_json("y" * 100) == '"' + "y" * 80 + '"…'
    assert shown_json(object()).startswith("<object object")  # not JSON: its repr, as shown() does
