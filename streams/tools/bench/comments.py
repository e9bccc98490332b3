"""``cxpulse bench comments``: what the comment model costs a worker, on comments that are new.

Real comments are nearly all unique, so the cache that keeps ``ok`` and ``thanks``
cheap does not help them: every stage here feeds text the model has not seen.

- **Load**: encoder, heads and language guesser loaded, and the resident memory they add.
- **Encoder ceiling**: the same sample of the worker stage's comments through the encoder
  alone in batches of 1, 8 and 32 (and ``CX_COMMENT_BATCH``), with 1 and 2 encoder threads
  (each in a fresh process, as a worker loads it): comments/s and CPU
  cores used (a shared machine's wall rates say how busy it was; comments per CPU-second
  does not); then a short comment alone and 2,000-character reviews (clipped).
- **Masking**: the personal-data masker per test-set comment, as is and with personal data.
- **Worker** (a ClickHouse server is needed): generated traffic whose comments are
  recombined from the corpora with variations (``unique_comments``), through real
  ``cxpulse worker`` processes on a local broker:
  - the same 300,000 events already in the topics drained by a worker without
    enrichment, then by one with it, then by one without again (each in a database and
    consumer groups of its own; the machine's other load changes between drains): the
    ingest's events/s after the start-up (the model of a worker waits while its ingest
    catches up, so the comments it classified meanwhile are reported too);
  - that worker's unique comments/s over a window once its ingest has caught up, its
    enrichment lag, CPU use and peak RSS;
  - p50/p99 from event to insight (and to score) at a steady rate below the model's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import re
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from streams.comments.classify import Classifier
from streams.comments.corpus import TEST_FILE, TRAIN_FILE, read_corpus
from streams.config import Settings
from streams.console import say
from streams.kafka import admin, broker
from streams.kafka.produce import Report, aiter_of, record_of, send_stream
from streams.kafka.security import PLAINTEXT
from streams.tools.bench import server_base
from streams.tools.bench.stages import masking_cost
from streams.tools.bench.workers import Workers, cpu_s, latency, warehouse_for
from streams.tools.generate import TrafficSpec, generate

BATCHES = (1, 8, 32)
CEILING_TEXTS = 128
"""Unique comments per (threads, batch size) cell of the encoder ceiling."""
WORKER_EVENTS = 300_000
"""Events the worker stage's workers drain (about 4% are commented feedback)."""
SKIP = 0.25
"""The start of a drain left out of its rate."""
WINDOW_S = 45.0
"""How long the busy worker's unique comments/s is measured."""
LATENCY_S = 30.0
STOCK = ("ok", "OK", "thanks", "Merci", "top", "👍", "Danke", "gracias", "obrigado", "mantap")
"""The short comments that do repeat in real traffic (about 2% of them)."""
SENTENCES = {1: 0.57, 2: 0.31, 3: 0.07, 0: 0.05}
"""Sentences per generated comment and their shares; 0 is the long tail (5 to 12)."""
TARGET_UNIQUE_PER_S = 100
TARGET_INGEST_SHARE = 0.8


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def corpus_texts() -> list[tuple[str, str | None]]:
    return [(item.comment, item.locale)
            for path in (TRAIN_FILE, TEST_FILE) for item in read_corpus(path)]


def unique_comments(events: Iterable[dict[str, Any]], seed: int
                    ) -> Iterator[dict[str, Any]]:
    """``events`` with every comment replaced by a new one in its language: one to three
    sentences of different corpus comments (about as long as the corpora's on average), and
    a long tail (``SENTENCES``: 5% of 5 to 12 sentences, 300 to 900 characters, clipped by
    the encoder) as in real feedback, a detail such as an order number where that alone
    would repeat, and about 2% stock replies (``ok``, ``thanks``) that do repeat."""
    rnd = random.Random(seed)
    sentences: dict[str, list[str]] = defaultdict(list)
    for text, locale in corpus_texts():
        language = (locale or "").split("-")[0]
        sentences[language] += [part for part in re.split(r"(?<=[.!?؟])\s+", text) if part]
    pool = [part for parts in sentences.values() for part in parts]
    seen: set[str] = set()
    for event in events:
        if not event.get("comment"):
            yield event
            continue
        if rnd.random() < 0.02:
            yield event | {"comment": rnd.choice(STOCK)}
            continue
        parts = sentences.get(str(event.get("locale", "")).split("-")[0]) or pool
        count = rnd.choices(list(SENTENCES), list(SENTENCES.values()))[0] or rnd.randint(5, 12)
        text = " ".join(rnd.choice(parts) for _ in range(count))
        while text in seen:
            text = f"{text} #{rnd.randrange(10_000, 99_999)}"
        seen.add(text)
        yield event | {"comment": text}


def length_profile(comments: list[str]) -> dict[str, int]:
    """Percentiles and the longest of the comments' lengths, in characters."""
    lengths = sorted(map(len, comments))
    return {f"p{q}": lengths[len(lengths) * q // 100] for q in (50, 90, 99)} | {
        "max": lengths[-1]}


def mix(seed: int, count: int, now: float) -> Iterator[dict[str, Any]]:
    """``count`` events of the last hour, their comments new (``unique_comments``)."""
    spec = TrafficSpec(seed=seed, start=now - 3600, duration=3540, rate=1.05 * count / 3540)
    return unique_comments(islice(generate(spec), count), seed)


def ceiling(languages: tuple[str, ...], threads: int, sizes: tuple[int, ...],
            engine: str) -> dict[str, Any]:
    """Unique comments/s of the encoder alone per batch size (the same comments, drawn from
    the worker stage's mix, so as long as the worker's), with ``threads`` encoder threads,
    and the CPU cores it kept busy; then the whole classifier on a short comment and on long
    ones. Runs in a process of its own."""
    texts = corpus_texts()
    sample = [event["comment"] for event in mix(7, 8_000, time.time())
              if event.get("comment")][:CEILING_TEXTS]
    classifier = Classifier(languages, threads=threads, engine=engine)
    classifier.warm()
    out: dict[str, Any] = {}
    for size in sizes:
        cpu, started = time.process_time(), time.perf_counter()
        for start in range(0, len(sample), size):
            classifier.encoder.encode(sample[start:start + size])
        wall, busy = time.perf_counter() - started, time.process_time() - cpu
        # Per CPU-second too: on a shared machine the wall rate says how busy it was.
        out[f"batch_{size}"] = {"comments_per_s": round(len(sample) / wall, 1),
                                "cores": round(busy / wall, 2),
                                "per_cpu_s": round(len(sample) / busy, 1)}
    started = time.perf_counter()
    for i in range(32):
        classifier.classify([(f"Fast delivery, thanks {i}!", "en-GB")])
    out["short_ms"] = round(1000 * (time.perf_counter() - started) / 32, 1)
    long = [(" ".join([text] * 40)[:2000], locale) for text, locale in texts[-16:]]
    started = time.perf_counter()
    classifier.classify(long)
    out["long_2000_chars_ms"] = round(1000 * (time.perf_counter() - started) / len(long), 1)
    return out


def measure_model(settings: Settings) -> dict[str, Any]:
    """Load a worker's classifier here, then the ceiling grid in fresh processes."""
    results: dict[str, Any] = {"rss_start_mb": round(rss_mb(), 1)}
    classifier = Classifier.from_settings(settings)
    started = time.perf_counter()
    classifier.warm()
    results["load_s"] = round(time.perf_counter() - started, 2)
    results["rss_loaded_mb"] = round(rss_mb(), 1)
    say(f"model loaded in {results['load_s']} s; resident memory {results['rss_start_mb']} MB "
        f"-> {results['rss_loaded_mb']} MB")
    sizes = tuple(sorted({*BATCHES, settings.comment_batch}))
    say(f"encoder ceiling: {CEILING_TEXTS} unique comments of the mix per batch size {sizes}")
    spawn = multiprocessing.get_context("spawn")
    for threads in (1, 2):
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            result = pool.submit(ceiling, settings.comment_languages, threads, sizes,
                                 settings.comment_engine).result()
        results[f"ceiling_threads_{threads}"] = result
        say(f"  {threads} thread(s): {result}")
    results |= masking_cost([item.comment for item in read_corpus(TEST_FILE)])
    say(f"masking: {results['mask_us_per_comment']:.1f} µs/comment plain, "
        f"{results['mask_us_per_comment_with_pii']:.1f} µs with personal data")
    return results


def wait_count(workers: Workers, name: str, wanted: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while workers.counter(name) < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} reached {workers.counter(name):.0f} of {wanted:.0f}")
        time.sleep(0.5)


def drain(workers: Workers, total: int) -> dict[str, Any]:
    """Events/s of a worker draining ``total`` events already in the topics, over the part
    of the drain after the first ``SKIP`` of it (start-up and the first fetches excluded;
    ``cx_events_total`` counts what the ingest stored, settled and committed), and the
    comments its model classified meanwhile."""
    deadline = time.monotonic() + max(300.0, total / 500)
    start: tuple[float, float] | None = None
    while time.monotonic() < deadline:
        done, now = workers.counter("cx_events_total"), time.perf_counter()
        if start is None and done >= SKIP * total:
            start = (done, now)
        if done >= total and start is not None:
            measured = done - start[0]
            return {"events_per_s": round(measured / max(now - start[1], 1e-3)),
                    "measured_share": round(measured / total, 3),
                    "comments_encoded": workers.counter("cx_comments_encoded_total")}
        time.sleep(0.2)
    raise RuntimeError(f"the worker consumed {done:.0f} of {total} events")


def plain_drain(bootstrap: str, base: str, work: Path, total: int, name: str
                ) -> dict[str, Any]:
    """``drain`` by a worker without enrichment, in a database and groups of its own."""
    plain = Workers(bootstrap, warehouse_for(base, work, name), work, name, 1,
                    {"CX_COMMENT_ENRICH": "off"})
    try:
        return drain(plain, total)
    finally:
        plain.stop()


def measure_worker(settings: Settings, base: str, work: Path) -> dict[str, Any]:
    """Ingest without and with enrichment, unique comments/s, lag and RSS of a worker."""
    now = time.time()
    comments: list[str] = []

    def records() -> Iterator[Any]:
        """Sent as generated: held in a list, 300k records fragment a GB of memory."""
        for event in mix(21, WORKER_EVENTS, now):
            if event.get("comment"):
                comments.append(event["comment"])
            yield record_of(event)

    local = broker.start(work / "broker")
    try:
        admin.create_topics(local.bootstrap, settings.partitions, PLAINTEXT)
        sent = asyncio.run(send_stream(local.bootstrap, PLAINTEXT, aiter_of(records()),
                                       Report()))
        total = sum(sent.sent.values())
        out: dict[str, Any] = {"events": total,
                               "comment_share": round(len(comments) / total, 4),
                               "unique_share": round(len(set(comments)) / len(comments), 4),
                               "comment_chars": length_profile(comments)}
        say(f"worker: {total:,} generated events, {out['comment_share']:.1%} commented, "
            f"{out['unique_share']:.1%} of comments unique (characters: "
            f"{out['comment_chars']}), drained by a worker without "
            f"enrichment, one with, one without again (the rate after the first {SKIP:.0%})")
        # Without, with, without again: the machine's other load changes between drains.
        out["ingest_alone"] = [plain_drain(local.bootstrap, base, work, total, "plain")]
        say(f"  ingest without enrichment: {out['ingest_alone'][0]}")
        busy = Workers(local.bootstrap, warehouse_for(base, work, "busy"), work, "busy", 1,
                       {"CX_COMMENT_ENRICH": "on"})
        try:
            out["ingest_enriching"] = drain(busy, total)
            say(f"  ingest of a worker with enrichment on (its model waits while the ingest "
                f"is behind): {out['ingest_enriching']}")
            encoded, started, lag = busy.counter("cx_comments_encoded_total"), time.time(), []
            cpu = cpu_s(busy.processes[0].pid)
            while time.time() - started < WINDOW_S:
                time.sleep(1.0)
                lag.append(busy.gauge("cx_enrichment_lag_seconds"))
            done = busy.counter("cx_comments_encoded_total") - encoded
            spent, cpu = time.time() - started, cpu_s(busy.processes[0].pid) - cpu
            out["unique_comments_per_s"] = round(done / spent, 1)
            out["worker_cores"] = round(cpu / spent, 2)
            out["unique_per_cpu_s"] = round(done / max(cpu, 1e-3), 1)
            out["lag_s_start_end"] = [round(lag[0]), round(lag[-1])]
            out["peak_rss_mib"] = round(busy.peak_rss_mib())
            say(f"  unique comments/s over {WINDOW_S:.0f} s: {out['unique_comments_per_s']} "
                f"({out['worker_cores']} cores busy, {out['unique_per_cpu_s']} per CPU-second); "
                f"enrichment lag {out['lag_s_start_end'][0]} s -> "
                f"{out['lag_s_start_end'][1]} s; peak RSS {out['peak_rss_mib']} MiB")
        finally:
            busy.stop()
        out["ingest_alone"].append(
            plain_drain(local.bootstrap, base, work, total, "again"))
        alone = statistics.mean(run["events_per_s"] for run in out["ingest_alone"])
        out["ingest_share"] = round(out["ingest_enriching"]["events_per_s"] / alone, 3)
        say(f"  ingest without enrichment again: {out['ingest_alone'][1]}; with it: "
            f"{out['ingest_share']:.0%} of the mean without")
    finally:
        broker.stop(local, work / "broker")
    # Steady traffic whose comments come at half the model's rate: latency, not backlog.
    comments_per_s = max(1.0, out["unique_comments_per_s"] / 2)
    rate = round(comments_per_s / max(out["comment_share"], 1e-3), 1)
    steady = latency(base, settings.partitions, work, rate, LATENCY_S,
                     lambda events: list(unique_comments(events, 24)))
    out["steady"] = steady | {"comments_per_s": round(comments_per_s, 1)}
    say(f"  steady {rate:,.0f} events/s ({comments_per_s:.0f} comments/s): event -> insight "
        f"p50 {steady['insight_p50_s']:.2f} s, p99 {steady['insight_p99_s']:.2f} s; "
        f"event -> score p99 {steady['p99_s']:.2f} s")
    return out


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def verdict(results: dict[str, Any]) -> list[str]:
    """The targets, met or not, with the ceiling that explains a miss."""
    worker = results.get("worker") or {}
    cells = [cell for threads in (1, 2) for cell in results[f"ceiling_threads_{threads}"].values()
             if isinstance(cell, dict)]
    best = max(cell["comments_per_s"] for cell in cells)
    per_cpu, cores = max(cell["per_cpu_s"] for cell in cells), os.cpu_count() or 1
    # A busy shared machine lowers the wall rate; CPU-seconds say what the cores could do.
    lines = [f"encoder ceiling: {best} unique comments/s at best (any batch size, 1 or 2 "
             f"threads); {per_cpu} per CPU-second, so at most {per_cpu * cores:.0f}/s on "
             f"this machine's {cores} cores with nothing else running"]
    if worker:
        unique, share = worker["unique_comments_per_s"], worker["ingest_share"]
        lines.append(f"unique comments/s per worker: {unique} (target {TARGET_UNIQUE_PER_S}: "
                     f"{met(unique >= TARGET_UNIQUE_PER_S)})")
        lines.append(f"ingest while enriching: {share:.0%} of its rate alone (target "
                     f"{TARGET_INGEST_SHARE:.0%}: {met(share >= TARGET_INGEST_SHARE)})")
    return lines


def run(settings: Settings, *, output: str | None) -> int:
    results: dict[str, Any] = {"batch": settings.comment_batch,
                               "threads": settings.comment_threads}
    results |= measure_model(settings)
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-comments-") as scratch, \
            server_base(settings, Path(scratch)) as base:
        if base is None:
            say("worker stage skipped: it needs a ClickHouse server")
        else:
            results["worker"] = measure_worker(settings, base, Path(scratch))
    results["rss_peak_mb"] = round(rss_mb(), 1)
    say(f"peak resident memory of this process: {results['rss_peak_mb']} MB")
    for line in verdict(results):
        say(line)
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0
