"""A real two-shard ClickHouse cluster on loopback: Debian's ZooKeeper and two 18.16 servers.

What ``CX_CLICKHOUSE_CLUSTER`` is for, small: both servers list the cluster in
``<remote_servers>`` (one replica per shard), share ZooKeeper for replicated
tables and ON CLUSTER DDL, and name their shard and replica in ``<macros>``.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from streams.ports import free_port
from streams.warehouse.local import ClickHouseServer
from streams.warehouse.migrate import CLUSTER_SETTINGS
from tests.support.services import stop_process

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")

CLUSTER_CONFIG = """<?xml version="1.0"?>
<yandex>
  <zookeeper><node><host>127.0.0.1</host><port>{zookeeper}</port></node></zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <remote_servers><{cluster}>{shards}</{cluster}></remote_servers>
  <macros><shard>{shard:02d}</shard><replica>replica-{shard}</replica></macros>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>{interserver}</interserver_http_port>
</yandex>
"""
# ON CLUSTER DDL runs with the servers' default profile, not the client's settings:
# 18.16 needs LowCardinality allowed there (current ClickHouse allows it anyway).
PROFILE = """<?xml version="1.0"?>
<yandex><profiles><default>
  <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
</default></profiles></yandex>
"""
# internal_replication: a write through a Distributed table goes to one replica of the shard
# and replication copies it (else the Distributed table writes every replica itself).
SHARD = ("<shard><internal_replication>true</internal_replication>"
         "<replica><host>127.0.0.1</host><port>{port}</port></replica></shard>")


class ZooKeeper:
    """Debian's ZooKeeper, standalone, on a free loopback port."""

    def __init__(self, root: Path) -> None:
        if not ZOOKEEPER_JAR.exists():
            pytest.fail("ZooKeeper is not installed: run `make system-deps` "
                        "(installs Debian's zookeeper package)", pytrace=False)
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = root / "zookeeper.log"
        self.process = subprocess.Popen(
            ["java", "-Xmx256m", "-Dzookeeper.admin.enableServer=false",
             "-cp", str(ZOOKEEPER_JAR), "org.apache.zookeeper.server.ZooKeeperServerMain",
             str(self.port), str(root / "data")],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ZooKeeper exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"srvr")
                    if b"Mode" in sock.recv(1024):
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"ZooKeeper did not answer on port {self.port}; see {self.log}")

    def stop(self) -> None:
        stop_process(self.process)


class ClickHouseCluster:
    """``shards`` private ClickHouse servers forming cluster ``name`` over one ZooKeeper."""

    def __init__(self, root: Path, name: str, shards: int = 2) -> None:
        self.name = name
        self.zookeeper = ZooKeeper(root / "zookeeper")
        self.servers = [ClickHouseServer(root / f"shard-{index}") for index in range(shards)]
        layout = "".join(SHARD.format(port=server.port) for server in self.servers)
        for index, server in enumerate(self.servers, start=1):
            (server.root / "config.d").mkdir(exist_ok=True)
            (server.root / "config.d" / "cluster.xml").write_text(CLUSTER_CONFIG.format(
                zookeeper=self.zookeeper.port, cluster=name, shards=layout, shard=index,
                interserver=free_port()))
            (server.root / "users.d").mkdir(exist_ok=True)
            (server.root / "users.d" / "profile.xml").write_text(PROFILE)

    def start(self) -> None:
        self.zookeeper.wait_ready()
        for server in self.servers:
            server.start()

    def urls(self, database: str) -> list[str]:
        """One URL per server, with the query settings cluster mode needs."""
        query = "&".join(f"{name}={value}" for name, value in CLUSTER_SETTINGS.items())
        return [f"{server.url(database)}?{query}" for server in self.servers]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.zookeeper.stop()
