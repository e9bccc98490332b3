"""``streams.app:app``, the documented entry point of the Faust application.

The app lives in ``streams.worker.app``; this name stays so deployments and
DESIGN.md's ``streams.app:app`` keep working. Nothing inside the package imports it.
"""

from streams.worker.app import app

__all__ = ["app"]
