"""Serving: the prediction API that follows the ``champion`` alias (DESIGN.md §5).

Kept import-light on purpose: ``evergreen.serving.notify`` is imported by the retrain pipeline and the
control actions, which must not pull FastAPI in. The app factory is ``evergreen.serving.app.create_app``.
"""
