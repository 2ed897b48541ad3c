"""Human actions on the registry: promote, rollback, approve, reject. Each one is audited.

The CLI calls these locally; the control API (serving) calls the very same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evergreen.data.dataset import assemble_dataset, feature_kinds, split_holdout
from evergreen.errors import ConflictError, NotFoundError
from evergreen.evaluation.policy import Decision, Policy, decide
from evergreen.project import Project
from evergreen.registry import CHAMPION, PREVIOUS, TAG_PREFIX
from evergreen.serving.notify import notify_champion_changed
from evergreen.store.audit import record_action
from evergreen.store.runs import finish_run, get_run, record_decision
from evergreen.training.preprocessing import FeatureKinds


@dataclass(frozen=True)
class ActionResult:
    action: str
    version: str | None
    previous: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "version": self.version,
            "previous": self.previous,
            "message": self.message,
        }


def _move_champion(
    project: Project,
    version: str,
    *,
    actor: str,
    action: str,
    reason: str,
    decision_tag: str,
    run_id: str | None = None,
) -> ActionResult:
    reg = project.registry
    old = reg.set_champion(version)
    notify_champion_changed(project.store, version)  # running servers swap now instead of at their next poll
    reg.tag_version(version, {TAG_PREFIX + "decision": decision_tag, TAG_PREFIX + "reason": reason})
    record_decision(
        project.store,
        run_id,
        actor=actor,
        outcome=action,
        candidate_version=version,
        champion_version=old,
        justification=f"{action} by {actor}: {reason}",
    )
    record_action(
        project.store,
        actor=actor,
        action=action,
        target=f"version:{version}",
        reason=reason,
        before={"champion": old},
        after={"champion": version, "previous": old},
    )
    return ActionResult(
        action,
        version,
        old,
        f"champion is now v{version} (was v{old})" if old else f"champion is now v{version}",
    )


def promote(project: Project, version: str, *, actor: str, reason: str | None = None) -> ActionResult:
    info = project.registry.get_version(version)  # NotFoundError for an unknown version
    if project.registry.version_by_alias(CHAMPION) == info.version:
        raise ConflictError(f"v{version} is already the champion")
    return _move_champion(
        project,
        info.version,
        actor=actor,
        action="promote",
        reason=reason or "promoted by hand",
        decision_tag="promoted",
        run_id=_known_run(project, info.tags.get(TAG_PREFIX + "run_id")),
    )


def _known_run(project: Project, run_id: str | None) -> str | None:
    if not run_id:
        return None
    try:
        get_run(project.store, run_id)
    except NotFoundError:
        return None
    return run_id


def rollback(
    project: Project, *, to: str | None = None, actor: str, reason: str | None = None
) -> ActionResult:
    reg = project.registry
    current = reg.version_by_alias(CHAMPION)
    target = to or reg.version_by_alias(PREVIOUS)
    if target is None:
        raise ConflictError("nothing to roll back to: no 'previous' alias (give --to VERSION)")
    if current == str(target):
        raise ConflictError(f"v{target} is already the champion")
    reg.get_version(str(target))
    if current is not None:
        reg.tag_version(
            current,
            {
                TAG_PREFIX + "decision": "rolled_back",
                TAG_PREFIX + "reason": reason or f"rolled back to v{target}",
            },
        )
    result = _move_champion(
        project,
        str(target),
        actor=actor,
        action="rollback",
        reason=reason or f"rolled back from v{current}",
        decision_tag="promoted",
    )
    return result


def _pending_run(project: Project, run_id: str) -> dict[str, Any]:
    run = get_run(project.store, run_id)
    if run["status"] != "pending_approval":
        raise ConflictError(
            f"run {run_id} is {run['status']}, not pending_approval", details={"status": run["status"]}
        )
    return run


def approve(project: Project, run_id: str, *, actor: str, reason: str | None = None) -> ActionResult:
    """Promote a pending candidate, but only if it still beats the *current* champion."""
    run = _pending_run(project, run_id)
    version = run["candidate_version"]
    current = project.registry.version_by_alias(CHAMPION)
    if current != run["champion_version"]:
        decision = rescore(project, run, version, current)
        if decision.outcome == "rejected":
            raise ConflictError(
                f"v{version} is no longer better than the current champion v{current} on the same holdout: "
                f"{decision.justification}",
                details=decision.to_dict(),
            )
    result = _move_champion(
        project,
        version,
        actor=actor,
        action="approve",
        reason=reason or "approved",
        decision_tag="promoted",
        run_id=run_id,
    )
    finish_run(project.store, run_id, "promoted", decision="promoted")
    return result


def reject(project: Project, run_id: str, *, actor: str, reason: str) -> ActionResult:
    run = _pending_run(project, run_id)
    version = run["candidate_version"]
    project.registry.tag_version(
        version, {TAG_PREFIX + "decision": "rejected", TAG_PREFIX + "reason": reason}
    )
    record_decision(
        project.store,
        run_id,
        actor=actor,
        outcome="rejected",
        candidate_version=version,
        champion_version=project.registry.version_by_alias(CHAMPION),
        justification=f"rejected by {actor}: {reason}",
    )
    record_action(
        project.store,
        actor=actor,
        action="reject",
        target=f"run:{run_id}",
        reason=reason,
        before={"status": "pending_approval"},
        after={"status": "rejected"},
    )
    finish_run(project.store, run_id, "rejected", decision="rejected")
    return ActionResult("reject", version, None, f"run {run_id} (v{version}) rejected")


def rescore(project: Project, run: dict[str, Any], version: str, champion: str | None) -> Decision:
    """Score a run's candidate and ``champion`` on the run's own holdout and decide again."""
    from evergreen.overrides import with_overrides
    from evergreen.pipeline import compare_on_holdout, score_on_holdout

    project = with_overrides(project)  # the promotion thresholds in force now, as a retrain would use
    s = project.settings
    details = run.get("details") or {}
    as_of = datetime.fromisoformat(details["as_of"]) if details.get("as_of") else None
    dataset = assemble_dataset(s, project.store, as_of=as_of, batch_ids=details.get("batch_ids"))
    if dataset.version != run["dataset_version"]:
        raise ConflictError(
            f"the data of run {run['id']} (dataset {run['dataset_version']}) can no longer be rebuilt"
        )
    _, holdout = split_holdout(dataset, s.training.holdout_fraction, s.training.seed, s.task)
    kinds = FeatureKinds(*feature_kinds(dataset.contract))
    cand = score_on_holdout(project.registry.load_model(version), version, holdout, project, kinds)
    champ = None
    if champion is not None:
        champ = score_on_holdout(project.registry.load_model(champion), champion, holdout, project, kinds)
    policy = Policy.from_config(s.promotion, s.promotion_metric)
    comparison = compare_on_holdout(project, cand, champ, holdout)
    return decide(cand.score, champ.score if champ else None, policy, comparison)
