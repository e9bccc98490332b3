"""The webhook secrets file (CX_HOOK_SECRETS_FILE), re-read when it changes.

A rotated secret takes effect on every collector within one refresh, without a restart
(a Kubernetes Secret mounted as a file changes in place). A file that turns unreadable or
invalid keeps the last good secrets in force, logged once until it is good again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

Secrets = dict[str, dict[str, str]]
"""{tenant: {source: secret}}"""


class HookSecrets:
    def __init__(self, path: Path | None, load: Callable[[Path], Secrets]) -> None:
        """Read the file now; ValueError or OSError (a bad file at start) propagate."""
        self.path = path
        self._load = load
        self._failing = False
        self.secrets: Secrets = {}
        self._stamp: tuple[int, int] | None = None
        if path is not None:
            self._stamp = self._stat()
            self.secrets = load(path)

    def _stat(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    def reload(self) -> bool:
        """Re-read the file if it changed; True when new secrets are in force."""
        if self.path is None:
            return False
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        try:
            secrets = self._load(self.path)
        except (OSError, ValueError) as error:  # messages name entries, never a secret
            if not self._failing:
                self._failing = True
                log.error("webhook secrets file changed but cannot be used, keeping the last "
                          "good secrets: %s", error)
            return False
        self._stamp, self.secrets, self._failing = stamp, secrets, False
        log.warning("webhook secrets reloaded from %s: %d tenants", self.path, len(secrets))
        return True
