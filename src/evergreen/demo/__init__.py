"""``evergreen demo``: the whole loop on a replayed churn stream, through a running ``evergreen serve``.

- :mod:`.replay`: the weeks (history files, then predictions, feedback, monitoring, alerts,
  triggers, retrains and hot swaps), one printed line per event
- :mod:`.server`: the serving app under uvicorn in a thread, on a free loopback port
- :mod:`.traffic`: the HTTP clients, counting every failed request
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from evergreen.config import CONFIG_FILE, load_settings
from evergreen.demo.replay import DEFAULT_ROWS, DRIFT_AT, DemoSummary, Emit, Replay, print_line
from evergreen.errors import BadInputError
from evergreen.examples import churn
from evergreen.project import open_project

# The demo owns its project, so a fixed, public PII salt is fine there; real projects set their own.
# The `evergreen demo` command puts it in the environment (unless set): run_demo never touches it.
DEMO_SALT = ("EVERGREEN_PII_SALT", "evergreen-demo-salt")
WINDOW_DAYS = 7  # one replayed week: the retrain after the change learns the new behaviour only

__all__ = ["DEMO_SALT", "DRIFT_AT", "DemoSummary", "run_demo"]


def run_demo(
    directory: Path | None,
    *,
    batches: int = 10,
    rows: int = DEFAULT_ROWS,
    keep_serving: bool = False,
    token: str | None = None,
    emit: Emit = print_line,
) -> DemoSummary:
    """Replay ``batches`` weeks of ``rows`` customers in ``directory`` (a new temporary one if None).

    ``keep_serving`` leaves the server up after the replay until Ctrl-C; ``token`` is the log-in
    token the caller put in ``auth.tokens_env`` (printed with the dashboard's URL, nothing else is).
    """
    if batches <= DRIFT_AT:
        raise BadInputError(
            f"--batches {batches}: must be more than {DRIFT_AT} (behaviour changes in week {DRIFT_AT + 1})"
        )
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="evergreen-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    churn.write_config(str(root / CONFIG_FILE), window_days=WINDOW_DAYS, demo=True)
    settings = load_settings(root / CONFIG_FILE)
    with open_project(settings) as project:
        return Replay(project, root, emit).run(batches, rows, keep_serving=keep_serving, token=token)
