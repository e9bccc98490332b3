"""Real services for tests, started as local processes: Tansu broker, ClickHouse server, workers,
Prometheus, Alertmanager, and a webhook receiver for Alertmanager's notifications.

Fixtures in conftest.py wrap these; tests never mock Kafka or ClickHouse.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import yaml

from streams.ports import free_port
from streams.warehouse import Warehouse, WarehouseError

CXPULSE = str(Path(sys.executable).with_name("cxpulse"))
# Debian package of each system binary the tests run (deploy/local/install-system-deps.sh).
PACKAGES = {"promtool": "prometheus", "prometheus": "prometheus",
            "amtool": "prometheus-alertmanager",
            "prometheus-alertmanager": "prometheus-alertmanager", "tmux": "tmux",
            "stunnel4": "stunnel4", "openssl": "openssl"}

def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as error:  # the service may still be starting
            last = error
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class Worker:
    """``cxpulse worker`` as a real subprocess with its own metrics port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.env = os.environ | env | {"CX_METRICS_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [CXPULSE, "worker", "--loglevel", "warn"], env=self.env, cwd=log.parent,
            stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as page:
            return page.read().decode()

    def counter(self, name: str, **labels: str) -> float:
        """Sum of a counter's samples whose labels include ``labels``."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{key}="{value}"' in line for key, value in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(lambda: self.alive() and "cx_sink_errors_total" in self.metrics(), timeout,
                   f"worker metrics on :{self.port} (log {self.log})")

    def readyz(self) -> tuple[int, str]:
        """/readyz's status and body: 503 while Kafka or ClickHouse does not answer, also
        while the worker waits for them at start-up."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz",
                                        timeout=5) as page:
                return page.status, page.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def lines(self) -> list[str]:
        """What the worker has logged so far."""
        return self.log.read_text(errors="replace").splitlines()

    def gauge(self, name: str) -> float:
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.process, sig, timeout=30)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM,
                 timeout: float = 10) -> None:
    """Ask a service process to stop, and kill it if it has not within ``timeout``."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_env(kafka: str, url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for a test's workers: its broker and database, a group of its own."""
    return {"CX_KAFKA_BOOTSTRAP": kafka, "CX_CLICKHOUSE_URL": url,
            "CX_DATA_DIR": str(tmp_path / "data"), "CX_SESSION_TIMEOUT": "6",
            "CX_APP_ID": f"cxtest-{tmp_path.name}", "CX_BATCH_SECONDS": "0.2",
            # The comment model costs a core while it works: only the tests of it turn it on.
            "CX_COMMENT_ENRICH": "off"}


def wait_balanced(workers: list[Worker], partitions: int, timeout: float = 90) -> None:
    """Until every worker consumes some of the source partitions and together all of them."""
    def balanced() -> bool:
        counts = [worker.gauge("cx_assigned_partitions") for worker in workers]
        return all(counts) and sum(counts) == partitions
    wait_until(balanced, timeout, f"{len(workers)} workers to share {partitions} partitions")


def table_count(warehouse: Warehouse, table: str) -> int:
    try:
        return int(warehouse.query(
            f"SELECT count() AS n FROM {warehouse.database}.{table} FINAL")[0]["n"])
    except WarehouseError:
        return -1


async def _produce(bootstrap: str, records: list[tuple[str, bytes | None, bytes | None]]) -> list:
    from streams.kafka.produce import producer
    from streams.kafka.security import PLAINTEXT

    async with producer(bootstrap, PLAINTEXT) as client:
        deliveries = [await client.send(topic, value, key=key)  # type: ignore[attr-defined]
                      for topic, key, value in records]
        return [await delivery for delivery in deliveries]


def produce(bootstrap: str, records: list[tuple[str, bytes | None, bytes | None]]) -> list:
    """Send (topic, key, value) records as they are; return their RecordMetadata."""
    import asyncio

    return asyncio.run(_produce(bootstrap, records))


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[bytes]:
    """Read a topic from the start (no consumer group) until ``expected`` messages arrived."""
    return [value for _, value in consume_keyed(bootstrap, topic, expected, timeout)]


def consume_keyed(bootstrap: str, topic: str, expected: int, timeout: float = 30
                  ) -> list[tuple[bytes | None, bytes]]:
    """``consume_all`` with each message's key: (key, value) pairs."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    max_partition_fetch_bytes=16 * 1024 * 1024,
                                    fetch_max_bytes=64 * 1024 * 1024)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            consumer.assign([TopicPartition(topic, p) for p in partitions])
            await consumer.seek_to_beginning()
            messages: list[tuple[bytes | None, bytes]] = []
            deadline = time.monotonic() + timeout
            while len(messages) < expected and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                messages += [(m.key, m.value) for batch in batches.values() for m in batch]
            return messages
        finally:
            await consumer.stop()

    return asyncio.run(run())


def committed(bootstrap: str, group: str, partitions: int = 4) -> int:
    """Sum of the offsets ``group`` has committed on the source topics (0 where none)."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.kafka import SOURCE_TOPICS

    async def run() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            return sum([await consumer.committed(TopicPartition(topic, partition)) or 0
                        for topic in SOURCE_TOPICS for partition in range(partitions)])
        finally:
            await consumer.stop()

    return asyncio.run(run())


def system_binary(name: str) -> str:
    """A binary from a Debian package the tests run for real; fail saying how to install it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
    if found is None:
        pytest.fail(f"{name} is not installed: run `make system-deps` "
                    f"(installs Debian's {PACKAGES[name]} package)", pytrace=False)
    return found


PROMETHEUS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "prometheus.yml"
WORKER_JOB = "cxpulse-worker"


def render_prometheus(targets: list[str], alertmanager: Alertmanager | None = None
                      ) -> dict[str, Any]:
    """The deploy configuration scraping ``targets`` as the worker job every second, evaluating
    the real rule files every second and alerting ``alertmanager`` (none: no alerting)."""
    config = yaml.safe_load(PROMETHEUS_FILE.read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_FILE.parent / name) for name in config["rule_files"]]
    if alertmanager is None:
        del config["alerting"]
    else:
        config["alerting"]["alertmanagers"] = [
            {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager.port}"]}]}]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == WORKER_JOB]
    job.pop("dns_sd_configs")
    job["static_configs"] = [{"targets": targets}]
    config["scrape_configs"] = [job]
    return config


def get_json(url: str, key: str | None = None) -> Any:
    """The JSON at ``url``, read with a key (``Authorization: Bearer``) when given."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=5) as page:
        return json.loads(page.read())


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 10,
          source: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET, whatever the status; from the loopback address
    ``source`` when given (servers count failed logins per client address)."""
    if source is not None:
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout,
                                                source_address=(source, 0))
        try:
            connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                               headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.headers), response.read()
        finally:
            connection.close()
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as page:
            return page.status, dict(page.headers), page.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def stored_key(warehouse: Warehouse, tenant: str, scope: str = "read") -> str:
    """A new key stored in ``warehouse`` (migrated), as ``cxpulse keys create`` makes one."""
    from streams.core.keys import new_key
    from streams.queries.keys import store_key

    record, text = new_key(tenant, scope, "test", int(time.time()))
    store_key(warehouse, record)
    return text


class Server:
    """A Prometheus-family server (Prometheus, Alertmanager) as a real process on a free port,
    its configuration rendered into its own directory; ``/-/ready`` says when it serves."""

    binary = ""
    config_name = ""

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_file = directory / self.config_name
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = directory / "server.log"
        self.process = subprocess.Popen(
            [system_binary(self.binary), *self.arguments(directory)], cwd=directory,
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self.ready, 30, f"{self.binary} on :{self.port} (log {self.log})")

    def arguments(self, directory: Path) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.binary} exited: {self.log.read_text()[-2000:]}")
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as page:
            return page.status == 200

    def stop(self) -> None:
        stop_process(self.process)


class Prometheus(Server):
    """Debian's Prometheus with a test's configuration and a throwaway TSDB."""

    binary = "prometheus"
    config_name = "prometheus.yml"

    def arguments(self, directory: Path) -> list[str]:
        return [f"--config.file={self.config_file}", f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}"]

    def alerts(self) -> list[dict[str, Any]]:
        return get_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]


class Alertmanager(Server):
    """Debian's Alertmanager, alone (clustering off), with a test's configuration."""

    binary = "prometheus-alertmanager"
    config_name = "alertmanager.yml"

    def arguments(self, directory: Path) -> list[str]:
        return [f"--config.file={self.config_file}", f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="]

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """Send alerts as Prometheus does (API v2)."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5):
            pass

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert it holds, with ``status.state`` and ``status.inhibitedBy``."""
        return get_json(f"{self.url}/api/v2/alerts")


class Webhook:
    """An HTTP receiver for Alertmanager's webhook notifications, kept in arrival order."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body) | {"path": self.path})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        """(receiver, alert) for every alert in every notification so far."""
        return [(note["receiver"], alert) for note in list(self.notifications)
                for alert in note["alerts"]]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Collector:
    """The HTTP collector in this process (``streams.collect.run.Background``), serving a real
    TCP port: tests talk HTTP to it as clients would."""

    def __init__(self, settings: Any, bootstrap: str) -> None:
        from streams.collect.app import STATE
        from streams.collect.run import Background

        self.port = free_port()
        self.background = Background(settings, bootstrap=bootstrap, port=self.port).start()
        self.url = self.background.url
        self.state = self.background.app[STATE]

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None,
             timeout: float = 30) -> tuple[int, dict[str, str], Any]:
        """(status, headers, parsed JSON body) of one POST."""
        request = urllib.request.Request(self.url + path, data=body, method="POST",
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as page:
                return page.status, dict(page.headers), json.loads(page.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as page:
                return page.status, page.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> None:
        self.background.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
