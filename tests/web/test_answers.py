"""The bounds every HTTP server shares, on a real aiohttp server: the idle cut-off that stops
a client trickling its headers (IDLE_SECONDS relies on it), the header limits, and the
/metrics token."""

from __future__ import annotations

import asyncio
import socket
import time

from aiohttp import web

from streams.web.answers import HEADER_LIMITS, metrics_refusal


async def serve(idle: float) -> tuple[web.AppRunner, int]:
    async def metrics(request: web.Request) -> web.Response:
        return metrics_refusal(request, "tok") or web.Response(text="ok")

    app = web.Application(handler_args={**HEADER_LIMITS, "keepalive_timeout": idle})
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def trickle(port: int, seconds: float) -> float | None:
    """Send one header line every 0.2 s, never ending the request: when the server hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
        connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            try:
                connection.sendall(b"X-A: 1\r\n")
                connection.settimeout(0.2)
                if connection.recv(100) == b"":
                    return time.monotonic() - start
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - start
    return None


def ask(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head)
        return connection.recv(65536)


def test_a_trickling_client_is_cut_off_and_huge_headers_refused() -> None:
    async def main() -> None:
        runner, port = await serve(idle=1.0)
        try:
            closed = await asyncio.to_thread(trickle, port, 10)
            assert closed is not None and closed < 3, closed
            huge = await asyncio.to_thread(ask, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: "
                                           + b"x" * 9000 + b"\r\n\r\n")
            assert huge.split(b" ")[1] == b"400"
            many = b"".join(b"X-%d: 1\r\n" % i for i in range(HEADER_LIMITS["max_headers"] + 1))
            answer = await asyncio.to_thread(ask, port, b"GET /metrics HTTP/1.1\r\n" + many
                                             + b"\r\n")
            assert answer.split(b" ")[1] == b"400"
            good = await asyncio.to_thread(ask, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                           b"Authorization: Bearer tok\r\n\r\n")
            assert good.split(b" ")[1] == b"200"
            bad = await asyncio.to_thread(ask, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                          b"Authorization: Bearer tok2\r\n\r\n")
            assert bad.split(b" ")[1] == b"401" and b"WWW-Authenticate: Bearer" in bad
        finally:
            await runner.cleanup()

    asyncio.run(main())
