"""``streams.app:app``, the documented entry point for Faust's own command line.

The app is built by ``streams.worker.app.create_app`` from ``Settings``; this
module builds one from the environment, so ``faust -A streams.app worker`` and
DESIGN.md's ``streams.app:app`` keep working. Nothing inside the package imports
it (``cxpulse worker`` calls ``create_app`` itself).
"""

from streams.config import Settings
from streams.worker.app import create_app

app = create_app(Settings.from_env())

__all__ = ["app"]
