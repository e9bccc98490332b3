"""Local ports: a free one is free, and waiting ends when it answers or says where not."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from streams.ports import free_port, wait_for_port


def test_a_free_port_can_be_listened_on() -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        wait_for_port("127.0.0.1", port, timeout=2)


def test_waiting_ends_when_the_port_starts_answering() -> None:
    port = free_port()
    listener = socket.socket()

    def listen_late() -> None:
        time.sleep(0.3)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    late = threading.Thread(target=listen_late)
    late.start()
    try:
        started = time.monotonic()
        wait_for_port("127.0.0.1", port, timeout=10)
        assert 0.25 < time.monotonic() - started < 9
    finally:
        late.join()
        listener.close()


def test_nothing_answering_is_a_timeout_naming_the_address() -> None:
    port = free_port()
    with pytest.raises(TimeoutError, match=f"nothing answers on 127.0.0.1:{port} after 0s"):
        wait_for_port("127.0.0.1", port, timeout=0.2)
