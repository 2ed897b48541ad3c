"""A seeded customer-churn stream with a real change in behaviour half-way.

Before the change, churn is driven by short tenure, support calls and complaints in tickets.
After it (a competitor's cheap plan), price becomes the main driver and ``basic`` customers in
one region leave: a champion trained on the old regime goes stale.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

PLANS = np.array(["basic", "standard", "premium"])
REGIONS = np.array(["north", "south", "east", "west"])
GOOD_TICKETS = [
    "thanks for the quick help with my invoice",
    "question about roaming options abroad",
    "how do I add a second line to my account",
    "upgrade request for faster data",
    "please update my billing address",
]
BAD_TICKETS = [
    "very unhappy with dropped calls cancel my contract",
    "charged twice again this is unacceptable",
    "slow internet for weeks nobody fixes it",
    "I want to cancel, the price went up again",
    "terrible service, considering switching provider",
]
START = datetime(2026, 1, 5, tzinfo=UTC)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def recent_start(weeks: int = 2, now: datetime | None = None) -> datetime:
    """The Monday ``weeks`` weeks before ``now``: example data that falls inside a default window."""
    now = now or datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - timedelta(weeks=weeks)


def make_batch(
    index: int, rows: int, *, drifted: bool, seed: int = 7, start: datetime = START
) -> pd.DataFrame:
    """Batch ``index`` covers week ``index`` after ``start``; ``drifted`` switches the regime."""
    rng = np.random.default_rng(seed * 1000 + index)
    tenure = rng.gamma(2.0, 12.0, rows).round(1)
    plan = rng.choice(PLANS, rows, p=[0.45, 0.35, 0.20])
    region = rng.choice(REGIONS, rows)
    base_fee = np.select([plan == "basic", plan == "standard"], [20.0, 45.0], 80.0)
    fee = (base_fee + rng.normal(0, 6, rows)).round(2)
    calls = rng.poisson(1.5, rows)
    if drifted:
        fee = (fee * 1.15).round(2)
    unhappy = rng.random(rows) < _sigmoid(-1.5 + 0.5 * calls)
    ticket = np.where(unhappy, rng.choice(BAD_TICKETS, rows), rng.choice(GOOD_TICKETS, rows))
    if not drifted:
        logit = 0.4 - 0.06 * tenure + 0.45 * calls + 1.6 * unhappy - 0.01 * fee
    else:
        logit = (
            -1.2
            + 0.045 * (fee - 45)
            + 2.6 * ((plan == "basic") & np.isin(region, ["south", "east"]))
            - 0.02 * tenure
            + 0.2 * calls
        )
    churned = np.where(rng.random(rows) < _sigmoid(logit), "yes", "no")
    week = start + timedelta(weeks=index)
    seconds = np.sort(rng.integers(0, 7 * 24 * 3600, rows))
    ids = [f"C{index:03d}{i:05d}" for i in range(rows)]
    phone = [f"+44 20 7946 {rng.integers(1000, 9999)}" for _ in range(rows)]
    ticket = np.array(
        [
            f"{t} call me on {p}" if i % 7 == 0 else t
            for i, (t, p) in enumerate(zip(ticket, phone, strict=True))
        ]
    )
    return pd.DataFrame(
        {
            "customer_id": ids,
            "event_time": [week + timedelta(seconds=int(s)) for s in seconds],
            "email": [f"{cid.lower()}@example.com" for cid in ids],
            "tenure": tenure,
            "monthly_fee": fee,
            "support_calls": calls,
            "plan": plan,
            "region": region,
            "last_ticket": ticket,
            "churned": churned,
        }
    )


def batch_end(index: int, start: datetime = START) -> datetime:
    return start + timedelta(weeks=index + 1)


def make_stream(
    batches: int = 10, rows: int = 1500, drift_at: int = 5, seed: int = 7, start: datetime = START
) -> list[pd.DataFrame]:
    return [make_batch(i, rows, drifted=i >= drift_at, seed=seed, start=start) for i in range(batches)]


def bad_batch(index: int, rows: int = 200, seed: int = 7, start: datetime = START) -> pd.DataFrame:
    """A broken export: ``tenure`` arrives as text, as when an upstream job changes its format."""
    df = make_batch(index, rows, drifted=False, seed=seed, start=start)
    df["tenure"] = df["tenure"].map(lambda v: f"{v} months")
    return df


# What the example project and the demo share: the data, how candidates are trained and compared.
_DATA_TO_PROMOTION = """\
data:
  landing: ./landing             # files dropped here (*.csv, *.parquet, *.jsonl) are ingested
  target: churned
  id_column: customer_id         # dedupe (latest wins) and feedback joins
  timestamp_column: event_time   # windows and --as-of
  pii:
    drop: [email]                # never stored
    hash: [customer_id]          # salted SHA-256; salt from $EVERGREEN_PII_SALT
    scrub_text: [last_ticket]    # e-mail addresses and phone numbers replaced by tokens
  window: {{max_age_days: {window_days}}}
training:
  candidates: [logistic_regression, hist_gradient_boosting, random_forest]
  selection_metric: f1_macro
  holdout_fraction: 0.25
  seed: 42
  timeout_minutes: 10
promotion:
  metric: f1_macro
  min_metrics: {{accuracy: 0.6, f1_macro: 0.55}}
  min_improvement: 0.01          # the candidate must beat the champion by this much...
  significance: 0.05             # ...and the paired bootstrap CI of the delta must exclude 0
"""

CONFIG = (
    """\
# evergreen project: {project}. Every key is documented in the README (Configuration reference).
project: {project}
task: binary                     # binary | multiclass | regression
"""
    + _DATA_TO_PROMOTION
    + """\
  require_approval: false
triggers:
  schedule: "0 2 * * 1"
  new_data: {{min_rows: 1000}}
  cooldown_minutes: 60
serving: {{host: 127.0.0.1, port: 8000, reload_interval_seconds: 2}}
"""
)

# `evergreen demo` replays ten weeks in about two minutes of wall time: the loop it drives must react
# within seconds, and retrain because the behaviour changed rather than because a week of data came.
DEMO_CONFIG = (
    """\
# evergreen demo project: a replay of ten weeks in minutes, so the loop reacts within seconds.
project: {project}
task: binary
"""
    + _DATA_TO_PROMOTION
    + """\
triggers:
  schedule: null                 # the replay drives the loop week by week
  new_data: {{min_rows: 100000}}   # a week of data alone does not retrain: a change in behaviour does
  drift: {{share: 0.15}}           # one drifted column of six is a change worth a retrain here
  performance: {{metric: f1_macro}}
  cooldown_minutes: 0            # replayed weeks last seconds
monitoring:
  schedule: null
  min_rows: 500
  performance_drop: 0.1          # the change drops f1 by ~0.19; week-to-week noise stays below 0.1
alerts:
  repeat_interval_minutes: 1
serving:
  host: 127.0.0.1
  port: 8000
  reload_interval_seconds: 0.5
  feedback_batch_interval_seconds: 1
  feedback_batch_min_rows: 1     # the week's last few labels too, not only full batches
"""
)


def write_config(path: str, project: str = "churn", window_days: int = 28, *, demo: bool = False) -> str:
    """The example's ``evergreen.yaml``; ``demo`` gives the replay's fast-reacting variant."""
    text = (DEMO_CONFIG if demo else CONFIG).format(project=project, window_days=window_days)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text
