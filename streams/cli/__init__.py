"""``cxpulse``, the command line (``main``), with the demo and the console rendering."""
