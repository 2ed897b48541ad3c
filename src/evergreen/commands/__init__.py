"""CLI commands of the serving, monitoring, trigger, alert and orchestrator components."""
