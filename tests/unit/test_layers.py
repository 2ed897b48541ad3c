"""The layers of DESIGN.md §7, enforced: import-linter's contracts in pyproject.toml must hold.

A module that imports a layer above it (``pipeline`` importing ``serving``, say) or a new import cycle
between sibling modules makes this test fail, with import-linter's report naming the import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> str:
    exe = Path(sys.executable).parent / "lint-imports"
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed (import-linter is a dev dependency in requirements.lock)")
    return found


def test_imports_point_down_and_have_no_cycles() -> None:
    res = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in res.stdout


def test_the_contract_names_every_top_level_package() -> None:
    # A new package left out of the layers would escape the contract silently.
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in cfg["contracts"] if c["type"] == "layers")["layers"]
    named = {part.strip().strip("()") for layer in layers for part in layer.split(":")}
    src = ROOT / "src" / "evergreen"
    packages = {p.name for p in src.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in src.glob("*.py") if p.stem != "__init__"}
    missing = sorted((packages | modules) - named)
    assert missing == [], f"not placed in a layer of [tool.importlinter]: {missing}"
