"""Kafka and ClickHouse as what a service waits for and watches (``streams.dependencies``):
a worker started while its broker is cut off waits, not ready, then runs; one that waits
longer than CX_STARTUP_TIMEOUT exits 3 with one line; the log filter folds client errors."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from aiokafka.errors import KafkaConnectionError
from mode.utils.logging import ExtensionFormatter

from streams.core.outages import EXIT_STARTUP_TIMEOUT
from streams.dependencies import Dependency, FoldClientErrors, Watch, about, about_failure
from streams.ports import free_port
from streams.warehouse import WarehouseUnavailable, connect
from tests.support.events import record, valid_events
from tests.support.services import CXPULSE, produce, table_count, wait_until, worker_env


def status_of(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as page:
            return page.status, page.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.integration
def test_a_worker_started_while_its_broker_is_cut_off_waits_then_runs(
        proxied_kafka, server_url, start_worker, tmp_path) -> None:
    bootstrap, proxy = proxied_kafka
    proxy.cut()
    worker = start_worker(worker_env(bootstrap, server_url, tmp_path))

    def waiting() -> list[str]:
        return [line for line in worker.lines() if line.startswith("waiting for Kafka")]

    wait_until(lambda: len(waiting()) >= 2, 30, "two attempts at Kafka")
    status, body = worker.readyz()
    assert status == 503 and "waiting for Kafka" in body, body
    assert waiting()[0].startswith(f"waiting for Kafka at {bootstrap} (CX_KAFKA_BOOTSTRAP), "
                                   "attempt 1: ")
    assert waiting()[0].endswith("next attempt in 1 s")
    assert waiting()[1].endswith("next attempt in 2 s")
    proxy.restore()

    worker.wait_ready()
    wait_until(lambda: worker.readyz()[0] == 200, 30, "the worker ready")
    events = valid_events(40, time.time())
    produce(bootstrap, [record(e) for e in events])
    warehouse = connect(server_url)
    wait_until(lambda: table_count(warehouse, "interactions") == 20, 60, "the events landed")
    assert worker.alive()
    assert not any("Traceback" in line for line in worker.lines())


@pytest.mark.integration
def test_a_service_gives_up_after_the_startup_timeout_with_one_line_and_exit_code_3(
        kafka, tmp_path) -> None:
    """A worker with nothing reachable gives up on Kafka; a collector whose Kafka answers
    gives up on ClickHouse. Both wait 5 s, side by side."""
    where = f"clickhouse://127.0.0.1:{free_port()}/cx"
    base = os.environ | {"CX_STARTUP_TIMEOUT": "5", "CX_DATA_DIR": str(tmp_path / "data"),
                         "CX_CLICKHOUSE_URL": where.replace("//", "//default:@")}
    collect_port = free_port()
    started = time.monotonic()
    worker = subprocess.Popen(
        [CXPULSE, "worker"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
        env=base | {"CX_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
                    "CX_METRICS_PORT": str(free_port())})
    collector = subprocess.Popen(
        [CXPULSE, "collect", "--port", str(collect_port)], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, cwd=tmp_path, env=base | {"CX_KAFKA_BOOTSTRAP": kafka})
    try:
        readyz = f"http://127.0.0.1:{collect_port}/readyz"
        wait_until(lambda: status_of(readyz)[0] == 503 and f"waiting for ClickHouse at {where} "
                   "(CX_CLICKHOUSE_URL)" in status_of(readyz)[1], 10,
                   "the collector's /readyz while it waits")
        for process, label, setting in ((worker, "Kafka", "CX_KAFKA_BOOTSTRAP"),
                                        (collector, "ClickHouse", "CX_CLICKHOUSE_URL")):
            out, _ = process.communicate(timeout=30)
            lines = out.decode().splitlines()
            assert process.returncode == EXIT_STARTUP_TIMEOUT, lines
            assert lines[-1].startswith(f"cxpulse {process.args[1]}: gave up waiting for "
                                        f"{label} at "), lines
            # The last attempt starts at the timeout and may take a second.
            assert re.search(rf"\({setting}\) after [56] s \(CX_STARTUP_TIMEOUT=5\): ",
                             lines[-1]), lines
            assert all(line.startswith(f"waiting for {label} at ") for line in lines[:-1]), lines
            assert 2 <= len(lines) - 1 <= 4, lines  # a probe takes up to 1 s, pauses 1, 2 s
            assert not any("Traceback" in line for line in lines)
        assert time.monotonic() - started < 20
    finally:
        for process in (worker, collector):
            if process.poll() is None:
                process.kill()
                process.wait()


def fake(name: str) -> Dependency:
    return Dependency(name, name.title(), "here:1", f"CX_{name.upper()}", lambda: None)


def records(name: str, message: str, level: int = logging.ERROR, **extra: object
            ) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_the_filter_lets_client_errors_through_once_a_minute_and_folds_known_outages() -> None:
    now = [0.0]
    watch = Watch([fake("kafka"), fake("clickhouse")])
    fold = FoldClientErrors(watch, clock=lambda: now[0])
    kafka, clickhouse = watch.outages["kafka"], watch.outages["clickhouse"]
    kafka.probed(0.0, None)
    clickhouse.probed(0.0, None)

    first = records("aiokafka.conn", "Unable connect to node with id %s", args=None)
    assert fold.filter(first) and fold.filter(first)  # a second handler, the same verdict
    assert not fold.filter(records("aiokafka.conn", "Unable connect to node with id %s"))
    assert fold.filter(records("aiokafka.client", "Unable to update metadata"))
    assert fold.filter(records("aiokafka.conn", "x", level=logging.INFO))  # not an error
    assert fold.filter(records("streams.worker.ingest", "unrelated"))
    now[0] = 61.0
    again = records("aiokafka.conn", "Unable connect to node with id %s")
    assert fold.filter(again) and again.getMessage().endswith("(1 more like it folded)")
    # Faust's formatter turns args None into (None,): a folded line formats all the same
    assert ExtensionFormatter(io.StringIO(), fmt="%(message)s").format(again) == \
        "Unable connect to node with id %s (1 more like it folded)"
    rebalanced = records("streams.worker.ingest", "ingest: commit failed (%s); replayed",
                         args=("Commit cannot be completed since the group has already\n"
                               "            rebalanced",))
    assert fold.filter(rebalanced) and rebalanced.getMessage() == (
        "ingest: commit failed (Commit cannot be completed since the group has already "
        "rebalanced); replayed")  # one line
    now[0] = 122.0
    try:
        raise KafkaConnectionError("Connection at here:1 closed")
    except KafkaConnectionError:
        failed = records("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s",
                         args=None, exc_info=sys.exc_info())
    failed.args = (111, "closed")
    assert fold.filter(failed)
    assert ExtensionFormatter(io.StringIO(), fmt="%(message)s").format(failed) == (
        "Failed fetch messages from 111: closed (KafkaConnectionError: KafkaConnectionError: "
        "Connection at here:1 closed)")
    ours = records("streams.worker.sink", "ClickHouse insert failed",
                   **about("clickhouse", "ClickHouse insert"))
    assert fold.filter(ours)  # not known down: our own retry line stays

    kafka.probed(62.0, "closed the connection")
    clickhouse.probed(62.0, "refused")
    for _ in range(100):
        assert not fold.filter(records("aiokafka.consumer.fetcher", "Failed fetch"))
    assert not fold.filter(records("streams.worker.sink", "ClickHouse insert failed",
                                   **about("clickhouse", "ClickHouse insert")))
    assert kafka.folded == 100 and kafka.waiting == {"consumers": 100}
    assert clickhouse.waiting == {"ClickHouse insert": 1} and clickhouse.attempts == 2
    assert watch.problems() == ["kafka at here:1 (CX_KAFKA): down: closed the connection",
                                "clickhouse at here:1 (CX_CLICKHOUSE): down: refused"]


def test_a_failure_is_marked_with_the_dependency_whose_client_raised_it() -> None:
    assert about_failure(WarehouseUnavailable("gone"), "insert") == about("clickhouse", "insert")
    assert about_failure(KafkaConnectionError("closed"), "publish") == about("kafka", "publish")
    assert about_failure(ValueError("a bug"), "insert") is None  # always logged
