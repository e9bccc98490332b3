"""How every Kafka client of the project authenticates and encrypts: one place, from Settings.

Each client library spells the same options differently; ``KafkaSecurity`` holds them once
and hands each library its keyword arguments (``aiokafka()``, ``kafka_python()``; the
worker turns it into Faust's ``broker_credentials``). TLS always verifies the broker's
certificate and host name; a private CA is added, verification is never turned off.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.config import Secret, Settings
from streams.kafka import KafkaError

CONNECT_TIMEOUT = 5.0
"""Seconds for the TLS probe's handshake: an untrusted or silent endpoint fails fast."""


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    key_password: Secret | None = field(default=None, repr=False)

    @classmethod
    def of(cls, settings: Settings) -> KafkaSecurity:
        return cls(settings.kafka_security_protocol, settings.kafka_sasl_mechanism,
                   settings.kafka_sasl_username, settings.kafka_sasl_password,
                   settings.kafka_ssl_cafile, settings.kafka_ssl_certfile,
                   settings.kafka_ssl_keyfile, settings.kafka_ssl_key_password)

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying client context (system CAs, or CX_KAFKA_SSL_CAFILE), None without TLS."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(
                cafile=str(self.cafile) if self.cafile else None)
        except (OSError, ssl.SSLError) as error:
            raise KafkaError(f"CX_KAFKA_SSL_CAFILE: cannot use {self.cafile}: "
                             f"{_reason(error)}") from None
        if self.certfile:
            try:
                context.load_cert_chain(
                    str(self.certfile), str(self.keyfile) if self.keyfile else None,
                    self.key_password.reveal() if self.key_password else None)
            except (OSError, ssl.SSLError) as error:
                raise KafkaError(f"CX_KAFKA_SSL_CERTFILE/CX_KAFKA_SSL_KEYFILE: cannot use "
                                 f"{self.certfile}: {_reason(error)}") from None
        return context

    def _common(self) -> dict[str, Any]:
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password.reveal() if self.password else None)
        return options

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        return self._common()

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's ``KafkaAdminClient``."""
        return self._common()

    def probe(self, host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> None:
        """With TLS, complete a handshake with ``host:port`` now, so an untrusted certificate
        or a plaintext port is one clear line instead of a client library's retry loop."""
        context = self.ssl_context()
        if context is None:
            return
        deadline = time.monotonic() + timeout
        try:
            with socket.create_connection((host, port), timeout=timeout) as raw:
                raw.settimeout(max(0.1, deadline - time.monotonic()))
                with context.wrap_socket(raw, server_hostname=host):
                    return
        except ssl.SSLCertVerificationError as error:
            raise KafkaError(
                f"Kafka at {host}:{port}: its TLS certificate is not trusted "
                f"({error.verify_message}); set CX_KAFKA_SSL_CAFILE to the CA that signed "
                "it") from None
        except (ssl.SSLError, OSError) as error:
            raise KafkaError(f"Kafka at {host}:{port}: no TLS handshake ({_reason(error)}); is "
                             f"it a TLS listener? (CX_KAFKA_SECURITY_PROTOCOL={self.protocol})"
                             ) from None


PLAINTEXT = KafkaSecurity()
"""The bundled local broker: no TLS, no SASL."""


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason).replace("_", " ").lower()
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def client_failure(bootstrap: str, security: KafkaSecurity, error: BaseException) -> KafkaError:
    """A client library's failure to start as one line that says what to check."""
    name = type(error).__name__
    text = str(error).splitlines()[0] if str(error) else ""
    if security.sasl and (isinstance(error, KeyError) or "Sasl" in name or "SASL" in text
                          or "uthenticat" in text):
        return KafkaError(f"Kafka at {bootstrap} refused SASL {security.mechanism} login for "
                          f"user {security.username!r}: check CX_KAFKA_SASL_USERNAME and "
                          "CX_KAFKA_SASL_PASSWORD")
    where = f"Kafka at {bootstrap} (CX_KAFKA_SECURITY_PROTOCOL={security.protocol})"
    if "bootstrap" in text:  # the port answered (check_reachable), then the broker hung up
        if security.sasl:
            hint = (f"does it offer SASL {security.mechanism} (CX_KAFKA_SASL_MECHANISM) "
                    "on this port?")
        elif security.tls:
            hint = ("if it requires a client certificate, set CX_KAFKA_SSL_CERTFILE and "
                    "CX_KAFKA_SSL_KEYFILE; if it requires a login, use SASL_SSL")
        else:
            hint = "if it is a TLS or SASL listener, set CX_KAFKA_SECURITY_PROTOCOL"
        return KafkaError(f"{where} closed the connection: {hint}")
    detail = text if text.startswith(name) else f"{name}: {text}"
    return KafkaError(f"cannot reach {where}: {detail}")


@contextlib.contextmanager
def quiet_clients() -> Iterator[None]:
    """Silence the client libraries' own connection errors while we report the failure
    ourselves in one line (they log each retry, with tracebacks)."""
    loggers = [logging.getLogger(name) for name in ("aiokafka", "kafka")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
