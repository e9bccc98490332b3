"""Tools around the pipeline, not in it: the traffic generator and the benchmark."""
