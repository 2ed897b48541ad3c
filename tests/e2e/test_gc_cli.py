"""``evergreen gc`` as a user runs it: the plan, then the deletions; aliased versions untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.cli import set_config


def test_gc_dry_run_then_delete_keeps_aliased_and_newest_versions(project_dir: Path, run_cli: Any) -> None:
    for reason in ("first", "second", "third"):
        assert run_cli("retrain", "--reason", reason, "--force").code == 0
    set_config(project_dir, "retention", keep_versions=1, min_version_age_days=0, predictions_days=0)
    before = {v["version"]: v["aliases"] for v in run_cli("models", "--json").json()}
    assert len(before) == 3
    newest = max(before, key=int)
    kept = sorted(v for v, a in before.items() if a or v == newest)
    others = sorted((v for v in before if v not in kept), key=int)

    dry = run_cli("gc", "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert [v["version"] for v in dry.json()["versions"] if v["delete"]] == others
    assert dry.json()["deleted_versions"] == []
    assert {v["version"] for v in run_cli("models", "--json").json()} == set(before)

    done = run_cli("gc", "--json")
    assert done.code == 0, done.stderr
    assert done.json()["deleted_versions"] == others
    after = {v["version"]: v["aliases"] for v in run_cli("models", "--json").json()}
    assert after == {v: before[v] for v in kept}
    text = run_cli("gc", "--dry-run")
    assert text.code == 0 and "alias champion" in text.stdout
