"""What every HTTP server of the project shares (the collector and the worker's read API):
the key ring kept in force (``keyring``), JSON answers, header limits and the metrics
token (``answers``). aiohttp only; no Faust, so the collector loads without it."""
