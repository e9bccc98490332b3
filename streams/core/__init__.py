"""The pure core: event contract, batch building, sufficient statistics and score math.

No network, no processes, no clock it is not handed: so every rule here is tested
without services, and tests/test_layout.py keeps it that way.
"""
