"""The local Tansu broker: start, find, reuse, stop."""

from __future__ import annotations

import os
from pathlib import Path

from streams.kafka import broker


def test_start_record_reuse_and_stop(tmp_path: Path) -> None:
    running = broker.start(tmp_path)
    try:
        assert broker.running(tmp_path) == running
        with broker.local_broker(tmp_path) as address:
            assert address == running.bootstrap  # reused, not a second broker
        assert broker.running(tmp_path) == running  # and not stopped by the reuser
    finally:
        broker.stop(running, tmp_path)
    assert broker.running(tmp_path) is None
    try:
        os.kill(running.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_local_broker_stops_what_it_started(tmp_path: Path) -> None:
    with broker.local_broker(tmp_path) as address:
        assert broker.running(tmp_path).bootstrap == address
    assert broker.running(tmp_path) is None


def test_client_env_talks_plaintext_to_the_local_broker(monkeypatch) -> None:
    monkeypatch.setenv("CX_KAFKA_SECURITY", "SASL_SSL")
    monkeypatch.setenv("CX_KAFKA_SASL_PASSWORD_FILE", "/run/secrets/kafka")
    monkeypatch.setenv("CX_KAFKA_BOOTSTRAP", "kafka.example:9093")
    monkeypatch.setenv("CX_CLICKHOUSE_URL", "clickhouse://ch.example")
    env = broker.client_env("127.0.0.1:19092")
    assert env["CX_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert not {"CX_KAFKA_SECURITY", "CX_KAFKA_SASL_PASSWORD_FILE"} & set(env)
    assert env["CX_CLICKHOUSE_URL"] == "clickhouse://ch.example"
    assert env["PATH"] == os.environ["PATH"]
