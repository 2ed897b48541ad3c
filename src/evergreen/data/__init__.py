"""Data in: read batch files, strip PII, enforce the data contract, snapshot, assemble datasets.

Entry points: :func:`evergreen.data.ingest.ingest_paths` / :func:`evergreen.data.landing.ingest_landing`
and :func:`evergreen.data.dataset.assemble_dataset` / :func:`~evergreen.data.dataset.split_holdout`.
"""
