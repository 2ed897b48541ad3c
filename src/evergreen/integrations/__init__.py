"""Orchestrator adapters (Airflow, Prefect): the retrain steps wired into each tool, no logic of their own."""
