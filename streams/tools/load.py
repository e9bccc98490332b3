"""Load events straight into a warehouse through the worker's own core: no Kafka.

For the benchmark and experiments with history: validate, write the raw rows,
store the facts and settle the minutes, in the order the sink does, so the
warehouse ends as a worker would leave it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

import orjson

from streams.comments.classify import Classifier
from streams.comments.enrichment import Enricher
from streams.comments.pii import KINDS, masker
from streams.core.contract import TOPIC_OF_TYPE, Validator
from streams.core.ingest import build_batch
from streams.core.pseudonyms import Pseudonym
from streams.core.rows import COLUMNS, Batch, Record
from streams.queries.comments import store_enrichment
from streams.queries.scoring import score_batch
from streams.warehouse import Warehouse


def insert_rows(warehouse: Warehouse, batch: Batch) -> None:
    """A batch's raw rows and dead letters, one insert per table (scoring looks them up)."""
    for table, rows in batch.rows.items():
        warehouse.insert(table, rows, COLUMNS[table])


def load(warehouse: Warehouse, events: Iterable[dict[str, Any]], *, deadline_ms: int,
         batch_size: int = 20_000, progress: Callable[[int], None] | None = None,
         pii_mask: frozenset[str] = frozenset(KINDS),
         classifier: Classifier | None = None, pseudonym: Pseudonym | None = None) -> int:
    """Write every event as the worker would (personal data masked as ``CX_PII_MASK`` says,
    all kinds by default; comments enriched when given a ``classifier``; customer ids
    replaced by a ``pseudonym``, as ``CX_CUSTOMER_ID_HASH`` does); returns how many were
    accepted."""
    validator = Validator(max_event_bytes=1 << 20, max_age_seconds=365 * 86400)
    masks = masker(pii_mask)
    enricher = None if classifier is None else Enricher(validator, classifier, masks)
    stream = iter(events)
    offset = accepted = 0
    while chunk := list(islice(stream, batch_size)):
        records = [Record(TOPIC_OF_TYPE[event["type"]], 0, offset + i, orjson.dumps(event))
                   for i, event in enumerate(chunk)]
        offset += len(chunk)
        batch = build_batch(records, validator, time.time(), masks, pseudonym)
        insert_rows(warehouse, batch)
        score_batch(warehouse, batch.accepted, deadline_ms)
        if enricher is not None:
            store_enrichment(warehouse, enricher.classify(batch.accepted),
                             enricher.classifier.version)
        accepted += len(batch.accepted)
        if progress is not None:
            progress(offset)
    return accepted
