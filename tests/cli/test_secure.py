"""The pipeline through TLS end to end, as deployed: `cxpulse` commands, a `cxpulse worker`
process and the collector speak mutual TLS to the broker (stunnel in front of Tansu) and
TLS with a password user to ClickHouse, secrets read from files. Every event lands exactly
once and `cxpulse verify` passes; every refused connection is one line, fast."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.config import Settings
from streams.core.keys import new_key
from streams.queries.keys import store_key
from streams.warehouse import connect
from streams.warehouse.local import ClickHouseServer
from tests.conftest import CLICKHOUSE_PASSWORD, CLICKHOUSE_USER
from tests.support.events import valid_events
from tests.support.services import CXPULSE, bearer, table_count, wait_until
from tests.support.tls import Certificates

pytestmark = pytest.mark.integration

SASL_PASSWORD = "sasl-Pa55-never-shown"
FAST = 8.0
"""Seconds within which a refused connection must have ended the command."""


def cxpulse(*args: str, env: dict[str, str], stdin: bytes | None = None,
            timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    started = time.monotonic()
    result = subprocess.run([CXPULSE, *args], env=clean | env, capture_output=True,
                            timeout=timeout, input=stdin)
    return result, time.monotonic() - started


def secure_env(bootstrap: str, server: ClickHouseServer, certificates: Certificates,
               tmp_path: Path) -> dict[str, str]:
    """Kafka over mutual TLS, ClickHouse over TLS with the password in a mounted-style file."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "clickhouse-password").write_text(CLICKHOUSE_PASSWORD + "\n")
    return {"CX_KAFKA_BOOTSTRAP": bootstrap, "CX_KAFKA_SECURITY_PROTOCOL": "SSL",
            "CX_KAFKA_SSL_CAFILE": str(certificates.ca),
            "CX_KAFKA_SSL_CERTFILE": str(certificates.client_cert),
            "CX_KAFKA_SSL_KEYFILE": str(certificates.client_key),
            "CX_CLICKHOUSE_URL": server.secure_url(f"tls_{tmp_path.name[-20:]}",
                                                   CLICKHOUSE_USER),
            "CX_CLICKHOUSE_PASSWORD_FILE": str(secrets / "clickhouse-password"),
            "CX_CLICKHOUSE_CA_FILE": str(certificates.ca),
            "CX_DATA_DIR": str(tmp_path / "data"), "CX_APP_ID": f"cxtls-{tmp_path.name}",
            "CX_SESSION_TIMEOUT": "6", "CX_BATCH_SECONDS": "0.2", "CX_COMMENT_ENRICH": "off"}


def counts_of(events: list[dict[str, Any]]) -> dict[str, int]:
    table = {"interaction": "interactions", "feedback": "feedback", "followup": "followups"}
    counts = dict.fromkeys(table.values(), 0)
    for event in {e["event_id"]: e for e in events}.values():
        counts[table[event["type"]]] += 1
    return counts


def one_line(result: subprocess.CompletedProcess, seconds: float, *needles: str) -> str:
    text = result.stderr.decode() + result.stdout.decode()
    assert result.returncode == 2, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    assert seconds < FAST, f"{seconds:.1f}s: {text}"
    for needle in needles:
        assert needle in text, text
    for secret in (CLICKHOUSE_PASSWORD, SASL_PASSWORD):
        assert secret not in text
    return text


def test_worker_collector_and_cli_through_tls_land_every_event_once(
        tls_kafka: str, tls_clickhouse: ClickHouseServer, certificates: Certificates,
        start_worker: Any, start_collector: Any, tmp_path: Path) -> None:
    env = secure_env(tls_kafka, tls_clickhouse, certificates, tmp_path)
    topics, _ = cxpulse("topics", env=env)
    assert topics.returncode == 0 and b"created: cx.interactions" in topics.stdout, topics
    migrated, _ = cxpulse("migrate", env=env)
    assert migrated.returncode == 0, migrated
    assert f"clickhouses://localhost:{tls_clickhouse.secure_port}/".encode() in migrated.stdout

    worker = start_worker(env)
    worker.wait_ready()
    now = time.time()
    by_cli = valid_events(400, now, prefix="cli")
    lines = b"".join(orjson.dumps(e) + b"\n" for e in by_cli + by_cli[::10])  # + duplicates
    produced, _ = cxpulse("produce", "-", env=env, stdin=lines)
    assert produced.returncode == 0 and b"sent 440 messages" in produced.stderr, produced

    settings = Settings.from_env(env)
    record, key = new_key("acme-shop", "write", "tls-test", int(now))
    store_key(connect(settings.warehouse_url), record)
    collector = start_collector(settings, tls_kafka)
    by_http = [e for e in valid_events(120, now, prefix="http")
               if e["tenant"] == "acme-shop" and e["type"] != "followup"]
    status, _, body = collector.post("/v1/events", orjson.dumps(by_http), bearer(key))
    assert status == 200 and body["accepted"] == len(by_http), body

    warehouse = connect(settings.warehouse_url)
    expected = counts_of(by_cli + by_http)
    wait_until(lambda: all(table_count(warehouse, t) == n for t, n in expected.items()), 90,
               f"rows {expected}")
    wait_until(lambda: worker.counter("cx_events_total") >= 440 + len(by_http), 30,
               "every consumed message counted (duplicates too)")
    verified, _ = cxpulse("verify", env=env, timeout=120)
    assert verified.returncode == 0 and b"all equal" in verified.stdout, verified

    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=10) as page:
        shown = page.read().decode()
    shown += worker.log.read_text(errors="replace") + migrated.stdout.decode()
    assert "cx_events_total" in shown and CLICKHOUSE_PASSWORD not in shown


def test_a_plaintext_client_and_an_untrusted_ca_are_refused_in_one_line(
        tls_kafka: str, certificates: Certificates, tmp_path: Path) -> None:
    base = {"CX_KAFKA_BOOTSTRAP": tls_kafka, "CX_DATA_DIR": str(tmp_path / "data")}
    one_line(*cxpulse("topics", env=base), "closed the connection",
             "set CX_KAFKA_SECURITY_PROTOCOL")
    untrusted = base | {"CX_KAFKA_SECURITY_PROTOCOL": "SSL",
                        "CX_KAFKA_SSL_CAFILE": str(certificates.other_ca)}
    for command in (("topics",), ("produce", "-"), ("worker",)):
        one_line(*cxpulse(*command, env=untrusted, stdin=b""),
                 "TLS certificate is not trusted", "CX_KAFKA_SSL_CAFILE")


def test_a_refused_sasl_login_is_one_line(sasl_kafka: str, certificates: Certificates,
                                          tmp_path: Path) -> None:
    (tmp_path / "sasl-password").write_text(SASL_PASSWORD)
    env = {"CX_KAFKA_BOOTSTRAP": sasl_kafka, "CX_DATA_DIR": str(tmp_path / "data"),
           "CX_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CX_KAFKA_SSL_CAFILE": str(certificates.ca),
           "CX_KAFKA_SSL_CERTFILE": str(certificates.client_cert),
           "CX_KAFKA_SSL_KEYFILE": str(certificates.client_key),
           "CX_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "CX_KAFKA_SASL_USERNAME": "svc",
           "CX_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "sasl-password")}
    for command in (("topics",), ("generate", "--duration", "1s")):
        one_line(*cxpulse(*command, env=env), "refused SASL SCRAM-SHA-256 login for user 'svc'")


def test_a_wrong_clickhouse_password_or_ca_is_one_line(
        tls_clickhouse: ClickHouseServer, certificates: Certificates, tmp_path: Path) -> None:
    url = tls_clickhouse.secure_url("tls_refused", CLICKHOUSE_USER)
    env = {"CX_CLICKHOUSE_URL": url, "CX_CLICKHOUSE_PASSWORD": "wrong-" + CLICKHOUSE_PASSWORD,
           "CX_CLICKHOUSE_CA_FILE": str(certificates.ca), "CX_DATA_DIR": str(tmp_path)}
    one_line(*cxpulse("migrate", env=env), "Wrong password for user cx",
             "CX_CLICKHOUSE_PASSWORD")
    env |= {"CX_CLICKHOUSE_PASSWORD": CLICKHOUSE_PASSWORD,
            "CX_CLICKHOUSE_CA_FILE": str(certificates.other_ca)}
    one_line(*cxpulse("migrate", env=env), "CERTIFICATE_VERIFY_FAILED", "CX_CLICKHOUSE_CA_FILE")
    one_line(*cxpulse("verify", env=env | {"CX_CLICKHOUSE_CA_FILE": ""}),
             "CERTIFICATE_VERIFY_FAILED")


def test_secrets_stay_out_of_help_and_printed_plans(tmp_path: Path) -> None:
    env = {"CX_CLICKHOUSE_URL": f"clickhouse://cx:{CLICKHOUSE_PASSWORD}@db:9000/cx",
           "CX_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CX_KAFKA_SASL_MECHANISM": "PLAIN",
           "CX_KAFKA_SASL_USERNAME": "svc", "CX_KAFKA_SASL_PASSWORD": SASL_PASSWORD}
    for args in (("--help",), ("worker", "--help"), ("migrate", "--print")):
        result, _ = cxpulse(*args, env=env)
        assert result.returncode == 0, result
        text = (result.stdout + result.stderr).decode()
        assert CLICKHOUSE_PASSWORD not in text and SASL_PASSWORD not in text
    # A broken secret mount names the variable and the file, not a traceback.
    one_line(*cxpulse("topics", env={"CX_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "nope")}),
             "CX_KAFKA_SASL_PASSWORD_FILE: cannot read")
