"""The in-process stages of ``cxpulse bench``: ceilings, the ingest path alone, scoring.

Each stage measures one layer on the same messages, so their rates compare:
raw aiokafka consume (the ceiling), the batch ingest path with no work and with
validation only, the pure validation cost (personal data masking included),
the masking cost per comment with and without personal data in it, and the
scoring cost per batch with and without a month of history stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from streams.comments.pii import mask, masker
from streams.config import Settings
from streams.core.contract import Validator
from streams.core.ingest import build_batch
from streams.core.rows import Batch, Record
from streams.kafka import FETCH_LIMITS, SOURCE_TOPICS
from streams.kafka.produce import record_of
from streams.queries.scoring import (
    rewrite_rollups,
    score_batch,
    store_facts,
    write_minutes,
)
from streams.queries.synthetic import fill_history
from streams.tools.generate import TrafficSpec, generate
from streams.tools.load import insert_rows
from streams.warehouse import Warehouse, connect
from streams.warehouse.migrate import migrate
from streams.worker.ingest import Fetched, IngestService

KafkaRecord = tuple[str, bytes | None, bytes]
DEADLINE_MS = Settings().followup_deadline_ms  # CX_FOLLOWUP_HOURS's default


def make_records(count: int, now: float) -> list[KafkaRecord]:
    """Generated traffic of the last hour (the incident scenario), as Kafka records."""
    spec = TrafficSpec(seed=1, start=now - 3600, duration=3600, rate=1.1 * count / 3600,
                       scenario="incident", revised=0.05)
    return [record_of(event) for event in generate(spec)][:count]


def validator() -> Validator:
    return Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)


async def raw_consume_rate(bootstrap: str, expected: int) -> float:
    """The ceiling: aiokafka fetch + orjson decode, nothing else."""
    consumer = AIOKafkaConsumer(*SOURCE_TOPICS, bootstrap_servers=bootstrap,
                                group_id="bench-raw", auto_offset_reset="earliest",
                                enable_auto_commit=False, **FETCH_LIMITS)
    await consumer.start()
    try:
        seen, started = 0, None
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            started = started or time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    orjson.loads(message.value)
                seen += len(messages)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


class _Discard:
    async def write(self, batch: Batch) -> set[Any]:
        return set()

    async def settle(self, touched: set[Any]) -> None:
        return None


async def ingest_rate(bootstrap: str, expected: int, group: str,
                      prepare: Callable[[list[ConsumerRecord], float], Batch]) -> float:
    """Events/s of the worker's batch ingest path (fetch, prepare, commit), writing nothing."""
    done = asyncio.Event()
    state = {"seen": 0, "started": 0.0, "finished": 0.0}

    def written(fetched: Fetched, consumer: AIOKafkaConsumer) -> None:
        state["started"] = state["started"] or fetched.validated_at
        state["seen"] += sum(fetched.topics.values())
        if state["seen"] >= expected:
            state["finished"] = time.time()
            done.set()

    settings = Settings.from_env({"CX_KAFKA_BOOTSTRAP": bootstrap, "CX_APP_ID": group,
                                  "CX_SESSION_TIMEOUT": "6"})
    service = IngestService(settings, prepare, _Discard(), written)
    await service.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=max(120.0, expected / 1000))
    finally:
        await service.stop()
    return state["seen"] / max(state["finished"] - state["started"], 1e-3)


def no_work(records: list[ConsumerRecord], now: float) -> Batch:
    return Batch()


def validation_cost(records: list[KafkaRecord], now: float) -> float:
    """Microseconds per message for validation, masking and row building (pure core, one
    core)."""
    check, masks = validator(), masker()
    sample = [Record(topic, 0, index, value) for index, (topic, _, value) in
              enumerate(records[:20_000])]
    started = time.perf_counter()
    build_batch(sample, check, now, masks)
    return (time.perf_counter() - started) / len(sample) * 1e6


PII_SUFFIX = (" Call me on +33 6 12 34 56 78 or write to jo.doe@example.com;"
              " card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00.")


def masking_cost(comments: list[str]) -> dict[str, float]:
    """Microseconds per comment to mask personal data: the comments as they are, and the
    same with an e-mail, a phone, a card and an IBAN added to each."""
    cost = {}
    for key, texts in (("mask_us_per_comment", comments),
                       ("mask_us_per_comment_with_pii", [c + PII_SUFFIX for c in comments])):
        started = time.perf_counter()
        for text in texts:
            mask(text)
        cost[key] = (time.perf_counter() - started) / max(len(texts), 1) * 1e6
    return cost


def generated_comments(records: list[KafkaRecord], limit: int = 5000) -> list[str]:
    """The comments of the generated feedback messages."""
    return [comment for topic, _, value in records if topic == "cx.feedback"
            and (comment := orjson.loads(value).get("comment"))][:limit]


def scoring_ms(url: str, records: list[KafkaRecord], now: float, batches: int = 5) -> float:
    """Median milliseconds of scoring one 10k-event batch (facts, lookups, minutes)."""
    warehouse = connect(url)
    check, times = validator(), []
    for number in range(batches):
        chunk = records[number * 10_000:(number + 1) * 10_000]
        batch = build_batch([Record(topic, 0, offset, value) for offset, (topic, _, value)
                             in enumerate(chunk)], check, now)
        insert_rows(warehouse, batch)
        started = time.perf_counter()
        score_batch(warehouse, batch.accepted, DEADLINE_MS)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


SINK_STAGES: dict[str, str] = {
    "validate": "validate + mask + build rows",
    "raw_insert": "ClickHouse insert of the raw rows",
    "facts": "facts and cases: lookups + insert",
    "minutes": "settle: minutes recomputed + insert",
    "rollups": "settle: hour and day rollups rewritten",
}
"""A batch's steps through the worker, in order."""


def sink_stages(url: str, records: list[KafkaRecord], now: float,
                batch_rows: int = 10_000) -> dict[str, dict[str, Any]]:
    """Each step of a batch alone (``SINK_STAGES``), over every record in batches of
    ``batch_rows`` settled one by one (a worker under load settles several together, so
    the settle's share here is an upper bound), into a fresh database.

    Per step: its ceiling in events/s, its share of the time, the CPU it costs per event
    in this process and in the server's query threads (``system.events``), and so what
    bounds it. ``events_per_cpu_s`` is what a fully busy core buys: the ceiling of a
    machine whose cores run the worker and the server and nothing else."""
    warehouse = connect(url)
    migrate(warehouse)
    check, masks = validator(), masker()
    spent: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name in SINK_STAGES}
    for start in range(0, len(records), batch_rows):
        chunk = [Record(topic, 0, start + index, value) for index, (topic, _, value)
                 in enumerate(records[start:start + batch_rows])]
        with _timed(warehouse, spent["validate"]):
            batch = build_batch(chunk, check, now, masks)
        with _timed(warehouse, spent["raw_insert"]):
            insert_rows(warehouse, batch)
        with _timed(warehouse, spent["facts"]):
            touched = store_facts(warehouse, batch.accepted, DEADLINE_MS)
        with _timed(warehouse, spent["minutes"]):
            write_minutes(warehouse, touched)
        with _timed(warehouse, spent["rollups"]):
            rewrite_rollups(warehouse, touched)
    total = sum(wall for wall, _, _ in spent.values())
    spent["all"] = [sum(times[part] for times in spent.values()) for part in range(3)]
    return {name: _step(len(records), total, *times) for name, times in spent.items()}


def _step(events: int, total: float, wall: float, here: float, server: float
          ) -> dict[str, Any]:
    here_share, server_share = here / max(wall, 1e-9), server / max(wall, 1e-9)
    bound = "CPU in Python" if here >= server else "ClickHouse server CPU"
    if here_share + server_share < 0.5:  # no I/O in validation: then it is the other load
        bound += ", mostly waiting (round trips, or cores busy elsewhere)"
    return {"per_s": events / max(wall, 1e-9), "share": wall / max(total, 1e-9),
            "cpu_share": min(here_share, 1.0), "server_cpu_share": min(server_share, 1.0),
            "cpu_us_per_event": (here + server) / events * 1e6,
            "events_per_cpu_s": events / max(here + server, 1e-9), "bound": bound}


def server_cpu_s(warehouse: Warehouse) -> float:
    """CPU seconds the server's query threads used since it started (``system.events``)."""
    rows = warehouse.query("SELECT sum(value) AS us FROM system.events WHERE event IN "
                           "('UserTimeMicroseconds', 'SystemTimeMicroseconds')")
    return float(rows[0]["us"] or 0) / 1e6


@contextlib.contextmanager
def _timed(warehouse: Warehouse, spent: list[float]) -> Iterator[None]:
    """Add the block's wall seconds, this process's CPU seconds and the server's to
    ``spent``."""
    server = server_cpu_s(warehouse)
    started, used = time.perf_counter(), time.process_time()
    yield
    spent[0] += time.perf_counter() - started
    spent[1] += time.process_time() - used
    spent[2] += server_cpu_s(warehouse) - server


def scoring_with_history(base_url: str, records: list[KafkaRecord], now: float,
                         history_rows: int) -> dict[str, float]:
    """The same batches scored into an empty warehouse and into one with a month stored."""
    result: dict[str, float] = {"history_fact_rows": history_rows}
    for name, rows in (("empty", 0), ("month", history_rows)):
        url = f"{base_url}/bench_scoring_{name}"
        warehouse = connect(url)
        migrate(warehouse)
        if rows:  # a month of it, ending a day before the batches' traffic
            fill_history(warehouse, rows, int(now) - 31 * 86400)
        result[f"{name}_ms_per_batch"] = scoring_ms(url, records, now)
    return result
