"""The promotion decision: a pure function of two scores, a policy and a bootstrap comparison.

No I/O here, so every rule is tested with exact numbers. Gates, in order:

1. value gates (``min_metrics``): every model, the first one too. A lower-is-better metric
   (``LOWER_IS_BETTER``) reads its configured value as a maximum.
2. change gate (``min_improvement``): improvement = candidate - champion, oriented so that positive
   is better. With ``min_improvement == 0`` a tie is *not* an improvement: the candidate must be
   strictly better, otherwise a retrain on unchanged data would churn versions for nothing.
3. significance: the oriented bootstrap CI of the delta must lie above 0 - waived when the rows that
   decide are the newest data's because the champion fell there beyond its band (``basis``): after
   a detected change of concept the champion has no benefit of the doubt left.
4. slices: no slice (present for both models) may be worse by more than ``max_slice_regression``.

All gates pass → ``promoted`` (or ``pending_approval`` when approval is required); else ``rejected``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from evergreen.config import LOWER_IS_BETTER, PromotionConfig
from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.recent import EvaluationBasis

Outcome = Literal["promoted", "rejected", "pending_approval"]

# Metric arithmetic is float arithmetic: 0.82 - 0.80 is 0.01999999999999990, which must still meet
# a 0.02 requirement. Differences below this are treated as exact ties.
EPS = 1e-12
BASIS_CHECK = "evaluation_rows"  # not a gate: the record of which holdout rows decided


def recorded_basis(checks: Any) -> EvaluationBasis | None:
    """The rows a recorded decision was judged on (its ``evaluation_rows`` check), if it says.

    ``checks`` is the decision row's JSON as stored: a record that is not readable (not a list of
    checks, or an ``evaluation_rows`` entry that does not describe a basis) says nothing, like a
    decision recorded before the basis was: the whole window's holdout."""
    if not isinstance(checks, list):
        return None
    for check in checks:
        if not isinstance(check, dict) or check.get("name") != BASIS_CHECK:
            continue
        numbers = check.get("numbers")
        if not isinstance(numbers, dict) or not numbers:
            return None
        try:
            return EvaluationBasis.from_dict(numbers)
        except (TypeError, ValueError):
            return None
    return None


@dataclass(frozen=True)
class ModelScore:
    version: str | None
    metrics: dict[str, float]
    slices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    metric: str
    min_metrics: Mapping[str, float] = field(default_factory=dict)
    min_improvement: float = 0.0
    significance: float | None = None
    max_slice_regression: float | None = None
    require_approval: bool = False
    lower_is_better: bool = False
    unscorable_champion: Literal["value_gates", "reject"] = "value_gates"

    @classmethod
    def from_config(cls, config: PromotionConfig, metric: str) -> Policy:
        return cls(
            metric=metric,
            min_metrics=dict(config.min_metrics),
            min_improvement=config.min_improvement,
            significance=config.significance,
            max_slice_regression=config.max_slice_regression,
            require_approval=config.require_approval,
            lower_is_better=metric in LOWER_IS_BETTER,
            unscorable_champion=config.unscorable_champion,
        )


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    numbers: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """``delta``, ``ci_low`` and ``ci_high`` are raw (candidate - champion), as in BootstrapResult."""

    outcome: Outcome
    checks: tuple[Check, ...]
    metric: str
    candidate_value: float | None
    champion_value: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    justification: str

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return str(value)
    return as_float if math.isfinite(as_float) else None


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _usable(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def decide(
    candidate: ModelScore,
    champion: ModelScore | None,
    policy: Policy,
    comparison: BootstrapResult | None = None,
    champion_error: str | None = None,
    basis: EvaluationBasis | None = None,
    champion_missing: str | None = None,
) -> Decision:
    """Apply the gates in order; every gate that applies is recorded as a :class:`Check`.

    ``basis``: which holdout rows the scores come from (window or newest data) and why; recorded as
    the ``evaluation_rows`` entry of the checks (always passed: it is not a gate) and told in the
    justification.
    ``champion_missing``: why there is no champion when there had been one (its alias deleted by
    hand): told instead of "first model". The policy is the same.
    """
    checks = list(_value_gates(candidate, policy))
    cand_value = candidate.metrics.get(policy.metric)
    champ_value = champion.metrics.get(policy.metric) if champion is not None else None
    delta = ci_low = ci_high = None
    if champion is None:
        passed = True
        if champion_error and policy.unscorable_champion == "reject":
            passed = False
            detail = (
                f"champion could not be scored ({champion_error}); "
                "promotion.unscorable_champion is reject: the champion stays"
            )
        elif champion_error:
            detail = f"champion could not be scored ({champion_error}); judged on value gates alone"
        elif champion_missing:
            detail = f"no champion: {champion_missing}; judged on value gates alone"
        else:
            detail = "no champion yet: first model, judged on value gates alone"
        checks.append(Check("champion", passed, detail, {"champion_error": champion_error}))
    else:
        if _usable(cand_value) and _usable(champ_value):
            assert cand_value is not None and champ_value is not None
            delta = cand_value - champ_value
        checks.append(_improvement_gate(cand_value, champ_value, policy))
        if policy.significance is not None:
            gate = _significance_gate(comparison, policy)
            if not gate.passed and basis is not None and basis.reason == "performance_change":
                # The champion's own drop on the newest data is significant already (beyond its band):
                # it has no benefit of the doubt left, the better point estimate on those rows wins.
                gate = Check(
                    gate.name,
                    True,
                    f"{gate.detail}; waived: the champion fell beyond its band on the newest data",
                    {**gate.numbers, "waived": True},
                )
            checks.append(gate)
        if comparison is not None:
            ci_low, ci_high = comparison.ci_low, comparison.ci_high
        if policy.max_slice_regression is not None:
            checks.append(_slice_gate(candidate, champion, policy, policy.max_slice_regression))
    failed = [c for c in checks if not c.passed]
    outcome: Outcome = "pending_approval" if policy.require_approval else "promoted"
    if failed:
        outcome = "rejected"
    text = _justification(
        outcome, checks, policy, comparison, champion, cand_value, champ_value, delta, ci_low, ci_high
    )
    if basis is not None:
        text = f"{text} {basis.describe()}"
        checks.append(Check(BASIS_CHECK, True, basis.describe(), basis.to_dict()))
    return Decision(
        outcome=outcome,
        checks=tuple(checks),
        metric=policy.metric,
        candidate_value=cand_value,
        champion_value=champ_value,
        delta=delta,
        ci_low=ci_low,
        ci_high=ci_high,
        justification=text,
    )


def _value_gates(candidate: ModelScore, policy: Policy) -> list[Check]:
    checks = []
    for name, bound in policy.min_metrics.items():
        value = candidate.metrics.get(name)
        is_max = name in LOWER_IS_BETTER
        numbers = {"value": value, "bound": bound, "kind": "max" if is_max else "min"}
        if not _usable(value):
            checks.append(Check(f"min_metric:{name}", False, f"candidate has no value for {name}", numbers))
            continue
        assert value is not None
        ok = value <= bound + EPS if is_max else value >= bound - EPS
        relation = ("≤" if ok else ">") if is_max else ("≥" if ok else "<")
        word = "maximum" if is_max else "minimum"
        detail = f"{name} {_fmt(value)} {relation} {word} {_fmt(bound)}"
        checks.append(Check(f"min_metric:{name}", ok, detail, numbers))
    return checks


def _improvement_gate(cand: float | None, champ: float | None, policy: Policy) -> Check:
    numbers: dict[str, Any] = {
        "candidate": cand,
        "champion": champ,
        "min_improvement": policy.min_improvement,
    }
    if not _usable(cand):
        return Check("improvement", False, f"candidate has no value for {policy.metric}", numbers)
    if not _usable(champ):
        return Check("improvement", False, f"champion has no value for {policy.metric}", numbers)
    assert cand is not None and champ is not None
    sign = -1.0 if policy.lower_is_better else 1.0
    improvement = sign * (cand - champ)
    numbers["improvement"] = improvement
    if policy.min_improvement == 0:
        ok = improvement > EPS
        need = "strictly better than the champion (a tie is not an improvement)"
    else:
        ok = improvement >= policy.min_improvement - EPS
        need = f"at least {_fmt(policy.min_improvement)}"
    verdict = "meets" if ok else "does not meet"
    detail = f"improvement in {policy.metric} {_fmt(improvement, True)} {verdict} the requirement: {need}"
    return Check("improvement", ok, detail, numbers)


def _significance_gate(comparison: BootstrapResult | None, policy: Policy) -> Check:
    numbers: dict[str, Any] = {"significance": policy.significance}
    if comparison is None:
        detail = "significance is required but no bootstrap comparison was given"
        return Check("significance", False, detail, numbers)
    low, high = comparison.ci_low, comparison.ci_high
    if policy.lower_is_better:
        low, high = -high, -low
    numbers.update(
        ci_low=comparison.ci_low,
        ci_high=comparison.ci_high,
        oriented_ci_low=low,
        oriented_ci_high=high,
        alpha=comparison.alpha,
        samples=comparison.samples,
        seed=comparison.seed,
    )
    level = f"{100 * (1 - comparison.alpha):g}%"
    if not (_usable(low) and _usable(high)):
        return Check("significance", False, f"the {level} CI of the delta is undefined", numbers)
    ok = low > 0
    where = "excludes 0" if ok else "does not exclude 0"
    detail = f"{level} CI of the improvement [{_fmt(low, True)}, {_fmt(high, True)}] {where}"
    return Check("significance", ok, detail, numbers)


def _slice_gate(candidate: ModelScore, champion: ModelScore, policy: Policy, limit: float) -> Check:
    sign = -1.0 if policy.lower_is_better else 1.0
    worst: tuple[float, str, str] | None = None
    compared: list[dict[str, Any]] = []  # each slice both models were scored on, for people to read
    for column, values in candidate.slices.items():
        for key, cand in values.items():
            champ = champion.slices.get(column, {}).get(key)
            if champ is None or not (_usable(cand.get("value")) and _usable(champ.get("value"))):
                continue
            regression = sign * (float(champ["value"]) - float(cand["value"]))
            compared.append(
                {
                    "column": column,
                    "value": key,
                    "rows": cand.get("rows"),
                    "candidate": float(cand["value"]),
                    "champion": float(champ["value"]),
                    "regression": regression,
                }
            )
            if worst is None or regression > worst[0]:
                worst = (regression, column, key)
    numbers: dict[str, Any] = {
        "max_slice_regression": limit,
        "slices_compared": len(compared),
        "per_slice": compared,
    }
    if worst is None:
        return Check("slices", True, "no slice present for both models", numbers)
    regression, column, key = worst
    numbers.update(worst_regression=regression, worst_column=column, worst_value=key)
    ok = regression <= limit + EPS
    verdict = "within" if ok else "exceeds"
    detail = (
        f"worst slice {column}={key}: {policy.metric} worse by {_fmt(regression, True)}, "
        f"{verdict} the allowed {_fmt(limit)}"
    )
    return Check("slices", ok, detail, numbers)


def _justification(
    outcome: Outcome,
    checks: list[Check],
    policy: Policy,
    comparison: BootstrapResult | None,
    champion: ModelScore | None,
    candidate_value: float | None,
    champion_value: float | None,
    delta: float | None,
    ci_low: float | None,
    ci_high: float | None,
) -> str:
    words = {"promoted": "Promoted", "rejected": "Rejected", "pending_approval": "Waiting for approval"}
    parts = [f"{words[outcome]}: candidate {policy.metric} {_fmt(candidate_value)}"]
    if champion is None:
        parts.append(f"; {checks[-1].detail}")
    else:
        version = f" (version {champion.version})" if champion.version else ""
        parts.append(f" vs champion{version} {_fmt(champion_value)}, delta {_fmt(delta, True)}")
        if comparison is not None:
            level = f"{100 * (1 - comparison.alpha):g}%"
            parts.append(f", {level} CI [{_fmt(ci_low, True)}, {_fmt(ci_high, True)}]")
        if policy.lower_is_better:
            parts.append(" (lower is better)")
    failed = [c for c in checks if not c.passed]
    if failed:
        parts.append(f". First failed gate: {failed[0].name} — {failed[0].detail}.")
    else:
        parts.append(f". All {len(checks)} gates passed.")
    if outcome == "pending_approval":
        parts.append(" A person must approve the promotion.")
    return "".join(parts)
