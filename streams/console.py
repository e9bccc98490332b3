"""Messages for the person at the terminal, shared by the command line and the tools.

It sits below both ``cli/`` and ``tools/`` so the bench can speak without importing the
command line that runs it.
"""

from __future__ import annotations

import sys


def say(text: str) -> None:
    """A message for the person at the terminal: stderr, so stdout stays the data."""
    print(text, file=sys.stderr, flush=True)
