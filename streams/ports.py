"""Local TCP ports: a free one to listen on, and waiting until one answers.

Both the local Kafka broker and the private ClickHouse server start processes on free
ports and wait for them; this module sits below both so neither borrows from the other.
"""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    """A port on loopback that nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Return once ``host:port`` accepts a connection; TimeoutError (saying where and why)
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answers on {host}:{port} after {timeout:.0f}s: "
                                   f"{error}") from None
            time.sleep(0.05)
