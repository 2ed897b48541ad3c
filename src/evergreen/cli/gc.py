"""``evergreen gc``: retention (DESIGN.md §3 ``retention``): delete what no rule keeps, audited."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from evergreen.cli.common import ActorOpt, ConfigOpt, JsonOpt, echo, open_project, print_json, print_table

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan; delete nothing.")]


def gc(
    dry_run: DryRunOpt = False, config: ConfigOpt = None, as_json: JsonOpt = False, actor: ActorOpt = None
) -> None:
    """Delete old model versions (never an aliased or pending one), old prediction and feedback rows,
    and old processed and quarantined files, as `retention` in evergreen.yaml says."""
    from evergreen.retention.apply import run_gc
    from evergreen.retention.plan import policy_from
    from evergreen.store.audit import cli_actor
    from evergreen.store.engine import utcnow

    with open_project(config) as project:
        result = run_gc(
            project,
            policy_from(project.settings.retention),
            utcnow(),
            dry_run=dry_run,
            actor=cli_actor(actor),
        )
    plan = result.plan
    data: dict[str, Any] = {
        "dry_run": result.dry_run,
        "versions": [
            {"version": v.version, "delete": v.delete, "kept_because": list(v.kept_because)}
            for v in plan.versions
        ],
        "rows_before": plan.rows_before.isoformat(),
        "files": list(plan.files),
        "deleted_versions": list(result.deleted_versions),
        "skipped_versions": [{"version": v, "why": why} for v, why in result.skipped_versions],
        "deleted_predictions": result.deleted_predictions,
        "deleted_feedback": result.deleted_feedback,
        "deleted_files": list(result.deleted_files),
    }
    if as_json:
        print_json(data)
        return
    print_table(
        "retention plan" + (" (dry run: nothing deleted)" if dry_run else ""),
        ["version", "action", "kept because"],
        [[v.version, "delete" if v.delete else "keep", "; ".join(v.kept_because)] for v in plan.versions],
    )
    echo(
        f"prediction and feedback rows before {plan.rows_before:%Y-%m-%d %H:%M} UTC: "
        + (
            "would be deleted"
            if dry_run
            else f"{result.deleted_predictions} + {result.deleted_feedback} deleted"
        )
    )
    echo(
        f"files: {len(plan.files)} "
        + ("would be deleted" if dry_run else f"deleted ({len(result.deleted_files)})")
    )
    for v, why in result.skipped_versions:
        echo(f"v{v} skipped: {why} (changed during the pass)")


def register(app: typer.Typer) -> None:
    app.command()(gc)
