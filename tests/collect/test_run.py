"""``cxpulse collect`` as an operator runs it: it migrates, serves, stops on SIGTERM, and
says in one line what is wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from streams.core.keys import new_key, split_key
from streams.core.outages import EXIT_STARTUP_TIMEOUT
from streams.ports import free_port
from streams.queries.keys import store_key
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.events import stamp
from tests.support.services import CXPULSE, bearer, get_json, stop_process, wait_until

pytestmark = pytest.mark.integration


def env_of(**values: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | values


def one_line_error(env: dict[str, str], *needles: str) -> None:
    result = subprocess.run([CXPULSE, "collect"], env=env_of(**env), capture_output=True,
                            timeout=60)
    text = result.stderr.decode()
    assert result.returncode == 2, text
    last = text.strip().splitlines()[-1]  # after progress lines such as "created topics"
    assert "Traceback" not in text and last.startswith("cxpulse collect: error: "), text
    for needle in needles:
        assert needle in last, text


def gave_up(env: dict[str, str], *needles: str) -> None:
    """An unreachable Kafka or ClickHouse is waited for (streams/dependencies.py), then given
    up on in one line and exit code 3."""
    result = subprocess.run([CXPULSE, "collect"], env=env_of(CX_STARTUP_TIMEOUT="1", **env),
                            capture_output=True, timeout=60)
    text = result.stderr.decode()
    assert result.returncode == EXIT_STARTUP_TIMEOUT, text
    last = text.strip().splitlines()[-1]  # after one line per attempt
    assert "Traceback" not in text and last.startswith("cxpulse collect: gave up "), text
    for needle in needles:
        assert needle in last, text


def test_bad_settings_and_unreachable_services_are_one_clear_line(
        kafka: str, tmp_path: Path) -> None:
    one_line_error({"CX_COLLECT_RATE": "fast"}, "CX_COLLECT_RATE")
    gave_up({"CX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, "127.0.0.1:1", "CX_KAFKA_BOOTSTRAP")
    port = free_port()
    gave_up({"CX_KAFKA_BOOTSTRAP": kafka, "CX_DATA_DIR": str(tmp_path),
             "CX_CLICKHOUSE_URL": f"clickhouse://default:@127.0.0.1:{port}/cx"}, str(port),
            "CX_CLICKHOUSE_URL")
    (tmp_path / "hooks.json").write_text('{"acme": {"typeform": 7}}')
    one_line_error({"CX_KAFKA_BOOTSTRAP": kafka, "CX_DATA_DIR": str(tmp_path),
                    "CX_CLICKHOUSE_URL": f"chdb://{tmp_path / 'ch'}",
                    "CX_HOOK_SECRETS_FILE": str(tmp_path / "hooks.json")}, "CX_HOOK_SECRETS_FILE")


def start_collect(bootstrap: str, url: str, tmp_path: Path
                  ) -> tuple[subprocess.Popen, int, Path]:
    """``cxpulse collect`` in the background: the process, its port and its log."""
    port = free_port()
    log = tmp_path / "collect.log"
    process = subprocess.Popen(
        [CXPULSE, "collect", "--port", str(port), "--host", "127.0.0.1"],
        env=env_of(CX_KAFKA_BOOTSTRAP=bootstrap, CX_CLICKHOUSE_URL=url,
                   CX_DATA_DIR=str(tmp_path / "data")),
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return process, port, log


def test_collect_serves_until_sigterm(kafka: str, server_warehouse: Warehouse, server_url: str,
                                      tmp_path: Path) -> None:
    migrate(server_warehouse)
    record, key = new_key("acme-shop", "write", "cli", int(time.time()))
    store_key(server_warehouse, record)
    process, port, log = start_collect(kafka, server_url, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: get_json(f"{url}/readyz")["status"] == "ready", 60, "readyz")
        wait_until(lambda: all(f'cx_dependency_up{{dependency="{name}"}} 1.0' in text
                               for name in ("kafka", "clickhouse")
                               for text in [urllib.request.urlopen(f"{url}/metrics").read()
                                            .decode()]), 15, "both dependencies probed up")
        event = {"event_id": "cli-1", "type": "feedback", "occurred_at": stamp(time.time()),
                 "channel": "web", "survey": "csat", "score": 5}
        request = urllib.request.Request(f"{url}/v1/events", data=orjson.dumps(event),
                                         headers=bearer(key), method="POST")
        with urllib.request.urlopen(request, timeout=10) as page:
            assert json.loads(page.read()) == {"accepted": 1, "rejected": []}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        stop_process(process)
    text = log.read_text()
    assert "collector listening" in text and "Traceback" not in text
    assert key not in text and split_key(key)[1] not in text


def test_a_broker_outage_is_a_few_lines_and_a_metric(proxied_kafka, server_url: str,
                                                      tmp_path: Path) -> None:
    bootstrap, proxy = proxied_kafka
    process, port, log = start_collect(bootstrap, server_url, tmp_path)
    url = f"http://127.0.0.1:{port}"

    def kafka_up() -> str:
        text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
        states = {f'cx_dependency_up{{dependency="kafka"}} {value}': state
                  for value, state in (("1.0", "up"), ("0.0", "down"))}
        return next((state for line, state in states.items() if line in text), "")

    try:
        wait_until(lambda: get_json(f"{url}/readyz")["status"] == "ready", 60, "readyz")
        wait_until(lambda: kafka_up() == "up", 15, "Kafka probed up")
        start = len(log.read_text().splitlines())
        proxy.cut()
        wait_until(lambda: kafka_up() == "down", 15, "Kafka probed down")
        time.sleep(10)
        proxy.restore()
        wait_until(lambda: kafka_up() == "up", 15, "Kafka probed up again")
        wait_until(lambda: get_json(f"{url}/readyz")["status"] == "ready", 30, "ready again")
    finally:
        stop_process(process)
    lines = log.read_text().splitlines()[start:]
    assert any("kafka down at" in line for line in lines), lines
    assert any("kafka back after" in line for line in lines), lines
    assert len(lines) < 15 and "Traceback" not in "\n".join(lines), lines
