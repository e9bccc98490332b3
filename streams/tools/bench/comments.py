"""``cxpulse bench comments``: what the comment model costs a worker, measured in one run.

- **Load**: encoder, heads and language guesser loaded, and the resident memory they add.
- **Unique texts**: every comment of the project's training and test sets (no two alike,
  so no cache hit), in batches of ``CX_COMMENT_BATCH``, with 1 and 2 encoder threads
  (each in a fresh process): comments/s and per-batch latency (p50, p99); then a short
  comment on its own, and 2,000-character reviews, which the encoder sees clipped.
- **Generated traffic**: the feedback of ``cxpulse generate`` through the worker's own
  enrichment (validate, mask, classify with the cache), then stored in a ClickHouse
  server with the comment minutes rewritten, as the agent does: comments/s and
  per-batch latency end to end, and the cache's hit rate.
- **Masking**: the personal-data masker per test-set comment, as is and with personal data
  added (``stages.masking_cost``, as the ingest bench measures it).

Peak resident memory of the process closes the report.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from streams.comments.classify import Classifier
from streams.comments.corpus import TEST_FILE, TRAIN_FILE, read_corpus
from streams.comments.pii import masker
from streams.config import Settings
from streams.console import say
from streams.core.contract import Validator
from streams.tools.bench import server_base
from streams.tools.bench.stages import masking_cost
from streams.tools.generate import TrafficSpec, generate
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from streams.worker.enrich import Enricher, store

GENERATED = 20_000
"""Commented feedback messages in the generated-traffic stage."""


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latencies(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * float(np.percentile(seconds, 50)), 1),
            "p99_ms": round(1000 * float(np.percentile(seconds, 99)), 1)}


def timed_batches(classify: Any, items: list[Any], size: int) -> dict[str, Any]:
    """Run ``classify`` over ``items`` in batches; throughput and batch latency."""
    spent = []
    started = time.perf_counter()
    for start in range(0, len(items), size):
        begun = time.perf_counter()
        classify(items[start:start + size])
        spent.append(time.perf_counter() - begun)
    total = time.perf_counter() - started
    return {"comments": len(items), "comments_per_s": round(len(items) / total, 1),
            "ms_per_comment": round(1000 * total / len(items), 2), **latencies(spent)}


def generated_messages(count: int) -> list[bytes]:
    """Commented feedback of the traffic generator, as the agent receives it."""
    now = time.time()
    out: list[bytes] = []
    spec = TrafficSpec(start=now - 6 * 3600, duration=6 * 3600 - 60, rate=200, seed=5)
    for event in generate(spec):
        if event["type"] == "feedback" and event.get("comment"):
            out.append(orjson.dumps(event))
            if len(out) == count:
                break
    return out


def unique_texts(languages: tuple[str, ...], threads: int, batch: int) -> dict[str, Any]:
    """The corpora's comments through a fresh classifier with ``threads`` encoder threads.

    Runs in a process of its own: OpenMP reads its thread count once per process.
    """
    texts = [(item.comment, item.locale)
             for path in (TRAIN_FILE, TEST_FILE) for item in read_corpus(path)]
    classifier = Classifier(languages, threads=threads)
    classifier.warm()
    out = timed_batches(classifier.classify, texts, batch)
    short = [(f"Fast delivery, thanks {i}!", "en-GB") for i in range(64)]
    out["short_ms_per_comment"] = timed_batches(classifier.classify, short, 1)["ms_per_comment"]
    long = [(" ".join([text] * 40)[:2000], locale) for text, locale in texts[:40]]
    out["long_2000_chars"] = timed_batches(classifier.classify, long, 8)
    return out


def measure_model(settings: Settings, classifier: Classifier) -> dict[str, Any]:
    """Load ``classifier`` (a worker's), then the corpora and masking (fresh processes)."""
    results: dict[str, Any] = {"rss_start_mb": round(rss_mb(), 1)}
    started = time.perf_counter()
    classifier.warm()
    classifier.languages.guess("bonjour", None)
    results["load_s"] = round(time.perf_counter() - started, 2)
    results["rss_loaded_mb"] = round(rss_mb(), 1)
    say(f"model loaded in {results['load_s']} s; resident memory {results['rss_start_mb']} MB "
        f"-> {results['rss_loaded_mb']} MB")
    say(f"unique texts (training and test sets, mean 57 characters), batches of "
        f"{settings.comment_batch}; a 25-character comment alone; 2,000-character ones (clipped)")
    spawn = multiprocessing.get_context("spawn")
    for threads in (1, 2):
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            result = pool.submit(unique_texts, settings.comment_languages, threads,
                                 settings.comment_batch).result()
        results[f"unique_threads_{threads}"] = result
        say(f"  {threads} thread(s): {result}")
    results |= masking_cost([item.comment for item in read_corpus(TEST_FILE)])
    say(f"masking: {results['mask_us_per_comment']:.1f} µs/comment plain, "
        f"{results['mask_us_per_comment_with_pii']:.1f} µs with personal data")
    return results


def measure_pipeline(settings: Settings, base: str | None,
                     classifier: Classifier) -> dict[str, Any]:
    """The worker's enrichment over generated traffic, stored as the agent stores it."""
    messages = generated_messages(GENERATED)
    validator = Validator(max_event_bytes=settings.max_event_bytes,
                          max_age_seconds=settings.max_event_age_days * 86400)
    enricher = Enricher(validator, classifier, masker(settings.pii_mask))
    warehouse = None
    if base is not None:
        warehouse = connect(f"{base}/bench_comments")
        warehouse.execute(f"DROP DATABASE IF EXISTS {warehouse.database}")
        migrate(warehouse)
    size = settings.comment_batch
    spent = []
    say(f"generated traffic: {len(messages)} commented feedback, batches of {size}"
        + (", stored in ClickHouse" if warehouse else ", not stored (no server)"))
    started = time.perf_counter()
    try:
        for start in range(0, len(messages), size):
            begun = time.perf_counter()
            enrichment = enricher.enrich(messages[start:start + size], time.time())
            if warehouse is not None:
                store(warehouse, enrichment, classifier.version)
            spent.append(time.perf_counter() - begun)
        total = time.perf_counter() - started
        stored = None
        if warehouse is not None:
            stored = int(warehouse.query(f"SELECT count() AS n FROM {warehouse.database}"
                                         ".comment_insights FINAL")[0]["n"])
    finally:
        if warehouse is not None:
            warehouse.execute(f"DROP DATABASE IF EXISTS {warehouse.database}")
            warehouse.close()
    results = {"comments": len(messages), "stored": stored,
               "comments_per_s": round(len(messages) / total, 1),
               "encoded": classifier.encoded,
               "cache_hit_rate": round(1 - classifier.encoded / len(messages), 4),
               **latencies(spent)}
    say(f"  {results}")
    return results


def run(settings: Settings, *, output: str | None) -> int:
    results: dict[str, Any] = {"batch": settings.comment_batch}
    classifier = Classifier(settings.comment_languages, threads=settings.comment_threads,
                            extra_themes=settings.comment_themes)
    results |= measure_model(settings, classifier)
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-comments-") as scratch, \
            server_base(settings, Path(scratch)) as base:
        results["generated"] = measure_pipeline(settings, base, classifier)
    results["rss_peak_mb"] = round(rss_mb(), 1)
    say(f"peak resident memory of this process: {results['rss_peak_mb']} MB")
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0
