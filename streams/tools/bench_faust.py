"""The empty Faust agent of ``cxpulse bench``, in a process of its own.

Run as ``python -m streams.tools.bench_faust BOOTSTRAP EXPECTED PORT``; it prints the
rate as JSON and exits once EXPECTED messages were taken.
"""

from __future__ import annotations

import sys

from streams.worker.counting import counting_app
from streams.worker.run import run_worker


def main() -> None:
    bootstrap, expected, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    run_worker(counting_app(bootstrap, expected, port), loglevel="error")


if __name__ == "__main__":
    main()
