"""Which Kafka to use: the configured one, the local one, or one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.kafka import KafkaError, admin, broker
from streams.kafka.security import PLAINTEXT, KafkaSecurity
from streams.ports import free_port


def test_a_configured_bootstrap_is_checked_and_used(kafka: str, tmp_path: Path) -> None:
    with admin.bootstrap_for(kafka, tmp_path, PLAINTEXT, start_local=False) as bootstrap:
        assert bootstrap == kafka
    assert broker.running(tmp_path) is None  # no local broker was started for it


def test_without_a_bootstrap_the_local_broker_is_found_or_started(tmp_path: Path) -> None:
    with (pytest.raises(KafkaError, match=f"no local broker runs for CX_DATA_DIR={tmp_path}"),
          admin.bootstrap_for(None, tmp_path, start_local=False)):
        pass
    with admin.bootstrap_for(None, tmp_path, start_local=True) as started:
        assert broker.running(tmp_path).bootstrap == started
        with admin.bootstrap_for(None, tmp_path, start_local=False) as found:
            assert found == started
    assert broker.running(tmp_path) is None


def test_tls_without_a_bootstrap_is_refused(tmp_path: Path) -> None:
    with (pytest.raises(KafkaError, match="CX_KAFKA_SECURITY_PROTOCOL=SSL needs "
                                          "CX_KAFKA_BOOTSTRAP"),
          admin.bootstrap_for(None, tmp_path, KafkaSecurity("SSL"), start_local=True)):
        pass
    assert broker.running(tmp_path) is None


def test_an_unreachable_bootstrap_is_one_line(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    with (pytest.raises(KafkaError, match=f"cannot reach Kafka at {address}"),
          admin.bootstrap_for(address, tmp_path, start_local=False)):
        pass
