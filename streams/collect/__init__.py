"""The HTTP collector (``cxpulse collect``): events in over HTTP, 200 only after Kafka acks.

``app`` builds the aiohttp application from ``Settings`` (its keys kept in force by
``streams.web.keyring``), ``deadletters`` writes rejected items to ClickHouse in the
background, ``metrics`` is its own Prometheus registry and ``run`` serves it. The decisions
(decode, admit, rate limits) are the pure ``streams.core.intake`` and ``streams.core.limits``.
"""
