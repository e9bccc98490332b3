"""Faust's ``broker_credentials`` from the project's one Kafka security setting.

Faust hands these to the aiokafka clients it makes (the app's producer and consumer),
so the Faust side of a worker speaks TLS/SASL exactly like the ingest consumer.
"""

from __future__ import annotations

import faust
from faust.types.auth import CredentialsT

from streams.kafka.security import KafkaSecurity


def broker_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """None for PLAINTEXT; SSL or SASL (PLAIN/SCRAM, with TLS for SASL_SSL) otherwise."""
    context = security.ssl_context()
    if security.sasl:
        return faust.SASLCredentials(
            username=security.username,
            password=security.password.reveal() if security.password else None,
            ssl_context=context, mechanism=security.mechanism)
    if context is not None:
        return faust.SSLCredentials(context)
    return None
