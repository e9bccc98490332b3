"""The collector against a real broker and ClickHouse: answers, auth, limits, hostile bodies."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.config import Settings
from streams.core.keys import new_key
from streams.kafka import SOURCE_TOPICS, admin
from streams.kafka.security import PLAINTEXT
from streams.queries.keys import revoke_key, store_key
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.events import stamp
from tests.support.services import bearer, consume_all, fetch, wait_until, worker_env

pytestmark = pytest.mark.integration


def feedback(event_id: str, **changes: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": "feedback", "occurred_at": stamp(time.time() - 60),
            "channel": "web", "survey": "nps", "score": 9} | changes


def setup(kafka: str, warehouse: Warehouse, url: str, tmp_path: Path,
          **changes: Any) -> tuple[Settings, dict[str, str]]:
    """Topics, schema and keys (write, read, another tenant's, admin); the settings to use."""
    admin.create_topics(kafka, 2, PLAINTEXT)
    migrate(warehouse)
    keys = {}
    for name, tenant, scope in (("write", "acme-shop", "write"), ("read", "acme-shop", "read"),
                                ("globex", "globex", "write"), ("admin", "", "admin")):
        record, text = new_key(tenant, scope, name, int(time.time()))
        store_key(warehouse, record)
        keys[name] = text
        keys[f"{name}-id"] = record.id
    settings = dataclasses.replace(Settings(), kafka_bootstrap=kafka, clickhouse_url=url,
                                   data_dir=tmp_path / "data", **changes)
    return settings, keys


def source_messages(kafka: str) -> int:
    return sum(len(consume_all(kafka, topic, 10**6, timeout=1)) for topic in SOURCE_TOPICS)


def test_a_mixed_batch_gets_a_per_item_answer_and_lands_once(
        kafka: str, server_warehouse: Warehouse, server_url: str, tmp_path: Path,
        start_collector: Any) -> None:
    settings, keys = setup(kafka, server_warehouse, server_url, tmp_path)
    collector = start_collector(settings, kafka)
    batch = [feedback("ok-1"), feedback("ok-2", tenant="acme-shop"),
             feedback("theirs", tenant="globex"), feedback("bad", score=11),
             feedback("ok-3", comment="mail me at jane@example.com")]
    status, headers, body = collector.post("/v1/events", orjson.dumps(batch),
                                           bearer(keys["write"]))
    assert status == 200, body
    assert body["accepted"] == 3
    assert [(r["index"], r["event_id"], r["reason"]) for r in body["rejected"]] == [
        (2, "theirs", "tenant_mismatch"), (3, "bad", "score_out_of_range")]
    landed = [orjson.loads(v) for v in consume_all(kafka, "cx.feedback", 3, timeout=10)]
    assert sorted(e["event_id"] for e in landed) == ["ok-1", "ok-2", "ok-3"]
    assert {e["tenant"] for e in landed} == {"acme-shop"}
    assert "jane@example.com" in landed[-1]["comment"] or any(  # sent as they are
        "jane@example.com" in e.get("comment", "") for e in landed)
    dead = [orjson.loads(v) for v in consume_all(kafka, "cx.deadletter", 2, timeout=10)]
    assert sorted(d["reason"] for d in dead) == ["score_out_of_range", "tenant_mismatch"]
    request_id = int(headers["X-Request-Id"])
    assert {(d["topic"], d["offset"]) for d in dead} == {("collector", request_id)}

    def stored() -> list[dict[str, Any]]:
        return server_warehouse.query(f"SELECT reason, topic, partition FROM "
                                      f"{server_warehouse.database}.deadletters FINAL "
                                      "ORDER BY partition")
    rows = wait_until(lambda: len(stored()) == 2 and stored(), 15, "dead-letter rows")
    assert [(r["reason"], r["topic"], r["partition"]) for r in rows] == [
        ("tenant_mismatch", "collector", 2), ("score_out_of_range", "collector", 3)]
    # NDJSON with gzip, the tenant's own key; an admin key names tenants
    lines = b"\n".join(orjson.dumps(feedback(f"nd-{i}")) for i in range(3))
    status, _, body = collector.post("/v1/events", gzip.compress(lines), {
        "X-Write-Key": keys["globex"], "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip"})
    assert (status, body) == (200, {"accepted": 3, "rejected": []})
    status, _, body = collector.post("/v1/events", orjson.dumps(
        [feedback("adm-1", tenant="globex"), feedback("adm-2")]), bearer(keys["admin"]))
    assert status == 200 and body["accepted"] == 1
    assert body["rejected"][0]["reason"] == "schema_violation"
    landed = [orjson.loads(v) for v in consume_all(kafka, "cx.feedback", 7, timeout=10)]
    assert sorted((e["event_id"], e["tenant"]) for e in landed)[:4] == [
        ("adm-1", "globex"), ("nd-0", "globex"), ("nd-1", "globex"), ("nd-2", "globex")]


def test_every_auth_failure_writes_nothing(kafka: str, server_warehouse: Warehouse,
                                           server_url: str, tmp_path: Path,
                                           start_collector: Any) -> None:
    settings, keys = setup(kafka, server_warehouse, server_url, tmp_path)
    collector = start_collector(settings, kafka)
    body = orjson.dumps([feedback("e-1")])
    cases = {"no key": {}, "malformed": {"X-Write-Key": "letmein"},
             "wrong secret": {"X-Write-Key": keys["write"][:-4] + "AAAA"}}
    for name, headers in cases.items():
        status, answer_headers, answer = collector.post("/v1/events", body, headers)
        assert (status, answer["error"]) == (401, "unauthorized"), name
        assert "Bearer" in answer_headers["WWW-Authenticate"]
        assert keys["write"] not in str(answer)
    status, _, answer = collector.post("/v1/events", body, bearer(keys["read"]))
    assert (status, answer["error"]) == (403, "forbidden")
    status, _, answer = collector.post("/v1/events", orjson.dumps(
        [feedback("t-1", tenant="acme-shop")]), bearer(keys["globex"]))
    assert status == 200 and answer["accepted"] == 0
    assert answer["rejected"][0]["reason"] == "tenant_mismatch"
    # a revoked key stops within 10 s (CX_KEYS_REFRESH_SECONDS, default 5 s)
    assert collector.post("/v1/events", body, bearer(keys["write"]))[0] == 200
    revoked_at = time.monotonic()
    revoke_key(server_warehouse, keys["write-id"], int(time.time()))
    answers = []
    wait_until(lambda: answers.append(collector.post(
        "/v1/events", orjson.dumps([feedback("late")]), bearer(keys["write"]))[0]) or
        answers[-1] == 401, 10, "the revocation")
    assert time.monotonic() - revoked_at < 10
    assert collector.post("/v1/events", body, bearer(keys["write"]))[0] == 401
    accepted = 1 + answers.count(200)  # before the ring refreshed, the key still worked
    landed = consume_all(kafka, "cx.feedback", accepted + 1, timeout=3)
    assert len(landed) == accepted == source_messages(kafka)
    assert {orjson.loads(v)["event_id"] for v in landed} <= {"e-1", "late"}
    # repeated failures from one address are refused for a while
    for _ in range(12):
        status, headers, answer = collector.post("/v1/events", body, {"X-Write-Key": "x"})
    assert (status, answer["error"]) == (429, "auth_blocked") and int(headers["Retry-After"]) > 1
    assert collector.post("/v1/events", body, bearer(keys["globex"]))[0] == 429


def test_the_rate_limit_answers_429_with_retry_after(
        kafka: str, server_warehouse: Warehouse, server_url: str, tmp_path: Path,
        start_collector: Any) -> None:
    settings, keys = setup(kafka, server_warehouse, server_url, tmp_path,
                           collect_rate=0.1, collect_burst=5)
    collector = start_collector(settings, kafka)
    batch = orjson.dumps([feedback(f"r-{i}") for i in range(5)])
    assert collector.post("/v1/events", batch, bearer(keys["write"]))[0] == 200
    status, headers, answer = collector.post("/v1/events", orjson.dumps([feedback("r-5")]),
                                             bearer(keys["write"]))
    assert (status, answer["error"]) == (429, "rate_limited")
    assert 5 <= int(headers["Retry-After"]) <= 10  # one event at 0.1/s, less the time passed
    assert collector.post("/v1/events", batch, bearer(keys["globex"]))[0] == 200  # per tenant
    assert len(consume_all(kafka, "cx.feedback", 11, timeout=3)) == 10


def raw_request(port: int, head: bytes, body_parts: list[bytes], pause: float = 0) -> bytes:
    """Send a request by hand (slowly, if asked); the raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head)
        for part in body_parts:
            time.sleep(pause)
            try:
                connection.sendall(part)
            except OSError:
                break
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and (b"}" in data or b"Bad Request" in data):
                break
        return data


def test_hostile_bodies_get_a_clear_4xx_and_the_collector_keeps_serving(
        kafka: str, server_warehouse: Warehouse, server_url: str, tmp_path: Path,
        start_collector: Any) -> None:
    settings, keys = setup(kafka, server_warehouse, server_url, tmp_path,
                           collect_read_timeout=2.0, collect_max_concurrency=2)
    collector = start_collector(settings, kafka)
    auth = bearer(keys["write"])
    hostile = {
        "invalid JSON": (b'[{"event_id": ', auth, 400, "invalid_json"),
        "deep nesting": (b"[" * 5000 + b"]" * 5000, auth, 400, "invalid_json"),
        "invalid UTF-8": (b'{"event_id": "\xff\xfe"}', auth, 400, "invalid_json"),
        "huge body": (b'{"comment": "' + b"x" * 2_000_000 + b'"}', auth, 413, "too_large"),
        "gzip bomb": (gzip.compress(b"[" + b" " * 20_000_000 + b"]"),
                      auth | {"Content-Encoding": "gzip"}, 413, "too_large"),
        "wrong type": (b"<xml/>", auth | {"Content-Type": "application/xml"}, 415,
                       "unsupported_media_type"),
    }
    for name, (body, headers, expected, reason) in hostile.items():
        status, _, answer = collector.post("/v1/events", body, headers)
        assert (status, answer["error"]) == (expected, reason), name
        assert "Traceback" not in answer["message"]
    # a huge string inside a body under the cap: that event alone is rejected
    status, _, answer = collector.post("/v1/events", orjson.dumps(
        [feedback("big", comment="é" * 40_000), feedback("fine")]), auth)
    assert status == 200 and answer["accepted"] == 1
    assert answer["rejected"][0]["reason"] == "too_large"
    # a slow body: 408 after CX_COLLECT_READ_TIMEOUT (2 s)
    head = (f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: {auth['Authorization']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n").encode()
    started = time.monotonic()
    answer_bytes = raw_request(collector.port, head, [b"[" + b" " * 10] * 8, pause=0.4)
    assert answer_bytes.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer_bytes
    assert time.monotonic() - started < 6
    # two slow bodies hold CX_COLLECT_MAX_CONCURRENCY (2): a third request is told to wait
    slow = [socket.create_connection(("127.0.0.1", collector.port)) for _ in range(2)]
    for connection in slow:
        connection.sendall(head + b"[")
    time.sleep(0.2)
    status, headers, answer = collector.post("/v1/events", orjson.dumps([feedback("w")]), auth)
    assert (status, answer["error"], headers["Retry-After"]) == (503, "busy", "1")
    for connection in slow:
        assert connection.recv(4096).startswith(b"HTTP/1.1 408")
        connection.close()
    # huge headers: refused by the HTTP parser before any handler
    huge = raw_request(collector.port, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Junk: "
                       + b"a" * 20_000 + b"\r\n\r\n", [])
    assert huge.split(b" ")[1] == b"400" and b"Traceback" not in huge
    # unknown routes and methods answer JSON
    status, _, answer = collector.post("/v1/nothing", b"{}", auth)
    assert (status, answer["error"]) == (404, "not_found")
    assert collector.get("/v1/events")[0] == 405
    # still serving
    status, _, answer = collector.post("/v1/events", orjson.dumps([feedback("after")]), auth)
    assert (status, answer) == (200, {"accepted": 1, "rejected": []})
    assert collector.get("/healthz")[0] == 200


def test_probes_and_metrics(kafka: str, server_warehouse: Warehouse, server_url: str,
                           tmp_path: Path, start_collector: Any) -> None:
    settings, keys = setup(kafka, server_warehouse, server_url, tmp_path)
    collector = start_collector(settings, kafka)
    status, page = collector.get("/readyz")
    assert status == 200 and orjson.loads(page)["keys"] == 4
    collector.post("/v1/events", orjson.dumps([feedback("m-1"), feedback("m-2", score=-1)]),
                   bearer(keys["write"]))
    collector.post("/v1/events", b"{}", {"X-Write-Key": "nope"})
    status, page = collector.get("/metrics")
    text = page.decode()
    assert status == 200
    for line in ('cx_collect_requests_total{route="/v1/events",status="200",tenant="acme-shop"} '
                 "1.0", 'cx_collect_requests_total{route="/v1/events",status="401",tenant="-"} 1.0',
                 'cx_collect_events_total{outcome="accepted",tenant="acme-shop"} 1.0',
                 'cx_collect_rejected_total{reason="score_out_of_range"} 1.0',
                 "cx_collect_ack_seconds_count 1.0"):
        assert line in text, line
    assert keys["write"] not in text


def test_metrics_token_guards_metrics_only(kafka: str, server_warehouse: Warehouse,
                                           server_url: str, tmp_path: Path,
                                           start_collector: Any) -> None:
    token = "a-metrics-token"
    settings, keys = setup(kafka, server_warehouse, server_url, tmp_path, metrics_token=token)
    assert token not in repr(settings)
    collector = start_collector(settings, kafka)
    for headers in ({}, {"Authorization": f"Bearer {token}x"}, {"X-API-Key": token},
                    bearer(keys["admin"])):
        status, answer_headers, body = fetch(collector.url + "/metrics", headers)
        assert (status, orjson.loads(body)["error"]) == (401, "unauthorized"), headers
        assert answer_headers["WWW-Authenticate"].startswith("Bearer")
    status, _, body = fetch(collector.url + "/metrics", {"Authorization": f"Bearer {token}"})
    assert status == 200 and b'status="401"' in body and token.encode() not in body
    assert collector.get("/healthz")[0] == collector.get("/readyz")[0] == 200  # probes open


def test_broker_outage_answers_503_and_the_retry_lands_exactly_once(
        proxied_kafka: tuple[str, Any], server_warehouse: Warehouse, server_url: str,
        tmp_path: Path, start_collector: Any, start_worker: Any) -> None:
    kafka, proxy = proxied_kafka
    settings, keys = setup(kafka, server_warehouse, server_url, tmp_path,
                           collect_ack_timeout=1.0)
    worker = start_worker(worker_env(kafka, server_url, tmp_path))
    collector = start_collector(settings, kafka)
    auth = bearer(keys["write"])
    before = orjson.dumps([feedback(f"b-{i}") for i in range(5)])
    assert collector.post("/v1/events", before, auth)[0] == 200
    proxy.cut()
    during = orjson.dumps([feedback(f"d-{i}") for i in range(5)] + [feedback("x", score=99)])
    status, headers, answer = collector.post("/v1/events", during, auth)
    assert (status, answer["error"]) == (503, "kafka_unavailable")
    assert headers["Retry-After"] == "1" and "retry" in answer["message"]
    assert collector.get("/readyz")[0] == 503
    proxy.restore()
    status, _, answer = wait_until(lambda: (reply := collector.post(
        "/v1/events", during, auth))[0] == 200 and reply, 30, "the retry after the outage")
    assert answer["accepted"] == 5 and answer["rejected"][0]["event_id"] == "x"
    assert collector.get("/readyz")[0] == 200
    ids = {orjson.loads(v)["event_id"] for v in consume_all(kafka, "cx.feedback", 10)}
    assert ids == {f"{p}-{i}" for p in "bd" for i in range(5)}
    worker.wait_ready()

    def stored() -> list[str]:
        return [row["event_id"] for row in server_warehouse.query(
            f"SELECT event_id FROM {server_warehouse.database}.feedback FINAL")]
    wait_until(lambda: len(stored()) >= 10, 60, "the events in ClickHouse")
    time.sleep(1)
    assert sorted(stored()) == sorted(ids)  # once each, whatever Kafka holds twice
