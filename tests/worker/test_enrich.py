"""Comment enrichment end to end: generated feedback in seven languages through a real broker,
``cxpulse worker`` processes (one killed mid-stream) and a ClickHouse server, into
``cx.comment_insights``, the comment minutes, the scores and the gauges."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest

from streams.comments.classify import Classifier
from streams.comments.encoder import Encoder
from streams.comments.enrichment import Enricher
from streams.comments.labels import LANGUAGES, THEMES
from streams.config import Settings
from streams.core.contract import Validator
from streams.core.rows import Batch
from streams.tools.bench.comments import mix
from streams.tools.generate import TrafficSpec, generate
from streams.warehouse import connect
from streams.worker.enrich import MODEL_NICE, WAIT_STEP_S, CommentSink, model_thread
from tests.support.events import PERSONAL, feedback_event, record, stamp
from tests.support.services import CXPULSE, produce, wait_until, worker_env


def commented_feedback(now: float) -> list[dict]:
    """Generated feedback with a comment, from the last half hour."""
    events = generate(TrafficSpec(start=now - 1800, duration=1500, rate=6, seed=11))
    return [e for e in events if e["type"] == "feedback" and e.get("comment")]


def insight_counts(warehouse) -> tuple[int, int]:
    """(rows as read, distinct event ids) of the insights table."""
    row = warehouse.query(f"SELECT count() AS n, uniqExact(event_id) AS ids "
                          f"FROM {warehouse.database}.comment_insights FINAL")[0]
    return int(row["n"]), int(row["ids"])


@pytest.mark.integration
def test_a_score_then_its_comment_as_a_revision_ends_as_one_answer_with_the_comment(
        kafka, server_url, start_worker, tmp_path) -> None:
    """Delighted sends the score, then the comment in an update."""
    base = {"event_id": "dl-1", "type": "feedback", "tenant": "acme-shop", "channel": "email",
            "touchpoint": "delivery", "survey": "nps", "score": 4,
            "occurred_at": stamp(time.time() - 600, 0)}
    update = {**base, "score": 6, "comment": "The parcel came late and broken.",
              "revision": 1}
    env = worker_env(kafka, server_url, tmp_path) | {"CX_COMMENT_ENRICH": "on"}
    worker = start_worker(env)
    worker.wait_ready()
    produce(kafka, [record(base)])
    warehouse = connect(server_url)
    db = warehouse.database
    wait_until(lambda: warehouse.query(f"SELECT count() AS n FROM {db}.feedback")[0]["n"] == 1,
               60, "the score")
    produce(kafka, [record(update), record(base)])  # the update, and the score resent

    def insight() -> list[dict]:
        return warehouse.query(f"SELECT revision, comment, label FROM {db}.comment_insights "
                               "FINAL")

    wait_until(lambda: [row["revision"] for row in insight()] == [1], 120, "the insight")
    wait_until(lambda: int(warehouse.query(
        f"SELECT sum(comments) AS n FROM {db}.score_minutes FINAL")[0]["n"]) == 1, 60,
        "the comment minute")
    final = warehouse.query(f"SELECT revision, score, comment FROM {db}.feedback FINAL")
    assert [(r["revision"], r["score"], r["comment"]) for r in final] == [
        (1, 6, "The parcel came late and broken.")]
    assert insight()[0]["label"] == "negative"
    result = subprocess.run([CXPULSE, "verify"], env={"CX_CLICKHOUSE_URL": server_url},
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout.decode()[-2000:]


def test_the_model_thread_yields_the_cpu_to_the_ingest() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = niceness()
    assert before < 19  # else there is nothing to lower
    with model_thread() as model:
        assert model.submit(niceness).result() == min(19, before + MODEL_NICE)
    assert niceness() == before  # nice is per thread: the ingest's is untouched


def test_the_encoders_other_threads_share_the_model_threads_priority() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    encoder = Encoder(2)
    with model_thread() as model:
        lowered = model.submit(niceness).result()
        assert model.submit(encoder.encode, ["Très bien", "Too slow"]).result().shape == (2, 384)
    # The slice thread was started by the model thread: it inherited its priority.
    assert encoder._pool.submit(niceness).result() == lowered > niceness()


@pytest.mark.integration
def test_worker_enriches_every_comment_once_across_a_kill_and_duplicates(
        kafka, server_url, start_worker, tmp_path) -> None:
    now = time.time()
    feedback = commented_feedback(now)
    personal = {**feedback[0], "event_id": "pii-1", "comment": PERSONAL, "locale": "en-GB"}
    feedback.append(personal)
    languages = Counter(e["locale"][:2] for e in feedback)
    assert set(LANGUAGES) <= set(languages), languages  # the generator speaks all seven
    half = len(feedback) // 2
    env = worker_env(kafka, server_url, tmp_path) | {
        "CX_COMMENT_ENRICH": "on", "CX_COMMENT_BATCH": "32", "CX_SNAPSHOT_SECONDS": "1",
        "CX_SCORE_WINDOWS": "1h"}
    first = start_worker(env, "first")
    first.wait_ready()
    produce(kafka, [record(e) for e in feedback[:half]])
    warehouse = connect(server_url)
    wait_until(lambda: insight_counts(warehouse)[1] > 0, 120, "the first insights")
    first.stop(signal.SIGKILL)  # mid-stream: some batches stored, none committed maybe

    second = start_worker(env, "second")
    second.wait_ready()
    duplicates = feedback[: half // 3]
    produce(kafka, [record(e) for e in feedback[half:] + duplicates])
    wanted = len({e["event_id"] for e in feedback})
    wait_until(lambda: insight_counts(warehouse) == (wanted, wanted), 180,
               f"{wanted} insights, one per event")

    db = warehouse.database
    # Exactly once in the minutes too: every comment counted once, whatever was replayed.
    wait_until(lambda: int(warehouse.query(
        f"SELECT sum(comments) AS n FROM {db}.score_minutes FINAL")[0]["n"]) == wanted,
        60, "comment minutes")

    rows = warehouse.query(f"SELECT event_id, language, label, sentiment, themes, comment, "
                           f"model_version FROM {db}.comment_insights FINAL")
    by_id = {row["event_id"]: row for row in rows}
    seen = Counter(row["language"] for row in rows)
    assert set(LANGUAGES) <= set(seen), seen
    assert {row["model_version"] for row in rows} == {rows[0]["model_version"]}
    assert rows[0]["model_version"].startswith("e5s-")
    # The generator writes happy comments for promoters, unhappy ones otherwise: the
    # model agrees on most of them in every language (a live check, not the quality gate).
    agree = Counter()
    total = Counter()
    for event in feedback:
        if event["survey"] != "nps" or 7 <= event["score"] <= 8:
            continue
        language = event["locale"][:2]
        total[language] += 1
        expected = "positive" if event["score"] >= 9 else "negative"
        agree[language] += by_id[event["event_id"]]["label"] == expected
    for language in LANGUAGES:
        if total[language] >= 10:
            assert agree[language] / total[language] >= 0.7, (language, agree, total)
    stored = by_id["pii-1"]["comment"]
    assert "jane.doe" not in stored and "12 34 56" not in stored and "[email]" in stored
    assert "delivery" in by_id["pii-1"]["themes"]

    # Scores: the window's comment statistics in `cxpulse scores --json` ...
    result = subprocess.run([CXPULSE, "scores", "--window", "1h", "--json"],
                            env=second.env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    scores = json.loads(result.stdout)
    tenants = {row["tenant"]: row for row in scores
               if row["channel"] == "*" and row["touchpoint"] == "*"}
    assert sum(row["sentiment_n"] for row in tenants.values()) == wanted
    for row in tenants.values():
        assert -1 <= row["sentiment"] <= 1
        assert 0 <= row["negative_share"] <= 1
        assert all(0 <= row[f"theme_{theme}"] <= 1 for theme in THEMES)
    # ... and as gauges.
    wait_until(lambda: "cx_sentiment{" in second.metrics()
               and 'cx_theme_share{' in second.metrics(), 60, "comment gauges")
    assert second.counter("cx_comments_enriched_total") > 0
    # The ingest masks and counts the comment (the agent masks its own copy, uncounted).
    wait_until(lambda: second.counter("cx_pii_masked_total", kind="email") >= 1, 30,
               "the masked e-mail counted")


@pytest.mark.integration
def test_scores_land_while_comments_outrun_the_model_and_none_is_lost(
        kafka, server_url, start_worker, tmp_path) -> None:
    """Eight thousand events at once, over 300 of them feedback with a comment nobody wrote
    before: the model needs many seconds for them, the ingest one or two. The scores
    land first, the enrichment lag shows and grows meanwhile, then every comment gets
    its insight and its minute, and the lag falls back to 0."""
    events = list(mix(seed=31, count=8_000, now=time.time()))
    comments = {e["event_id"] for e in events if e.get("comment")}
    interactions = sum(1 for e in events if e["type"] == "interaction")
    feedback = sum(1 for e in events if e["type"] == "feedback")
    assert len(comments) >= 250 and interactions > 4000
    env = worker_env(kafka, server_url, tmp_path) | {"CX_COMMENT_ENRICH": "on",
                                                     "CX_COMMENT_BATCH": "32"}
    worker = start_worker(env)
    worker.wait_ready()
    wait_until(lambda: worker.gauge("cx_enrich_assigned_partitions") > 0, 60,
               "the enrichment consumer's partitions")
    produce(kafka, [record(e) for e in events])
    warehouse = connect(server_url)
    db = warehouse.database

    def scored() -> bool:
        rows = warehouse.query(
            f"SELECT (SELECT count() FROM {db}.feedback) AS feedback, "
            f"(SELECT sum(interactions) FROM {db}.score_minutes FINAL) AS interactions")
        return (int(rows[0]["feedback"]), int(rows[0]["interactions"])) == (
            feedback, interactions)

    wait_until(scored, 60, "every event stored and scored")
    first_lag = worker.gauge("cx_enrichment_lag_seconds")
    enriched_then = insight_counts(warehouse)[1]
    assert enriched_then < len(comments) / 2, "the model was not outrun: nothing to show"
    assert first_lag > 0
    time.sleep(1.5)
    assert worker.gauge("cx_enrichment_lag_seconds") > first_lag  # the backlog is ageing

    wait_until(lambda: insight_counts(warehouse) == (len(comments), len(comments)), 300,
               f"{len(comments)} insights, one per comment")
    rows = warehouse.query(f"SELECT event_id FROM {db}.comment_insights FINAL")
    assert {row["event_id"] for row in rows} == comments
    wait_until(lambda: int(warehouse.query(
        f"SELECT sum(comments) AS n FROM {db}.score_minutes FINAL")[0]["n"]) == len(comments),
        60, "every comment counted in its minute")
    wait_until(lambda: worker.gauge("cx_enrichment_lag_seconds") == 0, 30, "the lag back to 0")
    assert worker.counter("cx_comments_failed_total") == 0


@pytest.mark.integration
def test_an_ingest_worker_and_an_enrich_worker_split_the_work(
        kafka, server_url, start_worker, tmp_path) -> None:
    """``CX_WORKER_ROLE`` (``cxpulse worker --role``): each role consumes in its own group
    and only the ingest's workers take part in the leader election (snapshots, alerts)."""
    feedback = commented_feedback(time.time())[:24]
    env = worker_env(kafka, server_url, tmp_path) | {"CX_COMMENT_ENRICH": "on",
                                                     "CX_SNAPSHOT_SECONDS": "1"}
    ingest = start_worker(env | {"CX_WORKER_ROLE": "ingest"}, "ingest")
    enrich = start_worker(env | {"CX_WORKER_ROLE": "enrich"}, "enrich")
    ingest.wait_ready()
    enrich.wait_ready()
    produce(kafka, [record(e) for e in feedback])
    warehouse = connect(server_url)
    db = warehouse.database
    wanted = len({e["event_id"] for e in feedback})
    wait_until(lambda: warehouse.query(f"SELECT count() AS n FROM {db}.feedback")[0]["n"]
               == wanted, 60, "the feedback stored")
    wait_until(lambda: insight_counts(warehouse) == (wanted, wanted), 120, "the insights")
    wait_until(lambda: int(warehouse.query(
        f"SELECT sum(comments) AS n FROM {db}.score_minutes FINAL")[0]["n"]) == wanted,
        60, "the comment minutes")
    wait_until(lambda: ingest.gauge("cx_snapshot_last_success_timestamp_seconds") > 0, 30,
               "the ingest worker's snapshots")
    assert ingest.gauge("cx_assigned_partitions") > 0
    assert ingest.gauge("cx_enrich_assigned_partitions") == 0
    assert ingest.counter("cx_comments_enriched_total") == 0
    assert enrich.gauge("cx_enrich_assigned_partitions") > 0
    assert enrich.gauge("cx_assigned_partitions") == 0
    assert enrich.counter("cx_events_total") == 0
    assert enrich.counter("cx_comments_enriched_total") == wanted
    assert enrich.gauge("cx_snapshot_last_success_timestamp_seconds") == 0  # never the leader
    assert enrich.gauge("cx_enrichment_lag_seconds") == 0


def test_the_model_waits_while_its_workers_ingest_catches_up() -> None:
    """In a worker of role ``all`` the batch waits, unclassified, while the ingest is behind."""
    behind = [True]
    enricher = Enricher(Validator(max_event_bytes=65536, max_age_seconds=86400), Classifier(),
                        None)
    sink = CommentSink(enricher, Settings.from_env({}).warehouse_url, model_thread(),
                       lambda: behind[0])
    batch = Batch(accepted=enricher.accept([feedback_event("w", "")], time.time()))

    async def run() -> None:
        task = asyncio.create_task(sink.write(batch))
        await asyncio.sleep(4 * WAIT_STEP_S)
        assert not task.done()
        behind[0] = False
        assert await asyncio.wait_for(task, 5) == set()  # no comment: nothing to store

    try:
        asyncio.run(run())
    finally:
        sink.close()
