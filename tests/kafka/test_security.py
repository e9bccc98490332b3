"""Kafka clients through a real TLS endpoint (stunnel in front of Tansu, mutual TLS) and
against a broker that requires a SASL login: what works, and what fails in one line."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from streams.config import Secret, Settings
from streams.kafka import KafkaError, admin, broker
from streams.kafka.produce import produce_lines, producer
from streams.kafka.security import PLAINTEXT, KafkaSecurity
from tests.support.tls import Certificates

pytestmark = pytest.mark.integration

BOUND = 12.0
"""Seconds within which every refused connection must have said so."""


def tls(certificates: Certificates, **changes: object) -> KafkaSecurity:
    return dataclasses.replace(KafkaSecurity(
        "SSL", cafile=certificates.ca, certfile=certificates.client_cert,
        keyfile=certificates.client_key), **changes)


def consume(bootstrap: str, security: KafkaSecurity, topic: str, expected: int) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer

    async def run() -> list[bytes]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                    auto_offset_reset="earliest", **security.aiokafka())
        await consumer.start()
        values: list[bytes] = []
        try:
            deadline = time.monotonic() + 20
            while len(values) < expected and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    values.extend(record.value for record in records)
        finally:
            await consumer.stop()
        return values

    return asyncio.run(run())


def test_the_context_verifies_the_broker_and_names_a_bad_file(certificates: Certificates,
                                                               tmp_path: Path) -> None:
    context = tls(certificates).ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert PLAINTEXT.ssl_context() is None and PLAINTEXT.aiokafka() == {
        "security_protocol": "PLAINTEXT"}
    with pytest.raises(KafkaError, match="CX_KAFKA_SSL_CAFILE: cannot use"):
        tls(certificates, cafile=tmp_path / "missing.pem").ssl_context()
    with pytest.raises(KafkaError, match="CX_KAFKA_SSL_CERTFILE"):
        tls(certificates, keyfile=certificates.other_ca).ssl_context()


def test_secrets_stay_out_of_repr_and_options_text() -> None:
    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "svc", Secret("hunter2"))
    assert "hunter2" not in repr(security) and "hunter2" not in str(security)
    assert security.aiokafka()["sasl_plain_password"] == "hunter2"  # handed to the client only


def test_topics_produce_and_consume_through_mutual_tls(tls_kafka: str,
                                                       certificates: Certificates) -> None:
    security = tls(certificates)
    admin.check_reachable(tls_kafka, security)
    assert set(admin.create_topics(tls_kafka, 2, security)) >= {"cx.feedback"}
    lines = [orjson.dumps({"event_id": f"t-{n}", "type": "feedback", "n": n}) for n in range(20)]
    report = produce_lines(tls_kafka, security, lines)
    assert report.sent["cx.feedback"] == 20 and not report.skipped
    got = consume(tls_kafka, security, "cx.feedback", 20)
    assert sorted(orjson.loads(value)["n"] for value in got) == list(range(20))


def test_an_untrusted_certificate_is_one_clear_error_fast(tls_kafka: str,
                                                         certificates: Certificates) -> None:
    untrusted = tls(certificates, cafile=certificates.other_ca)
    started = time.monotonic()
    with pytest.raises(KafkaError, match="TLS certificate is not trusted") as caught:
        admin.check_reachable(tls_kafka, untrusted)
    assert "CX_KAFKA_SSL_CAFILE" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(KafkaError, match=f"Kafka at {tls_kafka}"):
        asyncio.run(_start_producer(tls_kafka, untrusted))
    assert time.monotonic() - started < BOUND


def test_a_plaintext_client_is_refused_by_the_tls_endpoint(tls_kafka: str) -> None:
    started = time.monotonic()
    with pytest.raises(KafkaError, match="closed the connection: if it is a TLS or SASL "
                       "listener, set CX_KAFKA_SECURITY_PROTOCOL"):
        admin.check_login(tls_kafka, PLAINTEXT)
    with pytest.raises(KafkaError, match=f"Kafka at {tls_kafka}"):
        asyncio.run(_start_producer(tls_kafka, PLAINTEXT))
    assert time.monotonic() - started < BOUND


def test_a_tls_client_without_a_client_certificate_is_refused(tls_kafka: str,
                                                              certificates: Certificates) -> None:
    started = time.monotonic()
    with pytest.raises(KafkaError, match="if it requires a client certificate, set "
                       "CX_KAFKA_SSL_CERTFILE"):
        admin.check_login(tls_kafka, tls(certificates, certfile=None, keyfile=None))
    assert time.monotonic() - started < BOUND


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_a_refused_sasl_login_is_one_clear_error(sasl_kafka: str, certificates: Certificates,
                                                 mechanism: str) -> None:
    """Tansu 0.6 offers SCRAM only, and has no users (the memory engine cannot keep one
    across the restart ``--authentication`` needs): every login here is refused, which is
    what this checks: TLS first, then the SASL exchange, then one line naming the settings."""
    security = tls(certificates, protocol="SASL_SSL", mechanism=mechanism, username="svc",
                   password=Secret("wrong-password"))
    admin.check_reachable(sasl_kafka, security)  # the TLS part succeeds
    started = time.monotonic()
    expected = ("refused SASL .* login for user 'svc': check CX_KAFKA_SASL_USERNAME and "
                "CX_KAFKA_SASL_PASSWORD") if mechanism.startswith("SCRAM") else (
        "does it offer SASL PLAIN")
    with pytest.raises(KafkaError, match=expected) as caught:
        admin.check_login(sasl_kafka, security)
    with pytest.raises(KafkaError, match=f"Kafka at {sasl_kafka}") as produced:
        asyncio.run(_start_producer(sasl_kafka, security))
    for message in (str(caught.value), str(produced.value)):
        assert "wrong-password" not in message and "\n" not in message
    assert time.monotonic() - started < BOUND


async def _start_producer(bootstrap: str, security: KafkaSecurity) -> None:
    async with producer(bootstrap, security, request_timeout_ms=5000):
        pass


def test_settings_build_the_same_security(certificates: Certificates) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", kafka_security_protocol="SSL",
                        kafka_ssl_cafile=certificates.ca)
    assert KafkaSecurity.of(settings) == KafkaSecurity("SSL", cafile=certificates.ca)


def test_sasl_plaintext_runs_the_login_too(tmp_path: Path) -> None:
    """SASL without TLS, straight at a broker that requires a login: refused, one line."""
    running = broker.start(tmp_path / "broker", authentication=True)
    try:
        security = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "svc", Secret("nope"))
        admin.check_reachable(running.bootstrap, security)  # no TLS: nothing to probe
        with pytest.raises(KafkaError, match="refused SASL SCRAM-SHA-512 login for user 'svc'"):
            admin.check_login(running.bootstrap, security)
    finally:
        broker.stop(running, tmp_path / "broker")


def test_an_encrypted_client_key_needs_its_password(certificates: Certificates,
                                                   tmp_path: Path) -> None:
    encrypted = tmp_path / "client-encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(certificates.client_key), "-aes256",
                    "-passout", "pass:key-Pa55", "-out", str(encrypted)], check=True,
                   capture_output=True, timeout=30)
    good = tls(certificates, keyfile=encrypted, key_password=Secret("key-Pa55"))
    assert good.ssl_context() is not None
    with pytest.raises(KafkaError, match="CX_KAFKA_SSL_CERTFILE/CX_KAFKA_SSL_KEYFILE") as bad:
        tls(certificates, keyfile=encrypted, key_password=Secret("wrong")).ssl_context()
    assert "key-Pa55" not in str(bad.value)
