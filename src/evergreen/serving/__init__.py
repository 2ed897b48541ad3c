"""Serving: the prediction API that follows the ``champion`` alias (DESIGN.md §5).

Kept import-light on purpose (importing a submodule must not pull FastAPI in). The app factory is
``evergreen.serving.app.create_app``.
"""
