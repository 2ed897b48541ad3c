"""The retrain as a package of stages (DESIGN.md §7).

- :mod:`.stages`: ingest, then :data:`STAGES` (dataset → train → evaluate → decide → promote →
  notify), each a function from a typed, frozen reference to the next (:mod:`.refs`)
- :mod:`.runner`: :class:`RetrainRunner`, the embedded run (one process, one lock, every stage)
- :mod:`.tasks`: the same stages one per orchestrator task (Airflow, Prefect), JSON in and out
- :mod:`.context`, :mod:`.records`: what a stage works with, and what it writes
"""

from evergreen.pipeline.context import ProgressFn
from evergreen.pipeline.runner import RetrainOutcome, RetrainRequest, RetrainRunner
from evergreen.pipeline.stages import STAGES, Stage
from evergreen.store.locks import retrain_lock_name as lock_name

__all__ = ["STAGES", "ProgressFn", "RetrainOutcome", "RetrainRequest", "RetrainRunner", "Stage", "lock_name"]
