"""A retrain when the champion was changed in MLflow behind evergreen's back: its version deleted by
hand (the alias goes with it), or its files collected (the alias still resolves). Neither crashes;
the decision says what it was judged against."""

from __future__ import annotations

from typing import Any

from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.store.runs import get_run
from tests.support.serving import collected as _collected


def _champion_check(project: Any, run_id: str) -> dict[str, Any]:
    [decision] = get_run(project.store, run_id)["decisions"]
    return next(c for c in decision["checks"] if c["name"] == "champion")


def test_a_retrain_after_the_champion_was_deleted_by_hand_says_so_not_first_model(
    trained_project: Any,
) -> None:
    p = trained_project
    p.registry.client.delete_model_version(p.registry.model_name, "1")
    out = RetrainRunner(p).run(RetrainRequest(force=True))
    assert out.status == "promoted", out.reason
    said = (
        "no champion: the registry has no 'champion' alias; evergreen last made v1 the champion "
        "(deleted or moved by hand in MLflow?); judged on value gates alone"
    )
    assert said in out.reason and "first model" not in out.reason
    assert _champion_check(p, out.run_id)["detail"] == said
    assert p.registry.aliases() == {"champion": "2"}


def test_a_retrain_over_a_champion_whose_files_were_collected_says_why_it_was_not_compared(
    trained_project: Any,
) -> None:
    p = trained_project
    _collected(p, "1")
    out = RetrainRunner(p).run(RetrainRequest(force=True))
    assert out.status == "promoted", out.reason
    check = _champion_check(p, out.run_id)
    assert check["detail"].startswith(
        "champion could not be scored (model version 1 of churn could not be loaded: "
    )
    assert check["detail"].endswith("; judged on value gates alone")
    assert p.registry.aliases() == {"champion": "2", "previous": "1"}
