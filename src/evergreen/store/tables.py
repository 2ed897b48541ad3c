"""Metadata tables (DESIGN.md §6). Schema changes go through an Alembic migration as well."""

from __future__ import annotations

import hashlib

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("rows", BigInteger, nullable=False, default=0),
    Column("labelled_rows", BigInteger, nullable=False, default=0),
    Column("status", String(20), nullable=False),  # accepted | quarantined | duplicate
    Column("reason", Text),  # machine-readable code for quarantined/duplicate
    Column("details", JSON),
    Column("path", Text),  # snapshot Parquet (accepted) or quarantined file
    Column("min_timestamp", DateTime(timezone=True)),
    Column("max_timestamp", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_batches_project_hash", "project", "content_hash"),
)

contracts = Table(
    "contracts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False, index=True),
    Column("contract", JSON, nullable=False),
    Column("source_batch_id", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(100), nullable=False, index=True),
    Column("trigger", String(50), nullable=False),
    Column("reason", Text),
    Column("actor", String(100)),
    Column("status", String(30), nullable=False),
    # running | promoted | rejected | pending_approval | skipped | failed | abandoned | approved | ...
    Column("step", String(30)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("timings", JSON),
    Column("dataset_version", String(64)),
    Column("data_size", BigInteger),
    Column("candidate_version", String(20)),
    Column("champion_version", String(20)),
    Column("decision", String(30)),
    Column("mlflow_run_id", String(64)),
    Column("error", Text),
    Column("details", JSON),  # batch ids, as_of, candidates summary: what approve needs to re-score
    Column("pid", Integer),
    Column("host", String(255)),
    # 0009: the dashboard's pages and `evergreen status` list runs newest first, by status.
    Index("ix_pipeline_runs_project_started", "project", "started_at"),
    Index("ix_pipeline_runs_project_status_started", "project", "status", "started_at"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("pipeline_runs.id"), index=True),
    Column("project", String(100), nullable=False),
    Column("outcome", String(30), nullable=False),
    Column("metric", String(50)),
    Column("candidate_version", String(20)),
    Column("champion_version", String(20)),
    Column("candidate_metrics", JSON),
    Column("champion_metrics", JSON),
    Column("deltas", JSON),
    Column("ci_low", Float),
    Column("ci_high", Float),
    Column("checks", JSON),
    Column("justification", Text, nullable=False),
    Column("actor", String(100), nullable=False, default="system"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_decisions_project_candidate", "project", "candidate_version"),  # 0009
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("model_version", String(20), nullable=False),
    Column("role", String(20), nullable=False, default="champion"),  # champion | shadow
    Column("record", JSON, nullable=False),
    Column("prediction", JSON),
    Column("probabilities", JSON),
    Column("latency_ms", Float),
    # Shadow rows: the champion prediction (same request record) this one was scored beside.
    Column("shadow_of", String(36), index=True),
    Index("ix_predictions_project_version", "project", "model_version"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("prediction_id", String(36), index=True),
    Column("record", JSON),
    Column("label", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("batch_id", Integer),  # set once assembled into a training batch
    Column("labelled_by", String(100)),  # the token name that gave the label; NULL on an open endpoint
    # One label per prediction (serving.feedback_relabel); labelled records have no id (NULLs differ).
    Index("ux_feedback_project_prediction", "project", "prediction_id", unique=True),
)

drift_reports = Table(
    "drift_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("report_date", DateTime(timezone=True), nullable=False, index=True),
    Column("window", String(50)),
    Column("window_start", DateTime(timezone=True)),  # null for a batch window
    Column("window_end", DateTime(timezone=True)),
    Column("current_rows", BigInteger),
    Column("model_version", String(20)),
    Column("data_drift_score", Float),
    Column("prediction_drift_score", Float),
    Column("performance_drift_score", Float),
    Column("drift_detected", Boolean),  # NULL: too few rows for a verdict (migration 0006)
    Column("details", JSON),
    Column("html_path", Text),
    Index("ix_drift_reports_project_window_date", "project", "window", "report_date"),
    Index("ix_drift_reports_project_date", "project", "report_date", "id"),  # 0009
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("fingerprint", String(128), nullable=False, index=True),
    Column("kind", String(50), nullable=False),
    Column("level", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # open | acknowledged | resolved
    Column("title", Text, nullable=False),
    Column("details", JSON),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_sent_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    # 0005: who acted on it, which occurrence was last seen (a new one is sent again), highest level sent.
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(100)),
    Column("resolved_by", String(100)),
    Column("occurrence", String(200)),
    Column("sent_level", String(20)),
    Column("seen_count", Integer, nullable=False, default=1, server_default="1"),
    Index("ix_alerts_project_status", "project", "status"),
    # 0010: one live alert per cause, even when two processes open it at the same instant. The index
    # is partial (WHERE status <> 'resolved'), as migration 0010 creates it. The WHERE is not declared
    # here: postgresql_where= makes SQLAlchemy import its whole PostgreSQL dialect (~50 ms) in every CLI
    # command, also on SQLite, and nothing creates tables from this metadata (the migrations do).
    # tests/integration/store/test_store.py checks the live index is partial on both databases.
    Index("ux_alerts_live_fingerprint", "project", "fingerprint", unique=True),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("channel", String(200), nullable=False),  # the channel's name, never its URL
    Column("channel_type", String(20), nullable=False),
    Column("event", String(20), nullable=False),  # opened | escalated | repeated | occurred | resolved
    Column("level", String(20), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # sent | failed | gave_up
    Column("error", Text),  # secrets redacted
    Column("at", DateTime(timezone=True), nullable=False),
)

alert_actions = Table(
    "alert_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("target", String(200)),
    Column("reason", Text),
    Column("before", JSON),
    Column("after", JSON),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Index("ix_alert_actions_project_target", "project", "target"),  # 0009
)

settings_overrides = Table(
    "settings_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("key", String(200), nullable=False),
    Column("value", JSON),
    Column("actor", String(100)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("run_id", String(32)),
    Column("pid", Integer),
    Column("host", String(255)),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

retrain_requests = Table(
    "retrain_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(100), nullable=False),
    Column("reason", Text),
    Column("actor", String(100)),
    Column("force", Boolean, nullable=False, default=False),
    Column("status", String(20), nullable=False),  # queued | running | done | failed
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("run_id", String(32)),
    Column("result", Text),
    Index("ix_retrain_requests_project_status", "project", "status"),
)

# Object-store landing files taken, by key and version (ETag, VersionId, generation): never twice,
# whether the object was moved aside afterwards or left in place (data.landing_after: keep).
landing_objects = Table(
    "landing_objects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("source", Text, nullable=False),  # the object's URL in the landing prefix (a key: 1024 bytes)
    # landing_source_digest(source): the unique index holds it, not the URL, which may be longer
    # than a PostgreSQL btree entry (2704 bytes; a file:// path may be 4 KB). Lookups go by it too.
    Column("source_digest", String(64), nullable=False),
    Column("version", String(255), nullable=False),
    # accepted | quarantined | duplicate, or claimed: a pass is reading it (data.catalog.claim_landing)
    Column("status", String(20), nullable=False),
    Column("batch_id", Integer),
    Column("moved_to", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project", "source_digest", "version", name="uq_landing_objects_digest_version"),
)


def landing_source_digest(source: str) -> str:
    """``landing_objects.source_digest`` of a URL: SHA-256, hex. Migration 0012 backfills with a
    frozen copy: change this and rows written before and after would disagree."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
