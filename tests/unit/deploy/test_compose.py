"""deploy/compose.yaml validated by the real Docker Compose v2 binary (no engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.support.tools import DEPLOY, ROOT, compose_binary

ENV_EXAMPLE = DEPLOY / ".env.example"


def compose(*args: str, env_file: str = str(ENV_EXAMPLE), env: dict[str, str] | None = None) -> Any:
    # A clean environment: only .env.example (or the file given) provides the variables.
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **(env or {})}
    return subprocess.run(
        [compose_binary(), "-f", str(DEPLOY / "compose.yaml"), "--env-file", env_file, *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=120,
    )


def rendered(*profile: str) -> dict[str, Any]:
    res = compose(*profile, "config", "--format", "json")
    assert res.returncode == 0, res.stderr
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def test_compose_config_is_valid() -> None:
    res = compose("config", "-q")
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""


def test_a_missing_secret_stops_compose_and_names_the_variable(tmp_path: Any) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(x for x in ENV_EXAMPLE.read_text().splitlines() if not x.startswith("POSTGRES_PASSWORD="))
    )
    res = compose("config", "-q", env_file=str(env))
    assert res.returncode != 0
    assert "POSTGRES_PASSWORD" in res.stderr and "deploy/.env" in res.stderr


def test_the_default_profile_runs_the_scheduler_and_the_airflow_profile_replaces_it() -> None:
    default = set(rendered()["services"])
    airflow = set(rendered("--profile", "airflow")["services"])
    common = {"postgres", "s3", "s3-init", "mlflow", "serve", "proxy", "prometheus", "grafana"}
    assert default == common | {"scheduler"}
    assert airflow == common | {"airflow"}


def test_services_wait_for_what_they_need_and_report_their_health() -> None:
    services = {**rendered()["services"], **rendered("--profile", "airflow")["services"]}
    deps = {
        name: {k: v["condition"] for k, v in s.get("depends_on", {}).items()} for name, s in services.items()
    }
    for name in ("serve", "scheduler", "airflow"):
        assert deps[name] == {
            "postgres": "service_healthy",
            "mlflow": "service_healthy",
            "s3-init": "service_completed_successfully",
        }, name
    assert deps["mlflow"] == {"postgres": "service_healthy", "s3-init": "service_completed_successfully"}
    assert deps["s3-init"] == {"s3": "service_healthy"}
    assert deps["grafana"] == {"prometheus": "service_healthy"}
    # serve and airflow get theirs from the image (HEALTHCHECK in deploy/Dockerfile); s3-init is one-shot.
    for name in ("postgres", "s3", "mlflow", "scheduler", "proxy", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"], name
    assert services["serve"]["deploy"]["replicas"] == 2
    mlflow_cmd = services["mlflow"]["command"]
    assert "--serve-artifacts" in mlflow_cmd and "--artifacts-destination=s3://mlflow/artifacts" in mlflow_cmd
    assert services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://")
    assert services["airflow"]["build"]["target"] == "airflow"


def test_evergreen_lands_from_the_stacks_bucket() -> None:
    services = {**rendered()["services"], **rendered("--profile", "airflow")["services"]}
    for name in ("serve", "scheduler", "airflow"):
        assert services[name]["environment"]["EVERGREEN_LANDING"] == "s3://landing/incoming/", name
    # The ones that ingest (and, for Airflow, whose triggerer watches the prefix's _READY flag).
    for name in ("scheduler", "airflow"):
        env = services[name]["environment"]
        assert env["AWS_ENDPOINT_URL"] == "http://s3:8333", name
        assert env["AWS_ACCESS_KEY_ID"] == "evergreen" and env["AWS_SECRET_ACCESS_KEY"], name
    # The replicas load models through MLflow's artifact proxy: the bucket's secret stays off them.
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(services["serve"]["environment"])
    assert services["s3-init"]["environment"]["S3_LANDING_BUCKET"] == "landing"


def test_no_secret_is_committed() -> None:
    text = (DEPLOY / "compose.yaml").read_text() + (DEPLOY / "project" / "evergreen.yaml").read_text()
    secrets = [
        line.split("=", 1)[1]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#") and "change-me" in line
    ]
    assert secrets and all(s not in text for s in secrets)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0, "deploy/.env must be git-ignored"


def test_the_stack_project_config_loads(tmp_path: Any) -> None:
    from evergreen.config import load_settings

    (tmp_path / "evergreen.yaml").write_text((DEPLOY / "project" / "evergreen.yaml").read_text())
    env = {"EVERGREEN_DATABASE_URL": "postgresql+psycopg://u:p@postgres:5432/evergreen"}
    s = load_settings(tmp_path, env=env)
    assert s.storage.database_url == env["EVERGREEN_DATABASE_URL"]
    assert s.storage.mlflow_tracking_uri == "http://mlflow:5000"
    assert (s.triggers.metrics_port, s.triggers.metrics_host) == (9100, "0.0.0.0")
    assert s.data.landing_url is None  # without the stack's environment: a local directory
    in_stack = load_settings(tmp_path, env={**env, "EVERGREEN_LANDING": "s3://landing/incoming/"})
    assert in_stack.data.landing_url == "s3://landing/incoming/"
    with pytest.raises(Exception, match="EVERGREEN_DATABASE_URL"):
        load_settings(tmp_path, env={})


def test_the_replicas_believe_the_proxys_forwarded_headers() -> None:
    """Behind the proxy every request comes from the proxy's address: the replicas take the client's
    from X-Forwarded-For (uvicorn's FORWARDED_ALLOW_IPS), so the dashboard's limit on failed log-ins
    holds back one address, not everyone; and they keep the shared environment."""
    services = rendered()["services"]
    env = services["serve"]["environment"]
    assert env["FORWARDED_ALLOW_IPS"] == "*"
    shared = ("EVERGREEN_DATABASE_URL", "MLFLOW_TRACKING_URI", "EVERGREEN_TOKENS", "EVERGREEN_SESSION_SECRET")
    assert all(env[k] == services["scheduler"]["environment"][k] for k in shared)
    assert "ports" not in services["serve"]  # reachable through the proxy only
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    # replaced, not appended to: uvicorn believes the left-most entry, which a client could write
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "$proxy_add_x_forwarded_for" not in nginx
