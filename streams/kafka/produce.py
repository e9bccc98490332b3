"""Send JSON Lines to the pipeline's topics, routed by each event's ``type``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.core.contract import TOPIC_OF_TYPE, routing_key
from streams.kafka.security import KafkaSecurity, client_failure

Record = tuple[str, bytes | None, bytes]
CHUNK = 5_000
FLUSH_SECONDS = 0.25  # paced (live) traffic must not wait for a full chunk


class RouteError(ValueError):
    """A line that cannot be routed to a topic; the message says why."""


@contextlib.asynccontextmanager
async def producer(bootstrap: str, security: KafkaSecurity, *, acks: int | str = 1,
                   linger_ms: int = 20, request_timeout_ms: int = 30000
                   ) -> AsyncIterator[object]:
    """An aiokafka producer tuned for throughput (batched, lingering 20 ms).

    The collector asks for ``acks="all"`` (its 200 promises the event is in Kafka) and a
    shorter linger, since every request waits for its acknowledgement.
    """
    from aiokafka import AIOKafkaProducer

    client = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms, acks=acks,
                              max_batch_size=1024 * 1024, max_request_size=4 * 1024 * 1024,
                              request_timeout_ms=request_timeout_ms, **security.aiokafka())
    try:
        await client.start()
    except Exception as error:
        with contextlib.suppress(Exception):
            await client.stop()
        raise client_failure(bootstrap, security, error) from error
    try:
        yield client
    finally:
        await client.stop()


async def send_all(client: object, records: list[tuple[str, bytes | None, bytes]]) -> None:
    """Send (topic, key, value) records and wait until the broker has them all.

    Raises the first failure. Cancelled (a timeout) or failed, the sends left in flight
    still finish or fail in the producer, and their outcome is collected, never left
    unread. Awaiting the deliveries in turn (not ``gather``) costs one wake-up per
    broker batch instead of a callback per record.
    """
    send = client.send  # type: ignore[attr-defined]
    deliveries: list[asyncio.Future] = []
    try:
        for topic, key, value in records:
            deliveries.append(await send(topic, value, key=key))
        for delivery in deliveries:
            await delivery
    except BaseException:
        for delivery in deliveries:
            delivery.add_done_callback(_collect)
        raise


def _collect(delivery: asyncio.Future) -> None:
    if not delivery.cancelled():
        delivery.exception()


def route(line: bytes, topic: str | None = None) -> Record:
    """(topic, key, value) for one JSON line; ``topic`` forces the topic and skips parsing.

    The key is ``contract.routing_key``: the event id (the feedback id for follow-ups).
    """
    if topic:
        return topic, None, line
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise RouteError(f"not JSON ({error})") from None
    if not isinstance(event, dict):
        raise RouteError(f"no routable 'type' (got a JSON {type(event).__name__})")
    return _record(event, line)


def record_of(event: dict[str, Any]) -> Record:
    """The record for an event we built ourselves (no second parse)."""
    return _record(event, orjson.dumps(event))


def _record(event: dict[str, Any], value: bytes) -> Record:
    kind = event.get("type")
    if kind not in TOPIC_OF_TYPE:
        raise RouteError(f"no routable 'type' (got {kind!r}; expected one of "
                         f"{', '.join(TOPIC_OF_TYPE)})")
    return TOPIC_OF_TYPE[kind], routing_key(event), value


@dataclass
class Report:
    sent: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        total = sum(self.sent.values())
        by_topic = ", ".join(f"{topic} {n}" for topic, n in sorted(self.sent.items()))
        rate = total / self.seconds if self.seconds > 0 else 0.0
        text = (f"sent {total} messages ({by_topic or 'none'}) in {self.seconds:.1f}s "
                f"({rate:,.0f}/s)")
        if self.skipped:
            text += f"; skipped {len(self.skipped)} unroutable line(s)"
        return text


async def send_stream(bootstrap: str, security: KafkaSecurity, records: AsyncIterator[Record],
                      report: Report, progress_every: float = 5.0,
                      request_timeout_ms: int = 30000) -> Report:
    """Send records in chunks, reporting progress on stderr every few seconds.

    ``request_timeout_ms`` is also how long a send keeps retrying an unreachable broker
    before it fails (the soak bench outlasts its broker partitions with it)."""
    started = last = flushed = time.monotonic()
    chunk: list[Record] = []
    async with producer(bootstrap, security, request_timeout_ms=request_timeout_ms) as client:
        async for item in records:
            chunk.append(item)
            if len(chunk) >= CHUNK or time.monotonic() - flushed > FLUSH_SECONDS:
                await send_all(client, chunk)
                report.sent.update(topic for topic, _, _ in chunk)
                chunk.clear()
                flushed = time.monotonic()
            if time.monotonic() - last > progress_every:
                last = time.monotonic()
                print(f"... {sum(report.sent.values()) + len(chunk)} sent", file=sys.stderr)
        await send_all(client, chunk)
        report.sent.update(topic for topic, _, _ in chunk)
    report.seconds = time.monotonic() - started
    return report


async def aiter_of(items: Iterable[Record]) -> AsyncIterator[Record]:
    for item in items:
        yield item


def produce_lines(bootstrap: str, security: KafkaSecurity, lines: Iterable[bytes],
                  topic: str | None = None) -> Report:
    """Route and send every non-blank line; unroutable lines are reported, not sent."""
    report = Report()

    def records() -> Iterable[Record]:
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                yield route(line, topic)
            except RouteError as error:
                report.skipped.append(f"line {number}: {error}")

    return asyncio.run(send_stream(bootstrap, security, aiter_of(records()), report))
