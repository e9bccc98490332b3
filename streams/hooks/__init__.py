"""Signed webhooks from survey tools and help desks, mapped to feedback events (pure).

``receive`` verifies a delivery's signature, parses it and maps it with the source's
declarative mapping (``schemas/hooks/<source>.json``); the collector's route
``POST /v1/hooks/{source}?tenant=T`` sends what it returns through the contract validator.
"""

from streams.hooks.errors import HookError
from streams.hooks.receive import SOURCES, load_secrets, receive

__all__ = ["SOURCES", "HookError", "load_secrets", "receive"]
