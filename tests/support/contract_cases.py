"""Shared contract examples: the example files under schemas/events/examples."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events" / "examples"
EXAMPLES = {kind: json.loads((EXAMPLES_DIR / f"{kind}.json").read_text())
            for kind in ("interaction", "feedback", "followup")}
# "now" for validation: one hour after the examples' date.
NOW = datetime.fromisoformat("2026-11-22T12:00:00+00:00").timestamp()
REVISION_EXAMPLE = json.loads((EXAMPLES_DIR / "feedback_revision.json").read_text())
"""A later revision of the feedback example (its comment and a changed score)."""
