"""Fixtures for real services; see tests/support/services.py for how each one starts."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from streams.kafka import broker
from streams.ports import free_port
from streams.tools.proxy import TcpProxy
from streams.warehouse import Warehouse, connect
from streams.warehouse.local import ClickHouseServer
from tests.support.services import (
    Alertmanager,
    Collector,
    Prometheus,
    Server,
    Webhook,
    Worker,
)
from tests.support.tls import Certificates, Stunnel, make_certificates

# Property tests assert what holds, not how fast: a machine busy with other work (CI, a
# benchmark) must not fail them on Hypothesis's per-example deadline or its speed checks.
settings.register_profile("cx", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cx")

_ids = itertools.count(1)


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[str]:
    """A fresh Tansu broker per test (it starts in ~50 ms, and memory topics isolate tests)."""
    running = broker.start(tmp_path / "broker")
    try:
        yield running.bootstrap
    finally:
        broker.stop(running, tmp_path / "broker")


@pytest.fixture
def proxied_kafka(tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """A fresh broker that every client reaches through a proxy the test can cut and restore
    (``TcpProxy.cut``): a broker outage without losing the broker's in-memory topics."""
    proxy_port, broker_port = free_port(), free_port()
    running = broker.start(tmp_path / "broker", broker_port, advertise=f"127.0.0.1:{proxy_port}")
    proxy = TcpProxy(broker_port, proxy_port)
    try:
        yield running.bootstrap, proxy
    finally:
        proxy.stop()
        broker.stop(running, tmp_path / "broker")


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA, a server and a client certificate for this session (``openssl``, ~0.6 s)."""
    return make_certificates(tmp_path_factory.mktemp("tls"))


def _behind_stunnel(tmp_path: Path, certificates: Certificates, authentication: bool
                    ) -> Iterator[str]:
    tls_port, broker_port = free_port(), free_port()
    running = broker.start(tmp_path / "broker", broker_port, advertise=f"127.0.0.1:{tls_port}",
                           authentication=authentication)
    try:
        stunnel = Stunnel(tmp_path / "stunnel", certificates, broker_port, tls_port,
                          client_ca=certificates.ca)
        try:
            yield running.bootstrap
        finally:
            stunnel.stop()
    finally:
        broker.stop(running, tmp_path / "broker")


@pytest.fixture
def tls_kafka(tmp_path: Path, certificates: Certificates) -> Iterator[str]:
    """A fresh broker reachable only through TLS (stunnel, client certificate required):
    its bootstrap, the TLS port it advertises. The plaintext port is for no client."""
    yield from _behind_stunnel(tmp_path, certificates, authentication=False)


@pytest.fixture
def sasl_kafka(tmp_path: Path, certificates: Certificates) -> Iterator[str]:
    """Like ``tls_kafka``, and the broker requires a SASL login (Tansu ``--authentication``)."""
    yield from _behind_stunnel(tmp_path, certificates, authentication=True)


CLICKHOUSE_USER, CLICKHOUSE_PASSWORD = "cx", "s3cret-Pa55"


@pytest.fixture(scope="session")
def tls_clickhouse(tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
                   ) -> Iterator[ClickHouseServer]:
    """A second ClickHouse server with a TLS native port and a password user
    (``CLICKHOUSE_USER``), started only by the tests that need it."""
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse-tls"),
                              tls=(certificates.server_cert, certificates.server_key),
                              users={CLICKHOUSE_USER: CLICKHOUSE_PASSWORD})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_collector() -> Iterator[Callable[..., Collector]]:
    """Start collectors in this process (``streams.collect``) for settings and a bootstrap;
    all are stopped after the test."""
    started: list[Collector] = []

    def start(settings: object, bootstrap: str) -> Collector:
        started.append(Collector(settings, bootstrap))
        return started[-1]

    yield start
    for collector in started:
        collector.stop()


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_url(clickhouse_server: ClickHouseServer) -> str:
    """A URL with a database of its own for this test."""
    return clickhouse_server.url(f"test_{next(_ids)}")


@pytest.fixture
def server_warehouse(server_url: str) -> Iterator[Warehouse]:
    warehouse = connect(server_url)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def embedded_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The test process's one chdb (chdb allows one per process); tests use own tables."""
    return connect(f"chdb://{tmp_path_factory.mktemp('chdb')}?database=embedded_tests")


@pytest.fixture(params=["server", "embedded"])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Both engines the schema promises to run on: ClickHouse 18.16 server and current chdb."""
    if request.param == "server":
        return request.getfixturevalue("server_warehouse")
    return request.getfixturevalue("embedded_warehouse")


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[object]:
    """Start ``cxpulse worker`` subprocesses; all are stopped after the test."""
    workers: list[Worker] = []

    def start(env: dict[str, str], name: str = "worker") -> Worker:
        worker = Worker(env, tmp_path / f"{name}-{len(workers)}.log")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A receiver for Alertmanager's webhook notifications."""
    receiver = Webhook()
    yield receiver
    receiver.stop()


def _servers(kind: type[Server], tmp_path: Path) -> Iterator[Callable[[dict], Server]]:
    started: list[Server] = []

    def start(config: dict) -> Server:
        started.append(kind(tmp_path / f"{kind.binary}-{len(started)}", config))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_alertmanager(tmp_path: Path) -> Iterator[Callable[[dict], Server]]:
    """Start Debian's Alertmanager with a configuration; stopped after the test."""
    yield from _servers(Alertmanager, tmp_path)


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[dict], Server]]:
    """Start Debian's Prometheus with a configuration; stopped after the test."""
    yield from _servers(Prometheus, tmp_path)
