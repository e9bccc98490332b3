"""Certificates and TLS endpoints for the secure-connection tests, made with Debian tools.

``make_certificates`` runs the ``openssl`` CLI once per session: a CA, a server certificate
for ``localhost``/``127.0.0.1`` and a client certificate signed by it, plus a second CA
that signed nothing here (a client trusting only it must refuse the server). ``Stunnel``
is a TLS terminator in front of a plaintext port: the local broker does not serve TLS.
"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streams.ports import free_port, wait_for_port
from tests.support.services import system_binary

SERVER_EXTENSIONS = """subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
"""
CLIENT_EXTENSIONS = """basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
"""


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    """A CA that signed neither certificate: trusting only it must fail."""


def _openssl(*args: str | Path) -> None:
    subprocess.run([system_binary("openssl"), *map(str, args)], check=True,
                   capture_output=True, timeout=60)


def _new_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key,
             "-out", cert, "-subj", f"/CN=cxpulse test {name}")
    return cert, key


def _signed(directory: Path, name: str, subject: str, ca: tuple[Path, Path],
            extensions: str) -> tuple[Path, Path]:
    cert, key, request = (directory / f"{name}.pem", directory / f"{name}.key",
                          directory / f"{name}.csr")
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
             "-subj", subject)
    _openssl("x509", "-req", "-in", request, "-CA", ca[0], "-CAkey", ca[1],
             "-CAcreateserial", "-days", "2", "-out", cert, "-extfile",
             directory / f"{name}.ext")
    return cert, key


def make_certificates(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _new_ca(directory, "ca")
    other, _ = _new_ca(directory, "other-ca")
    server = _signed(directory, "server", "/CN=localhost", ca, SERVER_EXTENSIONS)
    client = _signed(directory, "client", "/CN=cxpulse-client", ca, CLIENT_EXTENSIONS)
    for path in directory.iterdir():
        path.chmod(0o600)  # ClickHouse and stunnel read the keys as this user
    return Certificates(ca[0], *server, *client, other)


class Stunnel:
    """``stunnel4`` accepting TLS on ``port`` and forwarding plaintext to ``target_port``.

    With ``client_ca`` it requires a client certificate signed by that CA (mutual TLS).
    """

    def __init__(self, directory: Path, certificates: Certificates, target_port: int,
                 port: int | None = None, client_ca: Path | None = None) -> None:
        self.port = port or free_port()
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "stunnel.conf"
        verify = f"verifyChain = yes\nCAfile = {client_ca}\n" if client_ca else ""
        config.write_text(
            f"foreground = yes\npid =\noutput = {directory / 'stunnel.log'}\n"
            f"[kafka]\naccept = 127.0.0.1:{self.port}\nconnect = 127.0.0.1:{target_port}\n"
            f"cert = {certificates.server_cert}\nkey = {certificates.server_key}\n{verify}")
        self.process = subprocess.Popen(
            [system_binary("stunnel4"), str(config)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=(directory / "stunnel.err").open("ab"))
        try:
            wait_for_port("127.0.0.1", self.port, timeout=10)
        except TimeoutError:
            self.stop()
            raise

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
