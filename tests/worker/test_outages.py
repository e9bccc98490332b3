"""A worker through a 40 s broker outage, then a 40 s ClickHouse outage, each behind a TCP
proxy that the test cuts: every event lands once, scores are exact, and each outage costs
the log a few lines (aiokafka alone wrote thousands before they were folded)."""

from __future__ import annotations

import subprocess
import time

import pytest

from streams.tools.proxy import TcpProxy
from streams.warehouse import connect
from streams.worker.run import STOP_GRACE_S
from tests.support.events import record, valid_events
from tests.support.services import CXPULSE, produce, table_count, wait_until, worker_env
from tests.worker.test_app import expected_counts

pytestmark = pytest.mark.integration

OUTAGE_S = 40.0
MAX_LINES = 50


def test_a_broker_then_a_clickhouse_outage_lose_nothing_and_log_little(
        proxied_kafka, clickhouse_server, start_worker, tmp_path) -> None:
    bootstrap, broker_proxy = proxied_kafka
    clickhouse_proxy = TcpProxy(clickhouse_server.port)
    try:
        url = clickhouse_server.url("outages").replace(
            f":{clickhouse_server.port}/", f":{clickhouse_proxy.port}/")
        worker = start_worker(worker_env(bootstrap, url, tmp_path))
        worker.wait_ready()
        wait_until(lambda: worker.readyz()[0] == 200, 30, "the worker ready")
        warehouse = connect(clickhouse_server.url("outages"))
        sent: list[dict] = []

        def send(prefix: str, count: int = 400) -> None:
            events = valid_events(count, time.time(), prefix=prefix)
            produce(bootstrap, [record(e) for e in events + events[::7]])  # with duplicates
            sent.extend(events)

        def landed() -> bool:
            return all(table_count(warehouse, table) == n
                       for table, n in expected_counts(sent).items())

        def outage(name: str, proxy: TcpProxy, during: str | None) -> int:
            """Cut ``name`` for 40 s (sending events meanwhile if it can); the lines the
            worker logged from the cut until everything sent has landed."""
            send(f"before-{name}")
            start = len(worker.lines())
            proxy.cut()
            wait_until(lambda: worker.counter("cx_dependency_up", dependency=name) == 0, 15,
                       f"{name} down in cx_dependency_up")
            status, body = worker.readyz()
            assert status == 503 and name in body, body
            if during:
                send(during)
            time.sleep(OUTAGE_S - 1)
            proxy.restore()
            wait_until(lambda: worker.counter("cx_dependency_up", dependency=name) == 1, 30,
                       f"{name} back in cx_dependency_up")
            send(f"after-{name}")
            wait_until(landed, 90, f"every event sent around the {name} outage")
            lines = worker.lines()[start:]
            assert any(f"{name} down at" in line for line in lines), lines
            assert any(f"{name} back after" in line for line in lines), lines
            assert not any("Traceback" in line for line in lines), lines
            assert worker.counter("cx_dependency_down_seconds_total",
                                  dependency=name) >= OUTAGE_S - 10
            return len(lines)

        kafka_lines = outage("kafka", broker_proxy, during=None)
        clickhouse_lines = outage("clickhouse", clickhouse_proxy, during="during-clickhouse")
        print(f"log lines: broker outage {kafka_lines}, ClickHouse outage {clickhouse_lines}")
        assert kafka_lines < MAX_LINES and clickhouse_lines < MAX_LINES, \
            (kafka_lines, clickhouse_lines)
        assert worker.alive()
        assert worker.readyz()[0] == 200

        result = subprocess.run([CXPULSE, "verify"], env={"CX_CLICKHOUSE_URL": url},
                                capture_output=True, timeout=60)
        assert result.returncode == 0, result.stdout.decode()[-2000:]
    finally:
        clickhouse_proxy.stop()


def test_a_worker_told_to_stop_while_the_broker_is_cut_stops(proxied_kafka, server_url,
                                                              start_worker, tmp_path) -> None:
    """SIGTERM during a broker outage: the worker ends within its drain bound and a few
    seconds, instead of waiting on a broker that does not answer."""
    bootstrap, proxy = proxied_kafka
    worker = start_worker(worker_env(bootstrap, server_url, tmp_path))
    worker.wait_ready()
    events = valid_events(20, time.time(), prefix="before-stop")
    produce(bootstrap, [record(e) for e in events])
    warehouse = connect(server_url)
    wait_until(lambda: all(table_count(warehouse, table) == n
                           for table, n in expected_counts(events).items()), 60,
               "the ingest consuming")
    proxy.cut()
    wait_until(lambda: worker.counter("cx_dependency_up", dependency="kafka") == 0, 15,
               "kafka down in cx_dependency_up")
    asked = time.monotonic()
    worker.process.terminate()
    try:
        code = worker.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        code = None
    took = time.monotonic() - asked
    assert code == 0, (code, took, worker.lines()[-10:])
    print(f"stopped {took:.1f}s after SIGTERM with the broker cut")
    assert took < 6 + STOP_GRACE_S + 10  # CX_SESSION_TIMEOUT, the grace, a start-up's slack
    lines = worker.lines()
    assert not any("Traceback" in line for line in lines), lines[-20:]
