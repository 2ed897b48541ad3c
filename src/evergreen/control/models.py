"""Human actions on the model registry: promote, rollback, approve, reject. Each one is audited.

Every move of the champion goes through :func:`evergreen.champion.move_champion`; each action then
lets the alerts follow (:func:`evergreen.control.alerts.after_action`), whoever called it (the CLI,
the control API, the dashboard).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from evergreen.champion import acquire_models_lease, move_champion
from evergreen.control.alerts import after_action
from evergreen.data.dataset import assemble_dataset, feature_kinds, split_holdout
from evergreen.errors import (
    BadInputError,
    ChampionUnavailableError,
    ConflictError,
    LockHeldError,
    ModelFilesMissingError,
    NotFoundError,
    UnservableVersionError,
    UntrustedModelError,
)
from evergreen.evaluation.holdout import compare_on_holdout, score_on_holdout
from evergreen.evaluation.policy import Decision, Policy, decide, recorded_basis
from evergreen.overrides import effective_settings
from evergreen.pipeline.change import evaluation_holdout
from evergreen.project import Project
from evergreen.registry import CHAMPION, PREVIOUS, TAG_PREFIX
from evergreen.store.audit import record_action
from evergreen.store.runs import finish_run, get_run, record_decision

Action = Literal["promote", "rollback", "approve", "reject"]


@dataclass(frozen=True)
class ActionResult:
    action: Action
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


@contextmanager
def _one_at_a_time(project: Project) -> Iterator[None]:
    """Hold the project's lock for human actions on its models while one checks the state and acts.

    Each action checks the state (champion, run status) and then changes it: two at once (a double
    click, an approve racing a reject, two operators rolling back) would both pass the check and
    both act. The second gets 409 instead, and the first acts alone; a database lease, so a CLI and
    a server (or two replicas) exclude each other too, and a retrain's promote stage waits for it.
    """
    try:
        lock = acquire_models_lease(project)
    except LockHeldError as exc:
        raise LockHeldError(
            "another action on the models (promote, rollback, approve, reject, a retrain "
            "promoting its candidate, or retention deleting a version) is in progress: "
            "look at the state again when it is done",
            details=exc.details,
        ) from None
    try:
        yield
    finally:
        lock.release()


def _moved(
    project: Project,
    version: str,
    *,
    actor: str,
    action: Action,
    reason: str,
    run_id: str | None = None,
    decision_values: Mapping[str, Any] | None = None,
) -> ActionResult:
    move = move_champion(
        project,
        version,
        actor=actor,
        action=action,
        reason=reason,
        run_id=run_id,
        decision_values=decision_values,
    )
    return ActionResult(action, move.version, move.previous, move.message)


def promote(project: Project, version: str, *, actor: str, reason: str | None = None) -> ActionResult:
    """Make ``version`` the champion by hand."""
    with _one_at_a_time(project):
        info = project.registry.get_version(version)  # NotFoundError for an unknown version
        if project.registry.version_by_alias(CHAMPION) == info.version:
            raise ConflictError(f"v{info.version} is already the champion")
        _check_servable(project, info.version)
        result = _moved(
            project,
            info.version,
            actor=actor,
            action="promote",
            reason=reason or "promoted by hand",
            run_id=_known_run(project, info.tags.get(TAG_PREFIX + "run_id")),
        )
    after_action(project)
    return result


def _check_servable(project: Project, version: str) -> Any:
    """Refuse a move onto a version no server could load: the alias is what every replica follows.

    The registry can be changed behind evergreen's back: a version whose run was soft-deleted and
    collected by ``mlflow gc`` keeps its number (and its ``previous`` alias) with no files, and one
    registered by another tool has no evergreen tags. Moving the champion there left each replica on
    its old model, every swap failing, while the registry named a champion nothing served. The model
    file is fetched and checked as serving's load does (present, sha256, trusted types) before
    anything is tagged or moved; serving's further checks (signature, warm-up) are not repeated.

    Only a version whose files are gone or that fails a trust check is refused as unservable (422);
    a store that could not be reached from here (down, no credentials) is the 503 it was, and the
    action can be tried again: the version is not to blame. Returns the model, for a caller that
    scores it next (approve's rescore), so it is not fetched twice.
    """
    try:
        return project.registry.load_model(version)
    except (UntrustedModelError, ModelFilesMissingError) as exc:
        raise _unservable(version, exc) from exc


def _unservable(version: str, exc: ChampionUnavailableError) -> UnservableVersionError:
    return UnservableVersionError(
        f"v{version} cannot be served, so the champion was not moved: {exc.message}",
        details={"version": version},
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
    project: Project,
    *,
    to: str | None = None,
    actor: str,
    reason: str | None = None,
    decision_values: Mapping[str, Any] | None = None,
    expected: str | None = None,
) -> ActionResult:
    """Point the champion back at ``previous`` (or at ``to``); the replaced one is tagged rolled_back.

    ``decision_values``: the numbers behind an automatic rollback, kept on its decision row.
    ``expected``: the champion the caller judged (the auto-rollback's watch); ConflictError if the
    champion is another one by now (a person promoted meanwhile: their choice stands).
    """
    with _one_at_a_time(project):
        reg = project.registry
        current = reg.version_by_alias(CHAMPION)
        if expected is not None and current != expected:
            raise ConflictError(
                f"the champion moved meanwhile (v{current}, judged v{expected}): not rolled back",
                details={"champion": current, "expected": expected},
            )
        if to is not None and not to.strip():  # `--to "$V"` with V unset: not "the previous one"
            raise BadInputError("rollback to: an empty version (leave it out to roll back to 'previous')")
        wanted = reg.version_by_alias(PREVIOUS) if to is None else to
        if wanted is None:
            # Said to the CLI, the API and the dashboard alike: no option name of one of them.
            raise ConflictError(
                "nothing to roll back to: no 'previous' alias; name the version to roll back to"
            )
        # MLflow's own spelling of the version (NotFoundError if none): it reads "01" and " 1" as v1, so
        # comparing the text as typed would "roll back" the champion onto itself.
        info = reg.get_version(str(wanted))
        target = info.version
        if current == target:
            raise ConflictError(f"v{target} is already the champion")
        if to is None and info.tags.get(TAG_PREFIX + "decision") == "rolled_back":
            # 'previous' is the version the last rollback replaced: a second rollback (a retried or
            # double-submitted one) put the bad model back. Naming it is still allowed.
            raise ConflictError(
                f"'previous' is v{target}, which was rolled back from: name the version to roll back to",
                details={"previous": target, "champion": current},
            )
        _check_servable(project, target)
        if current is not None:
            reg.tag_version(
                current,
                {
                    TAG_PREFIX + "decision": "rolled_back",
                    TAG_PREFIX + "reason": reason or f"rolled back to v{target}",
                },
            )
        result = _moved(
            project,
            target,
            actor=actor,
            action="rollback",
            reason=reason or f"rolled back from v{current}",
            decision_values=decision_values,
        )
    after_action(project)
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
    with _one_at_a_time(project):
        run = _pending_run(project, run_id)
        version = run["candidate_version"]
        current = project.registry.version_by_alias(CHAMPION)
        if current == version:  # promoted by hand meanwhile: settle the run, move nothing
            result = _settled(project, run_id, version, actor=actor, reason=reason or "approved")
        else:
            model = _check_servable(project, version)  # before the rescore, which scores this model
            if current != run["champion_version"]:
                decision = rescore(project, run, version, current, candidate=model)
                if decision.outcome == "rejected":
                    raise ConflictError(
                        f"v{version} is no longer better than the current champion v{current} on the "
                        f"same holdout: {decision.justification}",
                        details=decision.to_dict(),
                    )
            result = _moved(
                project, version, actor=actor, action="approve", reason=reason or "approved", run_id=run_id
            )
            finish_run(project.store, run_id, "promoted", decision="promoted")
    after_action(project)
    return result


def _close_pending(
    project: Project,
    run_id: str,
    version: str,
    champion: str | None,
    *,
    actor: str,
    action: Literal["approve", "reject"],
    status: Literal["promoted", "rejected"],
    reason: str,
    justification: str,
) -> None:
    """Settle a pending run without moving an alias: its decision row, the audit row, its status."""
    record_decision(
        project.store,
        run_id,
        actor=actor,
        outcome="approve" if action == "approve" else "rejected",
        candidate_version=version,
        champion_version=champion,
        justification=justification,
    )
    record_action(
        project.store,
        actor=actor,
        action=action,
        target=f"run:{run_id}",
        reason=reason,
        before={"status": "pending_approval"},
        after={"status": status},
    )
    finish_run(project.store, run_id, status, decision=status)


def _settled(project: Project, run_id: str, version: str, *, actor: str, reason: str) -> ActionResult:
    """Approve a run whose candidate is already the champion (promoted by hand since): the run is
    promoted, recorded and audited, and the aliases stay as they are (no second move)."""
    _close_pending(
        project,
        run_id,
        version,
        version,
        actor=actor,
        action="approve",
        status="promoted",
        reason=reason,
        justification=f"approve by {actor}: {reason} (v{version} was already the champion)",
    )
    previous = project.registry.version_by_alias(PREVIOUS)
    return ActionResult(
        "approve", version, previous, f"run {run_id} approved: v{version} was already the champion"
    )


def reject(project: Project, run_id: str, *, actor: str, reason: str) -> ActionResult:
    """Reject a pending candidate: it stays registered, tagged rejected; the champion does not move."""
    with _one_at_a_time(project):
        run = _pending_run(project, run_id)
        version = run["candidate_version"]
        champion = project.registry.version_by_alias(CHAMPION)
        if champion == version:  # promoted by hand meanwhile
            raise ConflictError(
                f"v{version} of run {run_id} is the champion now (promoted by hand): roll back first",
                details={"version": version},
            )
        gone = ""
        try:
            project.registry.tag_version(
                version, {TAG_PREFIX + "decision": "rejected", TAG_PREFIX + "reason": reason}
            )
        except NotFoundError:
            # Deleted by hand since: nothing to tag, and nothing can approve it any more; the run
            # is still settled (else it waited for an approval that could never come).
            gone = f" (v{version} no longer exists)"
        _close_pending(
            project,
            run_id,
            version,
            champion,
            actor=actor,
            action="reject",
            status="rejected",
            reason=reason,
            justification=f"rejected by {actor}: {reason}",
        )
    after_action(project)
    return ActionResult("reject", version, None, f"run {run_id} (v{version}) rejected{gone}")


def rescore(
    project: Project, run: dict[str, Any], version: str, champion: str | None, *, candidate: Any = None
) -> Decision:
    """Score a run's candidate and ``champion`` on the run's own holdout and decide again: on the
    same rows the run was judged on (the newest data's, after a change of concept)."""
    s = effective_settings(project)  # the promotion thresholds in force now, as a retrain would use
    details = run.get("details") or {}
    as_of = datetime.fromisoformat(details["as_of"]) if details.get("as_of") else None
    dataset = assemble_dataset(s, project.store, as_of=as_of, batch_ids=details.get("batch_ids"))
    if dataset.version != run["dataset_version"]:
        raise ConflictError(
            f"the data of run {run['id']} (dataset {run['dataset_version']}) can no longer be rebuilt"
        )
    _, holdout = split_holdout(dataset, s.training.holdout_fraction, s.training.seed, s.task)
    first = (run.get("decisions") or [{}])[0]
    basis = recorded_basis(first.get("checks"))
    holdout = evaluation_holdout(dataset, holdout, basis, s)
    numeric, categorical, text = feature_kinds(dataset.contract)
    columns = [*numeric, *categorical, *text]
    reg = project.registry
    model = candidate if candidate is not None else reg.load_model(version)  # loaded by the caller
    cand = score_on_holdout(model, version, holdout, s, columns)
    champ = None
    if champion is not None:
        champ = score_on_holdout(reg.load_model(champion), champion, holdout, s, columns)
    policy = Policy.from_config(s.promotion, s.promotion_metric)
    comparison = compare_on_holdout(s, cand, champ, holdout)
    return decide(cand.score, champ.score if champ else None, policy, comparison, basis=basis)
