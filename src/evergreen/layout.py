"""What a project's files are called (DESIGN.md §7): the config file and the state directory.

A module of constants with no imports, so that ``evergreen --help`` can name ``evergreen.yaml`` in
its option help without loading the settings models (pydantic and PyYAML, ~0.1 s of start-up).
:mod:`evergreen.config` re-exports both names.
"""

from __future__ import annotations

CONFIG_FILE = "evergreen.yaml"
STATE_DIR = ".evergreen"
