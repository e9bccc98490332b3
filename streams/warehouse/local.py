"""A private ClickHouse server (Debian's ``clickhouse-server``, 18.16) on loopback ports.

For tests and ``cxpulse bench``, like the local broker is for Kafka: a real server
with its own data directory, started and stopped as a child process.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from streams.ports import free_port
from streams.warehouse import WarehouseError, connect

START_SECONDS = 90
"""How long a started server may take to answer: a restart with many parts on a busy
machine took over 30 s."""
CLICKHOUSE_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{dir}/server.log</log><errorlog>{dir}/error.log</errorlog>
    <console>0</console></logger>
  <tcp_port>{port}</tcp_port>
  <http_port>{http_port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>{secure}
</yandex>
"""
SECURE_PORT = """
  <tcp_port_secure>{port}</tcp_port_secure>
  <openSSL><server><certificateFile>{cert}</certificateFile><privateKeyFile>{key}</privateKeyFile>
    <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>
    <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols></server></openSSL>"""
PASSWORD_USER = """<{name}><password>{password}</password><networks><ip>127.0.0.1</ip><ip>::1</ip>
    </networks><profile>default</profile><quota>default</quota></{name}>"""
CLICKHOUSE_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default>{users}</users>
  <quotas><default></default></quotas>
</yandex>
"""


class ClickHouseServer:
    """A private clickhouse-server (Debian's 18.16) on free loopback ports.

    With ``tls`` (PEM certificate and key files) it also serves the native protocol over TLS
    on ``secure_port``; ``users`` adds password users (name -> password), for the TLS tests.
    The ``default`` user keeps no password on the plain port, for the start-up probe.
    """

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None,
                 users: dict[str, str] | None = None) -> None:
        binary = shutil.which("clickhouse-server")
        if binary is None:
            raise WarehouseError("clickhouse-server is not installed: run `make test` (it installs "
                               "Debian's clickhouse-server) or deploy/local/install-system-deps.sh")
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.secure_port = free_port() if tls else None
        root.mkdir(parents=True, exist_ok=True)
        secure = SECURE_PORT.format(port=self.secure_port, cert=tls[0], key=tls[1]) if tls else ""
        (root / "config.xml").write_text(CLICKHOUSE_CONFIG.format(
            dir=root, port=self.port, http_port=free_port(), secure=secure))
        (root / "users.xml").write_text(CLICKHOUSE_USERS.replace("{users}", "".join(
            PASSWORD_USER.format(name=name, password=password)
            for name, password in (users or {}).items())))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"clickhouse://default:@127.0.0.1:{self.port}/{database}"

    def secure_url(self, database: str, user: str) -> str:
        """The TLS port for ``user``, whose password is given apart (CX_CLICKHOUSE_PASSWORD)."""
        return f"clickhouses://{user}@localhost:{self.secure_port}/{database}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, f"--config-file={self.root / 'config.xml'}"], cwd=self.root,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        probe = connect(self.url("default"))
        deadline = time.monotonic() + START_SECONDS
        try:
            while True:
                try:
                    probe.query("SELECT 1 AS ok")
                    return
                except WarehouseError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise WarehouseError(f"clickhouse-server did not answer on port "
                                             f"{self.port}; see {self.root}/error.log") from None
                    time.sleep(0.2)
        finally:
            probe.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
