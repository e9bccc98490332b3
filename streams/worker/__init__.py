"""The Faust worker: the one package that imports faust.

Everything else (core, queries, Kafka tools, CLI) then loads and is tested without
starting the framework; tests/test_layout.py keeps it that way.
"""
