"""``python -m streams.cli ...``: how the demo and the benchmark start child commands."""

import sys

from streams.cli.main import main

sys.exit(main())
