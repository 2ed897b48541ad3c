"""The decision dashboard (DESIGN.md §5, §7): server-rendered pages over the store and the control layer.

``serving.create_app`` mounts it (:func:`mount`) on the API's app: one process, one port. Pages are
Jinja2 templates that work without JavaScript (htmx, vendored, only speeds navigation up); charts are
inline SVG (:mod:`.charts`) with their numbers in a table beside them. Sessions, CSRF and roles are in
:mod:`.session` and :mod:`.context`; every action calls :mod:`evergreen.control`, which audits it.
"""

from __future__ import annotations

from evergreen.dashboard.app import mount
from evergreen.dashboard.services import DashboardServices

__all__ = ["DashboardServices", "mount"]
